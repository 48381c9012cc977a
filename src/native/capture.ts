// The addon's libpcap capture (native/capture.cc) as TypeScript sees it: the class, and the
// reader for the batch of records it fills. The record layout is defined in capture.cc's header
// comment; this file is its only reader.
import { native } from './addon.js';
import { UnsupportedError } from '../core/errors.js';

/**
 * Called once per batch, not per packet: `count` records fill `batch.subarray(0, bytes)`.
 * `error` (with count 0) means the capture failed for good, e.g. its interface disappeared;
 * polling has stopped and close() should follow.
 */
export type BatchCallback = (count: number, bytes: number, error?: string) => void;

export interface CaptureStats {
  /** Packets that passed the kernel filter, both directions (libpcap drops outgoing ones after). */
  received: number;
  /** Packets the kernel dropped because the ring was full: we did not read fast enough. */
  dropped: number;
  /** Packets the interface itself dropped, where the driver reports it. */
  ifDropped: number;
}

export interface NativeCapture {
  /**
   * The batch buffer (1 MiB), rewritten before every callback: read it only inside the
   * BatchCallback that announced it.
   */
  readonly batch: Uint8Array;
  /** pcap_datalink(): a LINKTYPE_* number (see LinkType). */
  readonly linkType: number;
  /** Idempotent. Stops polling at once; no callback follows. */
  close(): void;
  /** From pcap_stats(); after close(), the last values read. */
  stats(): CaptureStats;
}

/**
 * Throws an Error carrying libpcap's message, `step` (the failing call, e.g. 'pcap_activate',
 * 'pcap_compile') and `status` (a PCAP_ERROR_* code, e.g. PCAP_ERROR_PERM_DENIED).
 */
export type NativeCaptureClass = new (
  iface: string,
  filter: string,
  bufferSize: number,
  snapLength: number,
  onBatch: BatchCallback,
) => NativeCapture;

/** The shape of a failure thrown by the constructor (a plain Error plus these fields). */
export interface PcapFailure extends Error {
  step: string;
  status: number;
}

/** libpcap's PCAP_ERROR_* codes the TypeScript side gives a hint for. */
export const PcapStatus = {
  ERROR: -1,
  NO_SUCH_DEVICE: -5,
  PERM_DENIED: -8,
} as const;

export function isPcapFailure(error: unknown): error is PcapFailure {
  return error instanceof Error && typeof (error as Partial<PcapFailure>).step === 'string';
}

export function nativeCaptureClass(): NativeCaptureClass {
  const addon = native();
  // A stale build/ from before capture.cc existed loads, but has no Capture.
  if (typeof addon.Capture !== 'function') {
    throw new UnsupportedError('the native addon was built without libpcap capture: rebuild it (`npm rebuild tcp-shaker --build-from-source`)');
  }
  return addon.Capture;
}

/** Bytes before each record's data: u32 captured length, u32 original length, f64 timestamp. */
export const RECORD_HEADER_LEN = 16;

export type RecordVisitor = (frame: Uint8Array, timestampUs: number, originalLength: number) => void;

/**
 * A reader over one capture's batch buffer. The typed-array views are made once: the buffer
 * never moves, and reading lengths and timestamps through them costs no DataView call per record.
 */
export class BatchReader {
  private readonly words: Uint32Array;
  private readonly doubles: Float64Array;

  constructor(private readonly batch: Uint8Array) {
    // The addon allocates the buffer 8-byte aligned at offset 0, and writes in native byte
    // order, which is what typed arrays read.
    this.words = new Uint32Array(batch.buffer, batch.byteOffset, batch.byteLength >>> 2);
    this.doubles = new Float64Array(batch.buffer, batch.byteOffset, batch.byteLength >>> 3);
  }

  /**
   * Calls `visit` for each of the `count` records in the first `bytes` bytes. `frame` is a view
   * into the batch buffer, valid only during the call. A throwing visitor stops the walk.
   */
  forEach(count: number, bytes: number, visit: RecordVisitor): void {
    let offset = 0;
    for (let i = 0; i < count && offset + RECORD_HEADER_LEN <= bytes; i++) {
      const captured = this.words[offset >>> 2];
      const original = this.words[(offset >>> 2) + 1];
      const timestampUs = this.doubles[(offset >>> 3) + 1];
      const start = offset + RECORD_HEADER_LEN;
      visit(this.batch.subarray(start, start + captured), timestampUs, original);
      offset = start + ((captured + 7) & ~7);
    }
  }
}
