// Classic libpcap savefiles ("pcap", not pcapng): a reader for fixtures and captures, and a writer
// for the CLI's `--pcap FILE`. Pure TypeScript, no native code.
//
// Format (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html): a 24-byte global
// header, then records of a 16-byte header plus `capturedLength` bytes. The magic number tells
// both the byte order of every header field and the timestamp unit (µs or ns).
//
// Failure contract of the reader, chosen so a half-written capture is still useful:
// - the file as a whole is unusable (shorter than the global header, unknown magic, pcapng,
//   unsupported major version): `parsePcap` throws `MalformedPcapError` (a ShakerError, code
//   `ERR_SHAKER_MALFORMED_PCAP`). Nothing else is ever thrown for any input bytes.
// - a record is damaged (its header or data runs past the end, or its length is impossible):
//   parsing stops there, the records before it are returned, and `damage` says where and why.
//   A capture killed mid-write (tcpdump SIGKILLed) ends this way.
import fs from 'node:fs';
import { ShakerError } from '../core/errors.js';
import { LinkType } from '../wire/link-type.js';

export { LinkType };

export const PCAP_GLOBAL_HEADER_LEN = 24;
export const PCAP_RECORD_HEADER_LEN = 16;

/** libpcap's MAXIMUM_SNAPLEN: the largest record it will ever write for any link type. */
export const PCAP_MAX_SNAPLEN = 262144;

const magic = {
  micro: 0xa1b2c3d4,
  nano: 0xa1b23c4d,
  /** pcapng Section Header Block type, as read in either byte order (it is a palindrome). */
  pcapng: 0x0a0d0d0a,
} as const;

export type ByteOrder = 'little' | 'big';
export type TimestampPrecision = 'micro' | 'nano';

export interface PcapRecord {
  tsSec: number;
  /** Sub-second part in nanoseconds, whatever the file's precision (µs files: a multiple of 1000). */
  tsNsec: number;
  /** Sub-second part in microseconds (rounded down for nanosecond files). */
  tsUsec: number;
  capturedLength: number;
  /** Length of the packet on the wire; larger than `capturedLength` when the snap length cut it. */
  originalLength: number;
  /** The captured bytes. A copy: it does not alias the buffer given to `parsePcap`. */
  data: Uint8Array;
}

export interface PcapDamage {
  kind: 'truncated-record-header' | 'truncated-record-data' | 'impossible-length';
  /** Byte offset of the damaged record's header. */
  offset: number;
  /** Index the damaged record would have had. */
  recordIndex: number;
  message: string;
}

export interface PcapFile {
  byteOrder: ByteOrder;
  precision: TimestampPrecision;
  versionMajor: number;
  versionMinor: number;
  snapLen: number;
  /** LINKTYPE_* value (see `LinkType`); the upper FCS bits of the field are stripped off. */
  linkType: number;
  records: PcapRecord[];
  /** Set when parsing stopped early at a damaged record; `records` holds everything before it. */
  damage?: PcapDamage;
}

/** The bytes are not a usable classic pcap file at all. */
export class MalformedPcapError extends ShakerError {
  declare readonly code: 'ERR_SHAKER_MALFORMED_PCAP';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'ERR_SHAKER_MALFORMED_PCAP', options);
  }
  override get name(): string {
    return 'MalformedPcapError';
  }
}

function hex32(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}

/** Parses a whole classic pcap file held in memory. See the failure contract at the top. */
export function parsePcap(bytes: Uint8Array): PcapFile {
  if (bytes.byteLength < PCAP_GLOBAL_HEADER_LEN) {
    throw new MalformedPcapError(
      `not a pcap file: ${bytes.byteLength} bytes is shorter than the ${PCAP_GLOBAL_HEADER_LEN}-byte global header`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { byteOrder, precision } = detectMagic(view.getUint32(0, false));
  const little = byteOrder === 'little';
  const versionMajor = view.getUint16(4, little);
  const versionMinor = view.getUint16(6, little);
  // Version 2.4 is the only one written since 1998; 2.2/2.3 differ only in record semantics we
  // do not use, so accept any 2.x and refuse what we cannot know the layout of.
  if (versionMajor !== 2) {
    throw new MalformedPcapError(`unsupported pcap version ${versionMajor}.${versionMinor} (only 2.x is known)`);
  }
  const snapLen = view.getUint32(16, little);
  // The top bits of the link-type field may carry FCS information (draft-ietf-opsawg-pcap §4).
  const linkType = view.getUint32(20, little) & 0x0fffffff;
  const file: PcapFile = { byteOrder, precision, versionMajor, versionMinor, snapLen, linkType, records: [] };
  const maxRecordLen = Math.max(snapLen, PCAP_MAX_SNAPLEN);

  let offset = PCAP_GLOBAL_HEADER_LEN;
  while (offset < bytes.byteLength) {
    const recordIndex = file.records.length;
    if (offset + PCAP_RECORD_HEADER_LEN > bytes.byteLength) {
      file.damage = {
        kind: 'truncated-record-header',
        offset,
        recordIndex,
        message: `record ${recordIndex} at byte ${offset}: only ${bytes.byteLength - offset} of ${PCAP_RECORD_HEADER_LEN} header bytes present`,
      };
      break;
    }
    const tsSec = view.getUint32(offset, little);
    const tsFraction = view.getUint32(offset + 4, little);
    const capturedLength = view.getUint32(offset + 8, little);
    const originalLength = view.getUint32(offset + 12, little);
    const fractionLimit = precision === 'nano' ? 1e9 : 1e6;
    if (capturedLength > maxRecordLen || tsFraction >= fractionLimit) {
      const what =
        capturedLength > maxRecordLen
          ? `captured length ${capturedLength} exceeds the maximum ${maxRecordLen}`
          : `sub-second timestamp ${tsFraction} is not below ${fractionLimit}`;
      file.damage = {
        kind: 'impossible-length',
        offset,
        recordIndex,
        message: `record ${recordIndex} at byte ${offset}: ${what} (corrupt file or wrong format)`,
      };
      break;
    }
    const dataStart = offset + PCAP_RECORD_HEADER_LEN;
    if (dataStart + capturedLength > bytes.byteLength) {
      file.damage = {
        kind: 'truncated-record-data',
        offset,
        recordIndex,
        message: `record ${recordIndex} at byte ${offset}: ${capturedLength} data bytes announced, ${bytes.byteLength - dataStart} present`,
      };
      break;
    }
    const tsNsec = precision === 'nano' ? tsFraction : tsFraction * 1000;
    file.records.push({
      tsSec,
      tsNsec,
      tsUsec: Math.floor(tsNsec / 1000),
      capturedLength,
      originalLength,
      // A copy into a plain Uint8Array: Buffer#slice would alias the (possibly pooled) input.
      data: new Uint8Array(bytes.subarray(dataStart, dataStart + capturedLength)),
    });
    offset = dataStart + capturedLength;
  }
  return file;
}

function detectMagic(bigEndianMagic: number): { byteOrder: ByteOrder; precision: TimestampPrecision } {
  const swapped = byteSwap32(bigEndianMagic);
  if (bigEndianMagic === magic.micro) return { byteOrder: 'big', precision: 'micro' };
  if (bigEndianMagic === magic.nano) return { byteOrder: 'big', precision: 'nano' };
  if (swapped === magic.micro) return { byteOrder: 'little', precision: 'micro' };
  if (swapped === magic.nano) return { byteOrder: 'little', precision: 'nano' };
  if (bigEndianMagic === magic.pcapng) {
    throw new MalformedPcapError(
      'this is a pcapng file; parsePcap reads classic pcap only (parseCapture in capture-file.ts reads both)',
    );
  }
  throw new MalformedPcapError(`not a pcap file: unknown magic number ${hex32(bigEndianMagic)}`);
}

function byteSwap32(value: number): number {
  return (
    (((value & 0xff) << 24) | ((value & 0xff00) << 8) | ((value >>> 8) & 0xff00) | ((value >>> 24) & 0xff)) >>> 0
  );
}

/** Reads and parses a file; I/O errors (ENOENT...) propagate as Node's own errors. */
export async function readPcapFile(path: string): Promise<PcapFile> {
  return parsePcap(await fs.promises.readFile(path));
}

export function readPcapFileSync(path: string): PcapFile {
  return parsePcap(fs.readFileSync(path));
}

// ------------------------------------------------------------------------------------------------
// Writing

export interface PcapHeaderOptions {
  linkType: number;
  /** Default PCAP_MAX_SNAPLEN; records longer than this are cut (originalLength keeps the truth). */
  snapLen?: number;
  /** Default 'micro', which every reader understands. */
  precision?: TimestampPrecision;
  /** Default 'little'. 'big' exists mostly to produce test files in the other byte order. */
  byteOrder?: ByteOrder;
}

/** A timestamp: milliseconds since the epoch (may be fractional), or exact seconds + nanoseconds. */
export type PcapTimestamp = number | { sec: number; nsec: number };

export interface PcapRecordInput {
  data: Uint8Array;
  /** Default: now. */
  time?: PcapTimestamp;
  /** Default `data.byteLength`; give it when `data` is already a cut-down capture. */
  originalLength?: number;
}

function resolveHeader(options: PcapHeaderOptions): Required<PcapHeaderOptions> {
  const { linkType, snapLen = PCAP_MAX_SNAPLEN, precision = 'micro', byteOrder = 'little' } = options;
  if (!Number.isInteger(linkType) || linkType < 0 || linkType > 0x0fffffff) {
    throw new RangeError(`linkType must be an integer in 0..0x0fffffff, got ${linkType}`);
  }
  if (!Number.isInteger(snapLen) || snapLen < 1 || snapLen > 0xffffffff) {
    throw new RangeError(`snapLen must be a positive 32-bit integer, got ${snapLen}`);
  }
  return { linkType, snapLen, precision, byteOrder };
}

/** The 24-byte global header. */
export function encodePcapHeader(options: PcapHeaderOptions): Uint8Array {
  const { linkType, snapLen, precision, byteOrder } = resolveHeader(options);
  const out = new Uint8Array(PCAP_GLOBAL_HEADER_LEN);
  const view = new DataView(out.buffer);
  const little = byteOrder === 'little';
  view.setUint32(0, precision === 'nano' ? magic.nano : magic.micro, little);
  view.setUint16(4, 2, little);
  view.setUint16(6, 4, little);
  // Bytes 8..15: thiszone and sigfigs, always zero in practice.
  view.setUint32(16, snapLen, little);
  view.setUint32(20, linkType, little);
  return out;
}

function splitTimestamp(time: PcapTimestamp | undefined): { sec: number; nsec: number } {
  if (typeof time === 'object') return { sec: time.sec, nsec: time.nsec };
  const ms = time ?? performance.timeOrigin + performance.now();
  const sec = Math.floor(ms / 1000);
  const nsec = Math.min(999_999_999, Math.round((ms - sec * 1000) * 1e6));
  return { sec, nsec };
}

/** One record (16-byte header + data, cut to `snapLen`) in the given header's format. */
export function encodePcapRecord(header: PcapHeaderOptions, record: PcapRecordInput): Uint8Array {
  const { snapLen, precision, byteOrder } = resolveHeader(header);
  const { sec, nsec } = splitTimestamp(record.time);
  const capturedLength = Math.min(record.data.byteLength, snapLen);
  const originalLength = record.originalLength ?? record.data.byteLength;
  const out = new Uint8Array(PCAP_RECORD_HEADER_LEN + capturedLength);
  const view = new DataView(out.buffer);
  const little = byteOrder === 'little';
  view.setUint32(0, sec >>> 0, little);
  view.setUint32(4, precision === 'nano' ? nsec : Math.floor(nsec / 1000), little);
  view.setUint32(8, capturedLength, little);
  view.setUint32(12, originalLength >>> 0, little);
  out.set(record.data.subarray(0, capturedLength), PCAP_RECORD_HEADER_LEN);
  return out;
}

/** A whole file in memory: header then every record. */
export function encodePcap(header: PcapHeaderOptions, records: Iterable<PcapRecordInput>): Uint8Array {
  const parts = [encodePcapHeader(header)];
  for (const record of records) parts.push(encodePcapRecord(header, record));
  return Buffer.concat(parts);
}

/** Turns a parsed record back into writer input, keeping its timestamp and original length. */
export function recordInput(record: PcapRecord): PcapRecordInput {
  return {
    data: record.data,
    time: { sec: record.tsSec, nsec: record.tsNsec },
    originalLength: record.originalLength,
  };
}

/**
 * Appends records to a pcap file with synchronous writes, so a record is never half-written by
 * an interleaved async write and `close()` can run from a process 'exit' handler.
 *
 * Records are buffered up to `bufferBytes` (default 64 KiB; 0 writes each record at once) to
 * keep the syscall count low when an engine records every packet. Call `flush()` to push them
 * out early and `close()` when done; readers (tcpdump, `readPcapFile`) see a valid file after
 * every flush, since only whole records are ever written.
 */
export class PcapWriter {
  readonly path: string;
  readonly header: Readonly<Required<PcapHeaderOptions>>;
  private fd: number | undefined;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private readonly bufferBytes: number;
  private recordsWritten = 0;

  private constructor(path: string, fd: number, header: Required<PcapHeaderOptions>, bufferBytes: number) {
    this.path = path;
    this.fd = fd;
    this.header = header;
    this.bufferBytes = bufferBytes;
  }

  /** Creates (or truncates) `path` and writes the global header. */
  static open(path: string, options: PcapHeaderOptions & { bufferBytes?: number }): PcapWriter {
    const header = resolveHeader(options);
    const fd = fs.openSync(path, 'w');
    try {
      fs.writeSync(fd, encodePcapHeader(header));
    } catch (error) {
      fs.closeSync(fd);
      throw error;
    }
    return new PcapWriter(path, fd, header, options.bufferBytes ?? 64 * 1024);
  }

  get recordCount(): number {
    return this.recordsWritten;
  }

  get closed(): boolean {
    return this.fd === undefined;
  }

  write(record: PcapRecordInput): void;
  write(data: Uint8Array, time?: PcapTimestamp): void;
  write(recordOrData: PcapRecordInput | Uint8Array, time?: PcapTimestamp): void {
    if (this.fd === undefined) throw new Error(`PcapWriter for ${this.path} is closed`);
    const record = recordOrData instanceof Uint8Array ? { data: recordOrData, time } : recordOrData;
    const bytes = encodePcapRecord(this.header, record);
    this.pending.push(bytes);
    this.pendingBytes += bytes.byteLength;
    this.recordsWritten++;
    if (this.pendingBytes >= this.bufferBytes) this.flush();
  }

  flush(): void {
    if (this.fd === undefined || this.pending.length === 0) return;
    const chunk = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    let written = 0;
    while (written < chunk.byteLength) written += fs.writeSync(this.fd, chunk, written);
  }

  /** Flushes and closes; safe to call twice. */
  close(): void {
    if (this.fd === undefined) return;
    try {
      this.flush();
    } finally {
      fs.closeSync(this.fd);
      this.fd = undefined;
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
