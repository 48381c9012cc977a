// HalfSipHash-2-4 (32-bit output), the keyed hash Linux uses as `hsiphash` for exactly this kind of
// job: sequence numbers and port choices that an off-path attacker must not predict (RFC 6528
// asks for a keyed PRF of the 4-tuple). Written on 32-bit integers, so no BigInt and no
// allocation per call: the engine hashes one 4-tuple per probe. The state lives in a module-level
// Int32Array so the SipRound helper needs neither a closure nor an object per call.

export type HalfSipKey = readonly [number, number];

const v = new Int32Array(4);

function sipRound(): void {
  let v0 = v[0];
  let v1 = v[1];
  let v2 = v[2];
  let v3 = v[3];
  v0 = (v0 + v1) | 0;
  v1 = (v1 << 5) | (v1 >>> 27);
  v1 ^= v0;
  v0 = (v0 << 16) | (v0 >>> 16);
  v2 = (v2 + v3) | 0;
  v3 = (v3 << 8) | (v3 >>> 24);
  v3 ^= v2;
  v0 = (v0 + v3) | 0;
  v3 = (v3 << 7) | (v3 >>> 25);
  v3 ^= v0;
  v2 = (v2 + v1) | 0;
  v1 = (v1 << 13) | (v1 >>> 19);
  v1 ^= v2;
  v2 = (v2 << 16) | (v2 >>> 16);
  v[0] = v0;
  v[1] = v1;
  v[2] = v2;
  v[3] = v3;
}

/** Hashes `words` (each a u32) under `key`; the message length is count * 4 bytes. */
export function halfSipHash(key: HalfSipKey, words: ArrayLike<number>, count = words.length): number {
  v[0] = key[0];
  v[1] = key[1];
  v[2] = 0x6c796765 ^ key[0];
  v[3] = 0x74656462 ^ key[1];
  for (let i = 0; i < count; i++) {
    const m = words[i] | 0;
    v[3] ^= m;
    sipRound();
    sipRound();
    v[0] ^= m;
  }
  // Final block: the length in bytes in the top byte, no tail (we only hash whole words).
  const b = (count * 4) << 24;
  v[3] ^= b;
  sipRound();
  sipRound();
  v[0] ^= b;
  v[2] ^= 0xff;
  sipRound();
  sipRound();
  sipRound();
  sipRound();
  return (v[1] ^ v[3]) >>> 0;
}
