// Either IP version: the engine's per-packet entry point. `parseIp` looks at the version nibble,
// checks the header exactly as parseIpv4/parseIpv6 would, walks IPv6 extension headers, and says
// where the transport header is. It allocates the result, its wrapper and the two address copies
// and nothing else: no extension-header objects, no views, no closures.
//
// Also here: the lenient parse of the datagram an ICMP error quotes back, shared by icmpv4.ts and
// icmpv6.ts.
import { copyBytes, u16, u32 } from './bytes.js';
import { checkIpv4, ipv4Field } from './ipv4.js';
import { checkIpv6, ipv6Field, walkIpv6Chain } from './ipv6.js';
import { IpProtocol } from './protocol.js';
import type { Parsed, VerifyOptions } from './result.js';
import { malformed, ok } from './result.js';

export interface IpDatagram {
  version: 4 | 6;
  /** Copies: safe to keep after the capture buffer is reused. */
  src: Uint8Array;
  dst: Uint8Array;
  /** IPv4 TTL or IPv6 hop limit. */
  ttl: number;
  /** IPv4 TOS byte or IPv6 traffic class. */
  tos: number;
  /** The transport: IPv4 protocol, or the next header that ended the IPv6 extension chain. */
  protocol: number;
  /** Offset of the transport header in the parsed bytes. */
  payloadOffset: number;
  /** Transport bytes, per the IP length fields (link-layer padding excluded). */
  payloadLength: number;
  /** In bytes; 0 if not a fragment or the first one. Non-first fragments carry no transport header. */
  fragmentOffset: number;
  moreFragments: boolean;
}

/**
 * Parses an IP datagram of either version (no link layer in front). `verifyChecksum` (default
 * true) covers the IPv4 header checksum, which Linux always computes in software, so it holds
 * even for packets captured on `lo`. Never throws.
 */
export function parseIp(bytes: Uint8Array, opts?: VerifyOptions): Parsed<IpDatagram> {
  if (bytes.length === 0) return malformed('truncated', 'empty IP datagram');
  const version = bytes[0] >>> 4;
  if (version === 4) {
    const bad = checkIpv4(bytes, opts?.verifyChecksum ?? true, false);
    if (bad) return bad;
    const headerLen = (bytes[ipv4Field.VER_IHL] & 0x0f) * 4;
    const flagsOff = u16(bytes, ipv4Field.FLG_OFF);
    return ok({
      version: 4,
      src: copyBytes(bytes, ipv4Field.SRC_ADDR, ipv4Field.SRC_ADDR + 4),
      dst: copyBytes(bytes, ipv4Field.DST_ADDR, ipv4Field.DST_ADDR + 4),
      ttl: bytes[ipv4Field.TTL],
      tos: bytes[ipv4Field.TOS],
      protocol: bytes[ipv4Field.PROTOCOL],
      payloadOffset: headerLen,
      payloadLength: u16(bytes, ipv4Field.LENGTH) - headerLen,
      fragmentOffset: (flagsOff & 0x1fff) * 8,
      moreFragments: (flagsOff & 0x2000) !== 0,
    });
  }
  if (version === 6) {
    const end = checkIpv6(bytes, false);
    if (typeof end !== 'number') return end;
    const walked = walkIpv6Chain(bytes, bytes[ipv6Field.NXT_HDR], end, false);
    if ('ok' in walked) return walked;
    return ok({
      version: 6,
      src: copyBytes(bytes, ipv6Field.SRC_ADDR, ipv6Field.SRC_ADDR + 16),
      dst: copyBytes(bytes, ipv6Field.DST_ADDR, ipv6Field.DST_ADDR + 16),
      ttl: bytes[ipv6Field.HOP_LIMIT],
      tos: (u32(bytes, ipv6Field.VER_TC_FLOW) >>> 20) & 0xff,
      protocol: walked.protocol,
      payloadOffset: walked.offset,
      payloadLength: end - walked.offset,
      fragmentOffset: walked.fragmentOffset,
      moreFragments: walked.moreFragments,
    });
  }
  return malformed('bad-version', `IP version field is ${version}`);
}

/** The transport payload of a parsed datagram, as a view into `bytes` (not a copy). */
export function ipPayload(bytes: Uint8Array, d: IpDatagram): Uint8Array {
  return bytes.subarray(d.payloadOffset, d.payloadOffset + d.payloadLength);
}

/**
 * What an ICMP error says about the datagram that caused it: enough to find the probe. Ports need
 * 4 quoted transport bytes and `seq` 8, which is all RFC 792 guarantees ("Internet Header + 64
 * bits of Original Data Datagram"); Linux quotes far more (up to 576 bytes in all).
 */
export interface IcmpQuote {
  src: Uint8Array;
  dst: Uint8Array;
  protocol: number;
  srcPort?: number;
  dstPort?: number;
  /** TCP only. */
  seq?: number;
}

/** Transports whose first four bytes are the source and destination ports. */
function hasPorts(protocol: number): boolean {
  switch (protocol) {
    case IpProtocol.TCP:
    case IpProtocol.UDP:
    case 33: // DCCP
    case 132: // SCTP
    case 136: // UDP-Lite
      return true;
    default:
      return false;
  }
}

/**
 * Parses the datagram quoted in an ICMP error. Length fields describe the original datagram, not
 * the quote, so only the header itself must fit; checksums are not verified (routers quote what
 * they received, after their own TTL decrement on some paths). `version` is the family the ICMP
 * message came in: an ICMPv4 error quotes IPv4.
 */
export function parseQuotedDatagram(bytes: Uint8Array, version: 4 | 6): Parsed<IcmpQuote> {
  if (bytes.length === 0) return malformed('truncated', 'ICMP error quotes no datagram');
  const v = bytes[0] >>> 4;
  if (v !== version) return malformed('bad-version', `ICMPv${version} error quotes an IP version ${v} header`);
  let protocol: number;
  let offset: number;
  let src: Uint8Array;
  let dst: Uint8Array;
  if (version === 4) {
    const bad = checkIpv4(bytes, false, true);
    if (bad) return malformed(bad.reason, `quoted ${bad.detail}`);
    protocol = bytes[ipv4Field.PROTOCOL];
    offset = (bytes[0] & 0x0f) * 4;
    src = copyBytes(bytes, ipv4Field.SRC_ADDR, ipv4Field.SRC_ADDR + 4);
    dst = copyBytes(bytes, ipv4Field.DST_ADDR, ipv4Field.DST_ADDR + 4);
    // A non-first fragment starts mid-transport: there are no ports to read.
    if ((u16(bytes, ipv4Field.FLG_OFF) & 0x1fff) !== 0) return ok({ src, dst, protocol });
  } else {
    const end = checkIpv6(bytes, true);
    if (typeof end !== 'number') return malformed(end.reason, `quoted ${end.detail}`);
    const walked = walkIpv6Chain(bytes, bytes[ipv6Field.NXT_HDR], end, true);
    if ('ok' in walked) return malformed(walked.reason, `quoted ${walked.detail}`);
    protocol = walked.protocol;
    offset = walked.offset;
    src = copyBytes(bytes, ipv6Field.SRC_ADDR, ipv6Field.SRC_ADDR + 16);
    dst = copyBytes(bytes, ipv6Field.DST_ADDR, ipv6Field.DST_ADDR + 16);
    if (walked.fragmentOffset !== 0) return ok({ src, dst, protocol });
  }
  const avail = bytes.length - offset;
  if (!hasPorts(protocol) || avail < 4) return ok({ src, dst, protocol });
  const quote: IcmpQuote = { src, dst, protocol, srcPort: u16(bytes, offset), dstPort: u16(bytes, offset + 2) };
  if (protocol === IpProtocol.TCP && avail >= 8) quote.seq = u32(bytes, offset + 4);
  return ok(quote);
}
