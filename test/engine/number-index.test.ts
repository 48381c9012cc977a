import test, { type ExecutionContext } from 'ava';
import { NumberIndex } from '../../src/engine/number-index.js';
import { SeedRun } from '../helpers/seeds.js';
import { prng } from '../wire/util.js';

test('behaves like a Map under random inserts, updates and deletes of 52-bit keys', (t) => {
  const run = new SeedRun(t, [1, 2]);
  for (const seed of run) {
    if (!mapModelRun(t, run, seed)) return;
  }
  run.done();
});

/** One seed's worth of random operations against a Map; false after the first failure. */
function mapModelRun(t: ExecutionContext, run: SeedRun, seed: number): boolean {
  const random = prng(seed);
  const index = new NumberIndex(4);
  const model = new Map<number, number>();
  // A small key space so the same keys come back (updates, deletes, re-inserts over tombstones).
  const keys = Array.from({ length: 3000 }, () => Math.floor(random() * 2 ** 20) * 2 ** 32 + Math.floor(random() * 2 ** 32));
  for (let step = 0; step < 200_000; step++) {
    const key = keys[Math.floor(random() * keys.length)];
    const r = random();
    if (r < 0.5) {
      const value = Math.floor(random() * 1e6);
      index.set(key, value);
      model.set(key, value);
    } else if (r < 0.8) {
      const [got, want] = [index.delete(key), model.delete(key)];
      if (got !== want) return failed(t, `${run.where(seed)} step ${step}: delete gave ${got}, the Map ${want}`);
    } else {
      const [got, want] = [index.get(key), model.get(key) ?? -1];
      if (got !== want) return failed(t, `${run.where(seed)} step ${step}: get gave ${got}, the Map ${want}`);
    }
    run.inputs++;
    if (index.size !== model.size) return failed(t, `${run.where(seed)} step ${step}: size ${index.size} vs ${model.size}`);
  }
  // Every key of the space reads back as the model has it, present or absent.
  for (const key of keys) {
    if (index.get(key) !== (model.get(key) ?? -1)) return failed(t, `${run.where(seed)}: key ${key} reads ${index.get(key)} at the end`);
  }
  index.clear();
  t.is(index.size, 0);
  t.is(index.get(keys[0]), -1);
  return true;
}

function failed(t: ExecutionContext, message: string): false {
  t.fail(message);
  return false;
}

test('keys that collide in the low bits are told apart by the whole key', (t) => {
  const index = new NumberIndex(8);
  // Same low 32 bits, different high 20 bits: same probe start.
  for (let hi = 0; hi < 100; hi++) index.set(hi * 2 ** 32 + 7, hi);
  for (let hi = 0; hi < 100; hi++) t.is(index.get(hi * 2 ** 32 + 7), hi);
  for (let hi = 0; hi < 100; hi += 2) t.true(index.delete(hi * 2 ** 32 + 7));
  for (let hi = 0; hi < 100; hi++) t.is(index.get(hi * 2 ** 32 + 7), hi % 2 === 0 ? -1 : hi);
});

test('a long run of insert/delete churn does not grow the table without bound', (t) => {
  const index = new NumberIndex(16);
  for (let i = 0; i < 1_000_000; i++) {
    index.set(i, i & 0xffff);
    if (i >= 100) index.delete(i - 100);
  }
  t.is(index.size, 100);
  // Deletion leaves no tombstones: the table never grows past twice its peak size.
  t.true((index as unknown as { values: Int32Array }).values.length <= 256);
});
