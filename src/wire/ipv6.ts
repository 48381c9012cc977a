// IPv6 header (RFC 8200 §3) and its extension-header chain (§4): hop-by-hop and destination
// options, routing, fragment, plus AH and the other RFC 7045 headers walked as opaque blobs.
//
//     0                   1                   2                   3
//     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |Version| Traffic Class |           Flow Label                  |
//    |         Payload Length        |  Next Header  |   Hop Limit   |
//    |                Source Address (128 bits)                      |
//    |             Destination Address (128 bits)                    |
//
// As in ipv4.ts there are two levels: the `Ipv6Packet` view and the `Ipv6Repr` value. One walker,
// `walkIpv6Chain`, serves both parseIpv6 (which collects the headers as objects) and the
// engine's parseIp (which only wants the transport's protocol and offset and must not allocate).
import { copyBytes, dataView, needRoom, needUint, put16, put32, u16, u32 } from './bytes.js';
import { IpProtocol } from './protocol.js';
import type { Malformed, Parsed, SerializeOptions } from './result.js';
import { malformed, ok } from './result.js';

export const ipv6Field = {
  VER_TC_FLOW: 0,
  LENGTH: 4,
  NXT_HDR: 6,
  HOP_LIMIT: 7,
  SRC_ADDR: 8,
  DST_ADDR: 24,
  PAYLOAD: 40,
} as const;

export const IPV6_HEADER_LEN = 40;

/** Fields of the fragment header (RFC 8200 §4.5), relative to its start. */
const fragField = { NXT_HDR: 0, RESERVED: 1, OFF_M: 2, IDENT: 4, END: 8 } as const;
/** Option TLVs in hop-by-hop and destination options headers (RFC 8200 §4.2). */
const OPT_PAD1 = 0;
const OPT_PADN = 1;

/**
 * One TLV of a hop-by-hop or destination options header. Padding is kept as options too (Pad1 is
 * type 0 with empty data, PadN type 1 with zero data) so a parsed chain re-emits byte for byte.
 */
export interface Ipv6Option {
  type: number;
  data: Uint8Array;
}

export type Ipv6ExtensionHeader =
  | { kind: 'hop-by-hop'; options: readonly Ipv6Option[] }
  | { kind: 'destination'; options: readonly Ipv6Option[] }
  | {
      kind: 'routing';
      routingType: number;
      segmentsLeft: number;
      /** Type-specific bytes after the first four (for types 0 and 2: 4 reserved bytes, then addresses). */
      data: Uint8Array;
    }
  | {
      kind: 'fragment';
      /** In bytes (the field counts 8-byte units). */
      fragmentOffset: number;
      moreFragments: boolean;
      identification: number;
    }
  /**
   * AH (51), Mobility (135), HIP (139), Shim6 (140), experiments (253, 254): not interpreted,
   * `data` is everything after the next-header and length bytes.
   */
  | { kind: 'other'; protocol: number; data: Uint8Array };

/** The next-header value announcing each kind. */
export function extensionHeaderProtocol(h: Ipv6ExtensionHeader): number {
  switch (h.kind) {
    case 'hop-by-hop':
      return IpProtocol.HOP_BY_HOP;
    case 'destination':
      return IpProtocol.IPV6_DEST_OPTS;
    case 'routing':
      return IpProtocol.IPV6_ROUTING;
    case 'fragment':
      return IpProtocol.IPV6_FRAGMENT;
    case 'other':
      return h.protocol;
  }
}

/** Where a chain walk ended. Reused by the walker: read it before the next walk. */
export interface Ipv6ChainEnd {
  /** Next header of the last extension header (the transport, 59 = none, 50 = ESP...). */
  protocol: number;
  /** Offset of the transport header from the start of the IPv6 header. */
  offset: number;
  /** From a fragment header, in bytes; 0 if none. */
  fragmentOffset: number;
  moreFragments: boolean;
}

const chainEnd: Ipv6ChainEnd = { protocol: 0, offset: 0, fragmentOffset: 0, moreFragments: false };

function endChain(protocol: number, offset: number, fragmentOffset: number, moreFragments: boolean): Ipv6ChainEnd {
  chainEnd.protocol = protocol;
  chainEnd.offset = offset;
  chainEnd.fragmentOffset = fragmentOffset;
  chainEnd.moreFragments = moreFragments;
  return chainEnd;
}

/** Checks the TLVs of an options header body `b[start..end)`. */
function checkTlvOptions(b: Uint8Array, start: number, end: number, collect: Ipv6Option[] | undefined): Malformed | undefined {
  let i = start;
  while (i < end) {
    const type = b[i];
    if (type === OPT_PAD1) {
      collect?.push({ type, data: new Uint8Array(0) });
      i++;
      continue;
    }
    if (i + 2 > end) return malformed('bad-option', `IPv6 option ${type} at ${i} has no length byte`);
    const len = b[i + 1];
    if (i + 2 + len > end) return malformed('bad-option', `IPv6 option ${type} of length ${len} overruns its header`);
    collect?.push({ type, data: copyBytes(b, i + 2, i + 2 + len) });
    i += 2 + len;
  }
  return undefined;
}

/**
 * Walks the extension headers of the IPv6 packet `b` (fixed header at 0) whose first next header
 * is `first`, up to `end`, and leaves the result in the returned shared object. With `collect`,
 * pushes each header as an object. With `quoted` (the copy inside an ICMPv6 error, often cut
 * short) a header running past `end` stops the walk there instead of failing.
 *
 * The walk stops at the first next header that is not an extension header, at ESP (encrypted
 * from there on), at No Next Header (59), and after a fragment header whose offset is not 0: only
 * the first fragment carries the transport header (RFC 8200 §4.5).
 */
export function walkIpv6Chain(
  b: Uint8Array,
  first: number,
  end: number,
  quoted: boolean,
  collect?: Ipv6ExtensionHeader[],
): Ipv6ChainEnd | Malformed {
  let next = first;
  let o = IPV6_HEADER_LEN;
  let fragmentOffset = 0;
  let moreFragments = false;
  for (;;) {
    let len: number;
    switch (next) {
      case IpProtocol.HOP_BY_HOP:
      case IpProtocol.IPV6_DEST_OPTS:
      case IpProtocol.IPV6_ROUTING:
      case IpProtocol.MOBILITY:
      case IpProtocol.HIP:
      case IpProtocol.SHIM6:
      case IpProtocol.EXPERIMENT_1:
      case IpProtocol.EXPERIMENT_2:
        // RFC 6564 uniform format: length in 8-octet units, not counting the first 8.
        len = o + 2 <= end ? (b[o + 1] + 1) * 8 : 8;
        break;
      case IpProtocol.AH:
        // RFC 4302 §2.2: AH counts 4-octet units, minus 2.
        len = o + 2 <= end ? (b[o + 1] + 2) * 4 : 8;
        break;
      case IpProtocol.IPV6_FRAGMENT:
        len = fragField.END;
        break;
      default:
        return endChain(next, o, fragmentOffset, moreFragments);
    }
    if (o + len > end) {
      if (quoted) return endChain(next, o, fragmentOffset, moreFragments);
      return malformed('truncated', `IPv6 extension header ${next} at ${o} needs ${len} bytes, ${Math.max(0, end - o)} left`);
    }
    switch (next) {
      case IpProtocol.HOP_BY_HOP:
      case IpProtocol.IPV6_DEST_OPTS: {
        // RFC 8200 §4.1: "The Hop-by-Hop Options header, when present, must immediately follow
        // the IPv6 header." Linux drops the packet otherwise (ipv6_parse_hopopts is only called
        // for the first header), so a later one is malformed, not merely unusual.
        if (next === IpProtocol.HOP_BY_HOP && o !== IPV6_HEADER_LEN) {
          return malformed('bad-extension-header', `IPv6 hop-by-hop header at ${o} is not first`);
        }
        const options: Ipv6Option[] | undefined = collect ? [] : undefined;
        const bad = checkTlvOptions(b, o + 2, o + len, options);
        if (bad) return bad;
        if (collect && options) {
          collect.push(next === IpProtocol.HOP_BY_HOP ? { kind: 'hop-by-hop', options } : { kind: 'destination', options });
        }
        break;
      }
      case IpProtocol.IPV6_ROUTING:
        collect?.push({ kind: 'routing', routingType: b[o + 2], segmentsLeft: b[o + 3], data: copyBytes(b, o + 4, o + len) });
        break;
      case IpProtocol.IPV6_FRAGMENT: {
        const w = u16(b, o + fragField.OFF_M);
        // Keep the outermost fragment header's values if (pathologically) there are two.
        if (fragmentOffset === 0 && !moreFragments) {
          fragmentOffset = w & 0xfff8;
          moreFragments = (w & 1) !== 0;
        }
        collect?.push({
          kind: 'fragment',
          fragmentOffset: w & 0xfff8,
          moreFragments: (w & 1) !== 0,
          identification: u32(b, o + fragField.IDENT),
        });
        break;
      }
      default:
        collect?.push({ kind: 'other', protocol: next, data: copyBytes(b, o + 2, o + len) });
    }
    const after = b[o];
    o += len;
    if (next === IpProtocol.IPV6_FRAGMENT && fragmentOffset !== 0) return endChain(after, o, fragmentOffset, moreFragments);
    next = after;
  }
}

/** Checks the fixed header; returns the end of the packet (40 + payload length) or a failure. */
export function checkIpv6(bytes: Uint8Array, quoted: boolean): number | Malformed {
  if (bytes.length < IPV6_HEADER_LEN) return malformed('truncated', `IPv6 header needs 40 bytes, have ${bytes.length}`);
  const version = bytes[0] >>> 4;
  if (version !== 6) return malformed('bad-version', `IPv6 version field is ${version}`);
  const end = IPV6_HEADER_LEN + u16(bytes, ipv6Field.LENGTH);
  if (quoted) return Math.min(end, bytes.length);
  // A payload length of 0 with a jumbo option (RFC 2675) would need the hop-by-hop header to
  // size the packet; nothing that answers a SYN sends jumbograms, so 0 just means empty.
  if (bytes.length < end) {
    return malformed('truncated', `IPv6 payload length ${end - IPV6_HEADER_LEN}, have ${bytes.length - IPV6_HEADER_LEN} bytes`);
  }
  return end;
}

export interface Ipv6Repr {
  src: Uint8Array;
  dst: Uint8Array;
  hopLimit: number;
  trafficClass: number;
  flowLabel: number;
  /** The fixed header's next header (the first extension header, or the transport). */
  nextHeader: number;
  extensionHeaders: Ipv6ExtensionHeader[];
  /** Where the chain ended: the transport protocol (see walkIpv6Chain). */
  protocol: number;
  /** 40 plus the extension headers: the offset of the transport header. */
  headerLen: number;
  /** Transport bytes after the chain. */
  payloadLength: number;
  /** The header's payload length field: extension headers plus transport. */
  payloadLengthField: number;
  fragmentOffset: number;
  moreFragments: boolean;
}

export interface Ipv6ReprInput {
  src: Uint8Array;
  dst: Uint8Array;
  /** The transport protocol, announced by the last extension header (or the fixed header). */
  protocol: number;
  hopLimit?: number;
  trafficClass?: number;
  flowLabel?: number;
  extensionHeaders?: readonly Ipv6ExtensionHeader[];
  /** Transport bytes the caller writes after the returned header length. */
  payloadLength: number;
  /** Written only when `fixLengths` is false. */
  payloadLengthField?: number;
}

export function parseIpv6(bytes: Uint8Array): Parsed<Ipv6Repr> {
  const end = checkIpv6(bytes, false);
  if (typeof end !== 'number') return end;
  const extensionHeaders: Ipv6ExtensionHeader[] = [];
  const nextHeader = bytes[ipv6Field.NXT_HDR];
  const walked = walkIpv6Chain(bytes, nextHeader, end, false, extensionHeaders);
  if ('ok' in walked) return walked;
  const w0 = u32(bytes, ipv6Field.VER_TC_FLOW);
  return ok({
    src: copyBytes(bytes, ipv6Field.SRC_ADDR, ipv6Field.SRC_ADDR + 16),
    dst: copyBytes(bytes, ipv6Field.DST_ADDR, ipv6Field.DST_ADDR + 16),
    hopLimit: bytes[ipv6Field.HOP_LIMIT],
    trafficClass: (w0 >>> 20) & 0xff,
    flowLabel: w0 & 0xfffff,
    nextHeader,
    extensionHeaders,
    protocol: walked.protocol,
    headerLen: walked.offset,
    payloadLength: end - walked.offset,
    payloadLengthField: end - IPV6_HEADER_LEN,
    fragmentOffset: walked.fragmentOffset,
    moreFragments: walked.moreFragments,
  });
}

function optionsBodyLen(options: readonly Ipv6Option[]): number {
  let n = 0;
  for (const opt of options) n += opt.type === OPT_PAD1 ? 1 : 2 + opt.data.length;
  return n;
}

/** Bytes `h` occupies on the wire, padding included. */
export function extensionHeaderLen(h: Ipv6ExtensionHeader): number {
  switch (h.kind) {
    case 'hop-by-hop':
    case 'destination':
      return (2 + optionsBodyLen(h.options) + 7) & ~7;
    case 'routing':
      return (4 + h.data.length + 7) & ~7;
    case 'fragment':
      return fragField.END;
    case 'other':
      // RFC 4302 §3.3.3.2.1: in IPv6, AH is also a multiple of 8 octets.
      return (2 + h.data.length + 7) & ~7;
  }
}

/** 40 plus the extension headers. */
export function ipv6HeaderLen(repr: Pick<Ipv6ReprInput, 'extensionHeaders'>): number {
  let n = IPV6_HEADER_LEN;
  for (const h of repr.extensionHeaders ?? []) n += extensionHeaderLen(h);
  return n;
}

/** Writes one extension header; `next` is what follows it. Returns its length. */
function emitExtensionHeader(buf: Uint8Array, o: number, h: Ipv6ExtensionHeader, next: number): number {
  const len = extensionHeaderLen(h);
  buf[o] = next;
  switch (h.kind) {
    case 'hop-by-hop':
    case 'destination': {
      buf[o + 1] = len / 8 - 1;
      let i = o + 2;
      for (const opt of h.options) {
        if (opt.type === OPT_PAD1) {
          buf[i++] = 0;
          continue;
        }
        needUint(opt.data.length, 255, 'IPv6 option data length');
        buf[i] = opt.type;
        buf[i + 1] = opt.data.length;
        buf.set(opt.data, i + 2);
        i += 2 + opt.data.length;
      }
      // RFC 8200 §4.2: pad to a multiple of 8 with Pad1 (one byte) or PadN (two or more).
      const pad = o + len - i;
      if (pad === 1) buf[i] = OPT_PAD1;
      else if (pad >= 2) {
        buf[i] = OPT_PADN;
        buf[i + 1] = pad - 2;
        buf.fill(0, i + 2, i + pad);
      }
      break;
    }
    case 'routing':
      buf[o + 1] = len / 8 - 1;
      buf[o + 2] = h.routingType;
      buf[o + 3] = h.segmentsLeft;
      buf.set(h.data, o + 4);
      buf.fill(0, o + 4 + h.data.length, o + len);
      break;
    case 'fragment':
      if (h.fragmentOffset % 8 !== 0) throw new RangeError(`IPv6 fragment offset ${h.fragmentOffset} is not a multiple of 8`);
      needUint(h.fragmentOffset, 0xfff8, 'IPv6 fragment offset');
      buf[o + fragField.RESERVED] = 0;
      put16(buf, o + fragField.OFF_M, h.fragmentOffset | (h.moreFragments ? 1 : 0));
      put32(buf, o + fragField.IDENT, h.identification);
      break;
    case 'other':
      buf[o + 1] = h.protocol === IpProtocol.AH ? len / 4 - 2 : len / 8 - 1;
      buf.set(h.data, o + 2);
      buf.fill(0, o + 2 + h.data.length, o + len);
      break;
  }
  return len;
}

/**
 * Writes the fixed header and the extension headers at `buf[offset..]` and returns their length
 * (the transport goes right after). The IPv6 header has no checksum; the transport's covers a
 * pseudo-header, see `finalDestination`.
 */
export function emitIpv6(buf: Uint8Array, offset: number, repr: Ipv6ReprInput, opts?: SerializeOptions): number {
  const exts = repr.extensionHeaders ?? [];
  const headerLen = ipv6HeaderLen(repr);
  needRoom(buf, offset, headerLen, 'emitIpv6');
  if (repr.src.length !== 16 || repr.dst.length !== 16) throw new RangeError('emitIpv6: addresses must be 16 bytes');
  const payloadLengthField = (opts?.fixLengths ?? true)
    ? headerLen - IPV6_HEADER_LEN + repr.payloadLength
    : (repr.payloadLengthField ?? headerLen - IPV6_HEADER_LEN + repr.payloadLength);
  needUint(payloadLengthField, 0xffff, 'IPv6 payload length');
  const trafficClass = repr.trafficClass ?? 0;
  const flowLabel = repr.flowLabel ?? 0;
  needUint(trafficClass, 0xff, 'IPv6 traffic class');
  needUint(flowLabel, 0xfffff, 'IPv6 flow label');
  const next = exts.length > 0 ? extensionHeaderProtocol(exts[0]) : repr.protocol;
  writeIpv6Fixed(buf, offset, trafficClass, flowLabel, payloadLengthField, next, repr.hopLimit ?? 64, repr.src, repr.dst);
  writeIpv6Chain(buf, offset + IPV6_HEADER_LEN, exts, repr.protocol);
  return headerLen;
}

/** Writes the 40 fixed bytes from separate values (no Repr per probe). Internal to src/wire. */
export function writeIpv6Fixed(
  buf: Uint8Array,
  o: number,
  trafficClass: number,
  flowLabel: number,
  payloadLengthField: number,
  nextHeader: number,
  hopLimit: number,
  src: Uint8Array,
  dst: Uint8Array,
): void {
  put32(buf, o + ipv6Field.VER_TC_FLOW, ((6 << 28) | ((trafficClass & 0xff) << 20) | (flowLabel & 0xfffff)) >>> 0);
  put16(buf, o + ipv6Field.LENGTH, payloadLengthField);
  buf[o + ipv6Field.NXT_HDR] = nextHeader;
  buf[o + ipv6Field.HOP_LIMIT] = hopLimit;
  buf.set(src, o + ipv6Field.SRC_ADDR);
  buf.set(dst, o + ipv6Field.DST_ADDR);
}

/** Writes `exts` at `buf[o..]`, the last announcing `protocol`; returns their total length. */
export function writeIpv6Chain(buf: Uint8Array, o: number, exts: readonly Ipv6ExtensionHeader[], protocol: number): number {
  const start = o;
  for (let i = 0; i < exts.length; i++) {
    const next = i + 1 < exts.length ? extensionHeaderProtocol(exts[i + 1]) : protocol;
    o += emitExtensionHeader(buf, o, exts[i], next);
  }
  return o - start;
}

/**
 * The destination the transport checksum's pseudo-header uses (RFC 8200 §8.1): "If the IPv6
 * packet contains a Routing header, the Destination Address used in the pseudo-header is that of
 * the final destination." While segments are left, that is the last address of a type 0 or 2
 * routing header (RFC 6275 §6.4: the home address) or Segment List[0] of a segment routing header
 * (RFC 8754 §2, type 4). Other routing types keep `dst`.
 */
export function finalDestination(dst: Uint8Array, exts: readonly Ipv6ExtensionHeader[] | undefined): Uint8Array {
  if (!exts) return dst;
  for (const h of exts) {
    if (h.kind !== 'routing' || h.segmentsLeft === 0) continue;
    if ((h.routingType === 0 || h.routingType === 2) && h.data.length >= 20) {
      const n = Math.floor((h.data.length - 4) / 16);
      return h.data.subarray(4 + 16 * (n - 1), 4 + 16 * n);
    }
    if (h.routingType === 4 && h.data.length >= 20) return h.data.subarray(4, 20);
  }
  return dst;
}

/**
 * Getter/setter view over the fixed IPv6 header. `new Ipv6Packet(b)` is unchecked (for emitting
 * into a reused buffer); `checked` verifies the 40 bytes, the version and the payload length.
 * Setting `payloadLength` invalidates that check.
 */
export class Ipv6Packet {
  readonly bytes: Uint8Array;
  private readonly view: DataView;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = dataView(bytes);
  }

  static checked(bytes: Uint8Array): Parsed<Ipv6Packet> {
    const end = checkIpv6(bytes, false);
    return typeof end === 'number' ? ok(new Ipv6Packet(bytes)) : end;
  }

  get version(): number {
    return this.view.getUint8(ipv6Field.VER_TC_FLOW) >>> 4;
  }
  set version(v: number) {
    this.view.setUint8(ipv6Field.VER_TC_FLOW, (v << 4) | (this.view.getUint8(ipv6Field.VER_TC_FLOW) & 0x0f));
  }
  get trafficClass(): number {
    return (this.view.getUint32(ipv6Field.VER_TC_FLOW) >>> 20) & 0xff;
  }
  set trafficClass(v: number) {
    const w = this.view.getUint32(ipv6Field.VER_TC_FLOW);
    this.view.setUint32(ipv6Field.VER_TC_FLOW, ((w & 0xf00fffff) | ((v & 0xff) << 20)) >>> 0);
  }
  get flowLabel(): number {
    return this.view.getUint32(ipv6Field.VER_TC_FLOW) & 0xfffff;
  }
  set flowLabel(v: number) {
    const w = this.view.getUint32(ipv6Field.VER_TC_FLOW);
    this.view.setUint32(ipv6Field.VER_TC_FLOW, ((w & 0xfff00000) | (v & 0xfffff)) >>> 0);
  }
  /** The field: bytes after the fixed header, extension headers included. */
  get payloadLength(): number {
    return this.view.getUint16(ipv6Field.LENGTH);
  }
  set payloadLength(v: number) {
    this.view.setUint16(ipv6Field.LENGTH, v);
  }
  get nextHeader(): number {
    return this.view.getUint8(ipv6Field.NXT_HDR);
  }
  set nextHeader(v: number) {
    this.view.setUint8(ipv6Field.NXT_HDR, v);
  }
  get hopLimit(): number {
    return this.view.getUint8(ipv6Field.HOP_LIMIT);
  }
  set hopLimit(v: number) {
    this.view.setUint8(ipv6Field.HOP_LIMIT, v);
  }
  /** A view into the packet (not a copy). */
  get src(): Uint8Array {
    return this.bytes.subarray(ipv6Field.SRC_ADDR, ipv6Field.SRC_ADDR + 16);
  }
  set src(v: Uint8Array) {
    this.bytes.set(v.subarray(0, 16), ipv6Field.SRC_ADDR);
  }
  get dst(): Uint8Array {
    return this.bytes.subarray(ipv6Field.DST_ADDR, ipv6Field.DST_ADDR + 16);
  }
  set dst(v: Uint8Array) {
    this.bytes.set(v.subarray(0, 16), ipv6Field.DST_ADDR);
  }
  /** Everything after the fixed header, per the payload length field. */
  get payload(): Uint8Array {
    return this.bytes.subarray(IPV6_HEADER_LEN, IPV6_HEADER_LEN + this.payloadLength);
  }
}
