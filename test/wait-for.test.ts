// checker.waitFor over a real Checker whose strategy answers from a script (no root): it resolves
// when every target has answered open, checks each target again until then, gives up with
// WaitTimeoutError naming the laggards, honours an AbortSignal, tries every address of a name,
// and refuses bad input before checking anything. Intervals are 1-5 ms; nothing asserts timing.
import test from 'ava';
import { Checker } from '../src/checker.js';
import { AbortError, InvalidArgumentError, StateError, TimeoutError } from '../src/core/errors.js';
import { WaitTimeoutError } from '../src/wait-for.js';
import { fromStrings, scriptedChecker, ScriptedStrategy } from './monitor/scripted-strategy.js';

test('resolves once every target has answered open; each is checked until it does', async (t) => {
  const { checker, strategy } = await scriptedChecker(fromStrings({ '198.18.0.2:80': '---+', '198.18.0.2:81': 't+', '198.18.0.2:82': '+' }));
  const seen: string[] = [];
  const done = await checker.waitFor(['198.18.0.2:80', '198.18.0.2:81', '198.18.0.2:82'], { interval: 1, onCheck: (r) => seen.push(`${r.target} ${r.status}`) });
  await checker.close();
  t.deepEqual(done.results.map((r) => [r.target, r.status]), [
    ['198.18.0.2:80', 'open'],
    ['198.18.0.2:81', 'open'],
    ['198.18.0.2:82', 'open'],
  ]);
  t.is(done.checks, 7);
  t.deepEqual(Object.fromEntries(strategy.counts), { '198.18.0.2:80': 4, '198.18.0.2:81': 2, '198.18.0.2:82': 1 });
  t.deepEqual(seen.filter((s) => s.startsWith('198.18.0.2:80')), ['198.18.0.2:80 closed', '198.18.0.2:80 closed', '198.18.0.2:80 closed', '198.18.0.2:80 open']);
});

test('timeout: WaitTimeoutError (ETIMEDOUT) names the targets that never answered open', async (t) => {
  const { checker } = await scriptedChecker(fromStrings({ '198.18.0.2:80': '-', '198.18.0.2:81': '+' }));
  const error = await t.throwsAsync(checker.waitFor(['198.18.0.2:80', '198.18.0.2:81'], { timeout: 30, interval: 2 }), { instanceOf: WaitTimeoutError });
  await checker.close();
  t.true(error instanceof TimeoutError);
  t.is(error.code, 'ETIMEDOUT');
  t.regex(error.message, /^not open after 30ms: 198\.18\.0\.2:80 closed \(ECONNREFUSED\)$/);
  t.deepEqual(error.pending.map((p) => [p.target, p.last?.status]), [['198.18.0.2:80', 'closed']]);
});

test('timeout also ends a check in flight (a target that never answers)', async (t) => {
  const { checker, strategy } = await scriptedChecker(fromStrings({ '198.18.0.2:80': 'h' }));
  const error = await t.throwsAsync(checker.waitFor(['198.18.0.2:80'], { timeout: 20 }), { instanceOf: WaitTimeoutError });
  t.regex(error.message, /198\.18\.0\.2:80 \(not checked yet\)/);
  t.deepEqual(error.pending, [{ target: '198.18.0.2:80', last: undefined }]);
  t.is(strategy.inFlight, 0, 'the hanging probe was aborted');
  await checker.close();
});

test('an AbortSignal ends the wait with its reason, checks in flight included', async (t) => {
  const { checker, strategy } = await scriptedChecker(fromStrings({ '198.18.0.2:80': 'h' }));
  const controller = new AbortController();
  const waiting = checker.waitFor(['198.18.0.2:80'], { signal: controller.signal });
  setTimeout(() => controller.abort(new AbortError('stop waiting')), 5);
  const error = await t.throwsAsync(waiting, { instanceOf: AbortError });
  t.is(error.message, 'stop waiting');
  t.is(strategy.inFlight, 0);
  await t.throwsAsync(checker.waitFor(['198.18.0.2:80'], { signal: AbortSignal.abort(new AbortError('already')) }), { message: 'already' });
  await checker.close();
});

test('a name is checked on every address it resolves to: localhost answering on 127.0.0.1 only is open', async (t) => {
  // ::1 first, as wait-on #109: a waiter that only tried the first address would wait forever.
  const strategy = new ScriptedStrategy((key) => (key === '127.0.0.1:3000' ? 'open' : 'closed'));
  const checker = new Checker({
    strategyFactory: async () => strategy,
    lookup: async () => [
      { address: '::1', family: 6 },
      { address: '127.0.0.1', family: 4 },
    ],
  });
  await checker.start();
  const done = await checker.waitFor(['localhost:3000'], { interval: 1 });
  await checker.close();
  t.is(done.results[0].ip, '127.0.0.1');
  t.is(done.results[0].status, 'open');
  t.deepEqual([...strategy.counts.keys()].sort(), ['127.0.0.1:3000', '[::1]:3000']);
});

const bad = test.macro({
  async exec(t, targets: unknown, options: Record<string, unknown>, message: RegExp) {
    const { checker, strategy } = await scriptedChecker(fromStrings({}));
    await t.throwsAsync(checker.waitFor(targets as string[], options), { instanceOf: InvalidArgumentError, message });
    t.is(strategy.probes, 0, 'nothing was checked');
    await checker.close();
  },
  title: (provided, targets) => `bad input is refused before any check: ${provided ?? JSON.stringify(targets)}`,
});

test(bad, [], {}, /at least one target/);
test(bad, ['198.18.0.2:80', 'nope'], {}, /missing ":port"/);
test(bad, ['198.18.0.2:99999'], {}, /invalid port 99999/);
test('timeout 0', bad, ['198.18.0.2:80'], { timeout: 0 }, /timeout must be a positive number/);
test('interval -1', bad, ['198.18.0.2:80'], { interval: -1 }, /interval must be a positive number/);

test('a checker that is not started rejects with ERR_SHAKER_NOT_STARTED', async (t) => {
  const checker = new Checker({ strategyFactory: async () => new ScriptedStrategy(() => 'open') });
  await t.throwsAsync(checker.waitFor(['198.18.0.2:80']), { instanceOf: StateError, code: 'ERR_SHAKER_NOT_STARTED' });
});
