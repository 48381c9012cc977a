// CapturePool: one capture per interface, shared by the probes using it, closed after an idle
// period, reopened on demand. Fake captures; the idle timer runs for real with tiny delays and
// only what happens (open, closed, reopened) is asserted, never when.
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { CapturePool, DEFAULT_RING_BYTES, ringBytesFor } from '../../src/engine/capture-pool.js';
import type { FrameHandler } from '../../src/capture/pcap.js';
import { FakeCaptures } from '../helpers/fake-capture.js';

const noFrames: FrameHandler = () => {};

function pool(idleMs = 5, now?: () => number) {
  const captures = new FakeCaptures();
  return { captures, pool: new CapturePool(captures.open, 'tcp', noFrames, idleMs, 1234, now) };
}

async function until(check: () => boolean, limitMs = 5000): Promise<boolean> {
  const end = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > end) return false;
    await sleep(2);
  }
  return true;
}

test('opens one capture per interface, with the filter and buffer size, and shares it', (t) => {
  const { captures, pool: p } = pool();
  const a1 = p.acquire('eth0');
  const a2 = p.acquire('eth0');
  const b = p.acquire('lo');
  t.is(a1, a2);
  t.not(a1, b);
  t.is(captures.opened.length, 2);
  t.deepEqual(captures.opened.map((c) => c.options), [
    { iface: 'eth0', filter: 'tcp', bufferSize: 1234 },
    { iface: 'lo', filter: 'tcp', bufferSize: 1234 },
  ]);
  p.closeAll();
});

test('stays open while any user holds it; closes after the idle period; reopens on demand', async (t) => {
  const { captures, pool: p } = pool(5);
  const id = p.acquire('eth0');
  p.acquire('eth0');
  p.release(id);
  await sleep(20);
  t.false(captures.opened[0].closed, 'one user left');
  p.release(id);
  t.true(await until(() => captures.opened[0].closed), 'idle: closed');
  t.is(p.acquire('eth0'), id, 'same id for the same interface');
  t.is(captures.opened.length, 2, 'a fresh capture');
  t.false(captures.opened[1].closed);
  p.closeAll();
});

test('acquire during the idle period cancels the close', async (t) => {
  const { captures, pool: p } = pool(30);
  const id = p.acquire('eth0');
  p.release(id);
  p.acquire('eth0');
  await sleep(60);
  t.false(captures.opened[0].closed);
  t.is(captures.opened.length, 1);
  p.closeAll();
});

test('a trickle of checks arms the idle timer once per idle period, not once per check', async (t) => {
  const { captures, pool: p } = pool(30);
  // 1000 checks, each taking the capture and giving it back (a monitor at 1000 checks/s).
  for (let i = 0; i < 1000; i++) p.release(p.acquire('eth0'));
  t.is(p.idleTimersArmed, 1);
  t.true(await until(() => captures.opened[0].closed), 'idle: closed all the same');
  t.is(captures.opened.length, 1);
  p.closeAll();
});

test('a release during the idle period restarts it: the timer re-arms instead of closing', async (t) => {
  // The pool's clock is the test's: when the first timer fires (for real, 30 ms on), the clock
  // says the restarted period is only a third over, however late the timer fired. (Against the
  // real clock, a loop stalled 20 ms fired it after the restarted period and one timer was right.)
  let clock = 0;
  const { captures, pool: p } = pool(30, () => clock);
  const id = p.acquire('eth0');
  p.release(id);
  clock = 10;
  p.release(p.acquire('eth0'));
  t.true(await until(() => p.idleTimersArmed === 2), 'the first timer re-armed for the rest of the restarted period');
  t.false(captures.opened[0].closed, 'not closed: the restarted period is not over');
  clock = 100;
  t.true(await until(() => captures.opened[0].closed), 'closed once it is');
  t.is(p.idleTimersArmed, 2);
  t.is(captures.opened.length, 1);
  p.closeAll();
});

test('release of an unknown id or one too many is harmless', (t) => {
  const { captures, pool: p } = pool();
  const id = p.acquire('eth0');
  t.notThrows(() => {
    p.release(99);
    p.release(id);
    p.release(id);
  });
  t.is(captures.opened.length, 1);
  p.closeAll();
});

test('closeAll closes every capture at once and stops idle timers', async (t) => {
  const { captures, pool: p } = pool(5);
  p.acquire('eth0');
  const lo = p.acquire('lo');
  p.release(lo); // idle timer running
  p.closeAll();
  t.true(captures.opened.every((c) => c.closed));
  await sleep(20);
  t.is(captures.opened.length, 2, 'nothing reopened');
});

test('drops() sums over open captures', (t) => {
  const { captures, pool: p } = pool();
  p.acquire('eth0');
  p.acquire('lo');
  captures.opened[0].stats = () => ({ received: 10, dropped: 3, ifDropped: 0 });
  captures.opened[1].stats = () => ({ received: 10, dropped: 4, ifDropped: 0 });
  t.is(p.drops(), 7);
  p.closeAll();
  t.is(p.drops(), 0);
});

test('an opener that throws propagates and leaves no user counted', (t) => {
  let fail = true;
  const captures = new FakeCaptures();
  const p = new CapturePool(
    (options, onFrame) => {
      if (fail) throw new Error('permission denied');
      return captures.open(options, onFrame);
    },
    'tcp',
    noFrames,
    5,
  );
  t.throws(() => p.acquire('eth0'), { message: 'permission denied' });
  fail = false;
  const id = p.acquire('eth0');
  t.is(captures.opened.length, 1);
  p.release(id);
  p.closeAll();
});

test('ringBytesFor: four 640-byte frames per check in flight, at least 8192 frames, at most the default ring', (t) => {
  t.is(ringBytesFor(1), 8192 * 640);
  t.is(ringBytesFor(2000), 8192 * 640);
  t.is(ringBytesFor(20_000), 80_000 * 640);
  t.is(ringBytesFor(100_000), DEFAULT_RING_BYTES);
  t.is(DEFAULT_RING_BYTES, 64 * 1024 * 1024);
  // Never smaller as concurrency grows.
  let last = 0;
  for (let c = 1; c <= 1_000_000; c *= 3) {
    t.true(ringBytesFor(c) >= last);
    last = ringBytesFor(c);
  }
});
