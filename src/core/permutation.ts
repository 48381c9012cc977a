// A keyed pseudo-random permutation of 0..size-1, computed one index at a time: what lets a sweep
// visit targets × ports in a scattered order (no subnet gets every SYN at once) and split the
// same space across machines (`--shard I/N --seed S`) without a list of the space in memory.
//
// Construction: a balanced Feistel network over the smallest even number of bits 2h with
// 2^(2h) >= size, four rounds (Luby-Rackoff: four rounds of a pseudo-random function give a
// strong pseudo-random permutation), keyed by the seed; indices that land outside 0..size-1
// are encrypted again until they land inside ("cycle walking", Black & Rogaway 2002). The
// domain is less than 4 × size, so a walk takes fewer than 4 steps on average, and the result
// is a bijection of 0..size-1 because cycle walking a bijection of a superset is one.
// masscan's "blackrock" is the same idea; zmap uses a cyclic group modulo a prime instead,
// which needs a primitive root per size (and 64-bit modular multiplication in JavaScript).
//
// Shards: shard I of N takes the positions I-1, I-1+N, I-1+2N... of the permuted order, so
// shards are disjoint and together cover the space whatever N is, and a machine running shard
// I needs only (size, seed, I, N), never the other shards' state.
import { InvalidArgumentError } from './errors.js';

/** Largest space: indices stay exact doubles and each half fits a 32-bit integer operation. */
export const MAX_PERMUTATION_SIZE = 2 ** 52;

const ROUNDS = 4;

/** One step of splitmix32-style mixing (Murmur3's fmix32 finaliser): a 32-bit bijection. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** The round keys: the seed's two 32-bit halves mixed with the round number. */
function roundKeys(seed: number): Uint32Array {
  const low = seed >>> 0;
  const high = Math.floor(seed / 2 ** 32) >>> 0;
  const keys = new Uint32Array(ROUNDS);
  for (let r = 0; r < ROUNDS; r++) keys[r] = mix32(mix32(low ^ Math.imul(r + 1, 0x9e3779b9)) ^ high);
  return keys;
}

/** Validates a seed: a whole number from 0 to 2^53 - 1. */
export function checkSeed(seed: number): number {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new InvalidArgumentError(`seed must be a whole number from 0 to ${Number.MAX_SAFE_INTEGER}, got ${seed}`);
  }
  return seed;
}

export class Permutation {
  readonly size: number;
  private readonly halfBits: number;
  private readonly halfMask: number;
  /** 2^halfBits, kept to split and join halves above 32 bits, where shifts do not reach. */
  private readonly halfScale: number;
  private readonly keys: Uint32Array;

  constructor(size: number, seed: number) {
    if (!Number.isSafeInteger(size) || size < 0 || size > MAX_PERMUTATION_SIZE) {
      throw new InvalidArgumentError(`a permutation covers 0 to 2^52 elements, got ${size}`);
    }
    this.size = size;
    let bits = 0;
    while (2 ** bits < size) bits++;
    this.halfBits = Math.max(1, Math.ceil(bits / 2));
    this.halfScale = 2 ** this.halfBits;
    this.halfMask = this.halfScale - 1;
    this.keys = roundKeys(checkSeed(seed));
  }

  /** The element at `index` of the permuted order (0 <= index < size). */
  at(index: number): number {
    if (!(index >= 0 && index < this.size) || !Number.isInteger(index)) {
      throw new RangeError(`index ${index} is outside 0..${this.size - 1}`);
    }
    let x = this.encrypt(index);
    while (x >= this.size) x = this.encrypt(x);
    return x;
  }

  /** One Feistel encryption of a value below 2^(2h). */
  private encrypt(value: number): number {
    const h = this.halfBits;
    const mask = this.halfMask;
    const keys = this.keys;
    // Spaces up to 2^32 (every IPv4 sweep) split with shifts; larger ones with division.
    const small = h <= 16;
    let left = small ? value >>> h : Math.floor(value / this.halfScale);
    let right = small ? value & mask : value % this.halfScale;
    for (let r = 0; r < ROUNDS; r++) {
      const next = (left ^ mix32((right ^ keys[r]) >>> 0)) & mask;
      left = right;
      right = next;
    }
    // `& mask` on a mask of at most 26 bits stays a non-negative 32-bit integer.
    return small ? ((left << h) | right) >>> 0 : left * this.halfScale + right;
  }
}

/** Which part of a sharded space this process visits: shard `index` (1-based) of `count`. */
export interface Shard {
  index: number;
  count: number;
}

export function checkShard(shard: Shard): Shard {
  const { index, count } = shard;
  if (!Number.isSafeInteger(count) || count < 1) throw new InvalidArgumentError(`shard count must be a whole number of at least 1, got ${count}`);
  if (!Number.isSafeInteger(index) || index < 1 || index > count) {
    throw new InvalidArgumentError(`shard index must be from 1 to ${count}, got ${index}`);
  }
  return shard;
}

/** The elements of shard `shard` of 0..size-1 in the seed's order, lazily. */
export function* permutedIndices(size: number, seed: number, shard: Shard = { index: 1, count: 1 }): Generator<number> {
  const { index, count } = checkShard(shard);
  const permutation = new Permutation(size, seed);
  for (let position = index - 1; position < size; position += count) yield permutation.at(position);
}

/** How many of 0..size-1 shard `shard` visits. */
export function shardSize(size: number, shard: Shard): number {
  const { index, count } = checkShard(shard);
  return size < index ? 0 : Math.floor((size - index) / count) + 1;
}
