// Linux "cooked" capture headers: what libpcap puts in front of packets captured on the "any"
// pseudo-device (and on devices with no usable link header). v1 is DLT_LINUX_SLL (113), v2
// DLT_LINUX_SLL2 (276); see pcap-linktype(7) and https://www.tcpdump.org/linktypes/.
//
// v1, 16 bytes:                           v2, 20 bytes:
//    0  packet type (2)                       0  protocol (2)
//    2  ARPHRD type (2)                       2  reserved (2)
//    4  link-layer address length (2)         4  interface index (4)
//    6  link-layer address (8)                8  ARPHRD type (2)
//   14  protocol (2)                         10  packet type (1)
//                                            11  link-layer address length (1)
//                                            12  link-layer address (8)
//
// All fields are big-endian. `packetType` tells received from sent: on "any" the engine sees its
// own SYNs go out as PACKET_OUTGOING (4) and must not take them for replies.
import { copyBytes, dataView, needRoom, needUint, put16, put32, u16, u32 } from './bytes.js';
import { skipVlanTags } from './ethernet.js';
import type { Parsed } from './result.js';
import { malformed, ok } from './result.js';

export const sllField = {
  PACKET_TYPE: 0,
  ARPHRD: 2,
  ADDR_LEN: 4,
  ADDR: 6,
  PROTOCOL: 14,
  PAYLOAD: 16,
} as const;

export const sll2Field = {
  PROTOCOL: 0,
  RESERVED: 2,
  IFINDEX: 4,
  ARPHRD: 8,
  PACKET_TYPE: 10,
  ADDR_LEN: 11,
  ADDR: 12,
  PAYLOAD: 20,
} as const;

export const SLL_HEADER_LEN = 16;
export const SLL2_HEADER_LEN = 20;
/** Both versions have room for 8 address bytes, whatever the length field claims. */
const SLL_ADDR_MAX = 8;

/** Linux `PACKET_*` values (linux/if_packet.h). */
export const SllPacketType = {
  HOST: 0,
  BROADCAST: 1,
  MULTICAST: 2,
  OTHERHOST: 3,
  OUTGOING: 4,
} as const;

export interface SllRepr {
  /** The EtherType of the payload (after any VLAN tag libpcap re-inserted), for Ethernet-like devices. */
  protocol: number;
  payloadOffset: number;
  packetType: number;
  /** ARPHRD_* device type (1 Ethernet, 772 loopback, 65534 none/tun...). */
  arphrdType: number;
  /** The sender's link-layer address, as far as the header holds it (at most 8 bytes). */
  address: Uint8Array;
  /** v2 only. */
  ifindex?: number;
}

/**
 * DLT_LINUX_SLL. When the kernel stripped a VLAN tag, libpcap re-inserts it where the protocol
 * field is (pcap-linux.c set_vlan_offset: `SLL_HDR_LEN - 2`), so the protocol reads 0x8100 and
 * the real one follows the tag: skipped here as in Ethernet. Never throws.
 */
export function parseSll(frame: Uint8Array): Parsed<SllRepr> {
  if (frame.length < SLL_HEADER_LEN) return malformed('truncated', `Linux SLL header needs 16 bytes, have ${frame.length}`);
  const typeAt = skipVlanTags(frame, sllField.PROTOCOL);
  if (typeAt < 0) return malformed('truncated', 'Linux SLL VLAN tag cut off');
  const addrLen = Math.min(u16(frame, sllField.ADDR_LEN), SLL_ADDR_MAX);
  return ok({
    protocol: u16(frame, typeAt),
    payloadOffset: typeAt + 2,
    packetType: u16(frame, sllField.PACKET_TYPE),
    arphrdType: u16(frame, sllField.ARPHRD),
    address: copyBytes(frame, sllField.ADDR, sllField.ADDR + addrLen),
  });
}

/** DLT_LINUX_SLL2. libpcap does not re-insert VLAN tags here (no vlan_offset for SLL2). Never throws. */
export function parseSll2(frame: Uint8Array): Parsed<SllRepr> {
  if (frame.length < SLL2_HEADER_LEN) return malformed('truncated', `Linux SLL2 header needs 20 bytes, have ${frame.length}`);
  const addrLen = Math.min(frame[sll2Field.ADDR_LEN], SLL_ADDR_MAX);
  return ok({
    protocol: u16(frame, sll2Field.PROTOCOL),
    payloadOffset: SLL2_HEADER_LEN,
    packetType: frame[sll2Field.PACKET_TYPE],
    arphrdType: u16(frame, sll2Field.ARPHRD),
    address: copyBytes(frame, sll2Field.ADDR, sll2Field.ADDR + addrLen),
    ifindex: u32(frame, sll2Field.IFINDEX),
  });
}

export interface SllReprInput {
  protocol: number;
  packetType: number;
  arphrdType: number;
  /** Up to 8 bytes; the rest of the field is zeroed. */
  address: Uint8Array;
  /** v2 only (default 0). */
  ifindex?: number;
}

function writeAddress(buf: Uint8Array, at: number, address: Uint8Array): void {
  if (address.length > SLL_ADDR_MAX) throw new RangeError(`SLL address of ${address.length} bytes exceeds 8`);
  buf.set(address, at);
  buf.fill(0, at + address.length, at + SLL_ADDR_MAX);
}

/** Writes a v1 header and returns 16. */
export function emitSll(buf: Uint8Array, offset: number, repr: SllReprInput): number {
  needRoom(buf, offset, SLL_HEADER_LEN, 'emitSll');
  needUint(repr.packetType, 0xffff, 'SLL packet type');
  put16(buf, offset + sllField.PACKET_TYPE, repr.packetType);
  put16(buf, offset + sllField.ARPHRD, repr.arphrdType);
  put16(buf, offset + sllField.ADDR_LEN, repr.address.length);
  writeAddress(buf, offset + sllField.ADDR, repr.address);
  put16(buf, offset + sllField.PROTOCOL, repr.protocol);
  return SLL_HEADER_LEN;
}

/** Writes a v2 header and returns 20. */
export function emitSll2(buf: Uint8Array, offset: number, repr: SllReprInput): number {
  needRoom(buf, offset, SLL2_HEADER_LEN, 'emitSll2');
  needUint(repr.packetType, 0xff, 'SLL2 packet type');
  put16(buf, offset + sll2Field.PROTOCOL, repr.protocol);
  put16(buf, offset + sll2Field.RESERVED, 0);
  put32(buf, offset + sll2Field.IFINDEX, repr.ifindex ?? 0);
  put16(buf, offset + sll2Field.ARPHRD, repr.arphrdType);
  buf[offset + sll2Field.PACKET_TYPE] = repr.packetType;
  buf[offset + sll2Field.ADDR_LEN] = repr.address.length;
  writeAddress(buf, offset + sll2Field.ADDR, repr.address);
  return SLL2_HEADER_LEN;
}

const packetTypeNames = ['In', 'B', 'M', 'P', 'Out'];

/** tcpdump's direction marker for "any" captures: "In", "Out", "B", "M", "P". */
export function sllDirection(packetType: number): string {
  return packetTypeNames[packetType] ?? `type-${packetType}`;
}

/** Getter view over a v1 header. */
export class SllHeader {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = dataView(bytes);
  }
  get packetType(): number {
    return this.view.getUint16(sllField.PACKET_TYPE);
  }
  get arphrdType(): number {
    return this.view.getUint16(sllField.ARPHRD);
  }
  get addressLength(): number {
    return this.view.getUint16(sllField.ADDR_LEN);
  }
  get protocol(): number {
    return this.view.getUint16(sllField.PROTOCOL);
  }
}

/** Getter view over a v2 header. */
export class Sll2Header {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = dataView(bytes);
  }
  get protocol(): number {
    return this.view.getUint16(sll2Field.PROTOCOL);
  }
  get ifindex(): number {
    return this.view.getUint32(sll2Field.IFINDEX);
  }
  get arphrdType(): number {
    return this.view.getUint16(sll2Field.ARPHRD);
  }
  get packetType(): number {
    return this.view.getUint8(sll2Field.PACKET_TYPE);
  }
  get addressLength(): number {
    return this.view.getUint8(sll2Field.ADDR_LEN);
  }
}
