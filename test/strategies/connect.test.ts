import test from 'ava';
import net from 'node:net';
import { ConnectStrategy } from '../../src/strategies/connect.js';
import type { Family } from '../../src/core/types.js';
import { sharedCases } from './on-testbed.js';

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

// --- network namespaces (root): on-testbed.ts ------------------------------------------------

// The degradation: a full handshake the application sees, and no SYN retransmission counted.
sharedCases('connect', { accepts: 1, retransmits: false });
