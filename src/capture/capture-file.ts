// Any capture file the project reads, classic pcap or pcapng, as one list of packets that each
// carry their own link type (a pcapng file may mix interfaces of different link types).
import fs from 'node:fs';
import { parsePcap } from './pcap-file.js';
import { isPcapng, parsePcapng } from './pcapng.js';

export interface CapturedPacket {
  /** LINKTYPE_* of the interface the packet was captured on. */
  linkType: number;
  tsSec: number;
  tsNsec: number;
  capturedLength: number;
  originalLength: number;
  data: Uint8Array;
}

export interface CaptureFile {
  format: 'pcap' | 'pcapng';
  packets: CapturedPacket[];
  /** Set when reading stopped early at a damaged record or block; `packets` holds all before it. */
  damage?: { offset: number; message: string };
}

/**
 * Parses classic pcap or pcapng, told apart by the first four bytes. Throws MalformedPcapError
 * when the bytes are neither; a damaged record later in the file is reported in `damage`.
 */
export function parseCapture(bytes: Uint8Array): CaptureFile {
  if (isPcapng(bytes)) {
    const file = parsePcapng(bytes);
    const packets = file.packets.map(({ linkType, tsSec, tsNsec, capturedLength, originalLength, data }) => ({
      linkType,
      tsSec,
      tsNsec,
      capturedLength,
      originalLength,
      data,
    }));
    return file.damage ? { format: 'pcapng', packets, damage: { offset: file.damage.offset, message: file.damage.message } } : { format: 'pcapng', packets };
  }
  const file = parsePcap(bytes);
  const packets = file.records.map(({ tsSec, tsNsec, capturedLength, originalLength, data }) => ({
    linkType: file.linkType,
    tsSec,
    tsNsec,
    capturedLength,
    originalLength,
    data,
  }));
  return file.damage ? { format: 'pcap', packets, damage: { offset: file.damage.offset, message: file.damage.message } } : { format: 'pcap', packets };
}

/** Reads and parses a capture file; I/O errors (ENOENT...) propagate as Node's own errors. */
export async function readCaptureFile(path: string): Promise<CaptureFile> {
  return parseCapture(await fs.promises.readFile(path));
}
