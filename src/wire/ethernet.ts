// Ethernet II framing (DLT_EN10MB), with any number of 802.1Q / 802.1ad VLAN tags, as libpcap
// hands it over: no preamble, no FCS. The engine only needs where the IP header starts and which
// version it is; the MAC addresses are copied for logs.
//
//    | dst MAC (6) | src MAC (6) | [TPID 0x8100/0x88a8 (2) | TCI (2)]* | EtherType (2) | payload
import { copyBytes, dataView, needRoom, needUint, put16, u16 } from './bytes.js';
import { formatAddress } from './address.js';
import { EtherType } from './protocol.js';
import type { Parsed } from './result.js';
import { malformed, ok } from './result.js';

export const ethernetField = {
  DESTINATION: 0,
  SOURCE: 6,
  ETHERTYPE: 12,
  PAYLOAD: 14,
} as const;

export const ETHERNET_HEADER_LEN = 14;
const VLAN_TAG_LEN = 4;

export interface EthernetRepr {
  /** The EtherType after any VLAN tags (IPv4 0x0800, IPv6 0x86dd). Values below 0x0600 are 802.3 lengths. */
  etherType: number;
  /** Where the payload (the IP header) starts. */
  payloadOffset: number;
  src: Uint8Array;
  dst: Uint8Array;
  /** VLAN id of the outermost tag, when tagged. */
  vlan?: number;
}

export function isVlanTpid(t: number): boolean {
  return t === EtherType.VLAN || t === EtherType.QINQ || t === EtherType.QINQ_LEGACY;
}

/**
 * Skips VLAN tags starting with the type word at `at`. Returns the offset of the final type word,
 * or -1 if a tag is cut off. Every tag takes 4 bytes, so this ends within `b.length / 4` steps.
 */
export function skipVlanTags(b: Uint8Array, at: number): number {
  let o = at;
  while (o + 2 <= b.length && isVlanTpid(u16(b, o))) {
    if (o + VLAN_TAG_LEN + 2 > b.length) return -1;
    o += VLAN_TAG_LEN;
  }
  return o + 2 <= b.length ? o : -1;
}

/** Parses an Ethernet II frame header; never throws. */
export function parseEthernet(frame: Uint8Array): Parsed<EthernetRepr> {
  if (frame.length < ETHERNET_HEADER_LEN) return malformed('truncated', `Ethernet header needs 14 bytes, have ${frame.length}`);
  const typeAt = skipVlanTags(frame, ethernetField.ETHERTYPE);
  if (typeAt < 0) return malformed('truncated', 'Ethernet VLAN tag cut off');
  const value: EthernetRepr = {
    etherType: u16(frame, typeAt),
    payloadOffset: typeAt + 2,
    src: copyBytes(frame, ethernetField.SOURCE, ethernetField.SOURCE + 6),
    dst: copyBytes(frame, ethernetField.DESTINATION, ethernetField.DESTINATION + 6),
  };
  if (typeAt !== ethernetField.ETHERTYPE) value.vlan = u16(frame, ethernetField.ETHERTYPE + 2) & 0x0fff;
  return ok(value);
}

export interface EthernetReprInput {
  src: Uint8Array;
  dst: Uint8Array;
  etherType: number;
  /** Adds one 802.1Q tag with this VLAN id (priority 0). */
  vlan?: number;
}

/** Writes the header (and tag) and returns its length; the payload follows. */
export function emitEthernet(buf: Uint8Array, offset: number, repr: EthernetReprInput): number {
  const len = ETHERNET_HEADER_LEN + (repr.vlan === undefined ? 0 : VLAN_TAG_LEN);
  needRoom(buf, offset, len, 'emitEthernet');
  if (repr.src.length !== 6 || repr.dst.length !== 6) throw new RangeError('emitEthernet: MAC addresses must be 6 bytes');
  buf.set(repr.dst, offset + ethernetField.DESTINATION);
  buf.set(repr.src, offset + ethernetField.SOURCE);
  let o = offset + ethernetField.ETHERTYPE;
  if (repr.vlan !== undefined) {
    needUint(repr.vlan, 0x0fff, 'VLAN id');
    put16(buf, o, EtherType.VLAN);
    put16(buf, o + 2, repr.vlan);
    o += VLAN_TAG_LEN;
  }
  put16(buf, o, repr.etherType);
  return len;
}

export function describeEthernet(f: EthernetRepr): string {
  const vlan = f.vlan === undefined ? '' : `, vlan ${f.vlan}`;
  return `${formatAddress(f.src)} > ${formatAddress(f.dst)}, ethertype 0x${f.etherType.toString(16).padStart(4, '0')}${vlan}`;
}

/** Getter/setter view over an untagged Ethernet header. */
export class EthernetFrame {
  readonly bytes: Uint8Array;
  private readonly view: DataView;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = dataView(bytes);
  }

  static checked(bytes: Uint8Array): Parsed<EthernetFrame> {
    if (bytes.length < ETHERNET_HEADER_LEN) return malformed('truncated', `Ethernet header needs 14 bytes, have ${bytes.length}`);
    return ok(new EthernetFrame(bytes));
  }

  get dst(): Uint8Array {
    return this.bytes.subarray(ethernetField.DESTINATION, ethernetField.DESTINATION + 6);
  }
  get src(): Uint8Array {
    return this.bytes.subarray(ethernetField.SOURCE, ethernetField.SOURCE + 6);
  }
  get etherType(): number {
    return this.view.getUint16(ethernetField.ETHERTYPE);
  }
  set etherType(v: number) {
    this.view.setUint16(ethernetField.ETHERTYPE, v);
  }
  get payload(): Uint8Array {
    return this.bytes.subarray(ethernetField.PAYLOAD);
  }
}
