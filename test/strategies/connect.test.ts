import test from 'ava';
import net from 'node:net';
import { ConnectStrategy } from '../../src/strategies/connect.js';
import type { Family } from '../../src/types.js';
import type { Scenario } from './driver.js';
import { families, isRoot, ports, privilegedTest, serverOf, StrategyTestbed } from './integration.js';

const soon = () => ({ deadline: performance.now() + 5_000, retries: 2 });

async function started(): Promise<ConnectStrategy> {
  const strategy = new ConnectStrategy();
  await strategy.start();
  return strategy;
}

// --- no network needed -----------------------------------------------------------------------

test('lifecycle: probe before start, start twice, probe after close', async (t) => {
  const strategy = new ConnectStrategy();
  const target = { ip: '127.0.0.1', family: 4 as const, port: 1 };
  await t.throwsAsync(strategy.probe(target, soon()), { code: 'ERR_SHAKER_NOT_STARTED' });
  await strategy.start();
  await t.throwsAsync(strategy.start(), { code: 'ERR_SHAKER_ALREADY_STARTED' });
  await strategy.close();
  await t.throwsAsync(strategy.probe(target, soon()), { code: 'ERR_SHAKER_CLOSED' });
});

test('an already-aborted signal rejects with its reason', async (t) => {
  const strategy = await started();
  const reason = new Error('mine');
  const error = await t.throwsAsync(
    strategy.probe({ ip: '127.0.0.1', family: 4, port: 1 }, { ...soon(), signal: AbortSignal.abort(reason) }),
  );
  t.is(error, reason);
  t.is(strategy.stats().probesStarted, 0);
});

const rejectsAddress = test.macro({
  async exec(t, ip: string, family: Family) {
    const strategy = await started();
    await t.throwsAsync(strategy.probe({ ip, family, port: 80 }, soon()), { code: 'ERR_SHAKER_INVALID_ADDRESS' });
  },
  title: (_p, ip: string, family: Family) => `refuses ${ip} as an IPv${family} literal`,
});
test(rejectsAddress, '198.18.0.2', 6);
test(rejectsAddress, '2001:2::2', 4);
test(rejectsAddress, 'example.com', 4);

test('a deadline already past gives a timeout without a socket', async (t) => {
  const strategy = await started();
  const outcome = await strategy.probe({ ip: '127.0.0.1', family: 4, port: 1 }, { deadline: performance.now() - 1, retries: 0 });
  t.deepEqual(outcome, { status: 'timeout', code: 'ETIMEDOUT', attempts: 0 });
});

// --- loopback, any user ----------------------------------------------------------------------

test('loopback: a local listener is open and DOES accept (full handshake); port 1 is refused', async (t) => {
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    socket.on('error', () => {});
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const strategy = await started();
  try {
    t.like(await strategy.probe({ ip: '127.0.0.1', family: 4, port }, soon()), { status: 'open', attempts: 1 });
    t.like(await strategy.probe({ ip: '127.0.0.1', family: 4, port: 1 }, soon()), { status: 'closed', code: 'ECONNREFUSED' });
    for (let i = 0; i < 100 && accepted === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    t.is(accepted, 1, 'the degradation: the application sees the connection');
    t.like(strategy.stats(), { probesStarted: 2, open: 1, closed: 1, inFlight: 0 });
  } finally {
    await strategy.close();
    server.close();
  }
});

// --- network namespaces (root) ---------------------------------------------------------------

const privileged = privilegedTest('connect strategy');
let bed: StrategyTestbed | undefined;
if (isRoot) {
  test.before(async () => {
    bed = await StrategyTestbed.create('conn');
  });
  test.after.always(async () => {
    await bed?.destroy();
  });
}

function testbed(): StrategyTestbed {
  if (bed === undefined) throw new Error('testbed not created');
  return bed;
}

const scenario = (family: Family, port: number, extra: Partial<Scenario> = {}): Scenario => ({
  strategy: 'connect',
  ip: serverOf(family),
  family,
  port,
  timeoutMs: 3_000,
  retries: 3,
  mode: 'probe',
  ...extra,
});

for (const family of families) {
  privileged(`IPv${family} open port: SYN, SYN-ACK, ACK, RST; the application accepts it`, async (t) => {
    const bed = testbed();
    const before = bed.accepted;
    const { result: report, segments } = await bed.capture(ports.open, family, () => bed.drive(scenario(family, ports.open)));
    const accepted = (await bed.acceptedAtLeast(before + 1)) - before;
    t.log(`outcome ${JSON.stringify(report.outcomes[0])}, accepted ${accepted}`);
    t.log(segments.map((s) => `${s.from}:${s.flags}`).join(' '));
    t.like(report.outcomes[0], { status: 'open', attempts: 1 });
    const client = segments.filter((s) => s.from === 'client').map((s) => s.flags);
    t.is(client[0], 'S');
    t.is(client[1], '.', 'the client completes the handshake');
    t.true(client.slice(2).some((flags) => flags.startsWith('R')), 'then resets it');
    t.is(accepted, 1);
    t.is(report.fdsAfter, report.fdsBefore);
  });

  privileged(`IPv${family} closed port: closed / ECONNREFUSED`, async (t) => {
    const report = await testbed().drive(scenario(family, ports.closed));
    t.log(JSON.stringify(report.outcomes[0]));
    t.like(report.outcomes[0], { status: 'closed', code: 'ECONNREFUSED', attempts: 1 });
    t.true(report.elapsedMs < 3_000, 'ended by the RST, not by the deadline');
  });

  privileged(`IPv${family} filtered port: timeout at our deadline`, async (t) => {
    const report = await testbed().drive(scenario(family, ports.filtered, { timeoutMs: 1_500 }));
    t.log(`${JSON.stringify(report.outcomes[0])} after ${report.elapsedMs.toFixed(0)} ms`);
    t.deepEqual(report.outcomes[0], { status: 'timeout', code: 'ETIMEDOUT', attempts: 1 });
    t.true(report.elapsedMs >= 1_500, 'never before the deadline');
    t.is(report.fdsAfter, report.fdsBefore);
  });

  privileged(`IPv${family} ICMP administratively prohibited`, async (t) => {
    const report = await testbed().drive(scenario(family, ports.prohibited));
    t.log(`${JSON.stringify(report.outcomes[0])} after ${report.elapsedMs.toFixed(0)} ms`);
    // Same kernel behaviour as the socket strategy: see socket.test.ts.
    t.like(report.outcomes[0], { status: 'unreachable', code: family === 4 ? 'EHOSTUNREACH' : 'EACCES' });
  });

  privileged(`IPv${family} AbortSignal: rejects with the reason, no fd left`, async (t) => {
    const report = await testbed().drive(scenario(family, ports.filtered, { mode: 'abort', abortAfterMs: 200 }));
    t.log(`rejected with the reason: ${report.rejectedWithReason}, fds ${report.fdsBefore} → ${report.fdsAfter}`);
    t.true(report.rejectedWithReason);
    t.deepEqual(report.outcomes, []);
    t.true(report.elapsedMs < 3_000, 'ended by the abort, not by the deadline');
    t.is(report.fdsAfter, report.fdsBefore);
    t.like(report.stats, { aborted: 1, inFlight: 0 });
  });

  privileged(`IPv${family} close() with probes in flight: all settle, no fd left`, async (t) => {
    const report = await testbed().drive(scenario(family, ports.filtered, { mode: 'close', count: 8, closeAfterMs: 200 }));
    t.log(`${report.outcomes.map((o) => o.code).join(' ')}, fds ${report.fdsBefore} → ${report.fdsAfter}`);
    t.is(report.outcomes.length, 8);
    for (const outcome of report.outcomes) t.like(outcome, { status: 'error', code: 'ERR_SHAKER_CLOSED' });
    t.is(report.fdsAfter, report.fdsBefore);
    t.like(report.stats, { probesStarted: 8, errors: 8, inFlight: 0 });
  });
}
