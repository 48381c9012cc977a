// The only importer of the C++ addon (native/*.cc), and its one type. Every call returns a
// number: an fd or a byte count when >= 0, a negated errno when < 0. `systemError` turns the
// latter into a Node-style system error in this one place.
//
// Loading: node-gyp-build picks build/Release (built from source) over prebuilds/ (the binary
// shipped in the package). When neither loads, nothing throws at import time: `addonStatus()`
// says why and what a consumer can do, `native()` throws that as AddonUnavailableError, and the
// chooser turns it into a loud fallback to connect.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import util from 'node:util';
import { AddonUnavailableError, RAW_PRIVILEGE_HINT, type ShakerError, SystemError, UnsupportedError } from '../core/errors.js';
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

/** Where the loaded addon came from (doctor reports it). */
export type AddonOrigin = 'prebuilt' | 'source';

export type AddonStatus =
  | { available: true; file: string; origin: AddonOrigin }
  | { available: false; error: AddonUnavailableError };

/** Set to 1 to behave as if the addon were missing (tests of the fallback, or to rule it out). */
export const NO_ADDON_ENV = 'TCP_SHAKER_NO_ADDON';

// What a consumer (not a developer of this package) runs to get the addon built here.
const BUILD_FROM_SOURCE =
  'install g++, make, python3 and libpcap-dev, allow tcp-shaker\'s install script (README, Install), then run `npm rebuild tcp-shaker --build-from-source`';

let status: AddonStatus | undefined;
let addon: NativeAddon | undefined;

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

/** The first line of a loader error: dlopen's message, without node-gyp-build's search list. */
function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0].trim();
}

/** Why a found binary would not load, and what the consumer does about it. */
export function loadFailure(file: string, cause: unknown): AddonUnavailableError {
  const message = firstLine(cause);
  const reason = `${file} failed to load (${message})`;
  if (/libpcap\.so/.test(message)) {
    return new AddonUnavailableError(reason, 'install the libpcap run-time library (Debian/Ubuntu: `apt-get install libpcap0.8`)', { cause });
  }
  if (/GLIBC(XX)?_|CXXABI_/.test(message)) {
    return new AddonUnavailableError(
      reason,
      `this system's C/C++ run-time is older than the prebuilt binary's (glibc 2.34, libstdc++ of GCC 12): ${BUILD_FROM_SOURCE}`,
      { cause },
    );
  }
  return new AddonUnavailableError(reason, BUILD_FROM_SOURCE, { cause });
}

function load(): AddonStatus {
  if (process.env[NO_ADDON_ENV] === '1') {
    return { available: false, error: new AddonUnavailableError(`disabled by ${NO_ADDON_ENV}=1`, `unset ${NO_ADDON_ENV}`) };
  }
  if (process.platform !== 'linux') {
    // The addon is Linux-only (raw sockets, libpcap, TCP_QUICKACK); binding.gyp builds nothing
    // elsewhere and install does not try.
    return {
      available: false,
      error: new AddonUnavailableError(`it is Linux-only and this is ${process.platform}`, 'run on Linux for half-open checks'),
    };
  }
  const require = createRequire(import.meta.url);
  const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };
  const root = packageRoot();
  let file: string;
  try {
    file = nodeGypBuild.resolve(root);
  } catch (cause) {
    return {
      available: false,
      error: new AddonUnavailableError(`no prebuilt binary for ${process.platform}-${process.arch} and none built from source`, BUILD_FROM_SOURCE, {
        cause,
      }),
    };
  }
  try {
    addon = require(file) as NativeAddon;
  } catch (cause) {
    return { available: false, error: loadFailure(path.relative(root, file), cause) };
  }
  const origin: AddonOrigin = file.startsWith(path.join(root, 'prebuilds') + path.sep) ? 'prebuilt' : 'source';
  return { available: true, file, origin };
}

/** Whether the addon loads, from where, or why not (loaded once, then remembered). */
export function addonStatus(): AddonStatus {
  status ??= load();
  return status;
}

/** The addon; throws AddonUnavailableError (code ERR_SHAKER_NO_ADDON) naming the cause and the fix. */
export function native(): NativeAddon {
  const s = addonStatus();
  if (!s.available) throw s.error;
  return addon!;
}

const hints: Record<string, string> = {
  EACCES: 'permission denied by the kernel or a security module',
  ENOBUFS: 'the socket send buffer is full',
  EMFILE: 'too many open files (raise `ulimit -n`)',
};

/** EPERM from socket() is a missing capability; from a send, a local firewall rule said no. */
function hintFor(code: string, syscall: string): string | undefined {
  if (code === 'EPERM') return syscall === 'socket' ? RAW_PRIVILEGE_HINT : 'refused by a local firewall rule or security module';
  return hints[code];
}

/**
 * A failed raw socket(): without CAP_NET_RAW (EPERM, or EACCES from a security module) that is
 * the documented UnsupportedError, with the SystemError as its cause; anything else stays a
 * SystemError.
 */
export function rawSocketError(rc: number, family: 4 | 6): ShakerError {
  const error = systemError(rc, 'socket', `raw IPv${family} socket`);
  if (error.code !== 'EPERM' && error.code !== 'EACCES') return error;
  return new UnsupportedError(`cannot open a raw IPv${family} socket (${error.code}): ${RAW_PRIVILEGE_HINT}`, { cause: error });
}

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
  const hint = hintFor(code, syscall);
  const parts = [`${syscall} failed: ${code}`];
  if (detail) parts.push(detail);
  if (hint) parts.push(hint);
  return new SystemError(parts.join(': '), code, rc, syscall);
}
