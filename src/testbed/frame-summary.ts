// A small read-only peek into captured frames, so testbed users can assert "the server saw a
// SYN and answered SYN-ACK" without the packet engine. It reads only the fields it reports and
// is deliberately independent of src/wire (it checks that code's captures, it must not share
// its bugs). Truncated or unknown frames give a summary with fewer fields, never an exception.
import { LinkType } from '../wire/link-type.js';
import type { Family } from '../core/types.js';

export interface FrameSummary {
  family?: Family;
  src?: string;
  dst?: string;
  /** IP protocol number of the transport (after any IPv6 extension headers). */
  protocol?: number;
  /** IPv6 extension header types passed on the way to the transport, in order. */
  extensionHeaders: number[];
  /** Set for a non-first fragment: no transport header follows. */
  fragmentOffset?: number;
  srcPort?: number;
  dstPort?: number;
  /** TCP flags as tcpdump prints them: "S", "S.", "R", "R.", "." ... */
  tcpFlags?: string;
  seq?: number;
  ack?: number;
  icmpType?: number;
  icmpCode?: number;
  /** For ICMP errors: destination and ports of the packet the error is about. */
  quoted?: { dst?: string; srcPort?: number; dstPort?: number };
}

const PROTO = { hopByHop: 0, icmp: 1, tcp: 6, udp: 17, routing: 43, fragment: 44, icmpv6: 58, destOptions: 60 } as const;
const ETHERTYPE = { ipv4: 0x0800, ipv6: 0x86dd, vlan: 0x8100 } as const;

function ipv4Text(b: Uint8Array, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

function ipv6Text(b: Uint8Array, at: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[at + i] << 8) | b[at + i + 1]).toString(16));
  // Compress the longest run of zero groups, as RFC 5952 asks.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** Offset of the network header and its ethertype for each supported link type. */
function networkStart(linkType: number, b: Uint8Array): { at: number; etherType?: number } | undefined {
  const u16 = (at: number): number => (b[at] << 8) | b[at + 1];
  switch (linkType) {
    case LinkType.ETHERNET: {
      if (b.length < 14) return undefined;
      let at = 12;
      while (u16(at) === ETHERTYPE.vlan && b.length >= at + 6) at += 4;
      return { at: at + 2, etherType: u16(at) };
    }
    case LinkType.LINUX_SLL:
      return b.length < 16 ? undefined : { at: 16, etherType: u16(14) };
    case LinkType.LINUX_SLL2:
      return b.length < 20 ? undefined : { at: 20, etherType: u16(0) };
    case LinkType.NULL:
      return { at: 4 };
    case LinkType.RAW:
    case LinkType.IPV4:
    case LinkType.IPV6:
      return { at: 0 };
    default:
      return undefined;
  }
}

export function summarizeFrame(linkType: number, frame: Uint8Array): FrameSummary {
  const summary: FrameSummary = { extensionHeaders: [] };
  const start = networkStart(linkType, frame);
  if (!start || frame.length <= start.at) return summary;
  const version = frame[start.at] >> 4;
  if (start.etherType !== undefined && start.etherType !== ETHERTYPE.ipv4 && start.etherType !== ETHERTYPE.ipv6) return summary;
  if (version === 4) summarizeIpv4(frame, start.at, summary);
  else if (version === 6) summarizeIpv6(frame, start.at, summary);
  return summary;
}

function summarizeIpv4(b: Uint8Array, at: number, s: FrameSummary): void {
  if (b.length < at + 20) return;
  s.family = 4;
  s.src = ipv4Text(b, at + 12);
  s.dst = ipv4Text(b, at + 16);
  s.protocol = b[at + 9];
  const fragmentOffset = (((b[at + 6] & 0x1f) << 8) | b[at + 7]) * 8;
  if (fragmentOffset !== 0) {
    s.fragmentOffset = fragmentOffset;
    return;
  }
  summarizeTransport(b, at + (b[at] & 0x0f) * 4, s.protocol, s);
}

function summarizeIpv6(b: Uint8Array, at: number, s: FrameSummary): void {
  if (b.length < at + 40) return;
  s.family = 6;
  s.src = ipv6Text(b, at + 8);
  s.dst = ipv6Text(b, at + 24);
  let next = b[at + 6];
  let offset = at + 40;
  // RFC 8200 §4: hop-by-hop, routing and destination options give their length in 8-octet
  // units beyond the first 8; the fragment header is always 8 octets.
  while ((next === PROTO.hopByHop || next === PROTO.routing || next === PROTO.destOptions || next === PROTO.fragment) && b.length >= offset + 8) {
    s.extensionHeaders.push(next);
    if (next === PROTO.fragment) {
      const fragmentOffset = ((b[offset + 2] << 8) | b[offset + 3]) & 0xfff8;
      if (fragmentOffset !== 0) {
        s.protocol = b[offset];
        s.fragmentOffset = fragmentOffset;
        return;
      }
    }
    const length = next === PROTO.fragment ? 8 : (b[offset + 1] + 1) * 8;
    next = b[offset];
    offset += length;
  }
  s.protocol = next;
  summarizeTransport(b, offset, next, s);
}

function summarizeTransport(b: Uint8Array, at: number, protocol: number, s: FrameSummary): void {
  const u16 = (i: number): number => (b[i] << 8) | b[i + 1];
  const u32 = (i: number): number => ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
  if ((protocol === PROTO.tcp || protocol === PROTO.udp) && b.length >= at + 4) {
    s.srcPort = u16(at);
    s.dstPort = u16(at + 2);
  }
  if (protocol === PROTO.tcp && b.length >= at + 14) {
    s.seq = u32(at + 4);
    s.ack = u32(at + 8);
    s.tcpFlags = tcpFlagText(b[at + 13]);
  }
  if ((protocol === PROTO.icmp || protocol === PROTO.icmpv6) && b.length >= at + 2) {
    s.icmpType = b[at];
    s.icmpCode = b[at + 1];
    // Errors quote the offending packet 8 bytes in (RFC 792, RFC 4443 §3).
    const isError = protocol === PROTO.icmp ? [3, 4, 5, 11, 12].includes(b[at]) : b[at] < 128;
    if (isError && b.length > at + 8) {
      const inner = summarizeFrame(LinkType.RAW, b.subarray(at + 8));
      s.quoted = { dst: inner.dst, srcPort: inner.srcPort, dstPort: inner.dstPort };
    }
  }
}

/** tcpdump's rendering: F S R P U E W in that order, then "." for ACK. */
export function tcpFlagText(flags: number): string {
  const letters: Array<[number, string]> = [[0x01, 'F'], [0x02, 'S'], [0x04, 'R'], [0x08, 'P'], [0x20, 'U'], [0x40, 'E'], [0x80, 'W'], [0x10, '.']];
  const text = letters.filter(([bit]) => flags & bit).map(([, letter]) => letter).join('');
  return text || 'none';
}

/** One line per frame, e.g. "198.18.0.1.40000 > 198.18.0.2.80 tcp [S]". */
export function describeFrame(linkType: number, frame: Uint8Array): string {
  const s = summarizeFrame(linkType, frame);
  if (s.family === undefined) return `non-IP frame (${frame.length} bytes)`;
  const endpoint = (address?: string, port?: number): string => (port === undefined ? `${address}` : `${address}.${port}`);
  let what = `proto ${s.protocol}`;
  if (s.tcpFlags !== undefined) what = `tcp [${s.tcpFlags}]`;
  else if (s.protocol === PROTO.udp) what = 'udp';
  else if (s.icmpType !== undefined) what = `icmp${s.family === 6 ? '6' : ''} type ${s.icmpType} code ${s.icmpCode}`;
  if (s.fragmentOffset !== undefined) what = `fragment offset ${s.fragmentOffset}`;
  const ext = s.extensionHeaders.length ? ` ext [${s.extensionHeaders.join(',')}]` : '';
  return `${endpoint(s.src, s.srcPort)} > ${endpoint(s.dst, s.dstPort)} ${what}${ext}`;
}
