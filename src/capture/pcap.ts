// Live capture through libpcap, behind one small interface so the engine never sees the
// library: open an interface with a BPF filter, get (frame, timestamp) calls, close.
//
// The addon's Capture (native/capture.cc) runs libpcap in immediate mode, non-blocking under a
// libuv poll, and hands over packets in batches: one JavaScript call per readable event (or per
// 1 MiB of records), not one per packet, which at 100k+ packets/s was the bottleneck. This file
// walks each batch and calls the FrameHandler per frame. Timestamps are the kernel's receive
// times (nanosecond precision where libpcap has it), so replies read late still time correctly.
// Only received packets are delivered (PCAP_D_IN), the filter runs in the kernel, and close()
// stops the poll at once: a closed capture keeps neither a packet socket nor the process alive.
//
// Buffer ownership: `frame` is a view into a batch buffer the addon rewrites for the next batch.
// Parse it synchronously inside the callback and keep numbers, never the view.
import { readFileSync } from 'node:fs';
import { RAW_PRIVILEGE_HINT, UnsupportedError } from '../core/errors.js';
import { LinkType } from '../wire/link-type.js';
import { BatchReader, PcapStatus, isPcapFailure, nativeCaptureClass, type NativeCapture } from '../native/capture.js';

export { LinkType };

export interface LiveCaptureOptions {
  iface: string;
  filter: string;
  /** Kernel ring size in bytes (default 8 MiB: about 14k frames at the default snap length). */
  bufferSize?: number;
  /** Bytes kept per packet (the rest is cut); headers are all the engine needs. Default 512. */
  snapLength?: number;
}

/**
 * `frame` is valid only during the call; `timestampUs` is the kernel's capture time in
 * microseconds since the Unix epoch (fractional where nanoseconds are available).
 */
export type FrameHandler = (frame: Uint8Array, timestampUs: number, linkType: number) => void;

export interface LiveCapture {
  readonly iface: string;
  readonly linkType: number;
  close(): void;
  stats(): { received: number; dropped: number; ifDropped: number };
}

const DEFAULT_BUFFER_SIZE = 8 * 1024 * 1024;

/**
 * The largest reply the engine must read whole is an ICMPv6 error quoting our SYN: Linux SLL2
 * header 20 + IPv6 40 + ICMPv6 8 + quoted IPv6 40 + quoted TCP up to 60 = 168 bytes, before
 * any extension headers (outer or quoted). 512 leaves 344 bytes for those, which is generous,
 * and keeps each ring frame small: libpcap cuts its ring into snap-length-sized frames.
 */
const DEFAULT_SNAP_LENGTH = 512;

/** CAP_NET_RAW (bit 13) in the effective set: without it libpcap cannot open a socket. */
function mayCapture(): boolean {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/im.exec(readFileSync('/proc/self/status', 'utf8'));
    return m !== null && (BigInt(`0x${m[1]}`) & (1n << 13n)) !== 0n;
  } catch {
    return true; // no /proc: let libpcap decide
  }
}

/** Opens a capture or throws UnsupportedError saying why, with libpcap's message. */
export function openLiveCapture(options: LiveCaptureOptions, onFrame: FrameHandler): LiveCapture {
  const Capture = nativeCaptureClass();
  if (!mayCapture()) {
    throw new UnsupportedError(`cannot capture on ${options.iface}: this process lacks CAP_NET_RAW; ${RAW_PRIVILEGE_HINT}`);
  }
  let open = true;
  let native: NativeCapture | undefined;
  let reader: BatchReader | undefined;
  let linkType = -1;
  const close = (): void => {
    if (!open) return;
    open = false;
    native?.close();
  };
  const deliver = (frame: Uint8Array, timestampUs: number): void => {
    if (!open) return; // the handler closed the capture part-way through a batch
    try {
      onFrame(frame, timestampUs, linkType);
    } catch {
      // A handler bug costs one packet, not the capture.
    }
  };
  const onBatch = (count: number, bytes: number, error?: string): void => {
    if (error !== undefined) {
      process.emitWarning(`capture on ${options.iface} stopped: ${error}`, { code: 'TCP_SHAKER_CAPTURE_LOST' });
      close();
      return;
    }
    reader?.forEach(count, bytes, deliver);
  };
  try {
    native = new Capture(
      options.iface,
      options.filter,
      options.bufferSize ?? DEFAULT_BUFFER_SIZE,
      options.snapLength ?? DEFAULT_SNAP_LENGTH,
      onBatch,
    );
  } catch (cause) {
    if (!isPcapFailure(cause)) throw cause;
    const permission = cause.status === PcapStatus.PERM_DENIED || /permi|not permitted/i.test(cause.message);
    const hint = permission ? ' (capturing needs CAP_NET_RAW)' : '';
    throw new UnsupportedError(`cannot capture on ${options.iface}: ${cause.message}${hint}`, { cause });
  }
  const opened = native;
  reader = new BatchReader(opened.batch);
  linkType = opened.linkType;
  return { iface: options.iface, linkType, close, stats: () => opened.stats() };
}
