// The libpcap filter (pcap-filter(7) syntax) that lets through only what the raw engine reads:
//   - TCP replies to its probes: SYN+ACK both set, or RST set, to a port in its source range;
//   - ICMP / ICMPv6 errors about its probes: destination unreachable and time exceeded whose
//     quoted packet is TCP from a port in that range.
// Pure: builds a string. The kernel runs the compiled filter on every packet of the interface,
// so whatever it drops never costs a copy to user space.
//
// IPv6 is written with explicit ip6[...] offsets: libpcap's tcp[...] and icmp6[...] accessors
// read at a fixed 40 bytes (pcap-filter(7): "tcp, udp and other upper-layer protocol types only
// apply to IPv4, not IPv6"), so the main clauses assume no extension header. Classic BPF has no
// loops, so it cannot walk a chain of extension headers, but it can step over one: its length is
// a byte of the packet (an indirect load, like tcp[(tcp[12] & 0xf0) >> 2]). So by default a
// packet whose first next header is an extension header passes only if what follows that one
// header is a reply the engine wants (same ports, flags, ICMPv6 types and targets as without
// it); a non-first fragment (no transport header) never passes. Only a chain of two or more
// extension headers, which BPF cannot follow, still passes when unicast, whatever it carries,
// for the TypeScript parser (src/wire/ipv6.ts) to walk and decide.
import { isIP } from 'node:net';
import { InvalidArgumentError } from '../core/errors.js';
import { parseAddress } from '../wire/address.js';
import { IpProtocol } from '../wire/protocol.js';

export interface CaptureFilterOptions {
  /** The engine's source ports: replies come back to them. */
  portRange: readonly [low: number, high: number];
  /** Which IP versions the engine probes over. */
  families: readonly (4 | 6)[];
  /**
   * Narrowing hint: pass only replies from these addresses (and ICMP errors about probes to
   * them). Past MAX_FILTER_TARGETS it is ignored: the filter would grow past what is worth
   * running per packet, and the engine matches replies to probes anyway.
   */
  targets?: readonly string[];
  /** Pass IPv6 replies behind extension headers (default true); see the file header. */
  ipv6ExtensionHeaders?: boolean;
}

/** Beyond this many targets the filter matches on ports only. */
export const MAX_FILTER_TARGETS = 64;

const IPV6_HEADER_LEN = 40;
const ICMP_HEADER_LEN = 8;

/** Byte offsets inside the headers the filter reads. */
const field = {
  ipv6NextHeader: 6,
  ipv4Protocol: 9,
  ipv4Destination: 16,
  ipv6Destination: 24,
  tcpSourcePort: 0,
  tcpDestinationPort: 2,
  tcpFlags: 13,
  icmpType: 0,
} as const;

/**
 * ICMPv6 types the engine turns into results (RFC 4443 §3); for IPv4 the filter uses pcap's
 * names icmp-unreach (3) and icmp-timxceed (11). Packet Too Big is left out: a SYN is far
 * smaller than any path MTU, so one never answers a probe.
 */
const Icmpv6Type = { DEST_UNREACHABLE: 1, TIME_EXCEEDED: 3 } as const;

/** Next-header values of the IPv6 extension headers that may come before TCP (RFC 8200 §4). */
const IPV6_EXTENSION_HEADERS = [
  IpProtocol.HOP_BY_HOP,
  IpProtocol.IPV6_ROUTING,
  IpProtocol.IPV6_FRAGMENT,
  IpProtocol.AH,
  IpProtocol.IPV6_DEST_OPTS,
] as const;

/** `tcp-syn` and friends are named constants in pcap-filter(7); they keep the flag tests readable. */
const SYN_ACK = '(tcp-syn|tcp-ack)';

function anyOf(clauses: readonly string[]): string {
  return clauses.length === 1 ? clauses[0] : `(${clauses.join(' or ')})`;
}

function between(load: string, [low, high]: readonly [number, number]): string {
  return low === high ? `${load} == ${low}` : `${load} >= ${low} and ${load} <= ${high}`;
}

/**
 * A 16-byte address at `offset` of ip6[], as four 32-bit compares (BPF loads at most 4 bytes).
 * `offset` is a number or a filter expression (then the loads are indirect).
 */
function ip6Equals(offset: number | string, bytes: Uint8Array): string {
  const words: string[] = [];
  for (let i = 0; i < 16; i += 4) {
    const word = ((bytes[i] << 24) | (bytes[i + 1] << 16) | (bytes[i + 2] << 8) | bytes[i + 3]) >>> 0;
    words.push(`ip6[${at(offset, i)}:4] == 0x${word.toString(16).padStart(8, '0')}`);
  }
  return words.join(' and ');
}

/** `base + delta`: a number for a number, an expression (filter text) otherwise. */
function at(base: number | string, delta: number): number | string {
  if (typeof base === 'number') return base + delta;
  return delta === 0 ? base : `${base} + ${delta}`;
}

function ipv4Clauses(ports: readonly [number, number], targets: readonly string[] | undefined): string[] {
  const flags = `tcp[tcpflags] & ${SYN_ACK} == ${SYN_ACK} or tcp[tcpflags] & tcp-rst != 0`;
  const fromTarget = targets ? ` and ${anyOf(targets.map((t) => `src host ${t}`))}` : '';
  const tcp = `(ip and tcp dst portrange ${ports[0]}-${ports[1]} and (${flags})${fromTarget})`;

  // The quoted IPv4 header starts after the 8-byte ICMP header; its length is in its IHL field.
  const quoted = ICMP_HEADER_LEN;
  const quotedTcp = `${quoted} + ((icmp[${quoted}] & 0x0f) << 2)`;
  const types = `(icmp[icmptype] == icmp-unreach or icmp[icmptype] == icmp-timxceed)`;
  const aboutTarget = targets
    ? ` and ${anyOf(targets.map((t) => `icmp[${quoted + field.ipv4Destination}:4] == 0x${hexWord(parseAddress(t)!)}`))}`
    : '';
  const icmp =
    `(icmp and ${types} and icmp[${quoted + field.ipv4Protocol}] == ${IpProtocol.TCP}` +
    ` and ${between(`icmp[${quotedTcp}:2]`, ports)}${aboutTarget})`;
  return [tcp, icmp];
}

/**
 * The conditions for a TCP reply and for an ICMPv6 error about a probe, for an upper-layer header
 * at `upper` (40, or an expression past one extension header) whose protocol is the byte at
 * `nextHeader`. Conditions, not clauses: the caller adds "ip6 and" and what else it needs.
 */
function ipv6UpperConditions(ports: readonly [number, number], targets: readonly string[] | undefined, nextHeader: string, upper: number | string): string[] {
  const tcpFlags = `ip6[${at(upper, field.tcpFlags)}]`;
  const flags = `${tcpFlags} & ${SYN_ACK} == ${SYN_ACK} or ${tcpFlags} & tcp-rst != 0`;
  const fromTarget = targets ? ` and ${anyOf(targets.map((t) => `ip6 src host ${t}`))}` : '';
  const tcp =
    `${nextHeader} == ${IpProtocol.TCP} and ${between(`ip6[${at(upper, field.tcpDestinationPort)}:2]`, ports)}` +
    ` and (${flags})${fromTarget}`;

  // The ICMPv6 header, the quoted IPv6 header 8 bytes on, its TCP header 40 bytes further.
  const type = `ip6[${at(upper, field.icmpType)}]`;
  const quotedDestination = at(upper, ICMP_HEADER_LEN + field.ipv6Destination);
  const aboutTarget = targets ? ` and ${anyOf(targets.map((t) => `(${ip6Equals(quotedDestination, parseAddress(t)!)})`))}` : '';
  const icmp =
    `${nextHeader} == ${IpProtocol.ICMPV6}` +
    ` and (${type} == ${Icmpv6Type.DEST_UNREACHABLE} or ${type} == ${Icmpv6Type.TIME_EXCEEDED})` +
    ` and ip6[${at(upper, ICMP_HEADER_LEN + field.ipv6NextHeader)}] == ${IpProtocol.TCP}` +
    ` and ${between(`ip6[${at(upper, ICMP_HEADER_LEN + IPV6_HEADER_LEN + field.tcpSourcePort)}:2]`, ports)}${aboutTarget}`;
  return [tcp, icmp];
}

function ipv6Clauses(ports: readonly [number, number], targets: readonly string[] | undefined, extensionHeaders: boolean): string[] {
  const nextHeader = `ip6[${field.ipv6NextHeader}]`;
  const clauses = ipv6UpperConditions(ports, targets, nextHeader, IPV6_HEADER_LEN).map((c) => `(ip6 and ${c})`);
  if (!extensionHeaders) return clauses;

  // One extension header at 40: its next header at 40, its length from its own length byte at
  // 41 (RFC 8200 §4.3-4.6: 8-byte units not counting the first 8; AH, RFC 4302 §2.2: 4-byte
  // units minus 2). A fragment header is 8 bytes, and only the first fragment (offset 0) holds
  // a transport header (RFC 8200 §4.5); later ones are dropped here as the engine ignores them.
  const ext = `ip6[${IPV6_HEADER_LEN}]`;
  const extLen = `ip6[${IPV6_HEADER_LEN + 1}]`;
  const afterOne: Array<[kinds: readonly number[], upper: number | string, guard: string]> = [
    [[IpProtocol.HOP_BY_HOP, IpProtocol.IPV6_ROUTING, IpProtocol.IPV6_DEST_OPTS], `${IPV6_HEADER_LEN} + ((${extLen} + 1) << 3)`, ''],
    [[IpProtocol.IPV6_FRAGMENT], IPV6_HEADER_LEN + 8, ` and ip6[${IPV6_HEADER_LEN + 2}:2] & 0xfff8 == 0`],
    [[IpProtocol.AH], `${IPV6_HEADER_LEN} + ((${extLen} + 2) << 2)`, ''],
  ];
  for (const [kinds, upper, guard] of afterOne) {
    const first = anyOf(kinds.map((h) => `${nextHeader} == ${h}`));
    const wanted = anyOf(ipv6UpperConditions(ports, targets, ext, upper).map((c) => `(${c})`));
    clauses.push(`(ip6 and ${first}${guard} and ${wanted})`);
  }
  // Two or more extension headers: beyond what BPF can follow. Replies to probes are unicast;
  // multicast ones are MLD (RFC 3810 §5: hop-by-hop router alert), heard on every link.
  const firstIsExtension = anyOf(IPV6_EXTENSION_HEADERS.map((h) => `${nextHeader} == ${h}`));
  const secondIsExtension = anyOf(IPV6_EXTENSION_HEADERS.map((h) => `${ext} == ${h}`));
  clauses.push(`(ip6 and not ip6 multicast and ${firstIsExtension} and ${secondIsExtension})`);
  return clauses;
}

function hexWord(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The filter text for libpcap; throws InvalidArgumentError on bad input. */
export function buildCaptureFilter(options: CaptureFilterOptions): string {
  const { portRange, families } = options;
  if (
    !Array.isArray(portRange) ||
    portRange.length !== 2 ||
    !portRange.every((p) => Number.isInteger(p) && p >= 1 && p <= 65535) ||
    portRange[0] > portRange[1]
  ) {
    throw new InvalidArgumentError(`portRange must be [low, high] with 1 <= low <= high <= 65535, got ${JSON.stringify(portRange)}`);
  }
  if (!Array.isArray(families) || families.length === 0 || !families.every((f) => f === 4 || f === 6)) {
    throw new InvalidArgumentError(`families must be a non-empty list of 4 and/or 6, got ${JSON.stringify(families)}`);
  }
  let v4Targets: string[] | undefined;
  let v6Targets: string[] | undefined;
  if (options.targets !== undefined && options.targets.length > 0 && options.targets.length <= MAX_FILTER_TARGETS) {
    v4Targets = [];
    v6Targets = [];
    for (const target of options.targets) {
      const family = isIP(target);
      if ((family !== 4 && family !== 6) || parseAddress(target) === undefined) {
        throw new InvalidArgumentError(`targets must be IP address literals, got ${JSON.stringify(target)}`, 'ERR_SHAKER_INVALID_ADDRESS');
      }
      if (!families.includes(family)) {
        const message = `target ${target} is IPv${family}, which is not in families ${JSON.stringify(families)}`;
        throw new InvalidArgumentError(message, 'ERR_SHAKER_INVALID_ADDRESS');
      }
      (family === 4 ? v4Targets : v6Targets).push(target);
    }
  }
  const clauses: string[] = [];
  // A family with no target left gets no clause at all: nothing of it is wanted.
  if (families.includes(4) && (v4Targets === undefined || v4Targets.length > 0)) {
    clauses.push(...ipv4Clauses(portRange, v4Targets));
  }
  if (families.includes(6) && (v6Targets === undefined || v6Targets.length > 0)) {
    clauses.push(...ipv6Clauses(portRange, v6Targets, options.ipv6ExtensionHeaders ?? true));
  }
  return clauses.join(' or ');
}
