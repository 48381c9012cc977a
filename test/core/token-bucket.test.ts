// The --rate token bucket, driven by a fake clock: each row is a sequence of steps (advance the
// clock, then take) and what take() answers. No wall time anywhere.
import test from 'ava';
import { defaultBucketCapacity, TokenBucket } from '../../src/core/token-bucket.js';

/** [advance ms, expected answer of take(): 0 = got a token, else the wait in ms]. */
type Step = [number, number];

const bucket = test.macro({
  exec(t, rate: number, capacity: number, steps: Step[]) {
    let now = 1000;
    const b = new TokenBucket(rate, capacity, () => now);
    steps.forEach(([advance, expected], i) => {
      now += advance;
      t.is(Number(b.take().toFixed(6)), expected, `step ${i}`);
    });
  },
  title: (what = '') => `token bucket: ${what}`,
});
test('starts full, then one token per 1/rate', bucket, 10, 1, [
  [0, 0],
  [0, 100],
  [50, 50],
  [50, 0],
  [0, 100],
]);
test('the capacity bounds the saved-up burst', bucket, 10, 3, [
  [0, 0],
  [0, 0],
  [0, 0],
  [0, 100],
  [10_000, 0], // ten seconds idle still saves only 3
  [0, 0],
  [0, 0],
  [0, 100],
]);
test('fractional rates (one every 2 s)', bucket, 0.5, 1, [
  [0, 0],
  [0, 2000],
  [1500, 500],
  [500, 0],
]);
test('a refused take costs nothing', bucket, 1000, 1, [
  [0, 0],
  [0, 1],
  [0, 1],
  [0.5, 0.5],
  [0.5, 0],
]);
test('high rates: several tokens per millisecond', bucket, 10_000, 200, [
  ...Array.from({ length: 200 }, (): Step => [0, 0]),
  [0, 0.1],
  [1, 0], // 10 tokens came in
  ...Array.from({ length: 9 }, (): Step => [0, 0]),
  [0, 0.1],
]);

test('over a long run, the rate holds exactly', (t) => {
  let now = 0;
  const b = new TokenBucket(250, 5, () => now);
  let taken = 0;
  // A caller that wakes every 3 ms and takes all it can, for 10 simulated seconds.
  for (; now <= 10_000; now += 3) while (b.take() === 0) taken++;
  // 5 saved at the start, then 250 a second.
  t.true(Math.abs(taken - (5 + 2500)) <= 1, `took ${taken}`);
});

test('default capacity is 20 ms worth, at least one', (t) => {
  t.is(defaultBucketCapacity(1), 1);
  t.is(defaultBucketCapacity(0.1), 1);
  t.is(defaultBucketCapacity(1000), 20);
  t.is(defaultBucketCapacity(10_001), 201);
});

test('rejects a rate of 0 and a capacity below 1', (t) => {
  t.throws(() => new TokenBucket(0), { instanceOf: RangeError });
  t.throws(() => new TokenBucket(Number.NaN), { instanceOf: RangeError });
  t.throws(() => new TokenBucket(10, 0.5), { instanceOf: RangeError });
});
