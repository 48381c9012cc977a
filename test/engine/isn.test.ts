// IsnGenerator: RFC 6528's ISN = M + F(4-tuple, secret). With a fixed key and clock the value is
// recomputed here from the formula (words big-endian from the addresses, then the ports), so the
// test pins the exact construction; the properties that matter on the wire follow.
import test from 'ava';
import { halfSipHash, type HalfSipKey } from '../../src/engine/halfsiphash.js';
import { IsnGenerator } from '../../src/engine/isn.js';
import { ip } from '../wire/util.js';

const KEY: HalfSipKey = [0x01234567, 0x89abcdef];

/** The RFC 6528 formula written out independently: F over (local, remote, ports) plus a 4 µs clock. */
function expectedIsn(key: HalfSipKey, local: Uint8Array, remote: Uint8Array, localPort: number, remotePort: number, nowMs: number): number {
  const words: number[] = [];
  for (const a of [local, remote]) {
    const view = new DataView(a.buffer, a.byteOffset, a.byteLength);
    for (let i = 0; i < a.length; i += 4) words.push(view.getUint32(i, false));
  }
  words.push(localPort * 0x10000 + remotePort);
  const m = Math.floor((performance.timeOrigin + nowMs) * 250) % 2 ** 32;
  return (halfSipHash(key, words) + m) % 2 ** 32;
}

const formula = test.macro({
  exec(t, local: string, remote: string, localPort: number, remotePort: number) {
    const gen = new IsnGenerator(KEY);
    for (const nowMs of [0, 1234.5678, 1e7]) {
      t.is(gen.next(ip(local), ip(remote), localPort, remotePort, nowMs), expectedIsn(KEY, ip(local), ip(remote), localPort, remotePort, nowMs));
    }
  },
  title: (_p, local: string, remote: string, localPort: number, remotePort: number) => `ISN of ${local}.${localPort} > ${remote}.${remotePort} follows RFC 6528's formula`,
});
test(formula, '198.18.0.1', '198.18.0.2', 61000, 80);
test(formula, '255.255.255.255', '0.0.0.0', 65535, 1);
test(formula, '2001:2::1', '2001:2::2', 61000, 443);
test(formula, '2001:2::1', '2001:2::2', 65535, 65535);

test('the same tuple at the same instant gives the same ISN; IPv4 after IPv6 reuses the word buffer correctly', (t) => {
  const gen = new IsnGenerator(KEY);
  const v4 = gen.next(ip('198.18.0.1'), ip('198.18.0.2'), 61000, 80, 500);
  gen.next(ip('2001:2::1'), ip('2001:2::2'), 61000, 80, 500); // fills all 9 words
  t.is(gen.next(ip('198.18.0.1'), ip('198.18.0.2'), 61000, 80, 500), v4);
});

test('every part of the tuple changes the ISN', (t) => {
  const gen = new IsnGenerator(KEY);
  const base = gen.next(ip('198.18.0.1'), ip('198.18.0.2'), 61000, 80, 500);
  t.not(gen.next(ip('198.18.0.9'), ip('198.18.0.2'), 61000, 80, 500), base);
  t.not(gen.next(ip('198.18.0.1'), ip('198.18.0.9'), 61000, 80, 500), base);
  t.not(gen.next(ip('198.18.0.1'), ip('198.18.0.2'), 61001, 80, 500), base);
  t.not(gen.next(ip('198.18.0.1'), ip('198.18.0.2'), 61000, 81, 500), base);
  t.not(gen.next(ip('198.18.0.2'), ip('198.18.0.1'), 61000, 80, 500), base, 'direction matters');
});

test('the clock term advances 250 per millisecond (a 4 µs tick), mod 2^32', (t) => {
  const gen = new IsnGenerator(KEY);
  const at = (nowMs: number) => gen.next(ip('198.18.0.1'), ip('198.18.0.2'), 61000, 80, nowMs);
  for (const nowMs of [0, 10, 123_456.789]) {
    const step = (at(nowMs + 1) - at(nowMs) + 2 ** 32) % 2 ** 32;
    // Floating point may move the floor() by one either way.
    t.true(step >= 249 && step <= 251, `step ${step} at ${nowMs}`);
  }
});

test('ISNs are u32 and differ between generators with random keys', (t) => {
  const a = new IsnGenerator();
  const b = new IsnGenerator();
  const args = [ip('198.18.0.1'), ip('198.18.0.2'), 61000, 80, 42] as const;
  const x = a.next(...args);
  t.true(Number.isInteger(x) && x >= 0 && x < 2 ** 32);
  // Two random 64-bit keys colliding in 32 bits of output: about 1 in 4 billion.
  t.not(x, b.next(...args));
});
