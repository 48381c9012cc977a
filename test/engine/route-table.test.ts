// The routing table matched in TypeScript (src/engine/route-table.ts): `ip -j route` parsing
// and the longest-prefix match across the default rules' tables, on hand-made tables in the
// shape `ip -j route show table all` prints (field names as on Debian's iproute2 6.x).
import test from 'ava';
import { onlyDefaultRules, parseIpRoutes, RouteTable } from '../../src/engine/route-table.js';
import { RouteCache } from '../../src/engine/route.js';
import { parseAddress } from '../../src/wire/index.js';
import { SeedRun } from '../helpers/seeds.js';
import { prng } from '../wire/util.js';

const ROUTES4 = [
  { dst: 'default', gateway: '198.18.0.254', dev: 'eth0', flags: [] },
  { dst: '198.18.0.0/24', dev: 'eth0', protocol: 'kernel', scope: 'link', prefsrc: '198.18.0.1', flags: [] },
  { dst: '198.19.0.0/16', gateway: '198.18.0.2', dev: 'veth1', flags: [] },
  { dst: '198.19.7.0/24', gateway: '198.18.0.3', dev: 'veth2', metric: 10, flags: [] },
  { dst: '198.19.7.0/24', gateway: '198.18.0.4', dev: 'veth3', metric: 5, flags: [] },
  { type: 'blackhole', dst: '198.18.100.0/24', flags: [] },
  { dst: '198.18.101.0/24', nexthops: [{ gateway: '198.18.0.2', dev: 'eth0' }, { gateway: '198.18.0.3', dev: 'eth0' }], flags: [] },
  { type: 'local', dst: '127.0.0.0/8', dev: 'lo', table: 'local', protocol: 'kernel', scope: 'host', prefsrc: '127.0.0.1', flags: [] },
  { type: 'local', dst: '198.18.0.1', dev: 'eth0', table: 'local', protocol: 'kernel', scope: 'host', prefsrc: '198.18.0.1', flags: [] },
  { type: 'broadcast', dst: '198.18.0.255', dev: 'eth0', table: 'local', protocol: 'kernel', scope: 'link', prefsrc: '198.18.0.1', flags: [] },
  { type: 'local', dst: '198.18.128.0/17', dev: 'lo', table: 'local', flags: [] },
  { dst: '203.0.113.0/24', dev: 'eth9', table: '100', flags: [] },
  { dst: 'not an address', dev: 'eth0' },
];
const ROUTES6 = [
  { dst: '2001:2::/64', dev: 'eth0', protocol: 'kernel', metric: 256, flags: [], pref: 'medium' },
  { dst: '2001:2:0:1::/64', dev: 'eth0', prefsrc: '2001:2::1', metric: 256, flags: [] },
  { dst: 'default', gateway: '2001:2::fe', dev: 'eth0', metric: 1024, flags: [] },
  { type: 'local', dst: '2001:2::1', dev: 'eth0', table: 'local', metric: 0, flags: [] },
];

const table = new RouteTable([...parseIpRoutes(ROUTES4, 4), ...parseIpRoutes(ROUTES6, 6)]);

function at(ip: string): Uint8Array {
  const bytes = parseAddress(ip);
  if (!bytes) throw new Error(`bad address ${ip}`);
  return bytes;
}

const match = test.macro({
  exec(t, ip: string, expected: { dev?: string; prefixLen?: number; type?: string; table?: string; gateway?: string } | undefined) {
    const entry = table.match(at(ip));
    if (expected === undefined) t.is(entry, undefined);
    else t.like(entry, expected);
  },
  title: (_p, ip: string, expected) => `match(${ip}) is ${expected === undefined ? 'left to the kernel' : JSON.stringify(expected)}`,
});
for (const [ip, expected] of [
  ['198.19.3.4', { dev: 'veth1', prefixLen: 16, gateway: '198.18.0.2' }],
  ['198.19.255.255', { dev: 'veth1', prefixLen: 16 }],
  // The longer prefix wins; of two equal prefixes the lower metric.
  ['198.19.7.9', { dev: 'veth3', prefixLen: 24, gateway: '198.18.0.4' }],
  ['198.18.0.7', { dev: 'eth0', prefixLen: 24 }],
  ['8.8.8.8', { dev: 'eth0', prefixLen: 0, gateway: '198.18.0.254' }],
  // The local table comes first (rule 0): our own address, the loopback block, a local prefix.
  ['198.18.0.1', { type: 'local', table: 'local', prefixLen: 32 }],
  ['127.0.0.9', { type: 'local', dev: 'lo', prefixLen: 8 }],
  ['198.18.130.1', { type: 'local', dev: 'lo', prefixLen: 17 }],
  // What the table alone cannot answer: a blackhole, ECMP, a broadcast address.
  ['198.18.100.1', undefined],
  ['198.18.101.1', undefined],
  ['198.18.0.255', undefined],
  // Table 100 is consulted by no default rule: the main table's default route answers.
  ['203.0.113.5', { dev: 'eth0', prefixLen: 0 }],
  ['2001:2::5', { dev: 'eth0', prefixLen: 64 }],
  ['2001:2:0:1::5', { dev: 'eth0', prefixLen: 64 }],
  ['2001:2::1', { type: 'local', prefixLen: 128 }],
  ['2001:db8::1', { dev: 'eth0', prefixLen: 0, gateway: '2001:2::fe' }],
] as const) test(match, ip, expected);

test('parseIpRoutes skips what it cannot read and masks prefixes', (t) => {
  const entries = parseIpRoutes([...ROUTES4, { dst: '198.19.1.255/16', dev: 'x' }, null, 5, { dst: '1.2.3.4/40' }], 4);
  t.is(entries.length, ROUTES4.length - 1 + 1);
  t.deepEqual([...entries.at(-1)!.prefix], [198, 19, 0, 0]);
  t.deepEqual(parseIpRoutes({ not: 'an array' }, 4), []);
});

const RULES = [
  { priority: 0, src: 'all', table: 'local' },
  { priority: 32766, src: 'all', table: 'main' },
  { priority: 32767, src: 'all', table: 'default' },
];
test('onlyDefaultRules: the three kernel rules, and nothing else', (t) => {
  t.true(onlyDefaultRules(RULES));
  t.false(onlyDefaultRules([RULES[0], { priority: 100, src: '198.18.0.0/24', table: '100' }, RULES[1], RULES[2]]));
  t.true(onlyDefaultRules([RULES[0], RULES[1]]), 'IPv6 in a fresh namespace has no rule for the default table');
  t.false(onlyDefaultRules([RULES[0]]));
  t.false(onlyDefaultRules([RULES[1], RULES[0]]));
  t.false(onlyDefaultRules('x'));
});

test('RouteCache: a sweep of a prefix reads the table once and resolves one route, without a socket', async (t) => {
  let reads = 0;
  const routes = new RouteCache(65536, async () => {
    reads++;
    return table;
  });
  const asked = await Promise.all(Array.from({ length: 300 }, (_, i) => routes.lookup(`198.18.0.${(i % 250) + 2}`, 4)));
  for (const route of asked) t.deepEqual(route, { source: '198.18.0.1', interface: 'eth0' });
  t.is(reads, 1);
  t.is(routes.stats.kernelLookups, 0, 'the route names its source: no kernel lookup at all');
  t.is(routes.stats.routesResolved, 1);
  // Known from now on without waiting, for any address of the prefix, even one never asked.
  t.deepEqual(routes.peek('198.18.0.253'), { source: '198.18.0.1', interface: 'eth0' });
});

test('RouteCache: a local prefix without a preferred source answers from the destination over lo', async (t) => {
  const routes = new RouteCache(65536, async () => table);
  const route = await routes.lookup('198.18.130.7', 4);
  t.is(route.source, '198.18.130.7');
  t.is(routes.stats.kernelLookups, 0);
});

test('RouteCache: without a usable table every address is asked of the kernel (loopback here)', async (t) => {
  const routes = new RouteCache(65536, async () => undefined);
  t.like(await routes.lookup('127.0.0.1', 4), { interface: 'lo', source: '127.0.0.1' });
  t.is(routes.stats.kernelLookups, 1);
  t.is(routes.stats.tableReads, 1);
});

test('RouteCache reads this machine\'s real table (or falls back) and routes 127.0.0.1 over lo', async (t) => {
  const routes = new RouteCache();
  t.like(await routes.lookup('127.0.0.1', 4), { interface: 'lo', source: '127.0.0.1' });
  t.like(await routes.lookup('127.0.0.2', 4), { interface: 'lo' });
});

// match() answers an IPv4 address inside the block of the previous answer from that answer: on
// random tables, walks of neighbouring addresses and jumps must get what a table that has never
// answered anything (no block yet) gets for each address.
test('match(): answers from the last block equal fresh lookups on random tables (seeded)', (t) => {
  const run = new SeedRun(t, [1, 0x5eed]);
  for (const seed of run) {
    const random = prng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
    const base = 0xc6120000; // 198.18.0.0: the routes crowd one /15, so they nest and overlap
    const routes = Array.from({ length: 1 + Math.floor(random() * 24) }, () => {
      const len = pick([0, 8, 15, 16, 17, 20, 24, 24, 28, 30, 31, 32]);
      const address = (base + Math.floor(random() * 0x20000)) >>> 0;
      const dst = len === 0 ? 'default' : `${[24, 16, 8, 0].map((s) => (address >>> s) & 0xff).join('.')}/${len}`;
      return { type: pick(['unicast', 'unicast', 'local', 'blackhole', 'throw']), dst, dev: pick(['eth0', 'eth1', 'lo']), table: pick(['local', 'main', 'main', 'default']) };
    });
    const entries = parseIpRoutes(routes, 4);
    const cached = new RouteTable(entries);
    let at4 = base;
    for (let i = 0; i < 400; i++) {
      at4 = random() < 0.8 ? (at4 + 1 + Math.floor(random() * 64)) >>> 0 : (base + Math.floor(random() * 0x20000)) >>> 0;
      const bytes = Uint8Array.of(at4 >>> 24, (at4 >>> 16) & 0xff, (at4 >>> 8) & 0xff, at4 & 0xff);
      const got = cached.match(bytes);
      const want = new RouteTable(entries).match(bytes);
      run.inputs++;
      // Both tables hold the same entry objects: the same answer is the same object.
      if (got !== want) return t.fail(`${run.where(seed)}: ${bytes.join('.')} matched ${JSON.stringify(got)}, a fresh table ${JSON.stringify(want)}`);
    }
  }
  run.done();
  t.pass();
});
