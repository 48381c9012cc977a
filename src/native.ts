// The only importer of the C++ addon (native/*.cc). Everything it returns is a number:
// an fd or a byte count when >= 0, a negated errno when < 0. `systemError` turns the latter into
// a Node-style system error in this one place.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import util from 'node:util';
import { SystemError, UnsupportedError } from './errors.js';

export interface WritableWatch {
  stop(): void;
}

/** A raw socket's send queue, drained by a thread of the addon (native/sender.cc). */
export interface NativeSender {
  /** Registers the caller's queue arrays once; enqueue() reads packets 0..count-1 from them. */
  attach(ring: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, tags: Uint32Array, generations: Uint32Array, family: 4 | 6): void;
  /**
   * Copies the first `accepted` of `count` attached packets (whole IP packets) into the queue
   * and returns `accepted`; each goes to the destination address in its own IP header.
   */
  enqueue(count: number): number;
  /** Sends what is queued for at most `drainMs`, stops the thread; returns packets left unsent. */
  close(drainMs: number): number;
  /** sentInline: packets sent on the calling thread because the sender thread was asleep. */
  stats(): { packetsSent: number; batches: number; sendErrors: number; blockedWaits: number; queued: number; sentInline: number };
}

export interface NativeAddon {
  openRaw(family: 4 | 6, sndbufBytes: number): number;
  send(fd: number, packet: Uint8Array, dst: Uint8Array): number;
  close(fd: number): number;
  /** synRetries >= 0 sets TCP_SYNCNT; -1 keeps the kernel's default. */
  connectStart(dst: Uint8Array, port: number, src: Uint8Array, synRetries?: number): number;
  socketError(fd: number): number;
  /** tcpi_total_retrans from TCP_INFO, or -errno. */
  tcpRetransmits(fd: number): number;
  WritableWatch: new (fd: number, callback: (status: number) => void) => WritableWatch;
  /** `onFailures` gets [errno, tag, generation] triples (errno positive) for refused packets. */
  Sender: new (fd: number, onFailures: (failures: Int32Array) => void) => NativeSender;
}

let cached: NativeAddon | undefined;
let loadError: Error | undefined;

/** Package root: dist/src/native.js and src/native.ts both sit two levels below it (or one). */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (path.basename(dir) === 'src') dir = path.dirname(dir);
    if (path.basename(dir) === 'dist') dir = path.dirname(dir);
  }
  return dir;
}

/** Loads the addon once; throws UnsupportedError with the reason if it was never built. */
export function native(): NativeAddon {
  if (cached) return cached;
  if (loadError) throw loadError;
  try {
    const require = createRequire(import.meta.url);
    const load = require('node-gyp-build') as (dir: string) => NativeAddon;
    cached = load(packageRoot());
    return cached;
  } catch (cause) {
    loadError = new UnsupportedError(
      'the tcp-shaker native addon is not built (run `npm run build` or reinstall the package)',
      { cause },
    );
    throw loadError;
  }
}

/** True when the addon loads; never throws. */
export function nativeAvailable(): boolean {
  try {
    native();
    return true;
  } catch {
    return false;
  }
}

const hints: Record<string, string> = {
  EPERM: 'raw sockets need CAP_NET_RAW (run as root, or `setcap cap_net_raw+ep $(which node)`)',
  EACCES: 'permission denied by the kernel or a security module',
  ENOBUFS: 'the socket send buffer is full',
  EMFILE: 'too many open files (raise `ulimit -n`)',
};

/** The errno name of a negated errno (-111 → 'ECONNREFUSED'); `E<n>` for one Node does not know. */
export function errnoName(rc: number): string {
  try {
    return util.getSystemErrorName(rc);
  } catch {
    return `E${-rc}`;
  }
}

/** Turns a negated errno from the addon into a SystemError with code, errno and syscall. */
export function systemError(rc: number, syscall: string, detail?: string): SystemError {
  const code = errnoName(rc);
  const hint = hints[code];
  const parts = [`${syscall} failed: ${code}`];
  if (detail) parts.push(detail);
  if (hint) parts.push(hint);
  return new SystemError(parts.join(': '), code, rc, syscall);
}
