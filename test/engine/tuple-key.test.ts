// tupleKey names (remote address, remote port, local port) with one number. Its contract: the
// same tuple always gives the same key, the key is a non-negative safe integer below 2^52 (a Map
// keeps it unboxed), and different tuples rarely share a key. Collisions are allowed (the probe
// table compares the whole tuple) but must be rare; that is a property of the sample, not timing.
import test from 'ava';
import { tupleKey } from '../../src/engine/tuple-key.js';
import { SeedRun } from '../helpers/seeds.js';
import { ip, prng } from '../wire/util.js';

const key = (addr: Uint8Array, remotePort: number, localPort: number) => tupleKey(addr, 0, addr.length, remotePort, localPort);

const SAMPLE = 100_000;

function randomTuples(seed: number, family: 4 | 6, count: number) {
  const random = prng(seed);
  const len = family === 4 ? 4 : 16;
  return Array.from({ length: count }, () => {
    const addr = Uint8Array.from({ length: len }, () => Math.floor(random() * 256));
    return { addr, remotePort: 1 + Math.floor(random() * 65535), localPort: 1 + Math.floor(random() * 65535) };
  });
}

const property = test.macro({
  exec(t, family: 4 | 6) {
    // 100,000 random tuples in a 2^52 key space: about 1e-6 expected collisions by chance, so
    // even a few means a weak mix, whatever the seed.
    const run = new SeedRun(t, [family * 1000 + 7]);
    for (const seed of run) {
      const tuples = randomTuples(seed, family, SAMPLE);
      const seen = new Map<number, string>();
      let collisions = 0;
      let duplicates = 0;
      let unstable = 0;
      for (const { addr, remotePort, localPort } of tuples) {
        const k = key(addr, remotePort, localPort);
        if (!Number.isSafeInteger(k) || k < 0 || k >= 2 ** 52) {
          t.fail(`${run.where(seed)}: key ${k} for ${addr.join('.')} ${remotePort} ${localPort} is not a 52-bit integer`);
          return;
        }
        // A copy of the address in a fresh buffer: the key depends on the values only.
        if (key(addr.slice(), remotePort, localPort) !== k) unstable++;
        const name = `${addr.join('.')}|${remotePort}|${localPort}`;
        const previous = seen.get(k);
        if (previous === undefined) seen.set(k, name);
        else if (previous === name) duplicates++; // the generator repeated a tuple: not a collision
        else collisions++;
        run.inputs++;
      }
      t.is(unstable, 0, `${run.where(seed)}: the same tuple always gives the same key`);
      t.log(`IPv${family}, seed ${seed}: ${collisions} collisions among ${SAMPLE - duplicates} distinct random tuples`);
      t.true(collisions < 5, `${run.where(seed)}: ${collisions} collisions in ${SAMPLE}`);
    }
    run.done();
  },
  title: (_p, family: 4 | 6) => `IPv${family}: deterministic 52-bit safe integers with rare collisions over ${SAMPLE} random tuples`,
});
test(property, 4);
test(property, 6);

test('tuples that differ in one field only get different keys (dense neighbourhoods)', (t) => {
  // The engine probes one target from consecutive source ports, and sweeps of consecutive
  // addresses or ports: the structured cases where a weak mix would collide first.
  const seen = new Set<number>();
  let count = 0;
  const base = ip('198.18.0.2');
  for (let localPort = 61000; localPort <= 65535; localPort++, count++) seen.add(key(base, 80, localPort));
  for (let remotePort = 1; remotePort <= 65535; remotePort++, count++) seen.add(key(base, remotePort, 60999));
  for (let i = 0; i < 65536; i++, count++) seen.add(key(Uint8Array.of(10, 0, i >> 8, i & 255), 443, 61000));
  for (let i = 0; i < 65536; i++, count++) {
    const v6 = ip('2001:2::');
    v6[14] = i >> 8;
    v6[15] = i & 255;
    seen.add(key(v6, 443, 61000));
  }
  t.log(`${count - seen.size} collisions among ${count} neighbouring tuples`);
  t.true(count - seen.size < 5);
});

const distinct = test.macro({
  exec(t, a: [string, number, number], b: [string, number, number]) {
    t.not(key(ip(a[0]), a[1], a[2]), key(ip(b[0]), b[1], b[2]));
  },
  title: (_p, a: [string, number, number], b: [string, number, number]) => `${a.join(' ')} ≠ ${b.join(' ')}`,
});
for (const [a, b] of [
  [['198.18.0.2', 80, 61000], ['198.18.0.2', 81, 61000]],
  [['198.18.0.2', 80, 61000], ['198.18.0.2', 80, 61001]],
  [['198.18.0.2', 80, 61000], ['198.18.0.3', 80, 61000]],
  // Swapping the two ports must not give the same key: a reply has them the other way round.
  [['198.18.0.2', 80, 61000], ['198.18.0.2', 61000, 80]],
  // The same 4 bytes as the start of an IPv6 address, and the v4-mapped form.
  [['0.0.0.0', 80, 61000], ['::', 80, 61000]],
  [['198.18.0.2', 80, 61000], ['::ffff:198.18.0.2', 80, 61000]],
  [['2001:2::2', 80, 61000], ['2001:2::3', 80, 61000]],
  // Ports 0 name a destination for the RST limiter; they must not alias a real tuple.
  [['198.18.0.2', 0, 0], ['198.18.0.2', 0, 1]],
] as Array<[[string, number, number], [string, number, number]]>) test(distinct, a, b);

test('reads the address at `offset` within a larger buffer', (t) => {
  // The engine passes the probe table's 16-byte-per-slot column with an offset.
  const column = new Uint8Array(64).fill(0xee);
  column.set(ip('198.18.0.2'), 16);
  column.set(ip('2001:2::2'), 32);
  t.is(tupleKey(column, 16, 4, 80, 61000), key(ip('198.18.0.2'), 80, 61000));
  t.is(tupleKey(column, 32, 16, 80, 61000), key(ip('2001:2::2'), 80, 61000));
});

test('the same tuple gives the same key in every call (no hidden state or per-process salt)', (t) => {
  const a = key(ip('203.0.113.9'), 8080, 62001);
  for (let i = 0; i < 10; i++) key(ip(`10.0.0.${i}`), i, i); // unrelated calls in between
  t.is(key(ip('203.0.113.9'), 8080, 62001), a);
  t.true(Number.isSafeInteger(key(ip('255.255.255.255'), 65535, 65535)));
  t.true(Number.isSafeInteger(key(ip('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), 65535, 65535)));
});
