// PortWaitQueue with fakes: a scripted launch and a hand-fired timer, so every case is about
// which waiter starts on which port and in what order, never about time.
import test from 'ava';
import { PortWaitQueue, type PortWaiter, type WakeTimers } from '../../src/engine/port-wait-queue.js';
import { SeedRun } from '../helpers/seeds.js';
import { prng } from '../wire/util.js';

class Waiter implements PortWaiter {
  queued = false;
  cancelled = false;
  constructor(
    readonly id: number,
    readonly destination = 1,
  ) {}
}

/** A timer fired by hand; counts how many are armed at once (one at most: no timer storm). */
class HandTimers implements WakeTimers {
  private armed = new Map<number, () => void>();
  private next = 0;
  maxArmed = 0;

  set(callback: () => void, _ms: number): unknown {
    const id = this.next++;
    this.armed.set(id, callback);
    this.maxArmed = Math.max(this.maxArmed, this.armed.size);
    return id;
  }

  clear(handle: unknown): void {
    this.armed.delete(handle as number);
  }

  get pending(): number {
    return this.armed.size;
  }

  /** Fires every timer armed now (not the ones they arm). */
  fire(): void {
    const due = [...this.armed];
    this.armed.clear();
    for (const [, callback] of due) callback();
  }
}

/** A launch that records [waiter id, port] and starts a waiter only while `ports` has any (port -1), or on the port given. */
function rig(freePorts: number[] = []) {
  const launched: Array<[number, number]> = [];
  const timers = new HandTimers();
  const free = [...freePorts];
  const queue = new PortWaitQueue<Waiter>(
    (waiter, port) => {
      if (port >= 0) {
        launched.push([waiter.id, port]);
        return true;
      }
      const any = free.shift();
      if (any === undefined) return false;
      launched.push([waiter.id, any]);
      return true;
    },
    250,
    timers,
  );
  return { queue, launched, timers, free };
}

test('a freed port goes to the oldest waiter of its destination, at once, and order is kept', (t) => {
  const { queue, launched } = rig();
  const waiters = [1, 2, 3, 4].map((id) => new Waiter(id));
  for (const w of waiters) queue.add(1, w);
  t.is(queue.size, 4);
  t.true(queue.portFreed(1, 61001));
  t.deepEqual(launched, [[1, 61001]], 'started inside portFreed, on the port freed');
  t.true(queue.portFreed(1, 61002));
  t.true(queue.portFreed(1, 61001));
  t.deepEqual(launched, [[1, 61001], [2, 61002], [3, 61001]]);
  t.is(queue.size, 1);
  t.true(waiters[3].queued);
  t.false(waiters[0].queued);
});

test('a port freed for one destination never starts a waiter of another', (t) => {
  const { queue, launched } = rig();
  queue.add(1, new Waiter(1, 1));
  queue.add(2, new Waiter(2, 2));
  t.false(queue.portFreed(3, 61000), 'nobody waits for destination 3');
  t.true(queue.portFreed(2, 61000));
  t.deepEqual(launched, [[2, 61000]]);
  t.true(queue.has(1));
  t.false(queue.has(2));
});

test('cancelled waiters are skipped, never launched, and stop counting at once', (t) => {
  const { queue, launched } = rig();
  const waiters = [1, 2, 3, 4, 5].map((id) => new Waiter(id));
  for (const w of waiters) queue.add(1, w);
  queue.cancel(waiters[0]);
  queue.cancel(waiters[1]);
  queue.cancel(waiters[3]);
  queue.cancel(waiters[3]);
  t.is(queue.size, 2);
  queue.portFreed(1, 61000);
  queue.portFreed(1, 61001);
  t.false(queue.portFreed(1, 61002));
  t.deepEqual(launched, [[3, 61000], [5, 61001]]);
  t.is(queue.size, 0);
});

test('the wake offers no particular port (the engine picks a clean one) and stops at the first waiter that finds none', (t) => {
  const { queue, launched, timers, free } = rig();
  for (const id of [1, 2, 3]) queue.add(1, new Waiter(id));
  for (const id of [4, 5]) queue.add(2, new Waiter(id, 2));
  t.is(timers.pending, 1);
  free.push(61007);
  timers.fire();
  t.deepEqual(launched, [[1, 61007]], 'one clean port: the oldest of the first destination, then each destination stops');
  t.is(queue.size, 4);
  t.is(timers.pending, 1, 'armed again while any wait');
  free.push(61008, 61009, 61010, 61011);
  timers.fire();
  t.deepEqual(launched.map(([id]) => id), [1, 2, 3, 4, 5]);
  t.is(queue.size, 0);
  t.is(timers.pending, 0, 'nobody waits: no timer');
  t.is(timers.maxArmed, 1);
});

test('a waiter whose launch finds no port keeps its place at the head', (t) => {
  const { queue, launched, free } = rig();
  for (const id of [1, 2, 3]) queue.add(1, new Waiter(id));
  queue.wake();
  t.deepEqual(launched, []);
  t.is(queue.size, 3);
  free.push(61000);
  queue.wake();
  queue.portFreed(1, 61001);
  t.deepEqual(launched, [[1, 61000], [2, 61001]]);
});

test('close() settles every waiter still in line, once, in order; cancelled ones are not told', (t) => {
  const { queue, timers } = rig();
  const waiters = [1, 2, 3, 4].map((id) => new Waiter(id, id % 2));
  for (const w of waiters) queue.add(w.destination, w);
  queue.cancel(waiters[2]);
  const settled: number[] = [];
  queue.close((w) => settled.push(w.id));
  queue.close((w) => settled.push(w.id));
  t.deepEqual(settled.sort(), [1, 2, 4]);
  t.is(queue.size, 0);
  t.is(timers.pending, 0, 'the wake timer is cleared');
  t.false(queue.portFreed(1, 61000));
  t.throws(() => queue.add(1, new Waiter(9)), { message: /after close/ });
});

test('cancelling every waiter clears the timer: nothing is left armed', (t) => {
  const { queue, timers } = rig();
  const waiters = [1, 2].map((id) => new Waiter(id));
  for (const w of waiters) queue.add(1, w);
  t.is(timers.pending, 1);
  for (const w of waiters) queue.cancel(w);
  t.is(timers.pending, 0);
  t.false(queue.has(1));
});

test('a launch whose callback queues more or cancels the next waiter keeps the count right', (t) => {
  const timers = new HandTimers();
  const launched: number[] = [];
  const late = new Waiter(10);
  let victim: Waiter | undefined;
  const queue: PortWaitQueue<Waiter> = new PortWaitQueue<Waiter>(
    (waiter) => {
      launched.push(waiter.id);
      // The launched probe's outcome is reported inside launch (an immediate failure): its
      // callback starts another check for the same destination and gives up on one.
      if (waiter.id === 1) {
        queue.add(1, late);
        if (victim) queue.cancel(victim);
      }
      return true;
    },
    250,
    timers,
  );
  const first = new Waiter(1);
  victim = new Waiter(2);
  const third = new Waiter(3);
  for (const w of [first, victim, third]) queue.add(1, w);
  queue.portFreed(1, 61000);
  t.is(queue.size, 2);
  queue.portFreed(1, 61000);
  queue.portFreed(1, 61000);
  t.deepEqual(launched, [1, 3, 10]);
  t.is(queue.size, 0);
});

// A model engine: D destinations with P ports each; each port is free, busy or quarantined (a
// timeout: possibly half-open on the server). It hands a cleanly freed port to the queue and
// quarantines a timed-out one; quarantines expire on their own and only the wake finds them.
// Random steps; then every quarantine expires and every probe finishes. Checks: a launch only
// ever gets a free port (never a busy or quarantined one), each destination's waiters start in
// the order they queued, no waiter is started twice, and every waiter not cancelled starts.
test('random arrivals, answers, timeouts, cancels and wakes: no quarantined port reused, order kept, nobody starves', (t) => {
  const run = new SeedRun(t, [1, 2, 3, 0x5eed]);
  for (const seed of run) {
    const random = prng(seed);
    const D = 1 + Math.floor(random() * 3);
    const P = 1 + Math.floor(random() * 4);
    const state: Array<Array<'free' | 'busy' | 'quarantine'>> = Array.from({ length: D }, () => Array<'free' | 'busy' | 'quarantine'>(P).fill('free'));
    const timers = new HandTimers();
    const problems: string[] = [];
    const queuedOrder: number[][] = Array.from({ length: D }, () => []);
    const startedOrder: number[][] = Array.from({ length: D }, () => []);
    const started = new Set<number>();
    const busy: Array<{ d: number; port: number }> = [];
    const all: Waiter[] = [];
    const start = (w: Waiter, port: number, viaQueue: boolean): void => {
      if (state[w.destination][port] !== 'free') problems.push(`waiter ${w.id} got port ${port} in state ${state[w.destination][port]}`);
      if (started.has(w.id)) problems.push(`waiter ${w.id} started twice`);
      started.add(w.id);
      state[w.destination][port] = 'busy';
      busy.push({ d: w.destination, port });
      if (viaQueue) startedOrder[w.destination].push(w.id);
    };
    const freePort = (d: number): number => state[d].indexOf('free');
    const queue = new PortWaitQueue<Waiter>(
      (w, port) => {
        const p = port >= 0 ? port : freePort(w.destination);
        if (p < 0) return false;
        start(w, p, true);
        return true;
      },
      250,
      timers,
    );
    let ids = 0;
    const steps = 200 + Math.floor(random() * 300);
    for (let step = 0; step < steps; step++) {
      const r = random();
      if (r < 0.4) {
        // A new check: straight out when nobody of its destination waits and a port is free.
        const w = new Waiter(ids++, Math.floor(random() * D));
        all.push(w);
        const p = freePort(w.destination);
        if (!queue.has(w.destination) && p >= 0) start(w, p, false);
        else {
          queue.add(w.destination, w);
          queuedOrder[w.destination].push(w.id);
        }
      } else if (r < 0.65 && busy.length > 0) {
        // Answered: the tuple is clean, its port goes on at once.
        const { d, port } = busy.splice(Math.floor(random() * busy.length), 1)[0];
        state[d][port] = 'free';
        if (queue.has(d)) queue.portFreed(d, port);
      } else if (r < 0.75 && busy.length > 0) {
        const { d, port } = busy.splice(Math.floor(random() * busy.length), 1)[0];
        state[d][port] = 'quarantine';
      } else if (r < 0.85) {
        const d = Math.floor(random() * D);
        const q = state[d].indexOf('quarantine');
        if (q >= 0) state[d][q] = 'free';
      } else if (r < 0.92) {
        const waiting = all.filter((w) => w.queued);
        if (waiting.length > 0) queue.cancel(waiting[Math.floor(random() * waiting.length)]);
      } else {
        timers.fire();
      }
      run.inputs++;
    }
    // Drain: quarantines expire, probes finish, the wake runs until nobody waits.
    for (let round = 0; queue.size > 0 && round < 10_000; round++) {
      for (const ports of state) for (let p = 0; p < P; p++) if (ports[p] === 'quarantine') ports[p] = 'free';
      while (busy.length > 0) {
        const { d, port } = busy.shift()!;
        state[d][port] = 'free';
        if (queue.has(d)) queue.portFreed(d, port);
      }
      timers.fire();
    }
    if (timers.maxArmed > 1) problems.push(`${timers.maxArmed} wake timers armed at once`);
    if (timers.pending !== 0) problems.push('a wake timer left armed with nobody waiting');
    for (const w of all) if (!w.cancelled && !started.has(w.id)) problems.push(`waiter ${w.id} never started`);
    for (let d = 0; d < D; d++) {
      const expected = queuedOrder[d].filter((id) => !all[id].cancelled || started.has(id));
      if (JSON.stringify(expected) !== JSON.stringify(startedOrder[d])) problems.push(`destination ${d}: started ${startedOrder[d].join(',')} for queue ${expected.join(',')}`);
    }
    if (problems.length > 0) return t.fail(`${run.where(seed)}: ${problems.slice(0, 5).join('; ')}`);
  }
  run.done();
  t.pass();
});
