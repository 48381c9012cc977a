// Target specs and their lazy expansion: CIDR blocks (v4 and v6), port lists and ranges, host
// names, the --max-targets bound, and every malformed input. Parse-only: nothing is resolved or
// sent, so addresses outside the test ranges are fine here.
import test, { type ExecutionContext } from 'ava';
import { countTargets, expandSpec, expandSpecs, expandSpecsItems, parseTargetSpec, specFamily, type SweepOrder, type TargetSpec } from '../../src/cli/target-spec.js';
import { parseTarget, type AddressTarget } from '../../src/core/target.js';
import { InvalidArgumentError } from '../../src/core/errors.js';
import { parseAddress } from '../../src/wire/address.js';
import { parsePortList } from '../../src/cli/port-list.js';
import { UsageError } from '../../src/cli/usage-error.js';

const expands = test.macro({
  exec(t, text: string, expected: string[], family: 0 | 4 | 6) {
    const spec = parseTargetSpec(text);
    t.deepEqual([...expandSpec(spec)], expected);
    t.is(spec.count, BigInt(expected.length), 'count matches the expansion');
    t.is(specFamily(spec), family);
  },
  title: (_p, text: string) => `expands ${JSON.stringify(text)}`,
});
test(expands, '198.18.0.2:80', ['198.18.0.2:80'], 4);
// An IPv4-mapped address or block is IPv4 (network and broadcast skipped like any IPv4 block).
test(expands, '[::ffff:198.18.0.2]:80', ['198.18.0.2:80'], 4);
test(expands, '[::ffff:198.18.0.0/126]:80', ['198.18.0.1:80', '198.18.0.2:80'], 4);
test(expands, ' 198.18.0.2:80 ', ['198.18.0.2:80'], 4); // trimmed
test(expands, '198.18.0.2:79-81', ['198.18.0.2:79', '198.18.0.2:80', '198.18.0.2:81'], 4);
test(expands, '198.18.0.2:443,80,443', ['198.18.0.2:443', '198.18.0.2:80'], 4); // order kept, duplicates dropped
test(expands, '198.18.0.0/30:80', ['198.18.0.1:80', '198.18.0.2:80'], 4); // network and broadcast skipped
test(expands, '198.18.0.0/29:22,80', [1, 2, 3, 4, 5, 6].flatMap((h) => [`198.18.0.${h}:22`, `198.18.0.${h}:80`]), 4);
test(expands, '198.18.0.4/31:80', ['198.18.0.4:80', '198.18.0.5:80'], 4); // RFC 3021: both addresses
test(expands, '198.18.0.7/32:80', ['198.18.0.7:80'], 4);
test(expands, '198.18.0.252/30:1', ['198.18.0.253:1', '198.18.0.254:1'], 4);
test(expands, '198.18.0.254/31:1', ['198.18.0.254:1', '198.18.0.255:1'], 4);
test(expands, '198.18.255.252/30:9', ['198.18.255.253:9', '198.18.255.254:9'], 4); // carries into the third byte
test(expands, '255.255.255.254/31:9', ['255.255.255.254:9', '255.255.255.255:9'], 4); // top of the space, no overflow
test(expands, '[2001:2::2]:80', ['[2001:2::2]:80'], 6);
test(expands, '[2001:2::/126]:22', ['[2001:2::]:22', '[2001:2::1]:22', '[2001:2::2]:22', '[2001:2::3]:22'], 6); // IPv6 keeps all
test(expands, '[2001:2::fffe/127]:1', ['[2001:2::fffe]:1', '[2001:2::ffff]:1'], 6);
test(expands, '[2001:2:0:0:0:0:1:fffe/127]:1', ['[2001:2::1:fffe]:1', '[2001:2::1:ffff]:1'], 6); // canonical text
test(expands, '[2001:2::ffff/128]:1', ['[2001:2::ffff]:1'], 6);
test(expands, '[2001:2:0:ffff:ffff:ffff:ffff:fffe/127]:1', ['[2001:2:0:ffff:ffff:ffff:ffff:fffe]:1', '[2001:2:0:ffff:ffff:ffff:ffff:ffff]:1'], 6);
test(expands, 'db.example:5432,6432', ['db.example:5432', 'db.example:6432'], 0);
test(expands, 'localhost:1-3', ['localhost:1', 'localhost:2', 'localhost:3'], 0);

const counts = test.macro({
  exec(t, text: string, count: bigint) {
    t.is(parseTargetSpec(text).count, count);
  },
  title: (_p, text: string, count: bigint) => `${text} counts ${count}`,
});
test(counts, '198.18.0.0/15:80', 2n ** 17n - 2n);
test(counts, '0.0.0.0/0:1-65535', (2n ** 32n - 2n) * 65535n);
test(counts, '[2001:2::/48]:22', 2n ** 80n);
test(counts, '[::/0]:1-65535', 2n ** 128n * 65535n);
test(counts, '198.18.0.2:1-65535', 65535n);

const rejects = test.macro({
  exec(t, text: string, message: RegExp) {
    const error = t.throws(() => parseTargetSpec(text), { instanceOf: UsageError });
    t.regex(error!.message, message);
    t.false(error!.message.includes('\n'));
  },
  title: (_p, text: string) => `rejects ${JSON.stringify(text)}`,
});
test(rejects, '', /empty target/);
test(rejects, '198.18.0.2', /missing ":port"/);
test(rejects, '198.18.0.2:', /missing port/);
test(rejects, '198.18.0.2:0', /invalid port 0/);
test(rejects, '198.18.0.2:65536', /invalid port 65536/);
test(rejects, '198.18.0.2:80,', /empty item/);
test(rejects, '198.18.0.2:80,,81', /empty item/);
test(rejects, '198.18.0.2:-80', /invalid port ""/);
test(rejects, '198.18.0.2:80-', /invalid port ""/);
test(rejects, '198.18.0.2:81-80', /runs backwards: write 80-81/);
test(rejects, '198.18.0.2:1-2-3', /invalid port "2-3"/);
test(rejects, '198.18.0.2:http', /invalid port "http"/);
test(rejects, '198.18.0.0/33:80', /prefix length "\/33" must be a number from 0 to 32/);
test(rejects, '198.18.0.0/:80', /prefix length "\/"/);
test(rejects, '198.18.0.0/-1:80', /prefix length/);
test(rejects, '198.18.0.0/1a:80', /prefix length/);
test(rejects, '198.18.0.1/30:80', /198.18.0.1\/30 has host bits set; the block is 198.18.0.0\/30/);
test(rejects, '198.18.0/24:80', /"198.18.0" is not an IPv4 address/);
test(rejects, '198.18.0.256:80', /"198.18.0.256" is not a valid IPv4 address/);
test(rejects, 'db.example/24:80', /not an IPv4 address/);
test(rejects, '[2001:2::/129]:80', /from 0 to 128/);
test(rejects, '[2001:2::1/120]:80', /has host bits set; the block is 2001:2::\/120/);
test(rejects, '[2001:2::/64/64]:80', /more than one "\/"/);
test(rejects, '[198.18.0.0/30]:80', /"198.18.0.0" is not an IPv6 address/);
test(rejects, '[2001:2::2:80', /missing "]"/);
test(rejects, '[2001:2::2]80', /missing ":port" after "]"/);
test(rejects, '2001:2::2:80', /brackets, e.g. "\[2001:2::2\]:80"/);
test(rejects, '2001:2::/120:80', /brackets/);
test(rejects, 'http://example.com:80', /neither an IP address nor a host name/);
test(rejects, 'bad host:80', /"bad host" is neither/);
test(rejects, 'a_b..c:80', /neither/);
// Issue 13: no multicast, broadcast or unspecified destination; inet_aton forms refused alike.
test(rejects, '0.0.0.0:80', /"0.0.0.0" is in 0.0.0.0\/8/);
test(rejects, '255.255.255.255:80', /"255.255.255.255" is the broadcast address/);
test(rejects, '255.255.255.255/32:80', /is the broadcast address/);
test(rejects, '224.0.0.1:80', /"224.0.0.1" is multicast/);
test(rejects, '224.0.0.0/24:80', /224.0.0.0\/24 is all multicast/);
test(rejects, '[::]:80', /"::" is the unspecified address/);
test(rejects, '[ff02::1]:80', /"ff02::1" is multicast/);
test(rejects, '[ff02::/16]:80', /ff02::\/16 is all multicast/);
test(rejects, '[::ffff:224.0.0.1]:80', /"224.0.0.1" is multicast/);
test(rejects, '0xc6.18.0.2:80', /"0xc6.18.0.2" is not a valid IPv4 address/);
test(rejects, '198.018.0.2:80', /"198.018.0.2" is not a valid IPv4 address/);
test(rejects, '3325166594:80', /not a valid IPv4 address/);

test('ports come back as a compact array, each once, in the order given', (t) => {
  const ports = parsePortList('443,80-82,81,1', 'test');
  t.true(ports instanceof Uint16Array);
  t.deepEqual([...ports], [443, 80, 81, 82, 1]);
  t.is(parsePortList('1-65535', 'test').length, 65535);
});

test('expansion is lazy: a /8 yields its first targets without walking the rest', (t) => {
  const it = expandSpec(parseTargetSpec('10.0.0.0/8:1-65535'));
  t.deepEqual([it.next().value, it.next().value], ['10.0.0.1:1', '10.0.0.1:2']);
  const v6 = expandSpec(parseTargetSpec('[2001:2::/48]:22'));
  t.is(v6.next().value, '[2001:2::]:22');
});

test('expandSpecs chains specs in order', (t) => {
  const specs = ['198.18.0.2:80', '198.18.0.0/30:22', '[2001:2::2]:1,2'].map(parseTargetSpec);
  t.deepEqual([...expandSpecs(specs)], ['198.18.0.2:80', '198.18.0.1:22', '198.18.0.2:22', '[2001:2::2]:1', '[2001:2::2]:2']);
});

const bounded = test.macro({
  exec(t, texts: string[], max: number, expected: number | RegExp) {
    const specs = texts.map(parseTargetSpec);
    if (typeof expected === 'number') t.is(countTargets(specs, max), expected);
    else t.throws(() => countTargets(specs, max), { instanceOf: UsageError, message: expected });
  },
  title: (_p, texts: string[], max: number) => `countTargets(${texts.join(' ')}) with --max-targets ${max}`,
});
test(bounded, ['198.18.0.0/24:80'], 65536, 254);
test(bounded, ['198.18.0.0/24:80', '198.18.1.0/24:80'], 508, 508); // exactly the bound
test(bounded, ['198.18.0.0/24:80', '198.18.1.0/24:80'], 507, /more than --max-targets 507 \(198.18.1.0\/24:80 alone is 254\)/);
test(bounded, ['198.18.0.0/15:1-65535'], 65536, /more than --max-targets 65536/);
test(bounded, ['[2001:2::/48]:22'], 100_000_000, /alone is 1208925819614629174706176/);
test(bounded, ['[::/0]:1-65535'], 1, /more than --max-targets 1/);

// expandSpecsItems: what tcp-checker hands to checkMany. The same targets in the same order as
// expandSpecs, IP literals as AddressTargets that parseTarget agrees with, and the text where
// parseTarget has its say (names; addresses it refuses, so their results stay the text's).
function itemsAgree(t: ExecutionContext, specs: TargetSpec[], order?: SweepOrder): Array<AddressTarget | string> {
  const items = [...expandSpecsItems(specs, order)];
  t.deepEqual(items.map((i) => (typeof i === 'string' ? i : i.text)), [...expandSpecs(specs, order)]);
  for (const i of items) {
    if (typeof i === 'string') continue;
    const parsed = parseTarget(i.text);
    t.deepEqual([i.ip, i.port, i.family], [parsed.host, parsed.port, parsed.literal], i.text);
    t.deepEqual([...i.address], [...parseAddress(i.ip)!], i.text);
  }
  return items;
}

test('expandSpecsItems: the targets of expandSpecs, IP literals pre-parsed', (t) => {
  const specs = ['198.18.0.0/29:80,443', '[2001:2::fe/127]:22', 'db.example:5432', '198.18.1.1:1'].map(parseTargetSpec);
  const items = itemsAgree(t, specs);
  t.deepEqual(items.filter((i) => typeof i === 'string'), ['db.example:5432']);
  t.is(items.length, 6 * 2 + 2 + 1 + 1);
});

test('expandSpecsItems: a shuffled shard gives the same targets as expandSpecs', (t) => {
  const specs = ['198.18.0.0/24:80,81', '[2001:2::/120]:22'].map(parseTargetSpec);
  itemsAgree(t, specs, { seed: 42, shard: { index: 2, count: 3 } });
});

test('expandSpecsItems: addresses parseTarget refuses stay text (the broadcast address in a /31, :: in a block)', (t) => {
  const items = itemsAgree(t, ['255.255.255.254/31:80', '[::/127]:80'].map(parseTargetSpec));
  const texts = items.filter((i) => typeof i === 'string');
  t.deepEqual(texts, ['255.255.255.255:80', '[::]:80']);
  for (const text of texts) t.throws(() => parseTarget(text), { instanceOf: InvalidArgumentError });
  t.is(items.length, 4);
});

test('expandSpecsItems: repeat gives each target that many times in a row, in order and shuffled', (t) => {
  const specs = ['198.18.0.0/30:80,443', 'db.example:5432', '[2001:2::1]:22', '255.255.255.254/31:1'].map(parseTargetSpec);
  for (const order of [undefined, { seed: 7 }]) {
    const once = [...expandSpecsItems(specs, order)].map((i) => (typeof i === 'string' ? i : i.text));
    const thrice = [...expandSpecsItems(specs, order, 3)].map((i) => (typeof i === 'string' ? i : i.text));
    t.deepEqual(thrice, once.flatMap((text) => [text, text, text]));
  }
  t.deepEqual([...expandSpecsItems(specs, undefined, 0)], []);
});

test('expandSpecsItems: every port of an IPv4 host, hosts in address order, each item its own target', (t) => {
  const items = itemsAgree(t, ['198.18.0.4/31:1,2,3', '198.18.0.9:7'].map(parseTargetSpec));
  t.deepEqual(
    items.map((i) => (typeof i === 'string' ? i : i.text)),
    ['198.18.0.4:1', '198.18.0.4:2', '198.18.0.4:3', '198.18.0.5:1', '198.18.0.5:2', '198.18.0.5:3', '198.18.0.9:7'],
  );
  const [a, b] = items as AddressTarget[];
  t.not(a, b);
  t.not(a.address, b.address, 'each target owns its bytes');
});
