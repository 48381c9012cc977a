// ProbeTable (in-flight probes in typed-array columns) and RecentProbes (the ring of finished
// ones). What the engine relies on: a reply finds its slot only if the whole tuple matches, a
// freed slot's generation changes so stale timer entries are harmless, the callback comes back
// exactly once, growth keeps every column, and a late SYN-ACK earns one extra RST at most.
import test from 'ava';
import { ProbeTable, RecentProbes, type ProbeCallback } from '../../src/engine/probe-table.js';
import { tupleKey } from '../../src/engine/tuple-key.js';
import type { Family, ProbeOutcome } from '../../src/core/types.js';
import { ip } from '../wire/util.js';

interface Tuple {
  family: Family;
  remote: Uint8Array;
  remotePort: number;
  localPort: number;
}

const keyOf = (x: Tuple) => tupleKey(x.remote, 0, x.remote.length, x.remotePort, x.localPort);

/** Allocates and fills the columns find() reads, as the engine's submit() does. */
function put(table: ProbeTable, x: Tuple, callback: ProbeCallback = () => {}, key = keyOf(x)): number {
  const slot = table.allocate(key, callback);
  table.family[slot] = x.family;
  table.remotePort[slot] = x.remotePort;
  table.localPort[slot] = x.localPort;
  table.remoteAddr.set(x.remote, slot * 16);
  return slot;
}

const find = (table: ProbeTable, x: Tuple, key = keyOf(x)) => table.find(key, x.family, x.remote, x.remotePort, x.localPort);

const V4: Tuple = { family: 4, remote: ip('198.18.0.2'), remotePort: 80, localPort: 61000 };
const V6: Tuple = { family: 6, remote: ip('2001:2::2'), remotePort: 443, localPort: 61001 };

test('allocate / find / release round trip for both families', (t) => {
  const table = new ProbeTable(4);
  const a = put(table, V4);
  const b = put(table, V6);
  t.not(a, b);
  t.is(table.size, 2);
  t.is(find(table, V4), a);
  t.is(find(table, V6), b);
  t.true(table.has(keyOf(V4)));
  t.deepEqual(table.liveSlots().sort(), [a, b].sort());
  table.release(a);
  t.is(find(table, V4), -1);
  t.false(table.has(keyOf(V4)));
  t.is(find(table, V6), b);
  t.is(table.size, 1);
  t.deepEqual(table.liveSlots(), [b]);
});

// A reply that hits the key (keys may collide) but differs in one field must not find the probe.
const rejectsMismatch = test.macro({
  exec(t, base: Tuple, reply: Tuple, _what: string) {
    const table = new ProbeTable(4);
    put(table, base);
    // The reply is looked up under the probe's key: a collision in tupleKey.
    t.is(find(table, reply, keyOf(base)), -1);
    t.not(find(table, base), -1, 'the real tuple still finds it');
  },
  title: (_p, _base, _reply, what: string) => `find rejects a key hit whose ${what} differs`,
});
const mismatches: Array<[Tuple, Tuple, string]> = [
  [V4, { ...V4, remotePort: 81 }, 'remote port'],
  [V4, { ...V4, localPort: 61001 }, 'local port'],
  [V4, { ...V4, remote: ip('198.18.0.3') }, 'IPv4 address (last byte)'],
  [V4, { ...V4, remote: ip('199.18.0.2') }, 'IPv4 address (first byte)'],
  [V6, { ...V6, remote: ip('2001:2::3') }, 'IPv6 address (last byte)'],
  [V6, { ...V6, remote: ip('2002:2::2') }, 'IPv6 address (first byte)'],
  // Same first four bytes, other family: the family column decides.
  [{ ...V4, remote: ip('32.1.0.2') }, { ...V6, remote: ip('2001:2::'), remotePort: 80, localPort: 61000 }, 'family'],
];
for (const [base, reply, what] of mismatches) test(rejectsMismatch, base, reply, what);

test('find misses for an unknown key', (t) => {
  const table = new ProbeTable(4);
  put(table, V4);
  t.is(find(table, V4, keyOf(V4) + 1), -1);
});

test('release returns the callback exactly once and bumps the generation', (t) => {
  const table = new ProbeTable(2);
  const outcomes: ProbeOutcome[] = [];
  const callback: ProbeCallback = (o) => outcomes.push(o);
  const slot = put(table, V4, callback);
  const gen = table.gen[slot];
  t.true(table.isLive(slot, gen));
  t.is(table.release(slot), callback);
  t.is(table.release(slot), undefined, 'a second release is a no-op');
  t.is(table.size, 0, 'and does not free the slot twice');
  t.false(table.isLive(slot, gen));
  t.is(table.gen[slot], (gen + 1) >>> 0);
  t.deepEqual(outcomes, [], 'release hands the callback back; it does not call it');
});

test('a reused slot is live under its new generation only', (t) => {
  const table = new ProbeTable(1);
  const first = put(table, V4);
  const oldGen = table.gen[first];
  table.release(first);
  const second = put(table, V6);
  t.is(second, first, 'capacity 1: the same slot comes back');
  t.false(table.isLive(second, oldGen), 'a stale deadline entry does not act on the new probe');
  t.true(table.isLive(second, table.gen[second]));
  t.is(find(table, V4), -1);
  t.is(find(table, V6), second);
});

test('generations wrap at 2^32', (t) => {
  const table = new ProbeTable(1);
  const slot = put(table, V4);
  table.gen[slot] = 0xffffffff;
  table.release(slot);
  t.is(table.gen[slot], 0);
});

test('never hands out a live slot twice, across many allocate/release cycles', (t) => {
  const table = new ProbeTable(8);
  const live = new Set<number>();
  let port = 1;
  for (let round = 0; round < 2000; round++) {
    if (live.size > 0 && round % 3 === 2) {
      const victim = [...live][round % live.size];
      t.not(table.release(victim), undefined);
      live.delete(victim);
    } else {
      const slot = put(table, { ...V4, localPort: port++ });
      t.false(live.has(slot), `slot ${slot} handed out while live`);
      live.add(slot);
    }
  }
  t.is(table.size, live.size);
  t.deepEqual(table.liveSlots().sort((a, b) => a - b), [...live].sort((a, b) => a - b));
});

test('grows past its initial capacity and keeps every column and callback', (t) => {
  const table = new ProbeTable(2);
  const count = 100;
  const called: number[] = [];
  const slots: number[] = [];
  for (let i = 0; i < count; i++) {
    const x: Tuple = i % 2 ? { ...V6, localPort: 61000 + i } : { ...V4, localPort: 61000 + i };
    const slot = put(table, x, () => called.push(i));
    // Every column the engine writes, with a value naming the probe.
    table.isn[slot] = 0xfffff000 + i;
    table.localAddr.set(i % 2 ? ip('2001:2::1') : ip('198.18.0.1'), slot * 16);
    table.deadline[slot] = 1000.5 + i;
    table.rtoMs[slot] = 250 + i;
    table.attempts[slot] = i % 200;
    table.retriesLeft[slot] = (i * 3) % 256;
    table.captureId[slot] = 7 + i;
    table.lastSentPerf[slot] = 0.25 + i;
    table.lastSentWallUs[slot] = 1.7e15 + i;
    slots.push(slot);
  }
  t.true(table.capacity >= count);
  t.is(table.size, count);
  t.is(new Set(slots).size, count);
  for (let i = 0; i < count; i++) {
    const slot = slots[i];
    const x: Tuple = i % 2 ? { ...V6, localPort: 61000 + i } : { ...V4, localPort: 61000 + i };
    t.is(find(table, x), slot);
    t.is(table.isn[slot], 0xfffff000 + i);
    t.deepEqual([...table.localAddr.subarray(slot * 16, slot * 16 + (i % 2 ? 16 : 4))], [...(i % 2 ? ip('2001:2::1') : ip('198.18.0.1'))]);
    t.is(table.deadline[slot], 1000.5 + i);
    t.is(table.rtoMs[slot], 250 + i);
    t.is(table.attempts[slot], i % 200);
    t.is(table.retriesLeft[slot], (i * 3) % 256);
    t.is(table.captureId[slot], 7 + i);
    t.is(table.lastSentPerf[slot], 0.25 + i);
    t.is(table.lastSentWallUs[slot], 1.7e15 + i);
    t.is(table.key[slot], keyOf(x));
    table.release(slot)?.({ status: 'open', attempts: 1 });
  }
  t.deepEqual(called, Array.from({ length: count }, (_, i) => i));
  t.is(table.size, 0);
});

test('free slots left before growth are still handed out after it', (t) => {
  const table = new ProbeTable(4);
  const slots = [0, 1, 2, 3].map((i) => put(table, { ...V4, localPort: 100 + i }));
  table.release(slots[1]);
  put(table, { ...V4, localPort: 200 }); // takes the freed slot
  for (let i = 0; i < 20; i++) put(table, { ...V4, localPort: 300 + i }); // grows twice
  t.is(table.size, 24);
  t.is(new Set(table.liveSlots()).size, 24);
  t.true(table.liveSlots().every((s) => s < table.capacity));
});

// --- RecentProbes -----------------------------------------------------------------------------

const ISN = 0xfffffffe; // ISN + 1 wraps: 0xffffffff, then 0
const claim = test.macro({
  exec(t, steps: Array<{ ack: number; at: number; key?: number; expect: 'send' | 'already-sent' | 'unknown' }>, _what: string) {
    const recent = new RecentProbes(8, 1000);
    recent.add(42, ISN, 0);
    for (const step of steps) t.is(recent.claimExtraRst(step.key ?? 42, step.ack, step.at), step.expect, JSON.stringify(step));
  },
  title: (_p, _steps, what: string) => `claimExtraRst: ${what}`,
});
const claims: Array<[Array<{ ack: number; at: number; key?: number; expect: 'send' | 'already-sent' | 'unknown' }>, string]> = [
  [[{ ack: 0xffffffff, at: 1, expect: 'send' }, { ack: 0xffffffff, at: 2, expect: 'already-sent' }, { ack: 0xffffffff, at: 3, expect: 'already-sent' }], "'send' once, then 'already-sent'"],
  [[{ ack: ISN, at: 1, expect: 'unknown' }, { ack: 0, at: 1, expect: 'unknown' }, { ack: 0xffffffff, at: 1, expect: 'send' }], "a wrong ack is 'unknown' and does not use up the RST"],
  [[{ ack: 0xffffffff, at: 1000, expect: 'unknown' }], "'unknown' once the record expired (at exactly the TTL)"],
  [[{ ack: 0xffffffff, at: 999, expect: 'send' }], 'still known just before the TTL'],
  [[{ ack: 0xffffffff, at: 1, key: 43, expect: 'unknown' }], "'unknown' for a key never added"],
];
for (const [steps, what] of claims) test(claim, steps, what);

test('RecentProbes: the ISN+1 comparison wraps mod 2^32', (t) => {
  const recent = new RecentProbes(4, 1000);
  recent.add(1, 0xffffffff, 0);
  t.is(recent.claimExtraRst(1, 0x100000000, 1), 'unknown', 'a caller must pass ack as u32');
  t.is(recent.claimExtraRst(1, 0, 1), 'send');
});

test('RecentProbes: has() follows the TTL', (t) => {
  const recent = new RecentProbes(4, 100);
  recent.add(7, 1, 50);
  t.true(recent.has(7, 50));
  t.true(recent.has(7, 149));
  t.false(recent.has(7, 150));
  t.false(recent.has(8, 50));
});

test('RecentProbes: the ring forgets the oldest record first', (t) => {
  const recent = new RecentProbes(3, 10_000);
  for (const k of [1, 2, 3]) recent.add(k, k * 10, 0);
  t.true([1, 2, 3].every((k) => recent.has(k, 1)));
  recent.add(4, 40, 0);
  t.false(recent.has(1, 1), 'record 1 evicted by the fourth add');
  t.is(recent.claimExtraRst(1, 11, 1), 'unknown');
  t.true([2, 3, 4].every((k) => recent.has(k, 1)));
  recent.add(5, 50, 0);
  recent.add(6, 60, 0);
  t.deepEqual([1, 2, 3, 4, 5, 6].map((k) => recent.has(k, 1)), [false, false, false, true, true, true]);
});

test('RecentProbes: re-adding a key gives a fresh record; evicting the stale copy keeps it', (t) => {
  const recent = new RecentProbes(3, 10_000);
  recent.add(9, 100, 0);
  t.is(recent.claimExtraRst(9, 101, 1), 'send');
  recent.add(9, 200, 5); // the same tuple probed again and finished again
  t.is(recent.claimExtraRst(9, 101, 6), 'unknown', 'the old ISN no longer matches');
  t.is(recent.claimExtraRst(9, 201, 6), 'send', 'the new record has its own RST');
  recent.add(1, 0, 5); // ring position 2
  recent.add(2, 0, 5); // ring position 0: overwrites the first record of key 9
  t.true(recent.has(9, 6), 'the newer record of key 9 survives the eviction of the older one');
  t.is(recent.claimExtraRst(9, 201, 6), 'already-sent');
});

test('RecentProbes: clear forgets everything and the ring keeps working', (t) => {
  const recent = new RecentProbes(2, 1000);
  recent.add(1, 1, 0);
  recent.add(2, 2, 0);
  recent.clear();
  t.false(recent.has(1, 1));
  t.is(recent.claimExtraRst(2, 3, 1), 'unknown');
  recent.add(3, 3, 0);
  recent.add(4, 4, 0);
  recent.add(5, 5, 0);
  t.deepEqual([3, 4, 5].map((k) => recent.has(k, 1)), [false, true, true]);
});
