// TCP header (RFC 9293 §3.1) and its options, as a view, a Repr, parse and emit.
//
//     0                   1                   2                   3
//     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |          Source Port          |       Destination Port        |
//    |                        Sequence Number                        |
//    |                    Acknowledgment Number                      |
//    |  Data |       |C|E|U|A|P|R|S|F|                               |
//    | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
//    |           Checksum            |         Urgent Pointer        |
//    |                           [Options]                           |
//
// Options are an *ordered list* (gopacket's `Options []TCPOption`), not a summary struct as in
// smoltcp: Linux sends MSS, SACK_PERM, TS, NOP, WS and a fingerprint-faithful probe or a
// byte-for-byte round trip needs that order kept, NOPs and all. Kinds not interpreted here (MD5,
// TFO, MPTCP...) are kept as `unknown` with their raw data.
import { copyBytes, dataView, needRoom, needUint, put16, put32, u16, u32 } from './bytes.js';
import { finish, pseudoHeader, sum, verifies } from './checksum.js';
import { formatAddress } from './address.js';
import { IpProtocol } from './protocol.js';
import type { Malformed, Parsed, SerializeOptions, VerifyOptions } from './result.js';
import { malformed, ok } from './result.js';

export const tcpField = {
  SRC_PORT: 0,
  DST_PORT: 2,
  SEQ_NUM: 4,
  ACK_NUM: 8,
  /** Data offset (4 bits), reserved (3 bits), AE + the eight classic flags: one 16-bit word. */
  FLAGS: 12,
  WIN_SIZE: 14,
  CHECKSUM: 16,
  URGENT: 18,
  OPTIONS: 20,
} as const;

export const TCP_HEADER_LEN = 20;
/** The data offset is 4 bits of 32-bit words: 60 bytes, so at most 40 bytes of options. */
export const TCP_MAX_HEADER_LEN = 60;

export const TcpFlags = {
  FIN: 0x001,
  SYN: 0x002,
  RST: 0x004,
  PSH: 0x008,
  ACK: 0x010,
  URG: 0x020,
  ECE: 0x040,
  CWR: 0x080,
  /** Accurate ECN's AE bit (draft-ietf-tcpm-accurate-ecn); the NS bit of RFC 3540, now historic. */
  AE: 0x100,
} as const;

/** Low 12 bits of the FLAGS word: the three reserved bits, AE and the eight flags. */
const FLAGS_MASK = 0x0fff;

/** TCP option kinds (IANA "TCP Option Kind Numbers"). */
export const TcpOptionKind = {
  EOL: 0,
  NOP: 1,
  MSS: 2,
  WINDOW_SCALE: 3,
  SACK_PERMITTED: 4,
  SACK: 5,
  TIMESTAMPS: 8,
} as const;

export interface TcpSackBlock {
  left: number;
  right: number;
}

export type TcpOption =
  /** End of option list; nothing after it is read (the rest of the header is padding). */
  | { kind: 'eol' }
  | { kind: 'nop' }
  | { kind: 'mss'; mss: number }
  /** RFC 7323 §2. Kept as sent: a receiver must treat shifts above 14 as 14, see `effectiveWindowScale`. */
  | { kind: 'window-scale'; shift: number }
  | { kind: 'sack-permitted' }
  | { kind: 'sack'; blocks: readonly TcpSackBlock[] }
  | { kind: 'timestamps'; tsVal: number; tsEcr: number }
  | { kind: 'unknown'; type: number; data: Uint8Array };

/** Linux's SYN option order (tcp_options_write): MSS, SACK_PERM, TS, NOP, WS. */
export function linuxSynOptions(mss: number, tsVal = 0, windowScale = 7): TcpOption[] {
  return [
    { kind: 'mss', mss },
    { kind: 'sack-permitted' },
    { kind: 'timestamps', tsVal, tsEcr: 0 },
    { kind: 'nop' },
    { kind: 'window-scale', shift: windowScale },
  ];
}

/**
 * RFC 7323 §2.3: "If a Window Scale option is received with a shift.cnt value larger than 14, the
 * TCP SHOULD log the error but MUST use 14 instead."
 */
export function effectiveWindowScale(shift: number): number {
  return Math.min(shift, 14);
}

/** A parsed TCP header as values; `options` objects are fresh, safe to keep. */
export interface TcpRepr {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** The 12 low bits of the flags word: `TcpFlags` plus the reserved bits, as sent. */
  flags: number;
  window: number;
  urgent: number;
  options: TcpOption[];
  /** In bytes (data offset * 4). */
  headerLen: number;
  payloadLength: number;
  checksum: number;
}

/** What emitTcp needs. A parsed TcpRepr is one. */
export interface TcpReprInput {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack?: number;
  flags: number;
  window?: number;
  urgent?: number;
  options?: readonly TcpOption[];
  /** Written as the data offset only when `fixLengths` is false. */
  headerLen?: number;
  /** Bytes already in place after the header, when no payload is passed to emitTcp. */
  payloadLength?: number;
  /** Written only when `computeChecksums` is false. */
  checksum?: number;
}

export interface TcpParseOptions extends VerifyOptions {
  /**
   * Build the `options` list (default true). The engine may turn this off for segments it only
   * needs the ports, numbers and flags of; the options are then neither checked nor returned.
   */
  readonly parseOptions?: boolean;
}

/**
 * Walks options in `b[start..end)`; pushes them to `collect` when given. Rejects what gopacket
 * and smoltcp reject: a length below 2, an option running past the header, and a known kind
 * whose length is not the one its RFC fixes.
 */
function parseTcpOptions(b: Uint8Array, start: number, end: number, collect: TcpOption[] | undefined): Malformed | undefined {
  let i = start;
  while (i < end) {
    const kind = b[i];
    if (kind === TcpOptionKind.EOL) {
      collect?.push({ kind: 'eol' });
      return undefined;
    }
    if (kind === TcpOptionKind.NOP) {
      collect?.push({ kind: 'nop' });
      i++;
      continue;
    }
    if (i + 1 >= end) return malformed('bad-option', `TCP option ${kind} at ${i} has no length byte`);
    const len = b[i + 1];
    if (len < 2) return malformed('bad-option', `TCP option ${kind} has length ${len} (< 2)`);
    if (i + len > end) return malformed('bad-option', `TCP option ${kind} of length ${len} overruns the header`);
    switch (kind) {
      case TcpOptionKind.MSS:
        if (len !== 4) return malformed('bad-option', `TCP MSS option has length ${len}, RFC 9293 fixes 4`);
        collect?.push({ kind: 'mss', mss: u16(b, i + 2) });
        break;
      case TcpOptionKind.WINDOW_SCALE:
        if (len !== 3) return malformed('bad-option', `TCP window scale option has length ${len}, RFC 7323 fixes 3`);
        collect?.push({ kind: 'window-scale', shift: b[i + 2] });
        break;
      case TcpOptionKind.SACK_PERMITTED:
        if (len !== 2) return malformed('bad-option', `TCP SACK-permitted option has length ${len}, RFC 2018 fixes 2`);
        collect?.push({ kind: 'sack-permitted' });
        break;
      case TcpOptionKind.TIMESTAMPS:
        if (len !== 10) return malformed('bad-option', `TCP timestamps option has length ${len}, RFC 7323 fixes 10`);
        collect?.push({ kind: 'timestamps', tsVal: u32(b, i + 2), tsEcr: u32(b, i + 6) });
        break;
      case TcpOptionKind.SACK: {
        // RFC 2018 §3: 2 + 8n bytes; 40 bytes of option space leave room for 4 blocks at most.
        if (len < 10 || (len - 2) % 8 !== 0) return malformed('bad-option', `TCP SACK option has length ${len}, not 2 + 8n with n >= 1`);
        if (collect) {
          const blocks: TcpSackBlock[] = [];
          for (let j = i + 2; j < i + len; j += 8) blocks.push({ left: u32(b, j), right: u32(b, j + 4) });
          collect.push({ kind: 'sack', blocks });
        }
        break;
      }
      default:
        collect?.push({ kind: 'unknown', type: kind, data: copyBytes(b, i + 2, i + len) });
    }
    i += len;
  }
  return undefined;
}


/**
 * The one length check of a TCP header (smoltcp's check_len), shared by TcpPacket.checked and
 * parseTcp: the header's length in bytes, or why the bytes cannot hold the header they announce.
 */
export function checkTcpLength(segment: Uint8Array): number | Malformed {
  if (segment.length < TCP_HEADER_LEN) return malformed('truncated', `TCP header needs 20 bytes, have ${segment.length}`);
  const headerLen = (segment[tcpField.FLAGS] >>> 4) * 4;
  if (headerLen < TCP_HEADER_LEN) return malformed('bad-header-length', `TCP data offset ${headerLen / 4} is below the minimum 5`);
  if (headerLen > segment.length) return malformed('truncated', `TCP data offset says ${headerLen} header bytes, have ${segment.length}`);
  return headerLen;
}

/**
 * Parses the TCP segment `segment` (exactly the IP payload: header, options, data). `ip` gives the
 * addresses for the pseudo-header checksum; 4-byte addresses mean IPv4, 16-byte IPv6. Never throws.
 */
export function parseTcp(segment: Uint8Array, ip: { src: Uint8Array; dst: Uint8Array }, opts?: TcpParseOptions): Parsed<TcpRepr> {
  const headerLen = checkTcpLength(segment);
  if (typeof headerLen !== 'number') return headerLen;
  const word = u16(segment, tcpField.FLAGS);
  const options: TcpOption[] = [];
  if (opts?.parseOptions ?? true) {
    const bad = parseTcpOptions(segment, TCP_HEADER_LEN, headerLen, options);
    if (bad) return bad;
  }
  if ((opts?.verifyChecksum ?? true) && !verifies(sum(segment, pseudoHeader(ip.src, ip.dst, IpProtocol.TCP, segment.length)))) {
    return malformed('bad-checksum', `TCP checksum 0x${u16(segment, tcpField.CHECKSUM).toString(16)} does not verify`);
  }
  const srcPort = u16(segment, tcpField.SRC_PORT);
  const dstPort = u16(segment, tcpField.DST_PORT);
  // RFC 9293 §3.1 reserves port 0 and no stack sends from or to it (smoltcp rejects it too).
  if (srcPort === 0 || dstPort === 0) return malformed('bad-port', `TCP port 0 (${srcPort} > ${dstPort})`);
  const flags = word & FLAGS_MASK;
  // SYN opens, RST and FIN close: together they contradict each other (smoltcp Repr::parse).
  if ((flags & TcpFlags.SYN) !== 0 && (flags & (TcpFlags.RST | TcpFlags.FIN)) !== 0) {
    return malformed('bad-flags', `TCP flags [${formatTcpFlags(flags)}] combine SYN with RST or FIN`);
  }
  return ok({
    srcPort,
    dstPort,
    seq: u32(segment, tcpField.SEQ_NUM),
    ack: u32(segment, tcpField.ACK_NUM),
    flags,
    window: u16(segment, tcpField.WIN_SIZE),
    urgent: u16(segment, tcpField.URGENT),
    options,
    headerLen,
    payloadLength: segment.length - headerLen,
    checksum: u16(segment, tcpField.CHECKSUM),
  });
}

/** Bytes one option takes on the wire. */
export function tcpOptionLen(opt: TcpOption): number {
  switch (opt.kind) {
    case 'eol':
    case 'nop':
      return 1;
    case 'mss':
      return 4;
    case 'window-scale':
      return 3;
    case 'sack-permitted':
      return 2;
    case 'sack':
      return 2 + 8 * opt.blocks.length;
    case 'timestamps':
      return 10;
    case 'unknown':
      return 2 + opt.data.length;
  }
}

/** Bytes the options take before padding. */
export function tcpOptionsLen(options: readonly TcpOption[] | undefined): number {
  let n = 0;
  if (options) for (const opt of options) n += tcpOptionLen(opt);
  return n;
}

/** Header bytes emitTcp writes: 20 plus the options, padded to 4 under fixLengths. */
export function tcpHeaderLen(repr: Pick<TcpReprInput, 'options'>, opts?: SerializeOptions): number {
  const n = tcpOptionsLen(repr.options);
  return TCP_HEADER_LEN + ((opts?.fixLengths ?? true) ? (n + 3) & ~3 : n);
}

/** Writes the options at `buf[o..]`; a timestamps option takes `tsVal` when it is given. */
function writeTcpOptions(buf: Uint8Array, o: number, options: readonly TcpOption[], tsVal: number | undefined): number {
  const start = o;
  for (const opt of options) {
    switch (opt.kind) {
      case 'eol':
        buf[o++] = TcpOptionKind.EOL;
        break;
      case 'nop':
        buf[o++] = TcpOptionKind.NOP;
        break;
      case 'mss':
        needUint(opt.mss, 0xffff, 'TCP MSS');
        buf[o] = TcpOptionKind.MSS;
        buf[o + 1] = 4;
        put16(buf, o + 2, opt.mss);
        o += 4;
        break;
      case 'window-scale':
        needUint(opt.shift, 0xff, 'TCP window scale');
        buf[o] = TcpOptionKind.WINDOW_SCALE;
        buf[o + 1] = 3;
        buf[o + 2] = opt.shift;
        o += 3;
        break;
      case 'sack-permitted':
        buf[o] = TcpOptionKind.SACK_PERMITTED;
        buf[o + 1] = 2;
        o += 2;
        break;
      case 'sack':
        buf[o] = TcpOptionKind.SACK;
        buf[o + 1] = 2 + 8 * opt.blocks.length;
        o += 2;
        for (const blk of opt.blocks) {
          put32(buf, o, blk.left);
          put32(buf, o + 4, blk.right);
          o += 8;
        }
        break;
      case 'timestamps':
        buf[o] = TcpOptionKind.TIMESTAMPS;
        buf[o + 1] = 10;
        put32(buf, o + 2, tsVal ?? opt.tsVal);
        put32(buf, o + 6, opt.tsEcr);
        o += 10;
        break;
      case 'unknown':
        needUint(opt.data.length, 253, 'TCP option data length');
        buf[o] = opt.type;
        buf[o + 1] = 2 + opt.data.length;
        buf.set(opt.data, o + 2);
        o += 2 + opt.data.length;
        break;
    }
  }
  return o - start;
}

/**
 * Writes a TCP segment at `buf[offset..]` and returns its length (header + payload). With
 * `payload`, copies it after the header; without, `repr.payloadLength` bytes already there are
 * covered by the checksum. `ip.dst` must be the pseudo-header destination (for IPv6 with a routing
 * header, see `finalDestination`). Throws RangeError if the options exceed 40 bytes or the buffer
 * is too small.
 */
export function emitTcp(
  buf: Uint8Array,
  offset: number,
  repr: TcpReprInput,
  ip: { src: Uint8Array; dst: Uint8Array },
  opts?: SerializeOptions,
  payload?: Uint8Array,
): number {
  return writeTcp(buf, offset, repr, repr.flags, repr.window ?? 0, repr.options, ip.src, ip.dst, opts, payload, undefined);
}

/**
 * emitTcp with every part passed separately, so buildSyn can write a probe straight from its spec
 * without assembling a Repr object per packet, and override the timestamp value per probe.
 * Internal to src/wire.
 */
export function writeTcp(
  buf: Uint8Array,
  offset: number,
  fields: Omit<TcpReprInput, 'flags' | 'options' | 'window'>,
  flags: number,
  window: number,
  options: readonly TcpOption[] | undefined,
  src: Uint8Array,
  dst: Uint8Array,
  opts: SerializeOptions | undefined,
  payload: Uint8Array | undefined,
  tsVal: number | undefined,
): number {
  const fix = opts?.fixLengths ?? true;
  const optionsLen = tcpOptionsLen(options);
  const written = TCP_HEADER_LEN + (fix ? (optionsLen + 3) & ~3 : optionsLen);
  if (written > TCP_MAX_HEADER_LEN) throw new RangeError(`TCP options of ${written - TCP_HEADER_LEN} bytes exceed 40`);
  const payloadLength = payload ? payload.length : (fields.payloadLength ?? 0);
  needRoom(buf, offset, written + payloadLength, 'emitTcp');
  needUint(fields.srcPort, 0xffff, 'TCP source port');
  needUint(fields.dstPort, 0xffff, 'TCP destination port');
  const headerLen = fix ? written : (fields.headerLen ?? written);
  const o = offset;
  put16(buf, o + tcpField.SRC_PORT, fields.srcPort);
  put16(buf, o + tcpField.DST_PORT, fields.dstPort);
  put32(buf, o + tcpField.SEQ_NUM, fields.seq);
  put32(buf, o + tcpField.ACK_NUM, fields.ack ?? 0);
  put16(buf, o + tcpField.FLAGS, (((headerLen >>> 2) & 0x0f) << 12) | (flags & FLAGS_MASK));
  put16(buf, o + tcpField.WIN_SIZE, window);
  put16(buf, o + tcpField.CHECKSUM, 0);
  put16(buf, o + tcpField.URGENT, fields.urgent ?? 0);
  const n = options ? writeTcpOptions(buf, o + TCP_HEADER_LEN, options, tsVal) : 0;
  // RFC 9293 §3.1: "The TCP header padding is used to ensure that the TCP header ends ... on a
  // 32-bit boundary. The padding is composed of zeros." Zero is EOL, which is how Linux pads too.
  buf.fill(0, o + TCP_HEADER_LEN + n, o + written);
  if (payload) buf.set(payload, o + written);
  const length = written + payloadLength;
  const checksum = (opts?.computeChecksums ?? true)
    ? finish(sum(buf, pseudoHeader(src, dst, IpProtocol.TCP, length), o, o + length))
    : (fields.checksum ?? 0);
  put16(buf, o + tcpField.CHECKSUM, checksum);
  return length;
}

/**
 * Whether the options in `b[start..end)` parse, without building them. For readers that located
 * a TCP header themselves (the engine's reply fast path).
 */
export function tcpOptionBytesValid(b: Uint8Array, start: number, end: number): boolean {
  return parseTcpOptions(b, start, end, undefined) === undefined;
}

// Every result's evidence names its flags: 512 combinations, each spelled once.
const flagTexts: string[] = [];

/** tcpdump's flag letters, in tcpdump's order (print-tcp.c tcp_flag_values): "S", "S.", "R.", "none". */
export function formatTcpFlags(flags: number): string {
  const known = flagTexts[flags];
  if (known !== undefined) return known;
  const text = spellTcpFlags(flags);
  if (flags >= 0 && flags < 512 && Number.isInteger(flags)) flagTexts[flags] = text;
  return text;
}

function spellTcpFlags(flags: number): string {
  let s = '';
  if (flags & TcpFlags.FIN) s += 'F';
  if (flags & TcpFlags.SYN) s += 'S';
  if (flags & TcpFlags.RST) s += 'R';
  if (flags & TcpFlags.PSH) s += 'P';
  if (flags & TcpFlags.ACK) s += '.';
  if (flags & TcpFlags.URG) s += 'U';
  if (flags & TcpFlags.ECE) s += 'E';
  if (flags & TcpFlags.CWR) s += 'W';
  if (flags & TcpFlags.AE) s += 'e';
  return s === '' ? 'none' : s;
}

function hexBytes(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

/** One option as tcpdump prints it inside `options [...]`. */
export function formatTcpOption(opt: TcpOption): string {
  switch (opt.kind) {
    case 'eol':
      return 'eol';
    case 'nop':
      return 'nop';
    case 'mss':
      return `mss ${opt.mss}`;
    case 'window-scale':
      return `wscale ${opt.shift}`;
    case 'sack-permitted':
      return 'sackOK';
    case 'sack':
      return `sack ${opt.blocks.length} ${opt.blocks.map((b) => `{${b.left}:${b.right}}`).join('')}`;
    case 'timestamps':
      return `TS val ${opt.tsVal} ecr ${opt.tsEcr}`;
    case 'unknown':
      return opt.data.length > 0 ? `unknown-${opt.type} 0x${hexBytes(opt.data)}` : `unknown-${opt.type}`;
  }
}

/**
 * tcpdump's line for a segment, without the "IP " prefix:
 * "198.18.0.1.40000 > 198.18.0.2.80: Flags [S], seq 1, win 64240, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0".
 * Sequence numbers are absolute (tcpdump -S).
 */
export function describeTcp(repr: TcpRepr, src: Uint8Array, dst: Uint8Array): string {
  let s = `${formatAddress(src)}.${repr.srcPort} > ${formatAddress(dst)}.${repr.dstPort}: Flags [${formatTcpFlags(repr.flags)}]`;
  s += repr.payloadLength > 0 ? `, seq ${repr.seq}:${(repr.seq + repr.payloadLength) >>> 0}` : `, seq ${repr.seq}`;
  if (repr.flags & TcpFlags.ACK) s += `, ack ${repr.ack}`;
  s += `, win ${repr.window}`;
  if (repr.flags & TcpFlags.URG) s += `, urg ${repr.urgent}`;
  if (repr.options.length > 0) s += `, options [${repr.options.map(formatTcpOption).join(',')}]`;
  return `${s}, length ${repr.payloadLength}`;
}

/** What a SYN-ACK's options say, for evidence and logs. */
export interface TcpOptionSummary {
  mss?: number;
  windowScale?: number;
  sackPermitted: boolean;
  tsVal?: number;
  tsEcr?: number;
}

export function summarizeTcpOptions(options: readonly TcpOption[]): TcpOptionSummary {
  const out: TcpOptionSummary = { sackPermitted: false };
  for (const opt of options) {
    if (opt.kind === 'mss') out.mss = opt.mss;
    else if (opt.kind === 'window-scale') out.windowScale = opt.shift;
    else if (opt.kind === 'sack-permitted') out.sackPermitted = true;
    else if (opt.kind === 'timestamps') {
      out.tsVal = opt.tsVal;
      out.tsEcr = opt.tsEcr;
    }
  }
  return out;
}

/** Sequence arithmetic mod 2^32 (RFC 9293 §3.4, smoltcp's SeqNumber). */
export function seqAdd(seq: number, n: number): number {
  return (seq + n) >>> 0;
}

/** Signed distance a - b mod 2^32: negative when a is "before" b. */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

export function seqLessThan(a: number, b: number): boolean {
  return seqDiff(a, b) < 0;
}

/**
 * Getter/setter view over a TCP header. `new TcpPacket(b)` is unchecked (emit into reused
 * buffers through it); `checked` verifies that the fixed header and the data offset fit, after
 * which no getter reads past the end. Setting `headerLen` invalidates that check.
 */
export class TcpPacket {
  readonly bytes: Uint8Array;
  private readonly view: DataView;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = dataView(bytes);
  }

  static checked(bytes: Uint8Array): Parsed<TcpPacket> {
    const headerLen = checkTcpLength(bytes);
    return typeof headerLen === 'number' ? ok(new TcpPacket(bytes)) : headerLen;
  }

  get srcPort(): number {
    return this.view.getUint16(tcpField.SRC_PORT);
  }
  set srcPort(v: number) {
    this.view.setUint16(tcpField.SRC_PORT, v);
  }
  get dstPort(): number {
    return this.view.getUint16(tcpField.DST_PORT);
  }
  set dstPort(v: number) {
    this.view.setUint16(tcpField.DST_PORT, v);
  }
  get seqNumber(): number {
    return this.view.getUint32(tcpField.SEQ_NUM);
  }
  set seqNumber(v: number) {
    this.view.setUint32(tcpField.SEQ_NUM, v >>> 0);
  }
  get ackNumber(): number {
    return this.view.getUint32(tcpField.ACK_NUM);
  }
  set ackNumber(v: number) {
    this.view.setUint32(tcpField.ACK_NUM, v >>> 0);
  }
  /** In bytes. */
  get headerLen(): number {
    return (this.view.getUint8(tcpField.FLAGS) >>> 4) * 4;
  }
  set headerLen(v: number) {
    const w = this.view.getUint16(tcpField.FLAGS);
    this.view.setUint16(tcpField.FLAGS, (w & FLAGS_MASK) | (((v >>> 2) & 0x0f) << 12));
  }
  get flags(): number {
    return this.view.getUint16(tcpField.FLAGS) & FLAGS_MASK;
  }
  set flags(v: number) {
    const w = this.view.getUint16(tcpField.FLAGS);
    this.view.setUint16(tcpField.FLAGS, (w & ~FLAGS_MASK & 0xffff) | (v & FLAGS_MASK));
  }
  get fin(): boolean {
    return (this.flags & TcpFlags.FIN) !== 0;
  }
  get syn(): boolean {
    return (this.flags & TcpFlags.SYN) !== 0;
  }
  get rst(): boolean {
    return (this.flags & TcpFlags.RST) !== 0;
  }
  get psh(): boolean {
    return (this.flags & TcpFlags.PSH) !== 0;
  }
  get ackFlag(): boolean {
    return (this.flags & TcpFlags.ACK) !== 0;
  }
  get urg(): boolean {
    return (this.flags & TcpFlags.URG) !== 0;
  }
  get ece(): boolean {
    return (this.flags & TcpFlags.ECE) !== 0;
  }
  get cwr(): boolean {
    return (this.flags & TcpFlags.CWR) !== 0;
  }
  get windowLen(): number {
    return this.view.getUint16(tcpField.WIN_SIZE);
  }
  set windowLen(v: number) {
    this.view.setUint16(tcpField.WIN_SIZE, v);
  }
  get checksum(): number {
    return this.view.getUint16(tcpField.CHECKSUM);
  }
  set checksum(v: number) {
    this.view.setUint16(tcpField.CHECKSUM, v);
  }
  get urgentPointer(): number {
    return this.view.getUint16(tcpField.URGENT);
  }
  set urgentPointer(v: number) {
    this.view.setUint16(tcpField.URGENT, v);
  }
  /** The raw option bytes (a view, not a copy). */
  get options(): Uint8Array {
    return this.bytes.subarray(TCP_HEADER_LEN, this.headerLen);
  }
  get payload(): Uint8Array {
    return this.bytes.subarray(this.headerLen);
  }
  /** Verifies over the whole view (header + payload) with the pseudo-header of `src`/`dst`. */
  verifyChecksum(src: Uint8Array, dst: Uint8Array): boolean {
    return verifies(sum(this.bytes, pseudoHeader(src, dst, IpProtocol.TCP, this.bytes.length)));
  }
  /** Zeroes the checksum field, then stores the checksum of the whole view. */
  fillChecksum(src: Uint8Array, dst: Uint8Array): void {
    this.checksum = 0;
    this.checksum = finish(sum(this.bytes, pseudoHeader(src, dst, IpProtocol.TCP, this.bytes.length)));
  }
}
