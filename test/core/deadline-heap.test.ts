// DeadlineHeap: a typed-array min-heap of (time, slot, generation). Its order is checked against
// a plain sort (the oracle) under seeded random pushes; DeadlineTimer is checked for the order and
// behaviour of what fires with real short delays, never for how long anything took.
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeadlineHeap, DeadlineTimer } from '../../src/core/deadline-heap.js';
import { SeedRun } from '../helpers/seeds.js';
import { prng } from '../wire/util.js';

interface Entry {
  time: number;
  slot: number;
  gen: number;
}

function drain(heap: DeadlineHeap, now = Infinity): Entry[] {
  const out: Entry[] = [];
  heap.popDue(now, (slot, gen) => out.push({ time: NaN, slot, gen }));
  return out;
}

const randomOrder = test.macro({
  exec(t, seed: number, count: number, initialCapacity: number) {
    const random = prng(seed);
    const heap = new DeadlineHeap(initialCapacity);
    const pushed: Entry[] = [];
    for (let i = 0; i < count; i++) {
      // Integer times in a small range, so many ties; slot is the push index so it names the entry.
      const e = { time: Math.floor(random() * count), slot: i, gen: Math.floor(random() * 2 ** 32) >>> 0 };
      pushed.push(e);
      heap.push(e.time, e.slot, e.gen);
    }
    t.is(heap.size, count);
    t.is(heap.peekTime(), Math.min(...pushed.map((e) => e.time)));
    const popped = drain(heap).map((e) => ({ ...e, time: pushed[e.slot].time }));
    t.is(popped.length, count);
    t.deepEqual(
      popped.map((e) => e.time),
      pushed.map((e) => e.time).sort((a, b) => a - b),
      'popped in nondecreasing time',
    );
    t.deepEqual(
      popped.map((e) => e.slot).sort((a, b) => a - b),
      pushed.map((e) => e.slot),
      'every entry exactly once',
    );
    t.true(popped.every((e) => e.gen === pushed[e.slot].gen), 'generations travel with their slot');
    t.is(heap.size, 0);
    t.is(heap.peekTime(), Infinity);
  },
  title: (_p, seed: number, count: number, initialCapacity: number) => `random pushes (seed ${seed}, ${count} entries, capacity ${initialCapacity}) pop in sorted order`,
});
test(randomOrder, 1, 1, 1);
test(randomOrder, 2, 10, 16);
test(randomOrder, 3, 1000, 1024);
// Growth: far past the initial capacity, several doublings.
test(randomOrder, 4, 5000, 1);
test(randomOrder, 5, 20_000, 7);

test('random pushes pop in sorted order (fixed seeds and a fresh one)', (t) => {
  const run = new SeedRun(t, [6]);
  for (const seed of run) {
    const random = prng(seed);
    const count = 1 + Math.floor(random() * 3000);
    const heap = new DeadlineHeap(1 + Math.floor(random() * 64));
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      const time = Math.floor(random() * count);
      times.push(time);
      heap.push(time, i, 0);
    }
    const popped = drain(heap).map((e) => times[e.slot]);
    run.inputs += count;
    t.deepEqual(popped, times.slice().sort((a, b) => a - b), run.where(seed));
  }
  run.done();
});

test('popDue stops at `now` and leaves later entries', (t) => {
  const heap = new DeadlineHeap(4);
  for (const time of [50, 10, 40, 20, 30]) heap.push(time, time, 0);
  const slots: number[] = [];
  heap.popDue(30, (slot) => slots.push(slot));
  t.deepEqual(slots, [10, 20, 30], 'due means time <= now');
  t.is(heap.size, 2);
  t.is(heap.peekTime(), 40);
  heap.popDue(39, (slot) => slots.push(slot));
  t.deepEqual(slots, [10, 20, 30]);
});

test('entries pushed from inside popDue are seen in the same pass when already due', (t) => {
  // A retransmission reschedules its probe from the callback.
  const heap = new DeadlineHeap(2);
  heap.push(10, 1, 0);
  heap.push(20, 2, 0);
  heap.push(100, 3, 0);
  const order: number[] = [];
  heap.popDue(50, (slot, gen) => {
    order.push(slot);
    if (slot === 1) {
      heap.push(15, 11, gen + 1); // due, and earlier than slot 2
      heap.push(60, 12, gen + 1); // not due yet
      heap.push(5, 13, gen + 1); // in the past: still fired
    }
  });
  t.deepEqual(order, [1, 13, 11, 2]);
  t.is(heap.size, 2);
  t.deepEqual(drain(heap).map((e) => e.slot), [12, 3]);
});

test('a callback that keeps pushing due entries is drained until it stops', (t) => {
  const heap = new DeadlineHeap(1);
  heap.push(0, 0, 0);
  const seen: number[] = [];
  heap.popDue(10, (slot) => {
    seen.push(slot);
    if (slot < 100) heap.push(slot / 100, slot + 1, 0);
  });
  t.is(seen.length, 101);
  t.is(heap.size, 0);
});

test('clear empties the heap and it is usable after', (t) => {
  const heap = new DeadlineHeap(2);
  for (let i = 0; i < 10; i++) heap.push(i, i, 0);
  heap.clear();
  t.is(heap.size, 0);
  t.is(heap.peekTime(), Infinity);
  t.deepEqual(drain(heap), []);
  heap.push(7, 70, 1);
  heap.push(3, 30, 1);
  t.deepEqual(drain(heap).map((e) => e.slot), [30, 70]);
});

test('fractional and negative times order like numbers', (t) => {
  const heap = new DeadlineHeap();
  const times = [0.5, -1, 1e12, 0.25, 123.456, -0.001];
  times.forEach((time, i) => heap.push(time, i, 0));
  const slots = drain(heap).map((e) => e.slot);
  t.deepEqual(slots.map((s) => times[s]), [...times].sort((a, b) => a - b));
});

test('slot and generation survive as full u32 values', (t) => {
  const heap = new DeadlineHeap(1);
  heap.push(1, 0xffffffff, 0xfffffffe);
  heap.push(0, 0, 0xffffffff);
  t.deepEqual(drain(heap).map((e) => [e.slot, e.gen]), [
    [0, 0xffffffff],
    [0xffffffff, 0xfffffffe],
  ]);
});

// --- DeadlineTimer: real timers, short delays; only order and behaviour are asserted -----------

function timerWithLog() {
  const fired: Array<[number, number]> = [];
  const timer = new DeadlineTimer(() => performance.now(), (slot, gen) => fired.push([slot, gen]));
  return { timer, fired };
}

/** Waits until `check()` holds, polling; fails the test after a generous bound (not a timing assertion). */
async function until(check: () => boolean, limitMs = 5000): Promise<boolean> {
  const end = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > end) return false;
    await sleep(5);
  }
  return true;
}

test('DeadlineTimer: a deadline past 2^31-1 ms arms a clamped timer (no overflow warning, no spinning)', async (t) => {
  // Issue 13: check(t, { timeout: 1e12 }) armed setTimeout(1e12), which Node fires after 1 ms
  // with a TimeoutOverflowWarning; nothing was due, it re-armed, and spun at 12% of a core.
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(w.name);
  process.on('warning', onWarning);
  t.teardown(() => process.off('warning', onWarning));
  let clockReads = 0;
  const fired: number[] = [];
  const timer = new DeadlineTimer(() => (clockReads++, performance.now()), (slot) => fired.push(slot));
  t.teardown(() => timer.stop());
  timer.schedule(performance.now() + 1e12, 1, 0);
  const readsAfterArming = clockReads;
  // Plenty of turns for a 1 ms timer to fire many times over (load only makes it fewer).
  await sleep(100);
  t.deepEqual(warnings, []);
  t.deepEqual(fired, []);
  t.is(clockReads, readsAfterArming, 'the timer did not wake');
});

test('DeadlineTimer fires scheduled entries in time order, whatever the scheduling order', async (t) => {
  const { timer, fired } = timerWithLog();
  timer.setKeepAlive(true);
  const now = performance.now();
  timer.schedule(now + 30, 3, 0);
  timer.schedule(now + 10, 1, 0);
  timer.schedule(now + 20, 2, 7);
  t.true(await until(() => fired.length === 3));
  t.deepEqual(fired, [
    [1, 0],
    [2, 7],
    [3, 0],
  ]);
  timer.stop();
});

test('DeadlineTimer: an earlier entry scheduled later still fires first', async (t) => {
  const { timer, fired } = timerWithLog();
  timer.setKeepAlive(true);
  const now = performance.now();
  timer.schedule(now + 60, 2, 0);
  timer.schedule(now + 5, 1, 0); // re-arms the single timer for the earlier time
  t.true(await until(() => fired.length === 2));
  t.deepEqual(fired.map(([slot]) => slot), [1, 2]);
  timer.stop();
});

test('DeadlineTimer: an entry already in the past fires on the next turn, not synchronously', async (t) => {
  const { timer, fired } = timerWithLog();
  timer.schedule(performance.now() - 100, 9, 0);
  t.deepEqual(fired, [], 'schedule never calls back synchronously');
  t.true(await until(() => fired.length === 1));
  t.deepEqual(fired, [[9, 0]]);
  timer.stop();
});

test('DeadlineTimer: the callback may schedule again (retransmission)', async (t) => {
  const fired: number[] = [];
  const timer: DeadlineTimer = new DeadlineTimer(
    () => performance.now(),
    (slot) => {
      fired.push(slot);
      if (slot < 3) timer.schedule(performance.now() + 5, slot + 1, 0);
    },
  );
  timer.setKeepAlive(true);
  timer.schedule(performance.now() + 5, 0, 0);
  t.true(await until(() => fired.length === 4));
  t.deepEqual(fired, [0, 1, 2, 3]);
  timer.stop();
});

test('DeadlineTimer: runDue runs what is due at once and leaves the rest armed', async (t) => {
  const { timer, fired } = timerWithLog();
  const now = performance.now();
  timer.schedule(now - 1, 1, 0);
  timer.schedule(now + 40, 2, 0);
  timer.runDue();
  t.deepEqual(fired, [[1, 0]]);
  t.is(timer.heap.size, 1);
  t.true(await until(() => fired.length === 2));
  t.deepEqual(fired.map(([slot]) => slot), [1, 2]);
  timer.stop();
});

test('DeadlineTimer: setKeepAlive toggles in any state without throwing', (t) => {
  const { timer } = timerWithLog();
  t.notThrows(() => {
    timer.setKeepAlive(true); // no timer armed yet
    timer.setKeepAlive(true); // same value twice
    timer.schedule(performance.now() + 10_000, 1, 0);
    timer.setKeepAlive(false); // armed: unref
    timer.setKeepAlive(true); // armed: ref
    timer.stop();
    timer.setKeepAlive(false); // after stop
  });
});

test('DeadlineTimer: stop() prevents pending entries from firing and empties the heap', async (t) => {
  const { timer, fired } = timerWithLog();
  timer.setKeepAlive(true);
  const now = performance.now();
  timer.schedule(now + 10, 1, 0);
  timer.schedule(now + 20, 2, 0);
  timer.stop();
  t.is(timer.heap.size, 0);
  await sleep(60);
  t.deepEqual(fired, []);
  // Usable again after stop.
  timer.schedule(performance.now() + 5, 3, 0);
  t.true(await until(() => fired.length === 1));
  t.deepEqual(fired, [[3, 0]]);
  timer.stop();
});

// From the old per-strategy TimerHeap's tests (the socket and connect strategies now use this
// timer): Node's timers run on a millisecond loop clock and may fire before the owner's clock
// reaches the deadline. Such an entry must wait for the re-armed timer, never expire early.
test('DeadlineTimer: a timer that fires before the deadline on the owner clock re-arms instead of expiring early', async (t) => {
  const origin = performance.now();
  // A clock running at half speed: every real timer fires "early" on it.
  const clock = () => origin + (performance.now() - origin) / 2;
  const seenAt: number[] = [];
  const timer = new DeadlineTimer(clock, () => seenAt.push(clock()));
  timer.setKeepAlive(true);
  const deadline = clock() + 10.4;
  timer.schedule(deadline, 1, 0);
  t.true(await until(() => seenAt.length === 1));
  t.true(seenAt[0] >= deadline, `fired at ${seenAt[0] - origin} on the owner clock, due at ${deadline - origin}`);
  timer.stop();
});

test('DeadlineTimer: stale entries (a settled probe\'s) are handed over and skipped by generation, not cancelled', async (t) => {
  // The strategies never cancel: a probe that settles bumps its slot's generation.
  const generations = [0, 0];
  const expired: number[] = [];
  const timer = new DeadlineTimer(
    () => performance.now(),
    (slot, gen) => {
      if (generations[slot] === gen) expired.push(slot);
    },
  );
  timer.setKeepAlive(true);
  const now = performance.now();
  timer.schedule(now + 5, 0, 0);
  timer.schedule(now + 10, 1, 0);
  generations[0] = 1; // slot 0 settled before its deadline
  t.true(await until(() => timer.heap.size === 0));
  t.deepEqual(expired, [1]);
});

test('DeadlineTimer with isLive: stale entries are dropped before arming, so they never wake the loop', async (t) => {
  const fired: number[] = [];
  const live = new Set([2]);
  let checks = 0;
  const timer = new DeadlineTimer(
    () => performance.now(),
    (slot) => fired.push(slot),
    (slot) => {
      checks++;
      return live.has(slot);
    },
  );
  const now = performance.now();
  // Slot 1 finished before its time came (a probe answered long before its retransmission).
  timer.schedule(now + 5, 1, 0);
  timer.schedule(now + 10, 2, 0);
  t.is(timer.heap.size, 1, 'the stale earliest entry was dropped when the timer was armed');
  t.true(checks >= 1);
  t.true(await until(() => fired.length > 0), 'the live entry fires');
  t.deepEqual(fired, [2]);
  // Everything stale: nothing stays armed.
  live.clear();
  timer.schedule(performance.now() + 5, 3, 0);
  t.is(timer.heap.size, 0);
  await new Promise((r) => setTimeout(r, 20));
  t.deepEqual(fired, [2]);
  timer.stop();
});

test('DeadlineTimer with slack: entries due in the same window run in one wake-up, none early', async (t) => {
  const slackMs = 50;
  const runs: Array<{ slot: number; late: number }> = [];
  // Entries run per wake-up: a wake-up's callbacks all run before its microtasks do.
  const wakeups: number[] = [];
  let inWakeup = false;
  const times = new Map<number, number>();
  const timer = new DeadlineTimer(
    () => performance.now(),
    (slot) => {
      if (!inWakeup) {
        inWakeup = true;
        wakeups.push(0);
        queueMicrotask(() => (inWakeup = false));
      }
      wakeups[wakeups.length - 1]++;
      runs.push({ slot, late: performance.now() - times.get(slot)! });
    },
    undefined,
    slackMs,
  );
  timer.setKeepAlive(true);
  // Three entries inside one window (slackMs-aligned on the now() clock), scheduled out of order.
  const windowStart = Math.ceil(performance.now() / slackMs) * slackMs + slackMs;
  for (const [slot, offset] of [[2, 7], [0, 1], [1, 3]] as const) {
    times.set(slot, windowStart + offset);
    timer.schedule(windowStart + offset, slot, 0);
  }
  for (let i = 0; i < 100 && runs.length < 3; i++) await sleep(10);
  timer.stop();
  t.deepEqual(runs.map((r) => r.slot), [0, 1, 2], 'in time order');
  t.deepEqual(wakeups, [3], 'one wake-up ran all three');
  for (const r of runs) t.true(r.late >= 0, `slot ${r.slot} ran ${r.late} ms after its time, not before`);
});
