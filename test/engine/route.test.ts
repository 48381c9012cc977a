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

test('RouteCache answers a repeated lookup from its cache (the same object)', async (t) => {
  const routes = new RouteCache();
  const first = await routes.lookup('127.0.0.2', 4);
  t.is(await routes.lookup('127.0.0.2', 4), first);
});

test('RouteCache evicts the oldest entry past maxEntries', async (t) => {
  const routes = new RouteCache(2);
  const a = await routes.lookup('127.0.0.1', 4);
  await routes.lookup('127.0.0.2', 4);
  await routes.lookup('127.0.0.3', 4); // evicts 127.0.0.1
  const again = await routes.lookup('127.0.0.1', 4);
  t.deepEqual(again, a, 'the same answer');
  t.not(again, a, 'but looked up afresh');
});
