// Whole IP packets for the engine: the SYN that asks "is this port open?" and the bare RST that
// withdraws it after a SYN-ACK, plus the generic TCP and ICMP-error builders behind them (which
// test fakes use to answer probes).
//
// Every builder writes into the caller's buffer at an offset, returns the length, and allocates
// nothing: the engine keeps a ring of send buffers and calls buildSyn once per probe. The header
// writers take separate values (writeIpv4Fixed, writeTcp...) precisely so no Repr object is built.
//
// By default the SYN is what Linux 6.x's connect() sends, so a middlebox or IDS that fingerprints
// handshakes sees an ordinary client: TTL/hop limit 64, DF set, window 64240 (v4) / 64800 (v6)
// (tcp_select_initial_window rounds 65535 down to a multiple of the MSS), and the options
// MSS, SACK_PERM, TS, NOP, WS 7 in tcp_options_write's order.
import { needRoom } from './bytes.js';
import { fillIpv4Checksum, IPV4_DONT_FRAGMENT, IPV4_HEADER_LEN, writeIpv4Fixed } from './ipv4.js';
import type { Ipv6ExtensionHeader } from './ipv6.js';
import { extensionHeaderLen, extensionHeaderProtocol, finalDestination, IPV6_HEADER_LEN, writeIpv6Chain, writeIpv6Fixed } from './ipv6.js';
import { IpProtocol } from './protocol.js';
import type { SerializeOptions } from './result.js';
import type { TcpOption } from './tcp.js';
import { linuxSynOptions, TCP_HEADER_LEN, TcpFlags, tcpOptionsLen, writeTcp } from './tcp.js';
import { emitIcmp, ICMP_HEADER_LEN } from './icmp.js';

/** Linux's advertised MSS on a 1500-byte Ethernet path: 1500 - 20 - 20, and 1500 - 40 - 20. */
export const LINUX_MSS_V4 = 1460;
export const LINUX_MSS_V6 = 1440;
/** rounddown(65535, MSS): Linux's initial receive window in the SYN. */
export const LINUX_SYN_WINDOW_V4 = 64240;
export const LINUX_SYN_WINDOW_V6 = 64800;
export const LINUX_TTL = 64;
export const LINUX_WINDOW_SCALE = 7;

/** The default option lists (the TS value is replaced per packet). Frozen: shared by every SYN. */
export const LINUX_SYN_OPTIONS_V4: readonly TcpOption[] = frozen(linuxSynOptions(LINUX_MSS_V4, 0, LINUX_WINDOW_SCALE));
export const LINUX_SYN_OPTIONS_V6: readonly TcpOption[] = frozen(linuxSynOptions(LINUX_MSS_V6, 0, LINUX_WINDOW_SCALE));

function frozen(options: TcpOption[]): readonly TcpOption[] {
  for (const o of options) Object.freeze(o);
  return Object.freeze(options);
}

/** Who a segment goes between: addresses of 4 bytes each (IPv4) or 16 each (IPv6), and ports. */
export interface SegmentEndpoints {
  src: Uint8Array;
  dst: Uint8Array;
  srcPort: number;
  dstPort: number;
}

/** The IP header fields a builder lets the caller set; each defaults to what Linux would send. */
export interface IpHeaderFields {
  /** IPv4 TTL or IPv6 hop limit, default 64. */
  ttl?: number;
  /** IPv4 identification (default: see each builder). */
  ipId?: number;
  /** IPv4 TOS / IPv6 traffic class, default 0. */
  tos?: number;
  /** IPv6 flow label; default derived from the ports and `seq` (Linux sets one per flow, RFC 6437). */
  flowLabel?: number;
  /** IPv4 DF bit, default true (Linux does path MTU discovery, RFC 1191). */
  dontFragment?: boolean;
  /** IPv6 only; emitted in order, before the TCP header. */
  extensionHeaders?: readonly Ipv6ExtensionHeader[];
}

/**
 * The SYN that asks "is this port open?". `ipId` defaults to a value derived from `seq`, so it
 * varies like Linux's random inet_id.
 */
export interface SynSpec extends SegmentEndpoints, IpHeaderFields {
  seq: number;
  /** Default 0 (a SYN carries no ACK; some scanners set garbage here, Linux does not). */
  ack?: number;
  /** Default 64240 (IPv4) / 64800 (IPv6). */
  window?: number;
  /** Default: Linux's list for the family. An empty list sends a bare 20-byte header. */
  options?: readonly TcpOption[];
  /** Value for the timestamps option (whichever list is used); default: the option's own, or ms clock for the default list. */
  tsVal?: number;
  /** Default SYN only. Add ECE|CWR for an ECN-setup SYN (RFC 3168 §6.1.1). */
  flags?: number;
}

/**
 * The bare RST that withdraws a SYN after its SYN-ACK. `ipId` defaults to 0, as Linux's reply
 * socket sends (no connected socket, so no inet_id); DF is always set.
 */
export interface RstSpec extends SegmentEndpoints, Omit<IpHeaderFields, 'dontFragment'> {
  /** The SYN-ACK's ack number: RFC 9293 §3.5.2 "<SEQ=SEG.ACK><CTL=RST>". */
  seq: number;
}

/** Every field of a TCP/IP packet, for buildTcpPacket (test peers, deliberately odd packets). */
export interface TcpPacketSpec extends SegmentEndpoints, IpHeaderFields {
  seq: number;
  ack?: number;
  flags: number;
  window?: number;
  urgent?: number;
  options?: readonly TcpOption[];
  /** Overrides the value of a timestamps option in `options`. */
  tsVal?: number;
  payload?: Uint8Array;
}

function isV4(spec: { src: Uint8Array; dst: Uint8Array }): boolean {
  if (spec.src.length === 4 && spec.dst.length === 4) return true;
  if (spec.src.length === 16 && spec.dst.length === 16) return false;
  throw new RangeError(`addresses must be 4 + 4 or 16 + 16 bytes, got ${spec.src.length} + ${spec.dst.length}`);
}

function chainLen(exts: readonly Ipv6ExtensionHeader[] | undefined): number {
  let n = 0;
  if (exts) for (const h of exts) n += extensionHeaderLen(h);
  return n;
}

function ipHeaderLen(v4: boolean, exts: readonly Ipv6ExtensionHeader[] | undefined): number {
  if (v4) {
    if (exts && exts.length > 0) throw new RangeError('IPv6 extension headers on an IPv4 packet');
    return IPV4_HEADER_LEN;
  }
  return IPV6_HEADER_LEN + chainLen(exts);
}

function padded(n: number): number {
  return (n + 3) & ~3;
}

/** A 20-bit flow label from the flow, never 0 (0 means "no label", RFC 6437 §2). */
export function defaultFlowLabel(srcPort: number, dstPort: number, seq: number): number {
  const h = Math.imul((srcPort << 16) ^ dstPort ^ seq, 0x9e3779b1) >>> 12;
  return h === 0 ? 1 : h;
}

/** IPv4 identification from the ISN (a multiplicative hash): as unpredictable as the ISN, and free. */
export function defaultIpId(seq: number): number {
  return Math.imul(seq, 0x9e3779b1) >>> 16;
}

/** The fields writeTcpPacket reads from whichever spec it is given (SynSpec, RstSpec, TcpPacketSpec). */
type PacketFields = SegmentEndpoints &
  Pick<IpHeaderFields, 'ttl' | 'tos' | 'dontFragment' | 'extensionHeaders'> & {
    seq: number;
    ack?: number;
    urgent?: number;
    payload?: Uint8Array;
  };

/**
 * Writes IP header + TCP segment straight from the caller's spec; the values whose defaults
 * differ between builders come as arguments. No object is created per packet.
 */
function writeTcpPacket(
  buf: Uint8Array,
  offset: number,
  spec: PacketFields,
  flags: number,
  window: number,
  options: readonly TcpOption[] | undefined,
  ipId: number,
  flowLabel: number,
  tsVal: number | undefined,
  opts: SerializeOptions | undefined,
): number {
  const v4 = isV4(spec);
  const exts = v4 ? undefined : spec.extensionHeaders;
  const ipLen = ipHeaderLen(v4, spec.extensionHeaders);
  const tcpLen = TCP_HEADER_LEN + padded(tcpOptionsLen(options)) + (spec.payload?.length ?? 0);
  needRoom(buf, offset, ipLen + tcpLen, 'buildTcpPacket');
  const ttl = spec.ttl ?? LINUX_TTL;
  if (v4) {
    writeIpv4Fixed(
      buf,
      offset,
      IPV4_HEADER_LEN,
      spec.tos ?? 0,
      ipLen + tcpLen,
      ipId,
      (spec.dontFragment ?? true) ? IPV4_DONT_FRAGMENT : 0,
      ttl,
      IpProtocol.TCP,
      spec.src,
      spec.dst,
    );
    fillIpv4Checksum(buf, offset, IPV4_HEADER_LEN);
    writeTcp(buf, offset + ipLen, spec, flags, window, options, spec.src, spec.dst, opts, spec.payload, tsVal);
  } else {
    const next = exts && exts.length > 0 ? extensionHeaderProtocol(exts[0]) : IpProtocol.TCP;
    writeIpv6Fixed(buf, offset, spec.tos ?? 0, flowLabel, ipLen - IPV6_HEADER_LEN + tcpLen, next, ttl, spec.src, spec.dst);
    if (exts) writeIpv6Chain(buf, offset + IPV6_HEADER_LEN, exts, IpProtocol.TCP);
    // RFC 8200 §8.1: with a routing header, the pseudo-header names the final destination.
    const pseudoDst = finalDestination(spec.dst, exts);
    writeTcp(buf, offset + ipLen, spec, flags, window, options, spec.src, pseudoDst, opts, spec.payload, tsVal);
  }
  return ipLen + tcpLen;
}

/** Bytes buildTcpPacket will write. */
export function tcpPacketLength(spec: TcpPacketSpec): number {
  const v4 = isV4(spec);
  return ipHeaderLen(v4, spec.extensionHeaders) + TCP_HEADER_LEN + padded(tcpOptionsLen(spec.options)) + (spec.payload?.length ?? 0);
}

/**
 * Any TCP segment in a full IP packet (family from the address length). `opts` applies to the TCP
 * checksum: `computeChecksums: false` writes 0 there, for "bad checksum" test packets. Returns
 * the length written; throws RangeError on a buffer too small or fields that do not fit.
 */
export function buildTcpPacket(buf: Uint8Array, offset: number, spec: TcpPacketSpec, opts?: SerializeOptions): number {
  return writeTcpPacket(
    buf,
    offset,
    spec,
    spec.flags,
    spec.window ?? 0,
    spec.options,
    spec.ipId ?? defaultIpId(spec.seq),
    spec.flowLabel ?? defaultFlowLabel(spec.srcPort, spec.dstPort, spec.seq),
    spec.tsVal,
    opts,
  );
}

function synOptions(spec: SynSpec, v4: boolean): readonly TcpOption[] {
  return spec.options ?? (v4 ? LINUX_SYN_OPTIONS_V4 : LINUX_SYN_OPTIONS_V6);
}

/** Bytes buildSyn will write: IP header (+ extension headers) + TCP header with options. */
export function synLength(spec: SynSpec): number {
  const v4 = isV4(spec);
  return ipHeaderLen(v4, spec.extensionHeaders) + TCP_HEADER_LEN + padded(tcpOptionsLen(synOptions(spec, v4)));
}

/** Writes a SYN as a full IP packet at `buf[offset..]`; returns its length (synLength(spec)). */
export function buildSyn(buf: Uint8Array, offset: number, spec: SynSpec): number {
  const v4 = isV4(spec);
  const options = synOptions(spec, v4);
  // The default list's TS value is a placeholder: a real stack sends its clock (Linux: ms plus a
  // per-destination random offset, RFC 7323 §5.4 / tcp_ts_off), so send one unless told.
  const tsVal = spec.tsVal ?? (spec.options === undefined ? Date.now() >>> 0 : undefined);
  return writeTcpPacket(
    buf,
    offset,
    spec,
    spec.flags ?? TcpFlags.SYN,
    spec.window ?? (v4 ? LINUX_SYN_WINDOW_V4 : LINUX_SYN_WINDOW_V6),
    options,
    spec.ipId ?? defaultIpId(spec.seq),
    spec.flowLabel ?? defaultFlowLabel(spec.srcPort, spec.dstPort, spec.seq),
    tsVal,
    undefined,
  );
}

/** Bytes buildRst will write. */
export function rstLength(spec: RstSpec): number {
  return ipHeaderLen(isV4(spec), spec.extensionHeaders) + TCP_HEADER_LEN;
}

/**
 * Writes a bare RST as a full IP packet and returns its length: flags R only, ack 0, window 0, no
 * options. That is RFC 9293 §3.10.7.1's answer, in CLOSED state, to a segment with ACK set
 * (<SEQ=SEG.ACK><CTL=RST>), and what Linux sends for a SYN-ACK nobody asked for.
 */
export function buildRst(buf: Uint8Array, offset: number, spec: RstSpec): number {
  // RstSpec has no ack, urgent, options or payload: all written as zero / absent.
  return writeTcpPacket(buf, offset, spec, TcpFlags.RST, 0, undefined, spec.ipId ?? 0, spec.flowLabel ?? 0, undefined, undefined);
}

export interface IcmpErrorSpec {
  /** The router or host reporting the error, and the probe's sender it reports to. */
  src: Uint8Array;
  dst: Uint8Array;
  type: number;
  code: number;
  /** The packet being reported (a whole IP packet, e.g. from buildSyn). */
  original: Uint8Array;
  /** Bytes of `original` to quote (28 for RFC 792's minimum with IPv4: header + 8). Default: see buildIcmpError. */
  quoteLength?: number;
  /** ICMPv4 frag-needed next-hop MTU / ICMPv6 packet-too-big MTU. */
  mtu?: number;
  ttl?: number;
}

/**
 * An ICMP error about `original`, as a full IP packet, for fakes and tests. The quote defaults to
 * what Linux sends: as much as fits in 576 bytes (IPv4, RFC 1812 §4.3.2.3) or 1280 (IPv6,
 * RFC 4443 §2.4 (c)), which for a SYN is all of it.
 */
export function buildIcmpError(buf: Uint8Array, offset: number, spec: IcmpErrorSpec): number {
  const v4 = isV4(spec);
  const ipLen = v4 ? IPV4_HEADER_LEN : IPV6_HEADER_LEN;
  const room = (v4 ? 576 : 1280) - ipLen - ICMP_HEADER_LEN;
  const quoteLen = Math.min(spec.quoteLength ?? room, spec.original.length);
  const total = ipLen + ICMP_HEADER_LEN + quoteLen;
  needRoom(buf, offset, total, 'buildIcmpError');
  const ttl = spec.ttl ?? LINUX_TTL;
  let rest = 0;
  if (spec.mtu !== undefined) rest = v4 ? spec.mtu & 0xffff : spec.mtu >>> 0;
  // `original` must not overlap the bytes written here.
  const quote = spec.original.subarray(0, quoteLen);
  if (v4) {
    writeIpv4Fixed(buf, offset, IPV4_HEADER_LEN, 0, total, 0, 0, ttl, IpProtocol.ICMP, spec.src, spec.dst);
    fillIpv4Checksum(buf, offset, IPV4_HEADER_LEN);
    emitIcmp(buf, offset + ipLen, { type: spec.type, code: spec.code, restOfHeader: rest }, quote, undefined, undefined);
  } else {
    writeIpv6Fixed(buf, offset, 0, 0, ICMP_HEADER_LEN + quoteLen, IpProtocol.ICMPV6, ttl, spec.src, spec.dst);
    const pseudo = { src: spec.src, dst: spec.dst };
    emitIcmp(buf, offset + ipLen, { type: spec.type, code: spec.code, restOfHeader: rest }, quote, pseudo, undefined);
  }
  return total;
}
