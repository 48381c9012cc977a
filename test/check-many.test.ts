// Checker.checkMany against fake strategies (no root, no packets): results in completion order,
// the concurrency bound with results not yet pulled counted (backpressure), lazy targets, bad
// input as typed results, cancellation of every check in flight with one abort watcher, and the
// check() path for host names and strategies without a callback API.
import test from 'ava';
import { setImmediate as tick } from 'node:timers/promises';
import { abortWatcherCount } from '../src/core/abort-watch.js';
import { InvalidArgumentError, StateError } from '../src/core/errors.js';
import { Checker, resultError, type CheckResult } from '../src/checker.js';
import type { BatchResult } from '../src/check-many.js';
import { AddressTarget } from '../src/core/target.js';
import { parseAddress } from '../src/wire/address.js';
import { callbackChecker, handleChecker, type PendingProbe } from './helpers/callback-strategy.js';
import { scriptedChecker, fromStrings } from './monitor/scripted-strategy.js';

function* targets(count: number, port = 80): Generator<string> {
  for (let i = 0; i < count; i++) yield `198.18.${(i >> 8) & 255}.${i & 255}:${port}`;
}

async function collect(results: AsyncIterable<BatchResult>): Promise<BatchResult[]> {
  const out: BatchResult[] = [];
  for await (const r of results) out.push(r);
  return out;
}

test('results come in completion order, one per target, with check()\'s fields', async (t) => {
  const { checker, strategy } = await callbackChecker();
  const batch = checker.checkMany(['198.18.0.1:80', '198.18.0.2:81', '[2001:2::3]:82'], { concurrency: 10 });
  const pulled = collect(batch);
  await tick();
  t.is(strategy.pending.size, 3);
  // Answer in reverse: the last target first.
  const [a, b, c] = [...strategy.pending];
  c.callback({ status: 'closed', code: 'ECONNREFUSED', attempts: 2, rttMs: 1.5 });
  a.callback({ status: 'open', attempts: 1, rttMs: 0.5, evidence: { flags: 'S.' } });
  b.callback({ status: 'timeout', code: 'ETIMEDOUT', attempts: 7 });
  strategy.pending.clear();
  const results = await pulled;
  t.deepEqual(
    results.map((r) => r.target),
    ['[2001:2::3]:82', '198.18.0.1:80', '198.18.0.2:81'],
  );
  t.deepEqual(results[0], { target: '[2001:2::3]:82', ip: '2001:2::3', port: 82, status: 'closed', code: 'ECONNREFUSED', rttMs: 1.5, strategy: 'raw', attempts: 2 });
  t.deepEqual(results[1], { target: '198.18.0.1:80', ip: '198.18.0.1', port: 80, status: 'open', rttMs: 0.5, strategy: 'raw', attempts: 1 }, 'no evidence unless asked');
  t.deepEqual(c.target, { ip: '2001:2::3', family: 6, port: 82 });
  // A network verdict carries no Error; resultError builds the one checkAddr would throw.
  t.is(results[2].error, undefined);
  t.like(resultError(results[2]), { name: 'TimeoutError', code: 'ETIMEDOUT', message: 'no reply from 198.18.0.2:81 before the deadline' });
  t.is(resultError(results[1]), undefined);
  await checker.close();
});

test('evidence: true keeps the reply\'s evidence', async (t) => {
  const { checker, strategy } = await callbackChecker();
  const pulled = collect(checker.checkMany(['198.18.0.1:80'], { evidence: true }));
  await tick();
  strategy.answerAll();
  const [r] = await pulled;
  t.deepEqual(r.evidence, { flags: 'S.', ttl: 64, window: 65535, mss: 1460 });
  await checker.close();
});

test('timeout and retries reach the strategy as a deadline and a retry count', async (t) => {
  const { checker, strategy } = await callbackChecker({ timeout: 5000, retries: 3 });
  const before = performance.now();
  const pulled = collect(checker.checkMany(['198.18.0.1:80', '198.18.0.2:80'], { retries: 1 }));
  await tick();
  const [p] = [...strategy.pending];
  t.is(p.options.retries, 1);
  t.true(p.options.deadline >= before + 5000 && p.options.deadline <= performance.now() + 5000);
  t.is(p.options.signal, undefined, 'no signal per probe: the batch cancels');
  strategy.answerAll();
  await pulled;
  await checker.close();
});

test('backpressure: in flight plus not yet pulled never exceeds concurrency; targets are read lazily', async (t) => {
  const { checker, strategy } = await callbackChecker();
  let read = 0;
  function* counted(): Generator<string> {
    for (const target of targets(1000)) {
      read++;
      yield target;
    }
  }
  const batch = checker.checkMany(counted(), { concurrency: 50 });
  await tick();
  t.is(strategy.pending.size, 50);
  t.is(read, 50, 'only the targets that could start were read');
  // Everything answers, nobody pulls: nothing more starts.
  strategy.answerAll();
  await tick();
  t.is(strategy.pending.size, 0);
  t.is(strategy.submitted, 50);
  t.deepEqual(batch.pending, { inFlight: 0, queued: 50 });
  // Each pull makes room for exactly one more check.
  await batch.next();
  t.is(strategy.submitted, 51);
  await batch.next();
  t.is(strategy.submitted, 52);
  t.is(read, 52);
  // Drain the rest, answering as they come.
  let count = 2;
  for (;;) {
    strategy.answerAll();
    const r = await batch.next();
    if (r.done) break;
    count++;
  }
  t.is(count, 1000);
  t.true(strategy.maxInFlight <= 50);
  await checker.close();
});

test('a bad target is an error result with the typed error; the others go on', async (t) => {
  const { checker, strategy } = await callbackChecker();
  const pulled = collect(checker.checkMany(['198.18.0.1:80', 'not a target', '198.18.0.2:0', '198.18.0.3:80']));
  await tick();
  strategy.answerAll();
  const results = await pulled;
  t.is(results.length, 4);
  const bad = results.filter((r) => r.status === 'error');
  t.is(bad.length, 2);
  for (const r of bad) {
    t.true(r.error instanceof InvalidArgumentError);
    t.is(r.code, (r.error as InvalidArgumentError).code);
  }
  t.is(results.filter((r) => r.status === 'open').length, 2);
  await checker.close();
});

test('abort at 20000 in flight: every check cancelled, queued results first, then the reason; one watcher, gone after', async (t) => {
  const { checker, strategy } = await callbackChecker();
  const aborter = new AbortController();
  const batch = checker.checkMany(targets(50_000), { concurrency: 20_000, signal: aborter.signal });
  // The batch starts in slices (it yields to the loop between them): wait until all are in flight.
  while (strategy.pending.size < 20_000) await tick();
  t.is(abortWatcherCount(aborter.signal), 1, 'one watcher for the whole batch, not one per check');
  strategy.answer(3);
  const reason = new Error('stop');
  aborter.abort(reason);
  t.is(strategy.cancelled, 20_000 - 3, 'every check in flight was cancelled (the three answered wait to be pulled: no refill)');
  t.is(strategy.pending.size, 0);
  const results: CheckResult[] = [];
  const error = await t.throwsAsync(async () => {
    for await (const r of batch) results.push(r);
  });
  t.is(error, reason);
  t.is(results.length, 3, 'the results already in were handed out');
  t.is(abortWatcherCount(aborter.signal), 0);
  t.is(strategy.submitted, 20_000, 'nothing started after the abort');
  t.deepEqual(await batch.next(), { value: undefined, done: true });
  await checker.close();
});

test('an already aborted signal: the first pull throws its reason and nothing starts', async (t) => {
  const { checker, strategy } = await callbackChecker();
  const reason = new Error('already');
  const batch = checker.checkMany(targets(10), { signal: AbortSignal.abort(reason) });
  await t.throwsAsync(batch.next(), { is: reason });
  t.is(strategy.submitted, 0);
  await checker.close();
});

test('breaking out of the loop cancels the checks in flight', async (t) => {
  const { checker, strategy } = await callbackChecker();
  const batch = checker.checkMany(targets(100), { concurrency: 10 });
  await tick();
  strategy.answer(1);
  for await (const r of batch) {
    t.is(r.status, 'open');
    break;
  }
  t.is(strategy.pending.size, 0);
  t.is(strategy.cancelled, 10);
  t.is(strategy.submitted, 11);
  await checker.close();
});

test('host names take check()\'s path (resolved once per check), literals the callback API', async (t) => {
  const { checker, strategy } = await callbackChecker({ lookup: async () => [{ address: '198.18.0.9', family: 4 }] });
  const pulled = collect(checker.checkMany(['web.test:80', '198.18.0.1:80'], { evidence: false }));
  for (let i = 0; i < 5; i++) await tick();
  t.is(strategy.pending.size, 2);
  t.deepEqual(
    [...strategy.pending].map((p: PendingProbe) => p.target.ip).sort(),
    ['198.18.0.1', '198.18.0.9'],
  );
  strategy.answerAll();
  const results = await pulled;
  t.deepEqual(results.map((r) => `${r.target} ${r.ip} ${r.status}`).sort(), ['198.18.0.1:80 198.18.0.1 open', 'web.test:80 198.18.0.9 open']);
  t.is(results.find((r) => r.target === 'web.test:80')?.evidence, undefined);
  await checker.close();
});

test('a strategy without submit() is driven through probe(), same results', async (t) => {
  const { checker } = await scriptedChecker(fromStrings({ '198.18.0.2:80': '-' }));
  const results = await collect(checker.checkMany(targets(3), { concurrency: 2 }));
  t.deepEqual(results.map((r) => `${r.ip} ${r.status}`).sort(), ['198.18.0.0 open', '198.18.0.1 open', '198.18.0.2 closed']);
  await checker.close();
});

test('options are checked: concurrency, rate, timeout; a closed checker refuses', async (t) => {
  const { checker } = await callbackChecker();
  t.throws(() => checker.checkMany([], { concurrency: 0 }), { instanceOf: InvalidArgumentError });
  t.throws(() => checker.checkMany([], { concurrency: 1.5 }), { instanceOf: InvalidArgumentError });
  t.throws(() => checker.checkMany([], { rate: 0 }), { instanceOf: InvalidArgumentError });
  t.throws(() => checker.checkMany([], { timeout: -1 }), { instanceOf: InvalidArgumentError });
  t.deepEqual(await collect(checker.checkMany([])), []);
  await checker.close();
  t.throws(() => checker.checkMany(['198.18.0.1:80']), { instanceOf: StateError, message: /closed/ });
  t.throws(() => new Checker().checkMany(['198.18.0.1:80']), { instanceOf: StateError, message: /not started/ });
});

test('rate: checks start no faster than the bucket allows (counted, not timed)', async (t) => {
  const { checker, strategy } = await callbackChecker();
  // A bucket of 1/s starts full with one token: one check now, the next only after a second.
  const batch = checker.checkMany(targets(5), { rate: 1, concurrency: 100 });
  await tick();
  t.is(strategy.submitted, 1);
  await batch.return();
  await checker.close();
});

test('an async source: items start as they arrive, tags come back, per-item timeout and retries apply', async (t) => {
  const { checker, strategy } = await callbackChecker({ timeout: 1000, retries: 6 });
  let push!: (item: { target: string; tag: string; retries?: number; timeout?: number } | null) => void;
  async function* source(): AsyncGenerator<{ target: string; tag: string; retries?: number; timeout?: number }> {
    for (;;) {
      const item = await new Promise<{ target: string; tag: string } | null>((resolve) => (push = resolve));
      if (item === null) return;
      yield item;
    }
  }
  const pulled = collect(checker.checkMany(source(), { concurrency: 10 }));
  await tick();
  t.is(strategy.submitted, 0);
  push({ target: '198.18.0.1:80', tag: 'first', retries: 2 });
  for (let i = 0; i < 3; i++) await tick();
  t.is(strategy.submitted, 1);
  t.is([...strategy.pending][0].options.retries, 2);
  push({ target: '198.18.0.2:80', tag: 'second', timeout: -5 });
  for (let i = 0; i < 3; i++) await tick();
  strategy.answerAll();
  push(null);
  const results = await pulled;
  t.deepEqual(results.map((r) => `${r.tag as string} ${r.status}`).sort(), ['first open', 'second error']);
  t.true(results.find((r) => r.tag === 'second')?.error instanceof InvalidArgumentError, 'a bad per-item timeout is that item\'s typed error');
  await checker.close();
});

test('an async source with nextReady(): what it holds starts without next(), in order; next() only when it has nothing', async (t) => {
  const { checker, strategy } = await callbackChecker();
  // A queue fed from outside, like the monitor's due checks.
  const queue: string[] = [];
  let waiter: ((r: IteratorResult<string>) => void) | undefined;
  let nextCalls = 0;
  let ended = false;
  const source = {
    next(): Promise<IteratorResult<string>> {
      nextCalls++;
      if (queue.length > 0) return Promise.resolve({ value: queue.shift()!, done: false });
      if (ended) return Promise.resolve({ value: undefined, done: true });
      return new Promise<IteratorResult<string>>((resolve) => (waiter = resolve));
    },
    nextReady: (): string | undefined => queue.shift(),
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  const push = (...items: string[]): void => {
    for (const item of items) {
      const w = waiter;
      waiter = undefined;
      if (w) w({ value: item, done: false });
      else queue.push(item);
    }
  };
  const pulled = collect(checker.checkMany(source, { concurrency: 100 }));
  await tick();
  t.is(nextCalls, 1, 'nothing ready: asked once, and waiting');
  // The first goes to the waiting next(); the other 49 are taken as ready when it starts.
  push(...targets(50));
  for (let i = 0; i < 3; i++) await tick();
  t.is(strategy.submitted, 50);
  t.is(nextCalls, 2, 'one next() for the burst (the one waiting), then one more once it was drained');
  t.deepEqual([...strategy.pending].map((p) => `${p.target.ip}:${p.target.port}`), [...targets(50)], 'started in the order pushed');
  strategy.answerAll();
  ended = true;
  waiter?.({ value: undefined, done: true });
  const results = await pulled;
  t.is(results.length, 50);
  await checker.close();
});

test('a nextReady() that throws ends the batch with its error, as a throwing next() does', async (t) => {
  const { checker } = await callbackChecker();
  const boom = new Error('source broke');
  let calls = 0;
  const source = {
    next: (): Promise<IteratorResult<string>> => Promise.resolve({ value: '198.18.0.1:80', done: false }),
    nextReady: (): string | undefined => {
      if (++calls > 2) throw boom;
      return `198.18.0.${calls}:80`;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  await t.throwsAsync(collect(checker.checkMany(source, { concurrency: 10 })), { is: boom });
  await checker.close();
});

test('AddressTarget items: handed to submit() as they are (bytes included), results as for their text', async (t) => {
  const first = new AddressTarget(Uint8Array.of(198, 18, 0, 1), 80);
  const second = new AddressTarget(Uint8Array.from(parseAddress('2001:2::3')!), 82);
  const items = [first, { target: second, tag: 'v6' }];
  const texts = ['198.18.0.1:80', { target: '[2001:2::3]:82', tag: 'v6' }];
  const runs: BatchResult[][] = [];
  for (const batchItems of [items, texts]) {
    const { checker, strategy } = await callbackChecker();
    const pulled = collect(checker.checkMany(batchItems, { evidence: true }));
    await tick();
    const [a, b] = [...strategy.pending];
    if (batchItems === items) {
      t.is(a.target, first, 'the AddressTarget itself is the ProbeTarget: nothing made per check');
      t.deepEqual([...a.target.address!], [198, 18, 0, 1]);
      t.is(b.target, second);
    } else {
      t.is(a.target.address, undefined);
    }
    a.callback({ status: 'open', attempts: 1, rttMs: 0.5, evidence: { flags: 'S.' } });
    b.callback({ status: 'closed', code: 'ECONNREFUSED', attempts: 1, rttMs: 0.7 });
    strategy.pending.clear();
    runs.push(await pulled);
    await checker.close();
  }
  t.deepEqual(runs[0], runs[1]);
  t.like(runs[0][1], { target: '[2001:2::3]:82', ip: '2001:2::3', port: 82, status: 'closed', tag: 'v6' });
});

test('AddressTarget items: a family mismatch or a strategy without submit() takes check()\'s path, same results', async (t) => {
  const { checker, strategy } = await callbackChecker();
  const pulled = collect(checker.checkMany([new AddressTarget(Uint8Array.of(198, 18, 0, 1), 80)], { family: 6 }));
  for (let i = 0; i < 5; i++) await tick();
  t.is(strategy.pending.size, 0);
  const [r] = await pulled;
  // check() refuses an IPv4 target with family 6; so does the batch, as for the text.
  const viaCheck = await collect(checker.checkMany(['198.18.0.1:80'], { family: 6 }));
  t.like(r, { target: '198.18.0.1:80', status: 'error', code: 'ERR_SHAKER_INVALID_OPTION' });
  t.is(r.error?.message, viaCheck[0].error?.message);
  t.deepEqual({ ...r, error: undefined }, { ...viaCheck[0], error: undefined });
  await checker.close();
  const scripted = await scriptedChecker(fromStrings({ '198.18.0.2:80': '-' }));
  const results = await collect(scripted.checker.checkMany([1, 2].map((i) => new AddressTarget(Uint8Array.of(198, 18, 0, i), 80)), { concurrency: 2 }));
  t.deepEqual(results.map((r) => `${r.target} ${r.ip} ${r.status}`).sort(), ['198.18.0.1:80 198.18.0.1 open', '198.18.0.2:80 198.18.0.2 closed']);
  await scripted.checker.close();
});

test('AddressTarget items with bad per-item options are typed error results, as for text', async (t) => {
  const { checker } = await callbackChecker();
  const [r] = await collect(checker.checkMany([{ target: new AddressTarget(Uint8Array.of(198, 18, 0, 1), 80), timeout: -1, tag: 1 }]));
  t.like(r, { target: '198.18.0.1:80', status: 'error', code: 'ERR_SHAKER_INVALID_OPTION', tag: 1 });
  t.true(r.error instanceof InvalidArgumentError);
  await checker.close();
});

test('nextReady takes the results already waiting without a promise, and frees room as next() does', async (t) => {
  const { checker, strategy } = await callbackChecker();
  const batch = checker.checkMany(targets(5), { concurrency: 3 });
  t.is(batch.nextReady(), undefined, 'nothing settled yet');
  await tick();
  t.is(strategy.pending.size, 3);
  strategy.answer(2);
  t.deepEqual(batch.pending, { inFlight: 1, queued: 2 });
  t.is(strategy.pending.size, 1, 'results not yet pulled hold their place');
  const a = batch.nextReady();
  const b = batch.nextReady();
  t.deepEqual([a?.target, b?.target, a?.status], ['198.18.0.0:80', '198.18.0.1:80', 'open']);
  t.is(batch.nextReady(), undefined);
  t.is(strategy.pending.size, 3, 'two pulled, two more started');
  strategy.answerAll();
  const rest: string[] = [];
  for await (const first of batch) {
    let r: BatchResult | undefined = first;
    do rest.push(r.target);
    while ((r = batch.nextReady()) !== undefined);
  }
  t.deepEqual(rest.sort(), ['198.18.0.2:80', '198.18.0.3:80', '198.18.0.4:80']);
  t.is(batch.nextReady(), undefined, 'done: nothing more');
  await checker.close();
});

test('a strategy with numeric handles: no canceller closure per check; an abort cancels by handle, waiting checks first', async (t) => {
  const { checker, strategy } = await handleChecker();
  const controller = new AbortController();
  const batch = checker.checkMany(targets(12), { concurrency: 9, signal: controller.signal });
  const first = batch.next();
  await tick();
  t.is(strategy.pending.size, 9);
  // Two answers free two places; the next checks reuse them (and their callbacks).
  strategy.answer(2);
  t.is((await first).value?.status, 'open');
  t.is(batch.nextReady()?.status, 'open');
  await tick();
  t.is(strategy.pending.size, 9);
  t.is(strategy.submitted, 11);
  controller.abort(new Error('enough'));
  await t.throwsAsync(batch.next(), { message: 'enough' });
  t.is(strategy.cancelled, 9, 'every check in flight cancelled, by its handle');
  t.is(strategy.closureSubmits, 0, 'submit() (a canceller closure per check) never used');
  const firstWired = strategy.cancelOrder.findIndex((h) => h >= 0);
  t.true(strategy.cancelOrder.slice(0, firstWired).length > 0 && strategy.cancelOrder.slice(firstWired).every((h) => h >= 0), `waiting checks cancelled first: ${strategy.cancelOrder.join(' ')}`);
  await checker.close();
});

test('a strategy with numeric handles: a check answered inside submitHandle() frees its place at once', async (t) => {
  const { checker, strategy } = await handleChecker();
  const original = strategy.submitHandle.bind(strategy);
  let calls = 0;
  strategy.submitHandle = (target, options, callback) => {
    // Every other check fails at once, inside the call, as a capture that cannot open does.
    if (calls++ % 2 === 0) {
      callback({ status: 'error', code: 'EPERM', attempts: 0 });
      return -1;
    }
    return original(target, options, callback);
  };
  const pulled = collect(checker.checkMany(targets(10), { concurrency: 3 }));
  for (let i = 0; i < 20 && strategy.submitted < 5; i++) {
    await tick();
    strategy.answerAll();
  }
  const results = await pulled;
  t.is(results.length, 10);
  t.is(results.filter((r) => r.status === 'error').length, 5);
  t.is(results.filter((r) => r.status === 'open').length, 5);
  t.is(new Set(results.map((r) => r.target)).size, 10, 'each target once: no place confused two checks');
  await checker.close();
});
