import test from 'ava';
import net from 'node:net';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { SocketStrategy, ipBytes, synRetriesFor, userTimeoutFor, type SocketAddon } from '../../src/strategies/socket.js';
import { RECORD_INTS, RecordKind, type NativeConnectEngine } from '../../src/native/connect.js';
import type { GovernorOptions } from '../../src/strategies/close-governor.js';
import type { CheckStatus, Family } from '../../src/core/types.js';
import { privilegedTest } from '../helpers/testbed.js';
import { FILTERED, OPEN, families, sharedCases, strategyBed } from './on-testbed.js';

const { errno } = os.constants;
const soon = () => ({ deadline: performance.now() + 5_000, retries: 2 });
const target = { ip: '198.18.0.2', family: 4 as const, port: 80 };

// --- pure helpers ----------------------------------------------------------------------------

const mapsRetries = test.macro({
  exec(t, retries: number, syncnt: number) {
    t.is(synRetriesFor(retries), syncnt);
  },
  title: (_p, retries: number, syncnt: number) => `retries ${retries} → TCP_SYNCNT ${syncnt}`,
});
for (const [retries, syncnt] of [
  [0, 1], // the kernel refuses 0
  [1, 1],
  [3, 3],
  [2.7, 2],
  [127, 127],
  [500, 127], // MAX_TCP_SYNCNT
  [-1, -1], // kernel default
  [Number.NaN, -1],
]) test(mapsRetries, retries, syncnt);

for (const [remainingMs, expected] of [
  [2_999.2, 3_000],
  [0.1, 1],
  [Number.POSITIVE_INFINITY, 0], // no deadline: TCP_USER_TIMEOUT unset
  [1e12, 0x7fffffff],
]) test(`${remainingMs} ms to the deadline → TCP_USER_TIMEOUT ${expected}`, (t) => t.is(userTimeoutFor(remainingMs), expected));

const parsesAddress = test.macro({
  exec(t, ip: string, family: Family, bytes: number[] | undefined) {
    if (bytes === undefined) t.throws(() => ipBytes(ip, family), { code: 'ERR_SHAKER_INVALID_ADDRESS' });
    else t.deepEqual([...ipBytes(ip, family)], bytes);
  },
  title: (_p, ip: string, family: Family, bytes: unknown) => `ipBytes(${ip}, ${family}) ${bytes ? 'parses' : 'throws'}`,
});
for (const [ip, family, bytes] of [
  ['198.18.0.2', 4, [198, 18, 0, 2]],
  ['2001:2::2', 6, [0x20, 0x01, 0, 2, ...new Array(11).fill(0), 2]],
  ['::ffff:198.18.0.2', 6, [...new Array(10).fill(0), 0xff, 0xff, 198, 18, 0, 2]],
  ['198.18.0.2', 6, undefined],
  ['2001:2::2', 4, undefined],
  ['fe80::1%eth0', 6, undefined],
  ['example.com', 4, undefined],
] as const) test(parsesAddress, ip, family, bytes as number[] | undefined);

// --- against a fake connect engine: every branch without a network -------------------------

interface FakeCall {
  op: 'connect' | 'cancel' | 'ref' | 'unref' | 'close';
  slot?: number;
  generation?: number;
  port?: number;
  synRetries?: number;
  userTimeoutMs?: number;
}

/** Records calls; connects stay pending until the test emits their record. */
function fakeAddon() {
  const calls: FakeCall[] = [];
  const connecting = new Map<number, number>(); // slot -> generation
  let deliver: ((records: Int32Array) => void) | undefined;
  const engine: NativeConnectEngine = {
    connect(slot, generation, _dst, port, _src, synRetries, userTimeoutMs) {
      calls.push({ op: 'connect', slot, generation, port, synRetries, userTimeoutMs });
      connecting.set(slot, generation);
    },
    cancel(slot, generation) {
      calls.push({ op: 'cancel', slot, generation });
    },
    ref: () => void calls.push({ op: 'ref' }),
    unref: () => void calls.push({ op: 'unref' }),
    close() {
      calls.push({ op: 'close' });
      const open = connecting.size;
      connecting.clear();
      return open;
    },
    stats: () => ({ connects: 0, settledAtConnect: 0, settledByEpoll: 0, cancelled: 0, rounds: 0, sleeps: 0, deliveries: 0, open: connecting.size }),
  };
  const addon: SocketAddon = {
    ConnectEngine: class {
      constructor(onRecords: (records: Int32Array) => void) {
        deliver = onRecords;
        return engine;
      }
    } as unknown as SocketAddon['ConnectEngine'],
  };
  /** Hands the strategy one record per entry, in one batch, as the engine thread would. */
  const emit = (...records: Array<{ slot: number; kind?: number; errno?: number; retransmits?: number; rttUs?: number; closeUs?: number }>): void => {
    const out = new Int32Array(records.length * RECORD_INTS);
    records.forEach((r, i) => {
      const generation = connecting.get(r.slot) ?? 0;
      connecting.delete(r.slot);
      out.set([r.slot, generation, r.kind ?? RecordKind.settled, r.errno ?? 0, r.retransmits ?? 0, r.rttUs ?? 1500, r.closeUs ?? -1], i * RECORD_INTS);
    });
    deliver?.(out);
  };
  const ops = () => calls.map((c) => (c.slot === undefined ? c.op : `${c.op} ${c.slot}`));
  const deliverRaw = (records: Int32Array): void => deliver?.(records);
  /** Slots the strategy has handed to the engine and not yet seen a record for. */
  const inKernel = (): number[] => [...connecting.keys()];
  return { addon, calls, ops, emit, deliverRaw, inKernel };
}

async function startedWith(addon: SocketAddon, options: { governor?: GovernorOptions } = {}): Promise<SocketStrategy> {
  const strategy = new SocketStrategy({ addon, ...options });
  await strategy.start();
  return strategy;
}

const settlesAs = test.macro({
  async exec(t, record: { kind?: number; errno?: number }, expected: { status: CheckStatus; code?: string; attempts: number }) {
    const { addon, calls, ops, emit } = fakeAddon();
    const strategy = await startedWith(addon);
    const pending = strategy.probe(target, soon());
    t.like(calls.find((c) => c.op === 'connect'), { port: 80, synRetries: 2 });
    t.true((calls.find((c) => c.op === 'connect')?.userTimeoutMs ?? 0) > 4_000, 'TCP_USER_TIMEOUT: the time left to the deadline');
    emit({ slot: 0, retransmits: 1, rttUs: 2500, ...record });
    const outcome = await pending;
    t.is(outcome.status, expected.status);
    t.is(outcome.code, expected.code);
    t.is(outcome.attempts, expected.attempts);
    const answered = ['open', 'closed', 'unreachable'].includes(expected.status) && expected.attempts > 0;
    t.is(outcome.rttMs, answered ? 2.5 : undefined);
    t.is(outcome.error !== undefined, expected.status === 'error');
    t.deepEqual(ops(), ['ref', 'connect 0', 'unref'], 'the engine holds the process open only while the probe waits');
    t.is(strategy.stats().inFlight, 0);
  },
  title: (_p, record: { kind?: number; errno?: number }, expected: { status: string; code?: string }) =>
    `record kind ${record.kind ?? 0} errno ${record.errno ?? 0} → ${expected.status} ${expected.code ?? ''}`.trim(),
});

test(settlesAs, { errno: 0 }, { status: 'open', attempts: 2 });
test(settlesAs, { errno: errno.ECONNREFUSED }, { status: 'closed', code: 'ECONNREFUSED', attempts: 2 });
test(settlesAs, { errno: errno.EHOSTUNREACH }, { status: 'unreachable', code: 'EHOSTUNREACH', attempts: 2 });
test(settlesAs, { errno: errno.EACCES }, { status: 'unreachable', code: 'EACCES', attempts: 2 });
test(settlesAs, { errno: errno.ENETUNREACH }, { status: 'unreachable', code: 'ENETUNREACH', attempts: 2 });
test(settlesAs, { errno: errno.ETIMEDOUT }, { status: 'timeout', code: 'ETIMEDOUT', attempts: 2 });
test(settlesAs, { errno: errno.ECONNRESET }, { status: 'error', code: 'ECONNRESET', attempts: 2 });
// No SYN left this host: attempts 0.
test(settlesAs, { kind: RecordKind.notStarted, errno: errno.ENETUNREACH }, { status: 'unreachable', code: 'ENETUNREACH', attempts: 0 });
test(settlesAs, { kind: RecordKind.notStarted, errno: errno.EMFILE }, { status: 'error', code: 'EMFILE', attempts: 0 });
test(settlesAs, { kind: RecordKind.failed, errno: errno.EBADF }, { status: 'error', code: 'EBADF', attempts: 2 });

test('records of one batch settle their own probes; a stale generation is ignored', async (t) => {
  const { addon, calls, emit, deliverRaw } = fakeAddon();
  const strategy = await startedWith(addon);
  const a = strategy.probe(target, soon());
  const b = strategy.probe({ ...target, port: 81 }, soon());
  const generation = calls.filter((c) => c.op === 'connect')[1].generation as number;
  // A record for slot 1 with another generation (an engine bug, or a record from before a reuse): dropped.
  deliverRaw(Int32Array.from([1, generation + 5, RecordKind.settled, 0, 0, 1, -1]));
  t.like(strategy.stats(), { inFlight: 2, open: 0 });
  emit({ slot: 1, errno: errno.ECONNREFUSED }, { slot: 0 });
  t.like(await a, { status: 'open', attempts: 1 });
  t.like(await b, { status: 'closed', code: 'ECONNREFUSED' });
  t.like(strategy.stats(), { open: 1, closed: 1, inFlight: 0 });
});

test('slots are reused only after their record, with a new generation', async (t) => {
  const { addon, calls, emit } = fakeAddon();
  const strategy = await startedWith(addon);
  const first = strategy.probe(target, soon());
  emit({ slot: 0 });
  await first;
  const second = strategy.probe(target, soon());
  const connects = calls.filter((c) => c.op === 'connect');
  t.deepEqual(connects.map((c) => [c.slot, c.generation]), [
    [0, 1],
    [0, 2],
  ]);
  emit({ slot: 0 });
  t.like(await second, { status: 'open' });
});

test('an already-aborted signal rejects with its reason and starts nothing', async (t) => {
  const { addon, ops } = fakeAddon();
  const strategy = await startedWith(addon);
  const reason = new Error('mine');
  const error = await t.throwsAsync(strategy.probe(target, { ...soon(), signal: AbortSignal.abort(reason) }));
  t.is(error, reason);
  t.deepEqual(ops(), []);
});

test('abort while in flight rejects with the reason, cancels the socket, frees the slot on its record', async (t) => {
  const { addon, ops, emit } = fakeAddon();
  const strategy = await startedWith(addon);
  const controller = new AbortController();
  const pending = strategy.probe(target, { ...soon(), signal: controller.signal });
  const reason = new Error('stop');
  controller.abort(reason);
  t.is(await t.throwsAsync(pending), reason);
  t.deepEqual(ops(), ['ref', 'connect 0', 'cancel 0']);
  t.like(strategy.stats(), { aborted: 1, inFlight: 0 });
  emit({ slot: 0, kind: RecordKind.cancelled });
  t.deepEqual(ops().slice(-1), ['unref'], 'released once the engine closed the socket');
  const next = strategy.probe(target, soon());
  emit({ slot: 0 });
  t.like(await next, { status: 'open' });
});

test('the deadline cancels the socket; its record settles a timeout with the SYNs the kernel sent', async (t) => {
  const { addon, ops, emit } = fakeAddon();
  const strategy = await startedWith(addon);
  const pending = strategy.probe(target, { deadline: performance.now() + 20, retries: 1 });
  await new Promise((resolve) => setTimeout(resolve, 60));
  t.deepEqual(ops(), ['ref', 'connect 0', 'cancel 0']);
  emit({ slot: 0, kind: RecordKind.cancelled, retransmits: 2 });
  t.deepEqual(await pending, { status: 'timeout', code: 'ETIMEDOUT', attempts: 3 });
});

test('an answer that races the deadline wins over the timeout', async (t) => {
  const { addon, ops, emit } = fakeAddon();
  const strategy = await startedWith(addon);
  const pending = strategy.probe(target, { deadline: performance.now() + 20, retries: 1 });
  await new Promise((resolve) => setTimeout(resolve, 60));
  t.deepEqual(ops(), ['ref', 'connect 0', 'cancel 0']);
  emit({ slot: 0, errno: errno.ECONNREFUSED });
  t.like(await pending, { status: 'closed', code: 'ECONNREFUSED' });
});

test('a deadline already past gives a timeout without a socket', async (t) => {
  const { addon, ops } = fakeAddon();
  const strategy = await startedWith(addon);
  const outcome = await strategy.probe(target, { deadline: performance.now() - 1, retries: 1 });
  t.deepEqual(outcome, { status: 'timeout', code: 'ETIMEDOUT', attempts: 0 });
  t.deepEqual(ops(), []);
});

test('close() settles in-flight probes as ERR_SHAKER_CLOSED and closes the engine', async (t) => {
  const { addon, ops } = fakeAddon();
  const strategy = await startedWith(addon);
  const pending = [strategy.probe(target, soon()), strategy.probe(target, soon())];
  await strategy.close();
  for (const outcome of await Promise.all(pending)) {
    t.like(outcome, { status: 'error', code: 'ERR_SHAKER_CLOSED', attempts: 1 });
    t.is(outcome.error?.name, 'StateError');
  }
  t.true(ops().includes('close'));
  t.like(strategy.stats(), { errors: 2, inFlight: 0 });
  await t.throwsAsync(strategy.probe(target, soon()), { code: 'ERR_SHAKER_CLOSED' });
});

test('lifecycle: probe before start, start twice', async (t) => {
  const strategy = new SocketStrategy({ addon: fakeAddon().addon });
  await t.throwsAsync(strategy.probe(target, soon()), { code: 'ERR_SHAKER_NOT_STARTED' });
  await strategy.start();
  await t.throwsAsync(strategy.start(), { code: 'ERR_SHAKER_ALREADY_STARTED' });
  await strategy.close();
  await t.throwsAsync(strategy.start(), { code: 'ERR_SHAKER_CLOSED' });
});

// --- the governor: holds new connects when closes run late ------------------------------------

test('a close near the delayed-ACK window holds new connects until closes are fast again', async (t) => {
  const { addon, emit, inKernel } = fakeAddon();
  const strategy = await startedWith(addon, { governor: { minLimit: 2 } });
  const first = Array.from({ length: 8 }, (_, i) => strategy.probe({ ...target, port: 1000 + i }, soon()));
  t.is(inKernel().length, 8, 'unlimited until a close runs late');
  // One check closed 120 ms after its SYN-ACK (over half the 200 ms window): down to minLimit.
  emit({ slot: 0, closeUs: 120_000 });
  t.like(strategy.stats(), { governorLimit: 2, governorCuts: 1 });
  const later = Array.from({ length: 24 }, (_, i) => strategy.probe({ ...target, port: 2000 + i }, soon()));
  t.is(inKernel().length, 7, 'nothing new enters while 7 are in the kernel and the limit is 2');
  t.like(strategy.stats(), { held: 24, governorHeld: 24 });
  // Fast closes: held probes go in as room appears, never more than the limit at once, and the
  // limit grows back while every close stays fast.
  let most = 0;
  for (let round = 0; round < 100 && inKernel().length > 0; round++) {
    emit(...inKernel().map((slot) => ({ slot, closeUs: 300 })));
    const { governorLimit } = strategy.stats();
    t.true(inKernel().length <= governorLimit, `${inKernel().length} in the kernel, limit ${governorLimit}`);
    most = Math.max(most, governorLimit);
  }
  t.true(most > 2, 'the limit grew while closes were fast');
  for (const outcome of await Promise.all([...first, ...later])) t.is(outcome.status, 'open');
  t.like(strategy.stats(), { held: 0, inFlight: 0, closeSamples: 32, closeLatencyMaxMs: 120 });
});

test('a held probe whose deadline passes times out without ever being started', async (t) => {
  const { addon, calls, emit } = fakeAddon();
  const strategy = await startedWith(addon, { governor: { minLimit: 1 } });
  const a = strategy.probe(target, soon());
  const b = strategy.probe(target, soon());
  emit({ slot: 0, closeUs: 150_000 });
  await a;
  // b is in the kernel, limit 1: c waits.
  const c = strategy.probe(target, { deadline: performance.now() + 20, retries: 1 });
  t.is(calls.filter((x) => x.op === 'connect').length, 2);
  // (The fake engine's ref() holds nothing: a real timer keeps this test's loop alive meanwhile.)
  const [outcome] = await Promise.all([c, new Promise((resolve) => setTimeout(resolve, 60))]);
  t.deepEqual(outcome, { status: 'timeout', code: 'ETIMEDOUT', attempts: 0 });
  emit({ slot: 1 });
  await b;
  t.is(calls.filter((x) => x.op === 'connect').length, 2, 'the expired probe was never started');
  t.like(strategy.stats(), { held: 0, inFlight: 0 });
});

// --- loopback, any user: the real addon ------------------------------------------------------

test('loopback: a local listener is open and never accepts; port 1 is refused', async (t) => {
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const strategy = new SocketStrategy();
  await strategy.start();
  try {
    const open = await strategy.probe({ ip: '127.0.0.1', family: 4, port }, soon());
    t.like(open, { status: 'open', attempts: 1 });
    const refused = await strategy.probe({ ip: '127.0.0.1', family: 4, port: 1 }, soon());
    t.like(refused, { status: 'closed', code: 'ECONNREFUSED', attempts: 1 });
    // Give a wrongly completed handshake time to reach accept() before counting.
    await new Promise((resolve) => setTimeout(resolve, 300));
    t.is(accepted, 0, 'the half-open probe never reaches the application');
    t.like(strategy.stats(), { probesStarted: 2, open: 1, closed: 1, inFlight: 0 });
  } finally {
    await strategy.close();
    server.close();
  }
});

// --- network namespaces (root): on-testbed.ts ------------------------------------------------

sharedCases('socket', { accepts: 0, retransmits: true });

for (const family of families) {
  privilegedTest(`IPv${family} open port as nobody without capabilities: open, nothing accepted`, async (t) => {
    const bed = await strategyBed(t, 'socket');
    const server = await bed.tb.startServer({ port: OPEN });
    const report = await bed.drive(family, OPEN, {}, { unprivileged: true });
    t.log(`outcome ${JSON.stringify(report.outcomes[0])}, uid ${report.uid}, CapEff ${report.capEff}`);
    t.like(report.outcomes[0], { status: 'open', attempts: 1 });
    t.is(report.uid, 65534);
    t.regex(report.capEff, /^0+$/);
    t.is(await server.acceptCount(), 0, 'the server application accepted nothing');
    t.is(report.fdsAfter, report.fdsBefore);
  });

  privilegedTest(`IPv${family} filtered port, retries 1: the kernel gives up first (TCP_SYNCNT)`, async (t) => {
    const report = await (await strategyBed(t, 'socket')).drive(family, FILTERED, { timeoutMs: 20_000, retries: 1 });
    t.log(`${JSON.stringify(report.outcomes[0])} after ${report.elapsedMs.toFixed(0)} ms`);
    t.like(report.outcomes[0], { status: 'timeout', code: 'ETIMEDOUT' });
    t.true(report.elapsedMs < 20_000, 'ETIMEDOUT came from the kernel, before our deadline');
    t.true(report.outcomes[0].attempts >= 2);
  });
}

// Issue #16: under load the close used to wait for the event loop, past the kernel's 200 ms
// delayed-ACK window, and the server application accepted thousands of connections. Correctness
// only (the rate lives in `npm run bench`): as nobody without capabilities, 1000 in flight, every
// check open and nothing accepted.
privilegedTest('IPv4 -c 1000 as nobody without capabilities: every check open, the server accepts nothing', async (t) => {
  const bed = await strategyBed(t, 'socket');
  const server = await bed.tb.startServer({ port: OPEN });
  const count = 20_000;
  const report = await bed.drive(4, OPEN, { mode: 'load', count, concurrency: 1000, timeoutMs: 10_000 }, { unprivileged: true });
  const { closeSamples, closeLatencyP99Ms, closeLatencyMaxMs, governorCuts } = report.stats;
  t.log(`${JSON.stringify(report.statusCounts)} in ${report.elapsedMs.toFixed(0)} ms as uid ${report.uid}; close after SYN-ACK p99 ${closeLatencyP99Ms} ms, max ${closeLatencyMaxMs} ms (${closeSamples} samples), governor cuts ${governorCuts}`);
  t.is(report.uid, 65534);
  t.regex(report.capEff, /^0+$/);
  t.deepEqual(report.statusCounts, { open: count }, JSON.stringify(report.outcomes.slice(0, 5)));
  t.is(report.fdsAfter, report.fdsBefore);
  // A leaked handshake reaches accept() within the 200 ms window plus a scheduling delay; the
  // driver has exited by now, give stragglers a second.
  await sleep(1_000);
  t.is(await server.acceptCount(), 0, 'the server application accepted nothing');
});
