// Route lookup: only loopback destinations here (no packet is sent by a UDP connect, and lo is
// present on every host and in every network namespace), plus the pure isLoopback.
import test from 'ava';
import os from 'node:os';
import { isLoopback, RouteCache, sourceAddressFor } from '../../src/engine/route.js';

const loopback = test.macro({
  exec(t, ip: string, expected: boolean) {
    t.is(isLoopback(ip), expected);
  },
  title: (_p, ip: string, expected: boolean) => `isLoopback(${ip}) is ${expected}`,
});
for (const [ip, expected] of [
  ['127.0.0.1', true],
  ['127.255.255.254', true],
  ['::1', true],
  ['::ffff:127.0.0.1', true],
  ['128.0.0.1', false],
  ['10.127.0.1', false],
  ['::2', false],
  ['2001:2::1', false],
  ['::ffff:10.0.0.1', false],
] as const) test(loopback, ip, expected);

/** The loopback interface's name on this host (the one flagged internal), normally 'lo'. */
function loopbackName(): string | undefined {
  for (const [name, addrs] of Object.entries(os.networkInterfaces())) if (addrs?.some((a) => a.internal)) return name;
  return undefined;
}

test('sourceAddressFor(127.0.0.1) is a loopback address', async (t) => {
  t.true(isLoopback(await sourceAddressFor('127.0.0.1', 4)));
});

test("RouteCache.lookup('127.0.0.1', 4) goes out over the loopback interface", async (t) => {
  const routes = new RouteCache();
  const route = await routes.lookup('127.0.0.1', 4);
  t.is(route.interface, loopbackName() ?? 'lo');
  t.is(route.interface, 'lo', 'Linux names it lo');
  t.is(route.source, '127.0.0.1');
});

test('RouteCache: peek() is empty before a lookup and answers from the cache after it', async (t) => {
  const routes = new RouteCache();
  t.is(routes.peek('127.0.0.2'), undefined);
  const first = await routes.lookup('127.0.0.2', 4);
  t.like(routes.peek('127.0.0.2'), { source: first.source, interface: first.interface });
  t.like(await routes.lookup('127.0.0.2', 4), { source: first.source, interface: first.interface });
});

test('RouteCache: concurrent lookups of one address share one question to the kernel', async (t) => {
  // No routing table (as without iproute2): the per-address path, where the sharing matters.
  const routes = new RouteCache(65536, async () => undefined);
  const [a, b] = await Promise.all([routes.lookup('127.0.0.3', 4), routes.lookup('127.0.0.3', 4)]);
  t.is(a, b, 'one answer for a burst of checks');
  t.is(routes.stats.kernelLookups, 1, 'one question to the kernel');
});

test('RouteCache evicts the oldest entry past maxEntries', async (t) => {
  const routes = new RouteCache(2, async () => undefined);
  await routes.lookup('127.0.0.1', 4);
  await routes.lookup('127.0.0.2', 4);
  await routes.lookup('127.0.0.3', 4); // evicts 127.0.0.1
  t.is(routes.peek('127.0.0.1'), undefined);
  t.not(routes.peek('127.0.0.2'), undefined);
  t.not(routes.peek('127.0.0.3'), undefined);
  t.like(await routes.lookup('127.0.0.1', 4), { interface: 'lo' }, 'looked up afresh');
});
