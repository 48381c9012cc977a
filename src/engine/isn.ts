// Initial sequence numbers for probes, as RFC 6528 asks of any TCP: ISN = M + F(4-tuple, secret),
// M a 4 µs clock, F a keyed hash. F is HalfSipHash (Linux's choice for the same job) with a
// per-engine random key, so a reply that echoes ISN+1 proves its sender saw our SYN.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { halfSipHash, type HalfSipKey } from './halfsiphash.js';

export class IsnGenerator {
  private readonly key: HalfSipKey;
  private readonly words = new Uint32Array(9);

  constructor(key?: HalfSipKey) {
    if (key) {
      this.key = key;
    } else {
      const bytes = randomBytes(8);
      this.key = [bytes.readUInt32LE(0), bytes.readUInt32LE(4)];
    }
  }

  /** `local`/`remote` are 4 or 16 bytes; `nowMs` on the performance.now() clock. */
  next(local: Uint8Array, remote: Uint8Array, localPort: number, remotePort: number, nowMs = performance.now()): number {
    const w = this.words;
    let n = 0;
    for (let i = 0; i < local.length; i += 4) n = putWord(w, n, local, i);
    for (let i = 0; i < remote.length; i += 4) n = putWord(w, n, remote, i);
    w[n++] = ((localPort << 16) | remotePort) >>> 0;
    const m = Math.floor((performance.timeOrigin + nowMs) * 250) >>> 0;
    return (halfSipHash(this.key, w, n) + m) >>> 0;
  }
}

function putWord(w: Uint32Array, n: number, bytes: Uint8Array, i: number): number {
  w[n] = ((bytes[i] << 24) | (bytes[i + 1] << 16) | (bytes[i + 2] << 8) | bytes[i + 3]) >>> 0;
  return n + 1;
}
