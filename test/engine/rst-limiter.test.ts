// RstLimiter: a token bucket per destination for the extra RSTs the engine sends to late
// SYN-ACKs. The clock is a parameter, so every case here is exact arithmetic, no real time.
import test from 'ava';
import { RstLimiter } from '../../src/engine/rst-limiter.js';

/** Runs `calls` of [destination, nowMs] and returns the allow() answers. */
function run(limiter: RstLimiter, calls: Array<[number, number]>): boolean[] {
  return calls.map(([destination, now]) => limiter.allow(destination, now));
}

const bucket = test.macro({
  exec(t, make: () => RstLimiter, calls: Array<[number, number]>, expected: boolean[]) {
    t.deepEqual(run(make(), calls), expected);
  },
  title: (what: string | undefined) => `RstLimiter: ${what ?? ''}`,
});

const times = (n: number, destination: number, now: number) => Array.from({ length: n }, (): [number, number] => [destination, now]);

test('a burst of `burst` RSTs, then none at the same instant', bucket, () => new RstLimiter(10, 10), times(11, 1, 0), [...Array(10).fill(true), false]);
test('refills at `perSecond`: one token per 100 ms at 10/s', bucket, () => new RstLimiter(10, 10), [...times(10, 1, 0), [1, 50], [1, 100], [1, 150], [1, 200]], [
  ...Array(10).fill(true),
  false, // half a token
  true, // the half plus another half: one token
  false,
  true,
]);
test('the bucket never holds more than `burst`', bucket, () => new RstLimiter(10, 3), [...times(3, 1, 0), ...times(4, 1, 60_000)], [true, true, true, true, true, true, false]);
test('destinations have separate buckets', bucket, () => new RstLimiter(1, 1), [[1, 0], [1, 0], [2, 0], [2, 0], [3, 0]], [true, false, true, false, true]);
test('a denied call does not spend a token', bucket, () => new RstLimiter(1, 1), [[1, 0], [1, 500], [1, 999], [1, 1000]], [true, false, false, true]);
test('burst 0 never allows', bucket, () => new RstLimiter(10, 0), [[1, 0], [1, 10_000]], [false, false]);

test('RstLimiter: past maxDestinations it forgets every bucket rather than grow', (t) => {
  const limiter = new RstLimiter(1, 1, 2);
  t.deepEqual(run(limiter, [[1, 0], [2, 0]]), [true, true]);
  t.false(limiter.allow(1, 0), 'destination 1 is out of tokens');
  t.true(limiter.allow(3, 0), 'a third destination: the table is reset and 3 starts full');
  t.true(limiter.allow(1, 0), 'destination 1 was forgotten, so it starts full again');
});

test('RstLimiter: known destinations do not trigger the reset', (t) => {
  const limiter = new RstLimiter(1, 1, 2);
  limiter.allow(1, 0);
  limiter.allow(2, 0);
  t.false(limiter.allow(2, 0));
  t.false(limiter.allow(1, 0), 'still limited: no reset for a destination already tracked');
});
