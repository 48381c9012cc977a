// What ICMPv4 (RFC 792) and ICMPv6 (RFC 4443) share: the 8-byte header layout, the Repr, and the
// parse/emit code. The per-version files hold the type tables, the checksum difference (ICMPv6
// covers a pseudo-header, ICMPv4 does not) and describe().
//
//     0                   1                   2                   3
//     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |     Type      |     Code      |          Checksum             |
//    |            rest of header (type-specific: unused, MTU...)     |
//    |      errors: as much of the invoking packet as fits ...       |
import { needRoom, needUint, put16, put32, u16, u32 } from './bytes.js';
import type { IcmpQuote } from './ip.js';
import { parseQuotedDatagram } from './ip.js';
import { finish, pseudoHeaderV6, sum, verifies } from './checksum.js';
import { IpProtocol, protocolName } from './protocol.js';
import { formatAddress } from './address.js';
import type { Parsed, SerializeOptions } from './result.js';
import { malformed, ok } from './result.js';

export const icmpField = {
  TYPE: 0,
  CODE: 1,
  CHECKSUM: 2,
  /** Bytes 4..7: identifier + sequence (echo), MTU, pointer, gateway, or unused. */
  REST: 4,
  DATA: 8,
} as const;

export const ICMP_HEADER_LEN = 8;


export interface IcmpRepr {
  type: number;
  code: number;
  checksum: number;
  /** Bytes 4..7 as one big-endian number, whatever the type makes of them. */
  restOfHeader: number;
  /** Bytes after the 8-byte header. */
  payloadLength: number;
  /** For error messages: the invoking datagram, as far as it was quoted. */
  quoted?: IcmpQuote;
  /** ICMPv4 "fragmentation needed" next-hop MTU (RFC 1191) or ICMPv6 "packet too big" MTU. */
  mtu?: number;
  /** Parameter problem: the offending octet. */
  pointer?: number;
  /** ICMPv4 redirect: the better gateway. */
  gateway?: Uint8Array;
  /** Echo request/reply. */
  identifier?: number;
  sequence?: number;
}

/** What the emitters need. A parsed IcmpRepr plus its payload is one. */
export interface IcmpReprInput {
  type: number;
  code: number;
  /** Bytes 4..7 (default 0). */
  restOfHeader?: number;
  /** Written only when `computeChecksums` is false. */
  checksum?: number;
}

/** How the two versions differ, as data (no closures per call). */
export interface IcmpFlavour {
  readonly version: 4 | 6;
  readonly name: 'ICMPv4' | 'ICMPv6';
  /** Types that carry a quoted datagram. */
  isError(type: number): boolean;
  /** Fills the type-specific fields of `repr` from `restOfHeader`. */
  decodeRest(repr: IcmpRepr, msg: Uint8Array): void;
}

/** Parses one ICMP message; `pseudo` is the partial sum to start the checksum with (0 for v4). */
export function parseIcmp(msg: Uint8Array, flavour: IcmpFlavour, pseudo: number, verify: boolean): Parsed<IcmpRepr> {
  if (msg.length < ICMP_HEADER_LEN) return malformed('truncated', `${flavour.name} header needs 8 bytes, have ${msg.length}`);
  if (verify && !verifies(sum(msg, pseudo))) {
    return malformed('bad-checksum', `${flavour.name} checksum 0x${u16(msg, icmpField.CHECKSUM).toString(16)} does not verify`);
  }
  const repr: IcmpRepr = {
    type: msg[icmpField.TYPE],
    code: msg[icmpField.CODE],
    checksum: u16(msg, icmpField.CHECKSUM),
    restOfHeader: u32(msg, icmpField.REST),
    payloadLength: msg.length - ICMP_HEADER_LEN,
  };
  if (flavour.isError(repr.type)) {
    const quoted = parseQuotedDatagram(msg.subarray(ICMP_HEADER_LEN), flavour.version);
    if (!quoted.ok) return malformed(quoted.reason, `${flavour.name} type ${repr.type} error, ${quoted.detail}`);
    repr.quoted = quoted.value;
  }
  flavour.decodeRest(repr, msg);
  return ok(repr);
}

/**
 * Writes the 8-byte header and `payload` (copied when given, else `payloadLength` bytes assumed
 * in place) and returns the message length. `v6` gives the addresses of ICMPv6's pseudo-header.
 */
export function emitIcmp(
  buf: Uint8Array,
  offset: number,
  repr: IcmpReprInput,
  payload: Uint8Array | number,
  v6: { src: Uint8Array; dst: Uint8Array } | undefined,
  opts: SerializeOptions | undefined,
): number {
  const payloadLength = typeof payload === 'number' ? payload : payload.length;
  const length = ICMP_HEADER_LEN + payloadLength;
  needRoom(buf, offset, length, 'emitIcmp');
  needUint(repr.type, 0xff, 'ICMP type');
  needUint(repr.code, 0xff, 'ICMP code');
  buf[offset + icmpField.TYPE] = repr.type;
  buf[offset + icmpField.CODE] = repr.code;
  put16(buf, offset + icmpField.CHECKSUM, 0);
  put32(buf, offset + icmpField.REST, repr.restOfHeader ?? 0);
  if (typeof payload !== 'number') buf.set(payload, offset + ICMP_HEADER_LEN);
  const checksum = (opts?.computeChecksums ?? true)
    ? finish(sum(buf, v6 ? pseudoHeaderV6(v6.src, v6.dst, IpProtocol.ICMPV6, length) : 0, offset, offset + length))
    : (repr.checksum ?? 0);
  put16(buf, offset + icmpField.CHECKSUM, checksum);
  return length;
}

/** The quoted datagram as "src.port > dst.port tcp seq N" (or what of it was quoted). */
export function describeQuote(q: IcmpQuote | undefined): string {
  if (!q) return '';
  const sp = q.srcPort === undefined ? '' : `.${q.srcPort}`;
  const dp = q.dstPort === undefined ? '' : `.${q.dstPort}`;
  const seq = q.seq === undefined ? '' : ` seq ${q.seq}`;
  return ` (quoting ${formatAddress(q.src)}${sp} > ${formatAddress(q.dst)}${dp} ${protocolName(q.protocol)}${seq})`;
}
