// The keyed permutation behind --seed/--shard: a bijection of 0..size-1 for every size, shards
// that are disjoint and cover the space, the same order for the same seed, and no memory that
// grows with the space (a space far larger than memory still yields its first elements).
import test from 'ava';
import { Permutation, permutedIndices, shardSize, MAX_PERMUTATION_SIZE } from '../../src/core/permutation.js';
import { InvalidArgumentError } from '../../src/core/errors.js';

// Randomized seeds are printed and can be replayed: PERMUTATION_SEED=123 npx ava test/core/permutation.test.ts
const baseSeed = Number(process.env.TSHK_SEED ?? process.env.PERMUTATION_SEED ?? Math.floor(Math.random() * 2 ** 31));

const covers = test.macro({
  exec(t, size: number, shards: number, seed: number) {
    t.log(`size ${size}, ${shards} shards, seed ${seed} (replay: PERMUTATION_SEED=${baseSeed})`);
    const seen = new Uint8Array(size);
    let total = 0;
    for (let index = 1; index <= shards; index++) {
      const shard = { index, count: shards };
      let n = 0;
      for (const x of permutedIndices(size, seed, shard)) {
        t.true(Number.isInteger(x) && x >= 0 && x < size, `element ${x} is inside 0..${size - 1}`);
        if (seen[x] !== 0) return t.fail(`element ${x} visited twice (second time by shard ${index}/${shards})`);
        seen[x] = 1;
        n++;
      }
      t.is(n, shardSize(size, shard), `shard ${index}/${shards} visits shardSize elements`);
      total += n;
    }
    t.is(total, size, 'the shards cover the whole space');
    t.is(seen.indexOf(0), -1);
  },
  title: (_p, size: number, shards: number) => `${shards} shard(s) of a space of ${size}: disjoint and covering`,
});
for (const [size, shards] of [
  [0, 1], [1, 1], [1, 3], [2, 2], [3, 1], [5, 7], [16, 4], [17, 4], [100, 1], [100, 3], [1000, 7],
  [4096, 16], [4097, 5], [65534, 10], [100_003, 13], [262_144, 2],
] as const) {
  test(covers, size, shards, baseSeed + size);
}

test('a permutation is not the identity and depends on the seed', (t) => {
  const a = [...permutedIndices(1000, baseSeed)];
  const b = [...permutedIndices(1000, baseSeed + 1)];
  const identity = a.filter((x, i) => x === i).length;
  t.true(identity < 50, `only ${identity} of 1000 elements stay in place`);
  t.notDeepEqual(a, b);
});

test('the same seed gives the same order and the same split', (t) => {
  const whole = [...permutedIndices(5000, baseSeed)];
  t.deepEqual([...permutedIndices(5000, baseSeed)], whole);
  // Shard I/N is exactly every Nth element of the unsharded order, starting at I-1.
  for (let index = 1; index <= 3; index++) {
    t.deepEqual([...permutedIndices(5000, baseSeed, { index, count: 3 })], whole.filter((_x, i) => i % 3 === index - 1));
  }
});

test('order does not depend on how far a walk went: at() is random access', (t) => {
  const p = new Permutation(1_000_003, baseSeed);
  const first: number[] = [];
  for (const x of permutedIndices(1_000_003, baseSeed)) if (first.push(x) === 100) break;
  t.deepEqual(Array.from({ length: 100 }, (_x, i) => p.at(i)), first);
});

test('memory is O(1): a space of 2^52 yields its first elements at once, from a few numbers of state', (t) => {
  // A list of this space would need 32 PiB; the permutation holds a size, two numbers and 4 keys.
  const p = new Permutation(MAX_PERMUTATION_SIZE, baseSeed);
  // Every field is a number or a short list of numbers: the state does not grow with the space.
  const stateNumbers = Object.values(p).reduce<number>((n, v) => n + (typeof v === 'number' ? 1 : ArrayBuffer.isView(v) || Array.isArray(v) ? (v as ArrayLike<number>).length : Infinity), 0);
  t.true(stateNumbers <= 16, `${stateNumbers} numbers of state`);
  const firsts: number[] = [];
  for (const x of permutedIndices(MAX_PERMUTATION_SIZE, baseSeed, { index: 5, count: 1000 })) {
    t.true(x >= 0 && x < MAX_PERMUTATION_SIZE);
    firsts.push(x);
    if (firsts.length === 1000) break;
  }
  t.is(new Set(firsts).size, 1000);
  t.is(p.at(MAX_PERMUTATION_SIZE - 1), new Permutation(MAX_PERMUTATION_SIZE, baseSeed).at(MAX_PERMUTATION_SIZE - 1));
});

const rejects = test.macro({
  exec(t, make: () => unknown) {
    t.throws(make, { instanceOf: InvalidArgumentError });
  },
  title: (what: string | undefined) => `rejects ${what}`,
});
test('a negative size', rejects, () => new Permutation(-1, 0));
test('a size over 2^52', rejects, () => new Permutation(MAX_PERMUTATION_SIZE + 1, 0));
test('a fractional seed', rejects, () => new Permutation(10, 1.5));
test('an unsafe seed', rejects, () => new Permutation(10, 2 ** 53));
test('shard 0', rejects, () => [...permutedIndices(10, 0, { index: 0, count: 2 })]);
test('a shard index above the count', rejects, () => [...permutedIndices(10, 0, { index: 3, count: 2 })]);
