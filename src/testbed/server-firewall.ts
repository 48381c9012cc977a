// nftables rules that give server ports a behaviour other than open/closed. They live in a
// table inside the SERVER namespace, so they vanish with it and never touch the host.
import { InvalidArgumentError } from '../core/errors.js';
import type { Family } from '../core/types.js';

export const SERVER_TABLE = 'tshk_testbed';

export type FamilyChoice = Family | 'both';

export interface PortRule {
  port: number;
  /** `filter`: drop every TCP segment to the port (so SYNs time out, as behind a firewall).
   *  `prohibit`: answer with ICMP / ICMPv6 "administratively prohibited". */
  action: 'filter' | 'prohibit';
  family: FamilyChoice;
}

export function checkPort(port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidArgumentError(`port must be an integer in 1..65535, got ${port}`);
  }
  return port;
}

function nfproto(family: FamilyChoice): string {
  return family === 'both' ? '' : `meta nfproto ipv${family} `;
}

/** One rule line for `nft add rule inet tshk_testbed input <line>` (or inside the table body). */
export function renderRule(rule: PortRule): string[] {
  const port = checkPort(rule.port);
  if (rule.action === 'filter') return [`${nfproto(rule.family)}tcp dport ${port} drop`];
  // `reject with icmp...` needs a fixed family, so 'both' becomes one rule per family.
  const lines: string[] = [];
  if (rule.family !== 6) lines.push(`meta nfproto ipv4 tcp dport ${port} reject with icmp type admin-prohibited`);
  if (rule.family !== 4) lines.push(`meta nfproto ipv6 tcp dport ${port} reject with icmpv6 type admin-prohibited`);
  return lines;
}

/** The table with its input chain and initial rules, for `nft -f -` (once per testbed). */
export function renderServerTable(rules: readonly PortRule[]): string {
  const body = rules.flatMap(renderRule).map((line) => `    ${line}\n`).join('');
  return (
    `table inet ${SERVER_TABLE} {\n` +
    `  chain input {\n` +
    `    type filter hook input priority filter; policy accept;\n` +
    body +
    `  }\n` +
    `}\n`
  );
}

/** Lines that append rules to the existing table. */
export function renderAddRules(rules: readonly PortRule[]): string {
  return rules
    .flatMap(renderRule)
    .map((line) => `add rule inet ${SERVER_TABLE} input ${line}\n`)
    .join('');
}
