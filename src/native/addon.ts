// The only importer of the C++ addon (native/*.cc), and its one type. Every call returns a
// number: an fd or a byte count when >= 0, a negated errno when < 0. `systemError` turns the
// latter into a Node-style system error in this one place.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import util from 'node:util';
import { SystemError, UnsupportedError } from '../core/errors.js';
import type { NativeCaptureClass } from './capture.js';
import type { ConnectCalls } from './connect.js';
import type { NativeSenderClass } from './sender.js';

/**
 * The whole addon as TypeScript sees it: one piece per native/*.cc file, each declared in the
 * TypeScript file of the same name. This is the only type the loader hands out.
 */
export interface NativeAddon extends RawSocketCalls, ConnectCalls {
  /** native/capture.cc */
  Capture: NativeCaptureClass;
  /** native/sender.cc */
  Sender: NativeSenderClass;
}

/** native/addon.cc: raw sockets and port claims. Every call returns an fd or a byte count, or -errno. */
export interface RawSocketCalls {
  /** A raw IPPROTO_RAW socket of the family (the packets carry their own IP header). */
  openRaw(family: 4 | 6, sndbufBytes: number): number;
  send(fd: number, packet: Uint8Array, dst: Uint8Array): number;
  close(fd: number): number;
  /**
   * A TCP socket bound to the wildcard address on `port` (both families) that never listens:
   * the raw engine's kernel-held claim on a source port (engine/port-claims.ts). EADDRINUSE when
   * any socket already holds the port. Closing the fd (or the process dying) releases it.
   */
  bindTcpPort(port: number): number;
}

let cached: NativeAddon | undefined;
let loadError: Error | undefined;

/**
 * Package root, where node-gyp-build looks for build/ and prebuilds/: the nearest folder above
 * this module that holds package.json (src/native/ under tsx, dist/src/native/ when built).
 */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
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
