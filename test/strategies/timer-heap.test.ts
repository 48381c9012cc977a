import test from 'ava';
import { TimerHeap, type TimerClock } from '../../src/strategies/timer-heap.js';

/** A clock that moves only when told and a timer that fires only when told. */
class FakeClock implements TimerClock {
  time = 0;
  armed: { callback: () => void; at: number } | undefined;
  timersSet = 0;

  now(): number {
    return this.time;
  }
  setTimer(callback: () => void, delayMs: number): unknown {
    this.timersSet++;
    this.armed = { callback, at: this.time + delayMs };
    return this.armed;
  }
  clearTimer(handle: unknown): void {
    if (this.armed === handle) this.armed = undefined;
  }
  /** Moves the clock to `time`, firing the armed timer whenever it falls due. */
  advance(time: number): void {
    while (this.armed !== undefined && this.armed.at <= time) {
      const { callback, at } = this.armed;
      this.armed = undefined;
      this.time = at;
      callback();
    }
    this.time = time;
  }
}

function setUp() {
  const clock = new FakeClock();
  const heap = new TimerHeap(clock);
  const fired: string[] = [];
  const add = (deadline: number, name: string) => heap.add(deadline, () => fired.push(name));
  return { clock, heap, fired, add };
}

test('expires entries in deadline order, ties in insertion order', (t) => {
  const { clock, fired, add } = setUp();
  add(30, 'c');
  add(10, 'a');
  add(20, 'b1');
  add(20, 'b2');
  add(50, 'e');
  clock.advance(25);
  t.deepEqual(fired, ['a', 'b1', 'b2']);
  clock.advance(100);
  t.deepEqual(fired, ['a', 'b1', 'b2', 'c', 'e']);
});

test('one timer, armed for the earliest deadline only', (t) => {
  const { clock, add } = setUp();
  add(100, 'late');
  t.is(clock.armed?.at, 100);
  add(200, 'later');
  t.is(clock.timersSet, 1, 'a later deadline does not touch the timer');
  add(40, 'early');
  t.is(clock.armed?.at, 40, 'an earlier deadline re-arms it');
  t.is(clock.timersSet, 2);
});

test('cancel removes from anywhere in the heap; double cancel is false', (t) => {
  const { clock, heap, fired, add } = setUp();
  const entries = [50, 10, 40, 20, 30, 60, 70].map((d) => add(d, String(d)));
  t.true(heap.cancel(entries[2]));
  t.false(heap.cancel(entries[2]));
  t.true(heap.cancel(entries[1]));
  t.is(heap.size, 5);
  clock.advance(1000);
  t.deepEqual(fired, ['20', '30', '50', '60', '70']);
  t.false(heap.cancel(entries[0]), 'an expired entry cannot be cancelled');
});

test('cancelling the last entry disarms the timer', (t) => {
  const { clock, heap, add } = setUp();
  const only = add(10, 'x');
  heap.cancel(only);
  t.is(clock.armed, undefined);
});

test('a timer that fires before the deadline on this clock re-arms instead of expiring early', (t) => {
  const { clock, fired, add } = setUp();
  add(10.4, 'x');
  // setTimer got ceil(10.4) = 11 ms; simulate Node's ms clock firing at 10 instead.
  clock.armed!.at = 10;
  clock.advance(10);
  t.deepEqual(fired, []);
  t.truthy(clock.armed, 're-armed');
  clock.advance(11);
  t.deepEqual(fired, ['x']);
});

test('callbacks may add and cancel entries while expiring', (t) => {
  const { clock, heap, fired, add } = setUp();
  const victim = add(30, 'victim');
  heap.add(10, () => {
    fired.push('first');
    heap.cancel(victim);
    add(20, 'added');
  });
  clock.advance(100);
  t.deepEqual(fired, ['first', 'added']);
  t.is(heap.size, 0);
});

test('clear drops everything without calling it', (t) => {
  const { clock, heap, fired, add } = setUp();
  add(10, 'a');
  add(20, 'b');
  heap.clear();
  t.is(heap.size, 0);
  t.is(clock.armed, undefined);
  clock.advance(100);
  t.deepEqual(fired, []);
});

test('a heap of many random deadlines with random cancels expires the rest in order', (t) => {
  const { clock, heap } = setUp();
  const order: number[] = [];
  const entries = Array.from({ length: 500 }, (_, i) => {
    const deadline = (i * 7919) % 1000;
    return { deadline, entry: heap.add(deadline, () => order.push(deadline)) };
  });
  const kept = entries.filter((_, i) => i % 3 !== 0 || !heap.cancel(entries[i].entry));
  clock.advance(2000);
  t.deepEqual(order, kept.map((e) => e.deadline).sort((a, b) => a - b));
});
