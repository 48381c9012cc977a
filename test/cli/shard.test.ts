// --seed and --shard: the target expansion in a seeded order, shards of real target specs that
// are disjoint and cover every target, and the command-line checks (exit 2, one line).
import test from 'ava';
import { parseCli, USAGE, UsageError } from '../../src/cli/args.js';
import { countShard, expandSpecs, parseTargetSpec } from '../../src/cli/target-spec.js';
import { privilegedTest, withTestbed } from '../helpers/testbed.js';
import { CLI, cliHere } from './cli-runner.js';

const seed = Number(process.env.TSHK_SEED ?? process.env.SHARD_SEED ?? Math.floor(Math.random() * 2 ** 31));

const covers = test.macro({
  exec(t, texts: string[], shards: number) {
    t.log(`seed ${seed} (replay: SHARD_SEED=${seed})`);
    const specs = texts.map((text) => parseTargetSpec(text));
    const inOrder = [...expandSpecs(specs)];
    const parts = Array.from({ length: shards }, (_x, i) => [...expandSpecs(specs, { seed, shard: { index: i + 1, count: shards } })]);
    const all = parts.flat();
    t.is(new Set(all).size, all.length, 'no target in two shards (or twice in one)');
    t.deepEqual([...all].sort(), [...inOrder].sort(), 'the shards together are exactly the unsharded targets');
    // The same seed and split again: the same targets in the same order.
    t.deepEqual([...expandSpecs(specs, { seed, shard: { index: 1, count: shards } })], parts[0]);
    if (inOrder.length >= 20) t.notDeepEqual(all, inOrder, 'not address order');
  },
  title: (_p, texts: string[], shards: number) => `${shards} shard(s) of ${texts.join(' ')}`,
});
test(covers, ['198.18.0.2:80'], 1);
test(covers, ['198.18.0.2:80'], 3); // more shards than targets: some are empty
test(covers, ['198.18.0.0/28:80,443'], 4);
test(covers, ['198.18.0.0/24:22,80,443', '198.18.1.7:9'], 7);
test(covers, ['[2001:2::/120]:22,80', '198.18.0.0/30:1-5', 'db.example:5432,6432'], 5);
test(covers, ['[2001:2::fff0/124]:1', '[2001:2:0:0:ffff:ffff:ffff:ff00/120]:7'], 2); // IPv6 carries across bytes

test('a huge IPv6 space (2^45 targets) is sharded lazily: its first targets come at once', (t) => {
  const spec = parseTargetSpec('[2001:2::/84]:80,443');
  const firsts: string[] = [];
  for (const target of expandSpecs([spec], { seed, shard: { index: 2, count: 3 } })) {
    t.regex(target, /^\[2001:2::[0-9a-f:]*\]:(80|443)$/);
    if (firsts.push(target) === 1000) break;
  }
  t.is(new Set(firsts).size, 1000);
});

test('a space over 2^52 targets is refused', (t) => {
  const spec = parseTargetSpec('[2001:2::/64]:1-1024');
  t.throws(() => expandSpecs([spec], { seed: 1 }).next(), { instanceOf: UsageError, message: /at most 2\^52/ });
});

test('--seed and --shard parse', (t) => {
  t.like(parseCli(['-a', '198.18.0.2:80', '--seed', '42']), { seed: 42, shard: undefined });
  t.like(parseCli(['-a', '198.18.0.2:80', '--seed', '0', '--shard', '2/4']), { seed: 0, shard: { index: 2, count: 4 } });
  t.like(parseCli(['-a', '198.18.0.2:80']), { seed: undefined, shard: undefined });
  for (const flag of ['--seed', '--shard']) t.true(USAGE.includes(flag), flag);
});

const refused = test.macro({
  exec(t, args: string[], message: RegExp) {
    t.throws(() => parseCli(args), { instanceOf: UsageError, message });
    const r = cliHere(args);
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, message);
    t.is(r.stderr.trim().split('\n').length, 2, `one line and the --help hint, got:\n${r.stderr}`);
    t.is(r.stdout, '');
  },
  title: (_p, args: string[]) => `refused with exit 2: ${args.slice(2).join(' ')}`,
});
test(refused, ['-a', '198.18.0.2:80', '--shard', '1/2'], /--shard needs --seed/);
test(refused, ['-a', '198.18.0.2:80', '--seed', '1', '--shard', '0/2'], /--shard wants I\/N/);
test(refused, ['-a', '198.18.0.2:80', '--seed', '1', '--shard', '3/2'], /--shard wants I\/N/);
test(refused, ['-a', '198.18.0.2:80', '--seed', '1', '--shard', '2'], /--shard wants I\/N/);
test(refused, ['-a', '198.18.0.2:80', '--seed', '-1'], /ambiguous|--seed must/);
test(refused, ['-a', '198.18.0.2:80', '--seed', 'abc'], /--seed must be a whole number/);
test(refused, ['-a', '198.18.0.2:80', '--seed', '9007199254740992'], /--seed must be from 0 to 9007199254740991/);
test(refused, ['monitor', '-a', '198.18.0.2:80', '--seed', '1'], /--seed has no meaning in monitor mode/);

privilegedTest('four shards of a sweep on the testbed: disjoint, covering, each target checked once', async (t) => {
  const tb = await withTestbed(t, { localPrefixes: ['198.19.0.0/28'] });
  const server = await tb.startServer({ port: 80 });
  const sweep = '198.19.0.0/28:79,80'; // 14 hosts × 2 ports
  const expected = [...expandSpecs([parseTargetSpec(sweep)])];
  const seen: string[] = [];
  for (let index = 1; index <= 4; index++) {
    // -c 1: results print in the order the checks started.
    const r = await tb.execNode(CLI, ['--json', '-c', '1', '-t', '1000', '--seed', '7', '--shard', `${index}/4`, sweep]);
    t.is(r.code, 1, r.stderr); // port 79 is closed
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { target: string; port: number; status: string });
    t.deepEqual(lines.map((l) => l.target), [...expandSpecs([parseTargetSpec(sweep)], { seed: 7, shard: { index, count: 4 } })], `shard ${index}/4 in the library's order`);
    for (const l of lines) t.is(l.status, l.port === 80 ? 'open' : 'closed', l.target);
    seen.push(...lines.map((l) => l.target));
  }
  t.is(new Set(seen).size, seen.length, 'no target in two shards');
  t.deepEqual([...seen].sort(), [...expected].sort(), 'the four shards cover the sweep');
  t.is(await server.acceptCount(), 0);
});

test('--max-targets bounds the shard, not the whole space', (t) => {
  const specs = [parseTargetSpec('198.18.0.0/15:1-200')]; // 131070 hosts × 200 ports = 26214000
  t.is(countShard(specs, { index: 1, count: 400 }, 65536), 65535);
  t.is(countShard(specs, { index: 400, count: 400 }, 65536), 65535);
  t.throws(() => countShard(specs, { index: 1, count: 100 }, 65536), { instanceOf: UsageError, message: /shard 1\/100 of 26214000 targets is 262140, more than --max-targets 65536/ });
  t.throws(() => countShard([parseTargetSpec('[2001:2::/64]:1-1024')], { index: 1, count: 2 }, 65536), { instanceOf: UsageError, message: /at most 2\^52/ });
});
