// IPv4 header (RFC 791): a view over the bytes, a Repr, parse and emit.
//
// Two levels, as in smoltcp: `Ipv4Packet` is a getter/setter view over a byte slice (for tests,
// tools and one-off edits); `Ipv4Repr` is a plain value that `parseIpv4` fills and `emitIpv4`
// writes. The engine's per-packet path does not come through here but through `parseIp` in ip.ts,
// which shares `checkIpv4` so both accept and reject exactly the same bytes.
//
//     0                   1                   2                   3
//     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |Version|  IHL  |Type of Service|          Total Length         |
//    |         Identification        |Flags|      Fragment Offset    |
//    |  Time to Live |    Protocol   |         Header Checksum       |
//    |                       Source Address                          |
//    |                    Destination Address                        |
//    |                    Options                    |    Padding    |
import { copyBytes, dataView, needRoom, needUint, put16, u16 } from './bytes.js';
import { finish, sum, verifies } from './checksum.js';
import type { Malformed, Parsed, SerializeOptions, VerifyOptions } from './result.js';
import { malformed, ok } from './result.js';

/** Byte offsets of the fixed header fields (smoltcp's `mod field`). */
export const ipv4Field = {
  VER_IHL: 0,
  TOS: 1,
  LENGTH: 2,
  IDENT: 4,
  FLG_OFF: 6,
  TTL: 8,
  PROTOCOL: 9,
  CHECKSUM: 10,
  SRC_ADDR: 12,
  DST_ADDR: 16,
  OPTIONS: 20,
} as const;

export const IPV4_HEADER_LEN = 20;
/** IHL is 4 bits of 32-bit words: 60 bytes at most, so 40 bytes of options. */
export const IPV4_MAX_HEADER_LEN = 60;

/** Bits of the 16-bit flags + fragment offset word. */
const FLAG_RESERVED = 0x8000;
const FLAG_DF = 0x4000;
const FLAG_MF = 0x2000;
const FRAG_OFFSET_MASK = 0x1fff;

/** IPv4 option kinds walked by the option check (RFC 791 §3.1). */
const OPT_EOL = 0;
const OPT_NOP = 1;

/**
 * Accepts or rejects an IPv4 header at `bytes[0..]`. `quoted` relaxes the total-length checks for
 * the copy of a header inside an ICMP error, whose total length describes the original datagram
 * and not the few bytes the router quoted back (RFC 792: "Internet Header + 64 bits").
 * Returns undefined when the header is acceptable.
 */
export function checkIpv4(bytes: Uint8Array, verifyChecksum: boolean, quoted: boolean): Malformed | undefined {
  if (bytes.length < IPV4_HEADER_LEN) {
    return malformed('truncated', `IPv4 header needs 20 bytes, have ${bytes.length}`);
  }
  const version = bytes[ipv4Field.VER_IHL] >>> 4;
  if (version !== 4) return malformed('bad-version', `IPv4 version field is ${version}`);
  const headerLen = (bytes[ipv4Field.VER_IHL] & 0x0f) * 4;
  if (headerLen < IPV4_HEADER_LEN) {
    return malformed('bad-header-length', `IPv4 IHL ${headerLen / 4} is below the minimum 5`);
  }
  if (bytes.length < headerLen) {
    return malformed('truncated', `IPv4 header length ${headerLen}, have ${bytes.length} bytes`);
  }
  if (!quoted) {
    const totalLength = u16(bytes, ipv4Field.LENGTH);
    if (totalLength < headerLen) {
      return malformed('bad-length', `IPv4 total length ${totalLength} is below the header length ${headerLen}`);
    }
    // Longer input is fine: Ethernet pads short frames to 60 bytes, and that padding is not ours.
    if (bytes.length < totalLength) {
      return malformed('truncated', `IPv4 total length ${totalLength}, have ${bytes.length} bytes`);
    }
  }
  const bad = checkIpv4Options(bytes, IPV4_HEADER_LEN, headerLen);
  if (bad) return bad;
  if (verifyChecksum && !verifies(sum(bytes, 0, 0, headerLen))) {
    return malformed('bad-checksum', `IPv4 header checksum 0x${u16(bytes, ipv4Field.CHECKSUM).toString(16)} does not verify`);
  }
  return undefined;
}

/**
 * RFC 791 §3.1: options are EOL, NOP, or kind + length (>= 2, covering kind and length) + data.
 * Linux drops datagrams whose options overrun the header (ip_options_compile), and so do we.
 */
function checkIpv4Options(b: Uint8Array, start: number, end: number): Malformed | undefined {
  let i = start;
  while (i < end) {
    const kind = b[i];
    if (kind === OPT_EOL) break;
    if (kind === OPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) return malformed('bad-option', `IPv4 option ${kind} at ${i} has no length byte`);
    const len = b[i + 1];
    if (len < 2) return malformed('bad-option', `IPv4 option ${kind} has length ${len} (< 2)`);
    if (i + len > end) return malformed('bad-option', `IPv4 option ${kind} of length ${len} overruns the header`);
    i += len;
  }
  return undefined;
}

/**
 * checkIpv4Options as a yes/no, for readers that only need to refuse what parseIpv4 refuses
 * (engine/tcp-reply-view.ts). Builds an error only for bad options, which are rare.
 */
export function ipv4OptionBytesValid(b: Uint8Array, start: number, end: number): boolean {
  return checkIpv4Options(b, start, end) === undefined;
}

/** An IPv4 header as values. Addresses and options are copies, safe to keep. */
export interface Ipv4Repr {
  src: Uint8Array;
  dst: Uint8Array;
  protocol: number;
  ttl: number;
  /** The whole second byte: DSCP << 2 | ECN (RFC 2474, RFC 3168). */
  tos: number;
  ident: number;
  dontFragment: boolean;
  moreFragments: boolean;
  /** In bytes (the field counts 8-byte units). */
  fragmentOffset: number;
  /** Raw option bytes including any padding, as found (empty when IHL is 5). */
  options: Uint8Array;
  headerLen: number;
  totalLength: number;
  /** Bytes after the header, per the total length field. */
  payloadLength: number;
  checksum: number;
}

/** What emitIpv4 needs. A parsed Ipv4Repr is one. */
export interface Ipv4ReprInput {
  src: Uint8Array;
  dst: Uint8Array;
  protocol: number;
  ttl?: number;
  tos?: number;
  ident?: number;
  dontFragment?: boolean;
  moreFragments?: boolean;
  fragmentOffset?: number;
  options?: Uint8Array;
  payloadLength: number;
  /** Written as IHL * 4 only when `fixLengths` is false. */
  headerLen?: number;
  /** Written only when `fixLengths` is false. */
  totalLength?: number;
  /** Written only when `computeChecksums` is false. */
  checksum?: number;
}

export function parseIpv4(bytes: Uint8Array, opts?: VerifyOptions): Parsed<Ipv4Repr> {
  const bad = checkIpv4(bytes, opts?.verifyChecksum ?? true, false);
  if (bad) return bad;
  const headerLen = (bytes[0] & 0x0f) * 4;
  const totalLength = u16(bytes, ipv4Field.LENGTH);
  const flagsOff = u16(bytes, ipv4Field.FLG_OFF);
  return ok({
    src: copyBytes(bytes, ipv4Field.SRC_ADDR, ipv4Field.SRC_ADDR + 4),
    dst: copyBytes(bytes, ipv4Field.DST_ADDR, ipv4Field.DST_ADDR + 4),
    protocol: bytes[ipv4Field.PROTOCOL],
    ttl: bytes[ipv4Field.TTL],
    tos: bytes[ipv4Field.TOS],
    ident: u16(bytes, ipv4Field.IDENT),
    dontFragment: (flagsOff & FLAG_DF) !== 0,
    moreFragments: (flagsOff & FLAG_MF) !== 0,
    fragmentOffset: (flagsOff & FRAG_OFFSET_MASK) * 8,
    options: copyBytes(bytes, IPV4_HEADER_LEN, headerLen),
    headerLen,
    totalLength,
    payloadLength: totalLength - headerLen,
    checksum: u16(bytes, ipv4Field.CHECKSUM),
  });
}

/** Header bytes emitIpv4 writes for `repr`: 20 plus the options padded to 4 (under fixLengths). */
export function ipv4HeaderLen(repr: Pick<Ipv4ReprInput, 'options'>, opts?: SerializeOptions): number {
  const n = repr.options?.length ?? 0;
  return IPV4_HEADER_LEN + ((opts?.fixLengths ?? true) ? (n + 3) & ~3 : n);
}

/**
 * Writes the header at `buf[offset..]` and returns its length; the payload (`payloadLength`
 * bytes) is the caller's to write after it. Checksums cover only the header, so the payload may
 * be written before or after. Throws RangeError on values that do not fit their fields.
 */
export function emitIpv4(buf: Uint8Array, offset: number, repr: Ipv4ReprInput, opts?: SerializeOptions): number {
  const fix = opts?.fixLengths ?? true;
  const options = repr.options;
  const written = ipv4HeaderLen(repr, opts);
  if (written > IPV4_MAX_HEADER_LEN) throw new RangeError(`IPv4 options of ${options?.length} bytes exceed 40`);
  needRoom(buf, offset, written, 'emitIpv4');
  if (repr.src.length !== 4 || repr.dst.length !== 4) throw new RangeError('emitIpv4: addresses must be 4 bytes');
  const fragmentOffset = repr.fragmentOffset ?? 0;
  if (fragmentOffset % 8 !== 0) throw new RangeError(`IPv4 fragment offset ${fragmentOffset} is not a multiple of 8`);
  needUint(fragmentOffset / 8, FRAG_OFFSET_MASK, 'IPv4 fragment offset / 8');
  const headerLen = fix ? written : (repr.headerLen ?? written);
  const totalLength = fix ? written + repr.payloadLength : (repr.totalLength ?? written + repr.payloadLength);
  needUint(totalLength, 0xffff, 'IPv4 total length');
  writeIpv4Fixed(
    buf,
    offset,
    headerLen,
    repr.tos ?? 0,
    totalLength,
    repr.ident ?? 0,
    ((repr.dontFragment ?? false) ? FLAG_DF : 0) | ((repr.moreFragments ?? false) ? FLAG_MF : 0) | (fragmentOffset / 8),
    repr.ttl ?? 64,
    repr.protocol,
    repr.src,
    repr.dst,
  );
  const o = offset;
  if (options && options.length > 0) {
    buf.set(options, o + IPV4_HEADER_LEN);
    // Pad with EOL (0), RFC 791: "The internet header padding is used to ensure that the
    // internet header ends on a 32 bit boundary. The padding is zero."
    buf.fill(0, o + IPV4_HEADER_LEN + options.length, o + written);
  }
  const checksum = (opts?.computeChecksums ?? true) ? finish(sum(buf, 0, o, o + written)) : (repr.checksum ?? 0);
  put16(buf, o + ipv4Field.CHECKSUM, checksum);
  return written;
}

/**
 * Writes the 20 fixed bytes with a zero checksum, from separate values so the probe builders need
 * no Repr object per packet. `flagsOff` is the raw flags + fragment-offset word. Internal to src/wire.
 */
export function writeIpv4Fixed(
  buf: Uint8Array,
  o: number,
  headerLen: number,
  tos: number,
  totalLength: number,
  ident: number,
  flagsOff: number,
  ttl: number,
  protocol: number,
  src: Uint8Array,
  dst: Uint8Array,
): void {
  buf[o + ipv4Field.VER_IHL] = 0x40 | ((headerLen >>> 2) & 0x0f);
  buf[o + ipv4Field.TOS] = tos;
  put16(buf, o + ipv4Field.LENGTH, totalLength);
  put16(buf, o + ipv4Field.IDENT, ident);
  put16(buf, o + ipv4Field.FLG_OFF, flagsOff);
  buf[o + ipv4Field.TTL] = ttl;
  buf[o + ipv4Field.PROTOCOL] = protocol;
  put16(buf, o + ipv4Field.CHECKSUM, 0);
  buf.set(src, o + ipv4Field.SRC_ADDR);
  buf.set(dst, o + ipv4Field.DST_ADDR);
}

/** Stores the header checksum of the `headerLen`-byte header at `buf[o..]` (field must be 0). */
export function fillIpv4Checksum(buf: Uint8Array, o: number, headerLen: number): void {
  put16(buf, o + ipv4Field.CHECKSUM, finish(sum(buf, 0, o, o + headerLen)));
}

/** The flags word for "don't fragment" (RFC 791), for builders. */
export const IPV4_DONT_FRAGMENT = FLAG_DF;

/**
 * Getter/setter view over an IPv4 header (smoltcp's `Ipv4Packet<T>`). `new Ipv4Packet(b)` does no
 * checking: use it to emit into a reused buffer, whose stale IHL would fail a check. `checked`
 * runs the same checks as parseIpv4 (minus the checksum) first, after which no getter reads past
 * the end. Setting `headerLen` or `totalLength` invalidates that check.
 */
export class Ipv4Packet {
  readonly bytes: Uint8Array;
  private readonly view: DataView;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = dataView(bytes);
  }

  static checked(bytes: Uint8Array): Parsed<Ipv4Packet> {
    const bad = checkIpv4(bytes, false, false);
    return bad ?? ok(new Ipv4Packet(bytes));
  }

  get version(): number {
    return this.view.getUint8(ipv4Field.VER_IHL) >>> 4;
  }
  set version(v: number) {
    this.view.setUint8(ipv4Field.VER_IHL, (v << 4) | (this.view.getUint8(ipv4Field.VER_IHL) & 0x0f));
  }
  /** In bytes. */
  get headerLen(): number {
    return (this.view.getUint8(ipv4Field.VER_IHL) & 0x0f) * 4;
  }
  set headerLen(v: number) {
    this.view.setUint8(ipv4Field.VER_IHL, (this.view.getUint8(ipv4Field.VER_IHL) & 0xf0) | ((v >>> 2) & 0x0f));
  }
  get tos(): number {
    return this.view.getUint8(ipv4Field.TOS);
  }
  set tos(v: number) {
    this.view.setUint8(ipv4Field.TOS, v);
  }
  get dscp(): number {
    return this.tos >>> 2;
  }
  get ecn(): number {
    return this.tos & 3;
  }
  get totalLength(): number {
    return this.view.getUint16(ipv4Field.LENGTH);
  }
  set totalLength(v: number) {
    this.view.setUint16(ipv4Field.LENGTH, v);
  }
  get ident(): number {
    return this.view.getUint16(ipv4Field.IDENT);
  }
  set ident(v: number) {
    this.view.setUint16(ipv4Field.IDENT, v);
  }
  get dontFragment(): boolean {
    return (this.view.getUint16(ipv4Field.FLG_OFF) & FLAG_DF) !== 0;
  }
  set dontFragment(v: boolean) {
    this.setFlag(FLAG_DF, v);
  }
  get moreFragments(): boolean {
    return (this.view.getUint16(ipv4Field.FLG_OFF) & FLAG_MF) !== 0;
  }
  set moreFragments(v: boolean) {
    this.setFlag(FLAG_MF, v);
  }
  /** The reserved bit (RFC 791: "must be zero"). */
  get reservedFlag(): boolean {
    return (this.view.getUint16(ipv4Field.FLG_OFF) & FLAG_RESERVED) !== 0;
  }
  /** In bytes. */
  get fragmentOffset(): number {
    return (this.view.getUint16(ipv4Field.FLG_OFF) & FRAG_OFFSET_MASK) * 8;
  }
  set fragmentOffset(v: number) {
    const w = this.view.getUint16(ipv4Field.FLG_OFF);
    this.view.setUint16(ipv4Field.FLG_OFF, (w & ~FRAG_OFFSET_MASK) | ((v / 8) & FRAG_OFFSET_MASK));
  }
  get ttl(): number {
    return this.view.getUint8(ipv4Field.TTL);
  }
  set ttl(v: number) {
    this.view.setUint8(ipv4Field.TTL, v);
  }
  get protocol(): number {
    return this.view.getUint8(ipv4Field.PROTOCOL);
  }
  set protocol(v: number) {
    this.view.setUint8(ipv4Field.PROTOCOL, v);
  }
  get checksum(): number {
    return this.view.getUint16(ipv4Field.CHECKSUM);
  }
  set checksum(v: number) {
    this.view.setUint16(ipv4Field.CHECKSUM, v);
  }
  /** A view into the packet (not a copy). */
  get src(): Uint8Array {
    return this.bytes.subarray(ipv4Field.SRC_ADDR, ipv4Field.SRC_ADDR + 4);
  }
  set src(v: Uint8Array) {
    this.bytes.set(v.subarray(0, 4), ipv4Field.SRC_ADDR);
  }
  get dst(): Uint8Array {
    return this.bytes.subarray(ipv4Field.DST_ADDR, ipv4Field.DST_ADDR + 4);
  }
  set dst(v: Uint8Array) {
    this.bytes.set(v.subarray(0, 4), ipv4Field.DST_ADDR);
  }
  get options(): Uint8Array {
    return this.bytes.subarray(IPV4_HEADER_LEN, this.headerLen);
  }
  /** Bytes from the end of the header to the end of the total length. */
  get payload(): Uint8Array {
    return this.bytes.subarray(this.headerLen, this.totalLength);
  }
  verifyChecksum(): boolean {
    return verifies(sum(this.bytes, 0, 0, this.headerLen));
  }
  /** Zeroes the checksum field, sums the header and stores the complement. */
  fillChecksum(): void {
    this.checksum = 0;
    this.checksum = finish(sum(this.bytes, 0, 0, this.headerLen));
  }

  private setFlag(bit: number, on: boolean): void {
    const w = this.view.getUint16(ipv4Field.FLG_OFF);
    this.view.setUint16(ipv4Field.FLG_OFF, on ? w | bit : w & ~bit);
  }
}
