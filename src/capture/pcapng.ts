// pcapng savefiles (what Wireshark, dumpcap and `tshark -w` write): a reader only. The engine
// records classic pcap (pcap-file.ts), which every tool reads; this exists so `tcp-checker read`
// and `tcp-shaker/pcap` take the files other tools hand users too.
//
// Format (draft-ietf-opsawg-pcapng, "PCAP Now Generic"): a sequence of blocks, each
// `type u32, totalLength u32, body, totalLength u32`, totalLength a multiple of 4. A Section
// Header Block (SHB) opens each section and fixes its byte order with the magic 0x1A2B3C4D;
// Interface Description Blocks (IDB) number the interfaces of the section from 0 and give each
// its link type, snap length and timestamp unit (option if_tsresol, default microseconds, plus
// if_tsoffset seconds); packets come in Enhanced (EPB), Simple (SPB) or obsolete (OPB) Packet
// Blocks. Every other block (name resolution, statistics, secrets, custom) is skipped.
//
// Failure contract, the same as parsePcap's: bytes that do not start with an SHB throw
// MalformedPcapError; a damaged block later on stops parsing there, the packets before it are
// returned and `damage` says where and why. Nothing else is thrown for any input.
import { MalformedPcapError, PCAP_MAX_SNAPLEN } from './pcap-file.js';
import type { ByteOrder } from './pcap-file.js';
import type { CapturedPacket } from './capture-file.js';

const BLOCK_HEADER_LEN = 8;
/** Block header + trailing length: the smallest block. */
const MIN_BLOCK_LEN = 12;

export const PcapngBlockType = {
  SECTION_HEADER: 0x0a0d0d0a,
  INTERFACE_DESCRIPTION: 0x00000001,
  /** Obsolete Packet Block (was "Packet Block"): still written by old tools. */
  OBSOLETE_PACKET: 0x00000002,
  SIMPLE_PACKET: 0x00000003,
  ENHANCED_PACKET: 0x00000006,
} as const;

const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const OPT_END = 0;
/** IDB options. */
const IF_TSRESOL = 9;
const IF_TSOFFSET = 14;

/** One interface of a section, from its IDB. */
export interface PcapngInterface {
  linkType: number;
  snapLen: number;
  /** Timestamp units per second (10^6 unless if_tsresol said otherwise). */
  unitsPerSecond: bigint;
  /** if_tsoffset: seconds to add to every timestamp of this interface. */
  offsetSeconds: bigint;
}

/** A packet as every capture file has it, plus where in the pcapng file it came from. */
export interface PcapngPacket extends CapturedPacket {
  /** Index of the section (0 for most files). */
  section: number;
  /** Interface index inside the section. */
  interfaceId: number;
}

export interface PcapngDamage {
  kind: 'truncated-block' | 'impossible-length' | 'bad-block';
  /** Byte offset of the damaged block. */
  offset: number;
  message: string;
}

export interface PcapngFile {
  /** Byte order of the first section (each section may have its own). */
  byteOrder: ByteOrder;
  versionMajor: number;
  versionMinor: number;
  /** Interfaces of every section, in order, section by section. */
  interfaces: PcapngInterface[][];
  packets: PcapngPacket[];
  damage?: PcapngDamage;
}

/** True when the bytes start with a pcapng Section Header Block. */
export function isPcapng(bytes: Uint8Array): boolean {
  return bytes.byteLength >= 4 && bytes[0] === 0x0a && bytes[1] === 0x0d && bytes[2] === 0x0d && bytes[3] === 0x0a;
}

class BlockError extends Error {
  constructor(
    readonly kind: PcapngDamage['kind'],
    message: string,
  ) {
    super(message);
  }
}

/** Parses a whole pcapng file held in memory. See the failure contract at the top. */
export function parsePcapng(bytes: Uint8Array): PcapngFile {
  if (!isPcapng(bytes)) throw new MalformedPcapError('not a pcapng file: it does not start with a Section Header Block');
  if (bytes.byteLength < 28) {
    throw new MalformedPcapError(`not a pcapng file: ${bytes.byteLength} bytes is shorter than a Section Header Block (28)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const first = sectionByteOrder(view, 0);
  if (first === undefined) {
    throw new MalformedPcapError(`not a pcapng file: byte-order magic 0x${view.getUint32(8, false).toString(16)} is not 0x1a2b3c4d`);
  }
  const little0 = first === 'little';
  const file: PcapngFile = {
    byteOrder: first,
    versionMajor: view.getUint16(12, little0),
    versionMinor: view.getUint16(14, little0),
    interfaces: [],
    packets: [],
  };
  if (file.versionMajor !== 1) {
    throw new MalformedPcapError(`unsupported pcapng version ${file.versionMajor}.${file.versionMinor} (only 1.x is known)`);
  }

  let little = little0;
  let section = -1;
  let interfaces: PcapngInterface[] = [];
  let offset = 0;
  while (offset < bytes.byteLength) {
    try {
      if (offset + MIN_BLOCK_LEN > bytes.byteLength) {
        throw new BlockError('truncated-block', `only ${bytes.byteLength - offset} bytes left, less than a block header`);
      }
      const type = view.getUint32(offset, little);
      if (type === PcapngBlockType.SECTION_HEADER) {
        // A new section may switch the byte order: read it before the length.
        const order = sectionByteOrder(view, offset);
        if (order === undefined) throw new BlockError('bad-block', 'section header with a bad byte-order magic');
        little = order === 'little';
      }
      const length = view.getUint32(offset + 4, little);
      if (length < MIN_BLOCK_LEN || length % 4 !== 0) {
        throw new BlockError('impossible-length', `block length ${length} is not a multiple of 4 of at least ${MIN_BLOCK_LEN}`);
      }
      if (offset + length > bytes.byteLength) {
        throw new BlockError('truncated-block', `block of ${length} bytes, only ${bytes.byteLength - offset} present`);
      }
      if (view.getUint32(offset + length - 4, little) !== length) {
        throw new BlockError('impossible-length', `trailing block length ${view.getUint32(offset + length - 4, little)} differs from the leading ${length}`);
      }
      const body = offset + BLOCK_HEADER_LEN;
      const bodyEnd = offset + length - 4;
      switch (type) {
        case PcapngBlockType.SECTION_HEADER:
          section++;
          interfaces = [];
          file.interfaces.push(interfaces);
          break;
        case PcapngBlockType.INTERFACE_DESCRIPTION:
          if (section < 0) throw new BlockError('bad-block', 'interface description before any section header');
          interfaces.push(readInterface(view, body, bodyEnd, little));
          break;
        case PcapngBlockType.ENHANCED_PACKET:
        case PcapngBlockType.OBSOLETE_PACKET: {
          const enhanced = type === PcapngBlockType.ENHANCED_PACKET;
          if (bodyEnd - body < 20) throw new BlockError('bad-block', 'packet block shorter than its fixed fields');
          const interfaceId = enhanced ? view.getUint32(body, little) : view.getUint16(body, little);
          const iface = interfaces[interfaceId];
          if (!iface) throw new BlockError('bad-block', `packet on interface ${interfaceId}, which the section never described`);
          const high = view.getUint32(body + 4, little);
          const low = view.getUint32(body + 8, little);
          const capturedLength = view.getUint32(body + 12, little);
          const originalLength = view.getUint32(body + 16, little);
          const dataStart = body + 20;
          if (capturedLength > bodyEnd - dataStart || capturedLength > Math.max(iface.snapLen, PCAP_MAX_SNAPLEN)) {
            throw new BlockError('impossible-length', `captured length ${capturedLength} does not fit its block`);
          }
          const { sec, nsec } = timestamp((BigInt(high) << 32n) | BigInt(low), iface);
          file.packets.push({
            section,
            interfaceId,
            linkType: iface.linkType,
            tsSec: sec,
            tsNsec: nsec,
            capturedLength,
            originalLength,
            data: new Uint8Array(bytes.subarray(dataStart, dataStart + capturedLength)),
          });
          break;
        }
        case PcapngBlockType.SIMPLE_PACKET: {
          // No interface id and no timestamp: interface 0, time 0; captured = min(original, snaplen).
          const iface = interfaces[0];
          if (!iface) throw new BlockError('bad-block', 'simple packet block in a section without interfaces');
          const originalLength = view.getUint32(body, little);
          const dataStart = body + 4;
          const capturedLength = Math.min(originalLength, iface.snapLen || originalLength, bodyEnd - dataStart);
          file.packets.push({
            section,
            interfaceId: 0,
            linkType: iface.linkType,
            tsSec: 0,
            tsNsec: 0,
            capturedLength,
            originalLength,
            data: new Uint8Array(bytes.subarray(dataStart, dataStart + capturedLength)),
          });
          break;
        }
        default:
          // Name resolution, interface statistics, decryption secrets, custom blocks: not needed.
          break;
      }
      offset += length;
    } catch (error) {
      if (!(error instanceof BlockError)) throw error;
      file.damage = { kind: error.kind, offset, message: `block at byte ${offset}: ${error.message}` };
      break;
    }
  }
  return file;
}

function sectionByteOrder(view: DataView, offset: number): ByteOrder | undefined {
  if (offset + 12 > view.byteLength) return undefined;
  if (view.getUint32(offset + 8, true) === BYTE_ORDER_MAGIC) return 'little';
  if (view.getUint32(offset + 8, false) === BYTE_ORDER_MAGIC) return 'big';
  return undefined;
}

function readInterface(view: DataView, body: number, end: number, little: boolean): PcapngInterface {
  if (end - body < 8) throw new BlockError('bad-block', 'interface description shorter than its fixed fields');
  const iface: PcapngInterface = {
    linkType: view.getUint16(body, little),
    snapLen: view.getUint32(body + 4, little),
    unitsPerSecond: 1_000_000n,
    offsetSeconds: 0n,
  };
  for (let o = body + 8; o + 4 <= end; ) {
    const code = view.getUint16(o, little);
    const len = view.getUint16(o + 2, little);
    if (code === OPT_END) break;
    if (o + 4 + len > end) throw new BlockError('bad-block', `interface option ${code} of length ${len} overruns its block`);
    if (code === IF_TSRESOL && len >= 1) {
      const v = view.getUint8(o + 4);
      // Most significant bit clear: a power of 10; set: a power of 2 (draft §4.2, if_tsresol).
      const exponent = BigInt(v & 0x7f);
      iface.unitsPerSecond = v & 0x80 ? 1n << exponent : 10n ** exponent;
      if (iface.unitsPerSecond === 0n || exponent > 63n) throw new BlockError('bad-block', `if_tsresol ${v} is not a usable resolution`);
    } else if (code === IF_TSOFFSET && len >= 8) {
      iface.offsetSeconds = little ? view.getBigInt64(o + 4, true) : view.getBigInt64(o + 4, false);
    }
    o += 4 + ((len + 3) & ~3);
  }
  return iface;
}

function timestamp(units: bigint, iface: PcapngInterface): { sec: number; nsec: number } {
  const sec = units / iface.unitsPerSecond + iface.offsetSeconds;
  const nsec = ((units % iface.unitsPerSecond) * 1_000_000_000n) / iface.unitsPerSecond;
  return { sec: Number(sec), nsec: Number(nsec) };
}
