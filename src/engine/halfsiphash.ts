// HalfSipHash-2-4 (32-bit output), the keyed hash Linux uses as `hsiphash` for exactly this kind of
// job: sequence numbers and port choices that an off-path attacker must not predict (RFC 6528
// asks for a keyed PRF of the 4-tuple). Written on 32-bit integers, so no BigInt and no
// allocation per call: the engine hashes one 4-tuple per probe.

export type HalfSipKey = readonly [number, number];

function rotl(x: number, b: number): number {
  return ((x << b) | (x >>> (32 - b))) >>> 0;
}

/** Hashes `words` (each a u32) under `key`; the message length is words.length * 4 bytes. */
export function halfSipHash(key: HalfSipKey, words: ArrayLike<number>, count = words.length): number {
  let v0 = key[0] >>> 0;
  let v1 = key[1] >>> 0;
  let v2 = (0x6c796765 ^ key[0]) >>> 0;
  let v3 = (0x74656462 ^ key[1]) >>> 0;

  const round = (): void => {
    v0 = (v0 + v1) >>> 0; v1 = rotl(v1, 5); v1 = (v1 ^ v0) >>> 0; v0 = rotl(v0, 16);
    v2 = (v2 + v3) >>> 0; v3 = rotl(v3, 8); v3 = (v3 ^ v2) >>> 0;
    v0 = (v0 + v3) >>> 0; v3 = rotl(v3, 7); v3 = (v3 ^ v0) >>> 0;
    v2 = (v2 + v1) >>> 0; v1 = rotl(v1, 13); v1 = (v1 ^ v2) >>> 0; v2 = rotl(v2, 16);
  };

  for (let i = 0; i < count; i++) {
    const m = words[i] >>> 0;
    v3 = (v3 ^ m) >>> 0;
    round();
    round();
    v0 = (v0 ^ m) >>> 0;
  }
  // Final block: the length in bytes in the top byte, no tail (we only hash whole words).
  const b = ((count * 4) << 24) >>> 0;
  v3 = (v3 ^ b) >>> 0;
  round();
  round();
  v0 = (v0 ^ b) >>> 0;
  v2 = (v2 ^ 0xff) >>> 0;
  round();
  round();
  round();
  round();
  return (v1 ^ v3) >>> 0;
}
