// The kernel-RST shim as nft script text. Pure: no process, no I/O; nftables.ts applies it.
//
// Why the shim exists: the engine sends SYNs from a raw socket, so when a SYN-ACK comes back
// the kernel finds no socket for it and answers with its own RST (RFC 9293 §3.10.7.1). The
// shim drops those replies in the prerouting hook. libpcap taps packets at the device layer,
// before netfilter, so the engine still sees every reply the kernel never does.
import { randomBytes } from 'node:crypto';
import { InvalidArgumentError } from '../core/errors.js';
import { parsePortRange, type PortRange } from '../core/port-range.js';

export type { PortRange };

export interface ShimRulesetOptions {
  /** nft table name; see shimTableName(). Letters, digits and `_` only. */
  tableName: string;
  /** The engine's source ports: inbound TCP to them never reaches the kernel's TCP stack. */
  portRange: PortRange;
  /** `flags owner`: the kernel deletes the table when the netlink socket that made it closes. */
  owner: boolean;
}

/** Every table the shim creates is named `tcp_shaker_<pid>_<suffix>`; sweepStaleTables() relies on it. */
export const TABLE_PREFIX = 'tcp_shaker_';

const TABLE_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const SHIM_TABLE_NAME = /^tcp_shaker_([1-9][0-9]*)_([0-9a-z]+)$/;

/**
 * `tcp_shaker_<pid>_<6 hex digits>`. The pid lets a later process tell a stale table from a
 * live one; the random suffix keeps two engines apart even when they share a pid (one process,
 * or duplicate copies of this package, or processes in different pid namespaces).
 */
export function shimTableName(pid: number = process.pid, suffix: string = randomBytes(3).toString('hex')): string {
  const name = `${TABLE_PREFIX}${pid}_${suffix}`;
  if (!SHIM_TABLE_NAME.test(name)) throw new InvalidArgumentError(`not a valid shim table name: ${name}`);
  return name;
}

/** The pid a shim table name carries, or undefined when the name is not one of ours. */
export function shimTablePid(name: string): number | undefined {
  const match = SHIM_TABLE_NAME.exec(name);
  return match ? Number(match[1]) : undefined;
}

/** Throws InvalidArgumentError unless `range` is [low, high] with 1 <= low <= high <= 65535. */
export function checkShimPortRange(range: unknown): PortRange {
  return parsePortRange(range, 'portRange');
}

/** Throws InvalidArgumentError unless `name` is safe to splice into an nft script. */
export function checkTableName(name: unknown): string {
  if (typeof name !== 'string' || !TABLE_NAME.test(name)) {
    throw new InvalidArgumentError(`tableName must be 1-64 letters, digits or _ starting with a letter, got ${JSON.stringify(name)}`);
  }
  return name;
}

/** nft syntax for a port range; nft rejects a range whose ends are equal. */
export function nftPortSet([low, high]: PortRange): string {
  return low === high ? String(low) : `${low}-${high}`;
}

/**
 * The shim as an nft script (what `nft -f` reads). Priority raw (-300) runs before conntrack
 * (-200), so nothing here ever creates a conntrack entry.
 */
export function renderShimRuleset(options: ShimRulesetOptions): string {
  const tableName = checkTableName(options.tableName);
  const owner = options.owner;
  const ports = nftPortSet(checkShimPortRange(options.portRange));
  const lines = [
    '# tcp-shaker kernel-RST shim (rendered by src/firewall/ruleset.ts).',
    `table inet ${tableName} {`,
    ...(owner ? ['\t# Tied to the nft process that made it: the kernel deletes it when that process exits.', '\tflags owner', ''] : []),
    '\t# Replies to the engine\'s raw SYNs arrive on its source ports, where the kernel has no socket',
    '\t# and would answer with a RST of its own. libpcap has already copied them (it taps before',
    '\t# netfilter). Over loopback the target\'s answer passes output, then prerouting: caught here too.',
    '\tchain prerouting {',
    '\t\ttype filter hook prerouting priority raw; policy accept;',
    `\t\ttcp dport ${ports} counter drop comment "replies to tcp-shaker probes"`,
    '\t}',
    '',
    '\t# Probes never enter conntrack, so a scan cannot fill its table and a "ct state invalid drop"',
    '\t# rule elsewhere never applies to them. The mark survives the trip through lo, so our own',
    '\t# SYN to a local target is still untracked when it reaches prerouting and input. A local',
    '\t# target\'s answer leaves through lo toward our ports: untracked as well.',
    '\tchain output {',
    '\t\ttype filter hook output priority raw; policy accept;',
    `\t\ttcp sport ${ports} counter notrack`,
    `\t\toifname "lo" tcp dport ${ports} counter notrack`,
    '\t}',
    '}',
    '',
  ];
  return lines.join('\n');
}

/**
 * One line for `nft -i`, which runs each line it reads as one transaction and has no
 * continuation lines. Comments are dropped (a `#` would swallow the rest of the line), and
 * newlines become `;`: nft's grammar takes either as a statement separator, and needs one
 * after a chain's closing brace.
 */
export function toInteractiveLine(script: string): string {
  return script
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .join('; ');
}
