// The Monitor over a real Checker whose strategy answers from a script: state changes in both
// forms (events and the async iterator), rounds and bursts, intervals, stop, the concurrency
// bound and input validation. Intervals are a few milliseconds; nothing asserts on timing.
import test from 'ava';
import { Monitor, type MonitorChange, type MonitorRound, type MonitorCheck, type MonitorOptions } from '../../src/monitor/monitor.js';
import { InvalidArgumentError, StateError } from '../../src/core/errors.js';
import { Checker } from '../../src/checker.js';
import { fromStrings, scriptedChecker, ScriptedStrategy } from './scripted-strategy.js';

const FAST = { inter: 3, fastinter: 1, downinter: 2 };

/** Runs until `until` says so (checked after every round), then stops; returns what it saw. */
async function observe(options: Omit<MonitorOptions, 'checker'>, scripts: Record<string, string>, until: (rounds: MonitorRound[]) => boolean) {
  const { checker, strategy } = await scriptedChecker(fromStrings(scripts));
  const monitor = new Monitor({ spreadMs: 0, ...options, checker });
  const changes: MonitorChange[] = [];
  const rounds: MonitorRound[] = [];
  const checks: MonitorCheck[] = [];
  monitor.on('change', (c) => changes.push(c));
  monitor.on('check', (c) => checks.push(c));
  const finished = new Promise<void>((resolve) =>
    monitor.on('round', (r) => {
      rounds.push(r);
      if (until(rounds)) resolve();
    }),
  );
  monitor.start();
  await finished;
  await monitor.stop();
  await checker.close();
  return { changes, rounds, checks, monitor, strategy };
}

const roundsOf = (n: number) => (rounds: MonitorRound[]) => rounds.length >= n;

test('a target goes UNKNOWN -> UP -> DOWN -> UP, one change event each', async (t) => {
  const { changes, rounds } = await observe({ targets: ['198.18.0.2:80'], defaults: { ...FAST, rise: 2, fall: 3 } }, { '198.18.0.2:80': '++---++' }, roundsOf(7));
  t.deepEqual(
    changes.map((c) => [c.from, c.to, c.consecutive, c.needed, c.round.round]),
    [
      ['unknown', 'up', 2, 2, 2],
      ['up', 'down', 3, 3, 5],
      ['down', 'up', 2, 2, 7],
    ],
  );
  t.deepEqual(rounds.map((r) => r.status).slice(0, 7), ['unknown', 'up', 'up', 'up', 'down', 'down', 'up']);
  t.deepEqual(rounds.map((r) => r.interval).slice(0, 7), ['fastinter', 'inter', 'fastinter', 'fastinter', 'downinter', 'fastinter', 'inter']);
  t.deepEqual(rounds.map((r) => r.nextInMs).slice(0, 7), [1, 3, 1, 1, 2, 1, 3]);
  t.true(changes.every((c) => c.target === '198.18.0.2:80' && c.probe === '198.18.0.2:80' && c.time instanceof Date));
});

test('changes() yields the same changes as the events, and ends on stop()', async (t) => {
  const { checker } = await scriptedChecker(fromStrings({ '198.18.0.2:80': '+-', '198.18.0.3:80': '-' }));
  const monitor = new Monitor({ checker, targets: ['198.18.0.2:80', '198.18.0.3:80'], defaults: { ...FAST, rise: 1, fall: 1 }, spreadMs: 0 });
  const emitted: MonitorChange[] = [];
  monitor.on('change', (c) => emitted.push(c));
  const iterated: MonitorChange[] = [];
  monitor.start();
  for await (const change of monitor.changes()) {
    iterated.push(change);
    if (iterated.length === 3) void monitor.stop();
  }
  await checker.close();
  t.true(iterated.length >= 3);
  t.deepEqual(iterated.slice(0, 3), emitted.slice(0, 3));
  t.deepEqual(
    iterated.map((c) => `${c.target} ${c.from}->${c.to}`).sort().slice(0, 3),
    ['198.18.0.2:80 unknown->up', '198.18.0.2:80 up->down', '198.18.0.3:80 unknown->down'],
  );
});

test('breaking out of changes() unsubscribes; an iterator made after stop() ends at once', async (t) => {
  const { checker } = await scriptedChecker(fromStrings({}));
  const monitor = new Monitor({ checker, targets: ['198.18.0.2:80'], defaults: { ...FAST, rise: 1 }, spreadMs: 0 });
  monitor.start();
  for await (const change of monitor.changes()) {
    t.is(change.to, 'up');
    break;
  }
  t.is(monitor.listenerCount('change'), 0);
  await monitor.stop();
  t.deepEqual(await monitor.changes().next(), { value: undefined, done: true });
  await checker.close();
});

test('bursts: N probes per round, success when one is open, loss is the non-open share', async (t) => {
  const { rounds, checks } = await observe(
    { targets: ['198.18.0.2:80'], defaults: { ...FAST, burst: 4, rise: 1 } },
    {},
    roundsOf(3),
  );
  t.is(checks.length, 12);
  t.true(checks.every((c) => c.target === '198.18.0.2:80' && c.result.status === 'open'));
  const first = rounds[0];
  t.is(first.sent, 4);
  t.is(first.lossRatio, 0);
  t.true(first.success);
  t.deepEqual(first.rttMs, { min: 0.5, avg: 0.5, median: 0.5, max: 0.5 });
  t.deepEqual(rounds.map((r) => r.round), [1, 2, 3]);
});

test('a burst with one open probe succeeds with 75% loss', async (t) => {
  const strategy = new ScriptedStrategy((_key, n) => (['open', 'timeout', 'timeout', 'closed'] as const)[n % 4]);
  const checker = new Checker({ strategyFactory: async () => strategy });
  await checker.start();
  const monitor = new Monitor({ checker, targets: ['198.18.0.2:80'], defaults: { ...FAST, burst: 4, rise: 1 }, spreadMs: 0 });
  const round = await new Promise<MonitorRound>((resolve) => {
    monitor.once('round', resolve);
    monitor.start();
  });
  await monitor.stop();
  await checker.close();
  t.true(round.success);
  t.is(round.lossRatio, 0.75);
  t.deepEqual(round.statuses, { open: 1, closed: 1, timeout: 2, unreachable: 0, error: 0 });
  t.is(round.status, 'up');
});

test('duplicates come from the reply counter, per round', async (t) => {
  const taken: string[] = [];
  const replies = { take: (ip: string, port: number) => (taken.push(`${ip}|${port}`), 3) };
  const { rounds } = await observe({ targets: ['198.18.0.2:80'], defaults: { ...FAST, burst: 2 }, replies }, {}, roundsOf(1));
  t.is(rounds[0].duplicates, 1); // 3 replies for 2 answered probes
  t.is(taken[0], '198.18.0.2|80');
});

test('without a reply counter, duplicates are unknown', async (t) => {
  const { rounds } = await observe({ targets: ['198.18.0.2:80'], defaults: FAST }, {}, roundsOf(1));
  t.is(rounds[0].duplicates, undefined);
});

test('stop() aborts rounds in flight, resolves, and the checker stays usable', async (t) => {
  const { checker, strategy } = await scriptedChecker(() => 'hang');
  const monitor = new Monitor({ checker, targets: ['198.18.0.2:80', '198.18.0.3:80'], defaults: FAST, spreadMs: 0 });
  let rounds = 0;
  monitor.on('round', () => rounds++);
  let stopped = 0;
  monitor.on('stop', () => stopped++);
  monitor.start();
  t.true(monitor.running);
  while (strategy.inFlight < 2) await new Promise((r) => setImmediate(r));
  await monitor.stop();
  t.is(strategy.inFlight, 0, 'every hanging probe was aborted');
  t.is(rounds, 0, 'an aborted round reports nothing');
  t.is(stopped, 1);
  t.false(monitor.running);
  await monitor.stop(); // idempotent
  t.is(stopped, 1);
  t.true(checker.isReady);
  await checker.close();
});

test('concurrency bounds the rounds in flight; the others wait their turn', async (t) => {
  const { checker, strategy } = await scriptedChecker(() => 'hang');
  const targets = Array.from({ length: 10 }, (_, i) => `198.18.0.${i + 1}:80`);
  const monitor = new Monitor({ checker, targets, defaults: FAST, spreadMs: 0, concurrency: 3 });
  monitor.start();
  while (strategy.probes < 3) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 20));
  t.is(strategy.maxInFlight, 3);
  t.is(strategy.probes, 3);
  await monitor.stop();
  await checker.close();
});

test('port overrides and the defaults port', async (t) => {
  const { checker } = await scriptedChecker(fromStrings({}));
  const monitor = new Monitor({
    checker,
    targets: ['198.18.0.2', { target: '198.18.0.3:80', port: 8080 }, { target: '[2001:2::2]', name: 'v6' }, { target: 'db.example:5432' }],
    defaults: { port: 443 },
  });
  t.deepEqual(
    monitor.status().map((s) => [s.target, s.probe, s.status]),
    [
      ['198.18.0.2:443', '198.18.0.2:443', 'unknown'],
      ['198.18.0.3:8080', '198.18.0.3:8080', 'unknown'],
      ['v6', '[2001:2::2]:443', 'unknown'],
      ['db.example:5432', 'db.example:5432', 'unknown'],
    ],
  );
  await checker.close();
});

test('per-target settings override the defaults', async (t) => {
  const { checker } = await scriptedChecker(fromStrings({}));
  const monitor = new Monitor({ checker, targets: ['198.18.0.2:80', { target: '198.18.0.3:80', rise: 5, inter: '1s' as unknown as number }], defaults: { inter: 100, fall: 4 } });
  const [a, b] = monitor.status().map((s) => s.settings);
  t.like(a, { inter: 100, fastinter: 100, downinter: 100, rise: 2, fall: 4, burst: 1 });
  t.like(b, { inter: 1000, fastinter: 1000, rise: 5, fall: 4 });
  await checker.close();
});

const invalid = test.macro({
  async exec(t, options: Partial<MonitorOptions>, message: RegExp) {
    const { checker } = await scriptedChecker(fromStrings({}));
    t.throws(() => new Monitor({ checker, targets: ['198.18.0.2:80'], ...options } as MonitorOptions), { instanceOf: InvalidArgumentError, message });
    await checker.close();
  },
  title: (what = '') => `rejects ${what}`,
});
test('no targets', invalid, { targets: [] }, /at least one target/);
test('a target twice', invalid, { targets: ['198.18.0.2:80', '198.18.0.2:80'] }, /"198.18.0.2:80" is monitored twice/);
test('a name twice', invalid, { targets: [{ target: '198.18.0.2:80', name: 'a' }, { target: '198.18.0.3:80', name: 'a' }] }, /"a" is monitored twice/);
test('a target without a port', invalid, { targets: ['198.18.0.2'] }, /missing ":port"/);
test('a bad port override', invalid, { targets: [{ target: '198.18.0.2', port: 0 }] }, /targets\[0\]\.port must be/);
test('rise 0', invalid, { defaults: { rise: 0 } }, /defaults\.rise must be/);
test('a bad per-target inter', invalid, { targets: [{ target: '198.18.0.2:80', inter: -1 }] }, /targets\[0\]\.inter must be a duration/);
test('concurrency 0', invalid, { concurrency: 0 }, /concurrency must be/);
test('a negative spread', invalid, { spreadMs: -1 }, /spreadMs/);
// Issue 13: a name is written into log lines as it is; a newline in it could forge one.
test('a name with a newline', invalid, { targets: [{ target: '198.18.0.2:80', name: 'a\n2026-01-01T00:00:00.000Z target b UP -> DOWN' }] }, /targets\[0\]\.name must be one line of printable text/);
test('a name with a carriage return', invalid, { targets: [{ target: '198.18.0.2:80', name: 'a\rb' }] }, /one line/);
test('a name with an escape sequence', invalid, { targets: [{ target: '198.18.0.2:80', name: 'a\u001b[2Kb' }] }, /one line/);
test('a name with a Unicode line separator', invalid, { targets: [{ target: '198.18.0.2:80', name: 'a\u2028b' }] }, /one line/);

test('start() needs a started checker, and works once', async (t) => {
  const strategy = new ScriptedStrategy(() => 'open');
  const checker = new Checker({ strategyFactory: async () => strategy });
  const monitor = new Monitor({ checker, targets: ['198.18.0.2:80'] });
  t.throws(() => monitor.start(), { instanceOf: StateError, code: 'ERR_SHAKER_NOT_STARTED' });
  await checker.start();
  monitor.start();
  t.throws(() => monitor.start(), { instanceOf: StateError, code: 'ERR_SHAKER_ALREADY_STARTED' });
  await monitor.stop();
  t.throws(() => monitor.start(), { instanceOf: StateError, code: 'ERR_SHAKER_CLOSED' });
  await checker.close();
});

test('a closed checker turns rounds into errors, not crashes', async (t) => {
  const { changes, rounds } = await (async () => {
    const { checker } = await scriptedChecker(fromStrings({}));
    const monitor = new Monitor({ checker, targets: ['198.18.0.2:80'], defaults: { ...FAST, fall: 2 }, spreadMs: 0 });
    const seen = { changes: [] as MonitorChange[], rounds: [] as MonitorRound[] };
    monitor.on('change', (c) => seen.changes.push(c));
    await new Promise<void>((resolve) => {
      monitor.on('round', (r) => {
        seen.rounds.push(r);
        if (seen.rounds.length === 2) resolve();
      });
      monitor.start();
      // Closed under the running monitor, before its first round is due.
      void checker.close();
    });
    await monitor.stop();
    return seen;
  })();
  t.is(rounds[0].results[0].status, 'error');
  t.is(rounds[0].results[0].code, 'ERR_SHAKER_CLOSED');
  t.deepEqual(changes.map((c) => c.to), ['down']);
});

test('status() counts each target\'s probes by outcome, as the check events reported them; results name the probe as written', async (t) => {
  const { checks, monitor } = await observe(
    { targets: ['198.18.0.2:80', '[2001:2::2]:443'], defaults: { ...FAST, burst: 2, rise: 1, fall: 1 } },
    { '198.18.0.2:80': '+-+-+-+-+-+-', '[2001:2::2]:443': '--++--++--++' },
    roundsOf(8),
  );
  const counted = new Map<string, Record<string, number>>();
  for (const c of checks) {
    const tally = counted.get(c.target) ?? {};
    tally[c.result.status] = (tally[c.result.status] ?? 0) + 1;
    counted.set(c.target, tally);
    // Addresses go to the batch parsed once; the result still carries the probe's text.
    t.is(c.result.target, c.probe);
  }
  for (const s of monitor.status()) {
    const expected = { open: 0, closed: 0, timeout: 0, unreachable: 0, error: 0, ...counted.get(s.target) };
    t.deepEqual(s.checks, expected, s.target);
    t.true(s.checks.open > 0 && s.checks.closed > 0, `${s.target} saw both outcomes`);
  }
  t.deepEqual(monitor.status().map((s) => s.probe), ['198.18.0.2:80', '[2001:2::2]:443']);
});
