// Live capture through libpcap (npm `cap`), kept behind one small interface so the engine
// never sees the library: open an interface with a BPF filter, get (frame, timestamp) calls,
// close. `cap` runs libpcap in immediate mode, non-blocking under a libuv poll, and its close()
// stops the poll and closes the handle at once. (npm `pcap` hands over capture timestamps but
// only closes its handle when the next packet arrives: an idle engine would keep a packet
// socket open and the process alive after close().) `cap` gives no timestamp, so frames are
// stamped with the wall clock when they reach JavaScript; in immediate mode that is within
// microseconds of the kernel's receive time at the rates a health checker runs.
//
// Buffer ownership: `frame` is a view of one Buffer the library reuses for every packet. Parse
// it synchronously inside the callback and keep numbers, never the view.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { UnsupportedError } from '../errors.js';
import { LinkType } from './pcap-file.js';

export { LinkType };

export interface LiveCaptureOptions {
  iface: string;
  filter: string;
  /** Kernel buffer size in bytes. */
  bufferSize?: number;
  /** Bytes kept per packet (the rest is cut); headers are all the engine needs. */
  snapLength?: number;
}

export type FrameHandler = (frame: Uint8Array, timestampUs: number, linkType: number) => void;

export interface LiveCapture {
  readonly iface: string;
  readonly linkType: number;
  close(): void;
  stats(): { received: number; dropped: number; ifDropped: number };
}

interface CapInstance {
  open(device: string, filter: string, bufSize: number, buffer: Buffer): string;
  on(event: 'packet', cb: (nbytes: number, truncated: boolean) => void): void;
  removeAllListeners(): void;
  close(): void;
  stats?(): { ps_recv: number; ps_drop: number; ps_ifdrop: number };
}

interface CapModule {
  Cap: new () => CapInstance;
}

let capModule: CapModule | undefined;

function loadCap(): CapModule {
  if (capModule) return capModule;
  try {
    const require = createRequire(import.meta.url);
    capModule = require('cap') as CapModule;
    return capModule;
  } catch (cause) {
    throw new UnsupportedError('libpcap capture is unavailable: the `cap` package did not load (is libpcap installed, and were its install scripts allowed to build it?)', { cause });
  }
}

function linkTypeNumber(name: string): number {
  switch (name) {
    case 'ETHERNET':
      return LinkType.ETHERNET;
    case 'LINKTYPE_LINUX_SLL':
      return LinkType.LINUX_SLL;
    case 'RAW':
      return LinkType.RAW;
    case 'NULL':
      return LinkType.NULL;
    default: {
      // Types the library has no name for come as "Unknown linktype N" (e.g. SLL2 = 276).
      const m = /(\d+)/.exec(name);
      return m ? Number(m[1]) : -1;
    }
  }
}

// `cap` crashes the process (a libuv assertion, or a segfault) when an instance whose open()
// failed is closed or garbage-collected: its destructor stops a poll handle that was never
// started. Failed instances are therefore kept here for the life of the process. There is one
// per failed open, i.e. per user error, so this stays small.
const failedInstances: CapInstance[] = [];

/** CAP_NET_RAW (bit 13) in the effective set: without it libpcap cannot open a socket. */
function mayCapture(): boolean {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/im.exec(readFileSync('/proc/self/status', 'utf8'));
    return m !== null && (BigInt(`0x${m[1]}`) & (1n << 13n)) !== 0n;
  } catch {
    return true; // no /proc: let libpcap decide
  }
}

export function openLiveCapture(options: LiveCaptureOptions, onFrame: FrameHandler): LiveCapture {
  const { Cap } = loadCap();
  if (!mayCapture()) {
    throw new UnsupportedError(`cannot capture on ${options.iface}: this process lacks CAP_NET_RAW`);
  }
  const cap = new Cap();
  const buffer = Buffer.alloc(options.snapLength ?? 512);
  let linkName: string;
  try {
    linkName = cap.open(options.iface, options.filter, options.bufferSize ?? 8 * 1024 * 1024, buffer);
  } catch (cause) {
    failedInstances.push(cap);
    const text = cause instanceof Error ? cause.message : String(cause);
    const hint = /permi|not permitted/i.test(text) ? ' (capturing needs CAP_NET_RAW)' : '';
    throw new UnsupportedError(`cannot capture on ${options.iface}: ${text}${hint}`, { cause });
  }
  const linkType = linkTypeNumber(linkName);
  let open = true;
  const wallOrigin = performance.timeOrigin * 1000;
  cap.on('packet', (nbytes) => {
    if (!open) return;
    const timestampUs = wallOrigin + performance.now() * 1000;
    try {
      onFrame(buffer.subarray(0, nbytes), timestampUs, linkType);
    } catch {
      // The handler must not throw (it runs inside libpcap's dispatch loop); a bug there costs
      // one packet, not the engine.
    }
  });
  return {
    iface: options.iface,
    linkType,
    close() {
      if (!open) return;
      open = false;
      cap.removeAllListeners();
      cap.close();
    },
    stats() {
      try {
        const s = cap.stats?.();
        return s ? { received: s.ps_recv, dropped: s.ps_drop, ifDropped: s.ps_ifdrop } : { received: 0, dropped: 0, ifDropped: 0 };
      } catch {
        return { received: 0, dropped: 0, ifDropped: 0 };
      }
    },
  };
}
