import test from 'ava';
import net from 'node:net';
import os from 'node:os';
import { SocketStrategy, ipBytes, synRetriesFor, type SocketAddon } from '../../src/strategies/socket.js';
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

// --- against a fake addon: every branch without a network ------------------------------------

/** Records calls; connects stay pending until the test fires their watch. */
function fakeAddon(options: { connectStart?: number } = {}) {
  const calls: string[] = [];
  const watches = new Map<number, (status: number) => void>();
  const soErrors = new Map<number, number>();
  let nextFd = 100;
  const addon: SocketAddon = {
    connectStart(_dst, port, _src, synRetries) {
      calls.push(`connectStart ${port} syncnt=${synRetries}`);
      return options.connectStart ?? nextFd++;
    },
    socketError: (fd) => soErrors.get(fd) ?? 0,
    tcpRetransmits: () => 1,
    close(fd) {
      calls.push(`close ${fd}`);
      return 0;
    },
    WritableWatch: class {
      readonly #fd: number;
      constructor(fd: number, callback: (status: number) => void) {
        this.#fd = fd;
        calls.push(`watch ${fd}`);
        watches.set(fd, callback);
      }
      stop(): void {
        calls.push(`stop ${this.#fd}`);
        watches.delete(this.#fd);
      }
    },
  };
  /** Settles the connect on `fd`: SO_ERROR `soError`, poll status `status`. */
  const settle = (fd: number, soError: number, status = 0): void => {
    soErrors.set(fd, soError);
    watches.get(fd)?.(status);
  };
  return { addon, calls, settle };
}

async function startedWith(addon: SocketAddon): Promise<SocketStrategy> {
  const strategy = new SocketStrategy({ addon });
  await strategy.start();
  return strategy;
}

const settlesAs = test.macro({
  async exec(t, soError: number, status: number, expected: { status: CheckStatus; code?: string }) {
    const { addon, calls, settle } = fakeAddon();
    const strategy = await startedWith(addon);
    const pending = strategy.probe(target, soon());
    settle(100, soError, status);
    const outcome = await pending;
    t.is(outcome.status, expected.status);
    t.is(outcome.code, expected.code);
    t.is(outcome.attempts, 2, '1 + tcpi_total_retrans');
    t.is(outcome.rttMs === undefined, expected.status === 'timeout' || expected.status === 'error');
    t.deepEqual(calls, ['connectStart 80 syncnt=2', 'watch 100', 'stop 100', 'close 100'], 'poll stopped before the fd closes');
    t.is(strategy.stats().inFlight, 0);
  },
  title: (_p, soError: number, status: number, expected: { status: string; code?: string }) =>
    `SO_ERROR ${soError} (poll status ${status}) → ${expected.status} ${expected.code ?? ''}`.trim(),
});

test(settlesAs, 0, 0, { status: 'open' });
test(settlesAs, errno.ECONNREFUSED, 0, { status: 'closed', code: 'ECONNREFUSED' });
// libuv reports EPOLLERR as UV_EBADF: the socket's SO_ERROR still tells what happened.
test(settlesAs, errno.ECONNREFUSED, -errno.EBADF, { status: 'closed', code: 'ECONNREFUSED' });
test(settlesAs, errno.EHOSTUNREACH, -errno.EBADF, { status: 'unreachable', code: 'EHOSTUNREACH' });
test(settlesAs, errno.EACCES, -errno.EBADF, { status: 'unreachable', code: 'EACCES' });
test(settlesAs, errno.ENETUNREACH, 0, { status: 'unreachable', code: 'ENETUNREACH' });
test(settlesAs, errno.ETIMEDOUT, 0, { status: 'timeout', code: 'ETIMEDOUT' });
test(settlesAs, errno.EMFILE, 0, { status: 'error', code: 'EMFILE' });
test(settlesAs, 0, -errno.EBADF, { status: 'error', code: 'EBADF' });

test('a connect that fails at once sent no SYN: attempts 0, no fd to close', async (t) => {
  const { addon, calls } = fakeAddon({ connectStart: -errno.ENETUNREACH });
  const strategy = await startedWith(addon);
  const outcome = await strategy.probe(target, soon());
  t.like(outcome, { status: 'unreachable', code: 'ENETUNREACH', attempts: 0 });
  t.deepEqual(calls, ['connectStart 80 syncnt=2']);
});

test('an already-aborted signal rejects with its reason and creates no socket', async (t) => {
  const { addon, calls } = fakeAddon();
  const strategy = await startedWith(addon);
  const reason = new Error('mine');
  const error = await t.throwsAsync(strategy.probe(target, { ...soon(), signal: AbortSignal.abort(reason) }));
  t.is(error, reason);
  t.deepEqual(calls, []);
});

test('abort while in flight rejects with the reason and frees the fd', async (t) => {
  const { addon, calls } = fakeAddon();
  const strategy = await startedWith(addon);
  const controller = new AbortController();
  const pending = strategy.probe(target, { ...soon(), signal: controller.signal });
  const reason = new Error('stop');
  controller.abort(reason);
  t.is(await t.throwsAsync(pending), reason);
  t.deepEqual(calls.slice(-2), ['stop 100', 'close 100']);
  t.like(strategy.stats(), { aborted: 1, inFlight: 0 });
});

test('the deadline settles a silent probe as a timeout', async (t) => {
  const { addon, calls } = fakeAddon();
  const strategy = await startedWith(addon);
  const outcome = await strategy.probe(target, { deadline: performance.now() + 20, retries: 1 });
  t.deepEqual(outcome, { status: 'timeout', code: 'ETIMEDOUT', attempts: 2 });
  t.deepEqual(calls.slice(-2), ['stop 100', 'close 100']);
});

test('a deadline already past gives a timeout without a socket', async (t) => {
  const { addon, calls } = fakeAddon();
  const strategy = await startedWith(addon);
  const outcome = await strategy.probe(target, { deadline: performance.now() - 1, retries: 1 });
  t.deepEqual(outcome, { status: 'timeout', code: 'ETIMEDOUT', attempts: 0 });
  t.deepEqual(calls, []);
});

test('close() settles in-flight probes as ERR_SHAKER_CLOSED and closes their fds', async (t) => {
  const { addon, calls } = fakeAddon();
  const strategy = await startedWith(addon);
  const pending = [strategy.probe(target, soon()), strategy.probe(target, soon())];
  await strategy.close();
  for (const outcome of await Promise.all(pending)) {
    t.like(outcome, { status: 'error', code: 'ERR_SHAKER_CLOSED' });
    t.is(outcome.error?.name, 'StateError');
  }
  t.true(calls.includes('close 100') && calls.includes('close 101'));
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
