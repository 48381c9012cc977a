// The kernel-RST shim as nft script text. Pure: no process, no I/O; nftables.ts applies it.
//
// Why the shim exists: the engine sends SYNs from a raw socket, so when a SYN-ACK comes back
// the kernel finds no socket for it and answers with its own RST (RFC 9293 §3.10.7.1). The
// shim drops those replies in the prerouting hook. libpcap taps packets at the device layer,
// before netfilter, so the engine still sees every reply the kernel never does.
//
// What it drops is only what the probes can provoke (issue #13 §4): SYN-ACKs, to the ports this
// engine claimed (a set the engine grows as it claims more, engine/port-claims.ts). A RST needs
// no rule (the kernel answers no RST with anything), and every other segment to the range
// (a listener on a port the engine skipped, a NAT'ed flow) reaches the kernel as if no engine ran.
import { randomBytes } from 'node:crypto';
import { InvalidArgumentError } from '../core/errors.js';
import { parsePortRange, type PortRange } from '../core/port-range.js';

export type { PortRange };

export interface ShimRulesetOptions {
  /** nft table name; see shimTableName(). Letters, digits and `_` only. */
  tableName: string;
  /** The engine's source port range. */
  portRange: PortRange;
  /**
   * The ports the engine claimed so far (inside portRange): SYN-ACKs to them never reach the
   * kernel's TCP stack. Default: the whole range.
   */
  ports?: readonly number[];
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

/** The set the shim's rules match on; NftShim.addPorts() adds to it. */
export const SHIM_PORT_SET = 'probe_ports';

/** Ports as nft set elements, runs joined: [1, 2, 3, 7] -> '1-3, 7'. Throws on a port outside 1-65535. */
export function nftPortElements(ports: readonly number[]): string {
  const sorted = [...new Set(ports)].sort((a, b) => a - b);
  for (const p of sorted) if (!Number.isInteger(p) || p < 1 || p > 65535) throw new InvalidArgumentError(`not a port: ${JSON.stringify(p)}`);
  const out: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    out.push(nftPortSet([sorted[i], sorted[j]]));
    i = j + 1;
  }
  return out.join(', ');
}

/** The nft command that adds claimed ports to a live shim's set. */
export function renderAddPorts(tableName: string, ports: readonly number[]): string {
  return `add element inet ${checkTableName(tableName)} ${SHIM_PORT_SET} { ${nftPortElements(ports)} }`;
}

/**
 * The shim as an nft script (what `nft -f` reads). Priority raw (-300) runs before conntrack
 * (-200), so nothing here ever creates a conntrack entry.
 */
export function renderShimRuleset(options: ShimRulesetOptions): string {
  const tableName = checkTableName(options.tableName);
  const owner = options.owner;
  const range = checkShimPortRange(options.portRange);
  const claimed = options.ports ?? [];
  for (const p of claimed) {
    if (!(p >= range[0] && p <= range[1])) throw new InvalidArgumentError(`port ${p} is outside the shim's range ${nftPortSet(range)}`);
  }
  const elements = options.ports ? nftPortElements(claimed) : nftPortSet(range);
  const ports = `@${SHIM_PORT_SET}`;
  const lines = [
    '# tcp-shaker kernel-RST shim (rendered by src/firewall/ruleset.ts).',
    `table inet ${tableName} {`,
    ...(owner ? ['\t# Tied to the nft process that made it: the kernel deletes it when that process exits.', '\tflags owner', ''] : []),
    '\t# The source ports this engine holds (bound, never listening: no listener can be among them).',
    `\tset ${SHIM_PORT_SET} {`,
    '\t\ttype inet_service',
    '\t\tflags interval',
    // Claims arrive 64 ports at a time (engine/port-claims.ts): without auto-merge each block stays
    // an interval of its own, and every SYN, SYN-ACK and RST pays a binary search over up to 71 of
    // them in the kernel (on the sender thread, the engine's bottleneck). Merged, the range the
    // engine holds is one or two intervals.
    '\t\tauto-merge',
    ...(elements ? [`\t\telements = { ${elements} }`] : []),
    '\t}',
    '',
    '\t# SYN-ACKs to the engine\'s raw SYNs arrive on its source ports, where the kernel has no socket',
    '\t# and would answer with a RST of its own. libpcap has already copied them (it taps before',
    '\t# netfilter). Over loopback the target\'s answer passes output, then prerouting: caught here too.',
    '\t# Nothing else is dropped: the kernel sends nothing in answer to a RST.',
    '\tchain prerouting {',
    '\t\ttype filter hook prerouting priority raw; policy accept;',
    `\t\ttcp dport ${ports} tcp flags & (syn | ack | rst) == syn | ack counter drop comment "SYN-ACKs to tcp-shaker probes"`,
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
