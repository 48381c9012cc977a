// The Checker against a scripted fake strategy (through the `strategyFactory` test seam), so
// its own logic runs without root or network: lifecycle, input validation before any probe,
// outcome → CheckResult / typed error mapping, name resolution and family preference, DNS inside
// the timeout, and AbortSignal handling.
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { Checker, defaultChecker, type CheckerOptions, type CheckOptions, type FamilyPreference } from '../src/checker.js';
import {
  ConnectError,
  InvalidArgumentError,
  ResolveError,
  ShakerError,
  StateError,
  TimeoutError,
} from '../src/core/errors.js';
import type { ProbeOptions, ProbeOutcome, ProbeTarget, Strategy } from '../src/core/types.js';
import { abortWatcherCount } from '../src/core/abort-watch.js';
import { AddressTarget } from '../src/core/target.js';

type Respond = (target: ProbeTarget, options: ProbeOptions) => ProbeOutcome | Promise<ProbeOutcome>;

/** A strategy that records every probe and answers through `respond` (open by default). */
class FakeStrategy implements Strategy {
  readonly name = 'connect' as const;
  readonly probes: Array<{ target: ProbeTarget; options: ProbeOptions }> = [];
  closes = 0;
  constructor(public respond: Respond = () => ({ status: 'open', attempts: 1, rttMs: 1.5 })) {}
  async start(): Promise<void> {}
  async probe(target: ProbeTarget, options: ProbeOptions): Promise<ProbeOutcome> {
    this.probes.push({ target, options });
    return this.respond(target, options);
  }
  async close(): Promise<void> {
    this.closes++;
  }
  stats(): Record<string, number> {
    return { probes: this.probes.length };
  }
}

/**
 * The same fake with the callback API (Strategy.submit), as the raw engine has: check() of an
 * address literal then goes through submit(). A respond that returns a value answers inside
 * submit() (as the engine reports an immediate failure); one that throws makes submit() throw.
 */
class SubmitStrategy extends FakeStrategy {
  cancels = 0;
  submit(target: ProbeTarget, options: ProbeOptions, callback: (outcome: ProbeOutcome) => void): () => void {
    this.probes.push({ target, options });
    const answer = this.respond(target, options);
    if (answer instanceof Promise) void answer.then(callback, () => undefined);
    else callback(answer);
    return () => void this.cancels++;
  }
}

/** A respond function that never answers unless the signal aborts (like a real in-flight probe). */
const hang: Respond = (_target, options) =>
  new Promise((_resolve, reject) => {
    options.signal?.addEventListener('abort', () => reject(options.signal!.reason), { once: true });
  });

async function started(respond?: Respond, options: CheckerOptions = {}, api: 'probe' | 'submit' = 'probe') {
  const fake = api === 'submit' ? new SubmitStrategy(respond) : new FakeStrategy(respond);
  const checker = new Checker({ ...options, strategyFactory: async () => fake });
  await checker.start();
  return { fake, checker };
}

// localhost as most Linux hosts resolve it with verbatim ordering.
const localhost = async () => [
  { address: '::1', family: 6 },
  { address: '127.0.0.1', family: 4 },
];

// --- lifecycle ----------------------------------------------------------------------------------

test('start() twice rejects with ERR_SHAKER_ALREADY_STARTED, while starting and after', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const fake = new FakeStrategy();
  const checker = new Checker({ strategyFactory: async () => (await gate, fake) });
  const first = checker.start();
  await t.throwsAsync(checker.start(), { instanceOf: StateError, code: 'ERR_SHAKER_ALREADY_STARTED' });
  release();
  await first;
  await t.throwsAsync(checker.start(), { instanceOf: StateError, code: 'ERR_SHAKER_ALREADY_STARTED' });
  await checker.close();
});

test('check() before start() rejects with ERR_SHAKER_NOT_STARTED', async (t) => {
  const fake = new FakeStrategy();
  const checker = new Checker({ strategyFactory: async () => fake });
  await t.throwsAsync(checker.check('198.18.0.2:80'), { instanceOf: StateError, code: 'ERR_SHAKER_NOT_STARTED' });
  await t.throwsAsync(checker.checkAddr('198.18.0.2:80'), { code: 'ERR_SHAKER_NOT_STARTED' });
  t.is(fake.probes.length, 0);
});

test('close() is idempotent, closes the strategy once, and later calls reject with ERR_SHAKER_CLOSED', async (t) => {
  const { fake, checker } = await started();
  await checker.close();
  await checker.close();
  await checker[Symbol.asyncDispose]();
  t.is(fake.closes, 1);
  t.false(checker.isReady);
  await t.throwsAsync(checker.check('198.18.0.2:80'), { instanceOf: StateError, code: 'ERR_SHAKER_CLOSED' });
  await t.throwsAsync(checker.checkAddr('198.18.0.2:80'), { code: 'ERR_SHAKER_CLOSED' });
  await t.throwsAsync(checker.start(), { instanceOf: StateError, code: 'ERR_SHAKER_CLOSED' });
  t.is(fake.probes.length, 0);
  t.deepEqual(checker.stats(), {}, 'no strategy, no counters');
});

test('close() before start(): start() then rejects with ERR_SHAKER_CLOSED', async (t) => {
  const checker = new Checker({ strategyFactory: async () => new FakeStrategy() });
  await checker.close();
  await t.throwsAsync(checker.start(), { code: 'ERR_SHAKER_CLOSED' });
});

test('close() while starting: start() rejects, the strategy it got is closed, `ready` rejects', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const fake = new FakeStrategy();
  const checker = new Checker({ strategyFactory: async () => (await gate, fake) });
  const starting = checker.start();
  await checker.close();
  release();
  await t.throwsAsync(starting, { instanceOf: StateError, code: 'ERR_SHAKER_CLOSED' });
  await t.throwsAsync(checker.ready, { code: 'ERR_SHAKER_CLOSED' });
  t.is(fake.closes, 1);
  t.false(checker.isReady);
});

test('`ready` resolves and `isReady` turns true once start() is done; `strategy` says what was chosen', async (t) => {
  const fake = new FakeStrategy();
  const checker = new Checker({ strategyFactory: async () => fake });
  t.false(checker.isReady);
  t.is(checker.strategy, undefined);
  let readyFired = false;
  void checker.ready.then(() => (readyFired = true));
  await sleep(1);
  t.false(readyFired, 'not before start()');
  await checker.start();
  await checker.ready;
  t.true(readyFired);
  t.true(checker.isReady);
  t.is(checker.strategy?.name, 'connect');
  t.regex(checker.strategy?.reason ?? '', /strategyFactory/);
  t.deepEqual(checker.stats(), { probes: 0 }, 'stats() are the strategy\'s');
  await checker.close();
  t.false(checker.isReady);
});

test('a failing start() rejects `ready` with the same error; nobody awaiting `ready` is no unhandled rejection', async (t) => {
  const failure = new ShakerError('no engine', 'ERR_SHAKER_UNSUPPORTED');
  const checker = new Checker({ strategyFactory: async () => Promise.reject(failure) });
  await t.throwsAsync(checker.start(), { is: failure });
  await t.throwsAsync(checker.ready, { is: failure });
  t.false(checker.isReady);
  // An untouched checker whose start fails: the constructor's catch() keeps this quiet.
  await t.throwsAsync(new Checker({ strategyFactory: async () => Promise.reject(failure) }).start());
});

// start() may be retried after a failure; `ready` stays rejected until the retry begins, then
// follows the new attempt.
test('after a failed start(), a successful retry makes `ready` resolve', async (t) => {
  let attempt = 0;
  const fake = new FakeStrategy();
  const checker = new Checker({
    strategyFactory: async () => {
      if (attempt++ === 0) throw new ShakerError('transient', 'ERR_SHAKER_UNSUPPORTED');
      return fake;
    },
  });
  await t.throwsAsync(checker.start());
  await checker.start();
  t.true(checker.isReady);
  await t.notThrowsAsync(checker.ready);
  await checker.close();
});

test('prepare() hands the address literals to the strategy, normalized, and sends no probe', async (t) => {
  const fake = new SubmitStrategy();
  const prepared: ProbeTarget[][] = [];
  Object.assign(fake, { prepare: async (targets: readonly ProbeTarget[]) => void prepared.push([...targets]) });
  const checker = new Checker({ strategyFactory: async () => fake, family: 4 });
  await t.throwsAsync(checker.prepare(['198.18.0.2:80']), { instanceOf: StateError, code: 'ERR_SHAKER_NOT_STARTED' });
  await checker.start();
  const address = new AddressTarget(Uint8Array.of(198, 18, 0, 3), 443);
  // A name is resolved per check, and an IPv6 address is not this checker's family: both left out.
  await checker.prepare(['198.18.0.2:80', 'example.invalid:80', '[2001:2::2]:80', address]);
  t.deepEqual(prepared, [[{ ip: '198.18.0.2', family: 4, port: 80 }, address]]);
  t.is(fake.probes.length, 0);
  await t.throwsAsync(checker.prepare(['198.18.0.2']), { instanceOf: InvalidArgumentError });
  await checker.prepare(['example.invalid:80']);
  t.is(prepared.length, 1, 'nothing to prepare: the strategy is not asked');
  await checker.close();
});

test('prepare() is a no-op on a strategy that has nothing to prepare', async (t) => {
  const { checker, fake } = await started();
  await t.notThrowsAsync(checker.prepare(['198.18.0.2:80']));
  t.is(fake.probes.length, 0);
  await checker.close();
});

// --- input validation: typed errors before any probe ---------------------------------------------

const rejectsInput = test.macro({
  async exec(t, addr: unknown, options: CheckOptions, code: string) {
    const { fake, checker } = await started(undefined, { lookup: localhost });
    const error = await t.throwsAsync(checker.check(addr as string, options), { instanceOf: InvalidArgumentError });
    t.is<string | undefined, string>(error?.code, code);
    await t.throwsAsync(checker.checkAddr(addr as string, options), { instanceOf: InvalidArgumentError });
    t.is(fake.probes.length, 0, 'nothing was probed');
    await checker.close();
  },
  title: (what = '') => `rejects before probing: ${what}`,
});
const ADDRESS = 'ERR_SHAKER_INVALID_ADDRESS';
const OPTION = 'ERR_SHAKER_INVALID_OPTION';
test('bad address', rejectsInput, 'not an address', {}, ADDRESS);
test('port 0', rejectsInput, '198.18.0.2:0', {}, ADDRESS);
test('port 65536', rejectsInput, '198.18.0.2:65536', {}, ADDRESS);
test('unbracketed IPv6', rejectsInput, '2001:2::2:80', {}, ADDRESS);
test('non-string address', rejectsInput, 42, {}, ADDRESS);
test('negative timeout', rejectsInput, '198.18.0.2:80', { timeout: -1 }, OPTION);
test('zero timeout', rejectsInput, '198.18.0.2:80', { timeout: 0 }, OPTION);
test('NaN timeout', rejectsInput, '198.18.0.2:80', { timeout: Number.NaN }, OPTION);
test('infinite timeout', rejectsInput, '198.18.0.2:80', { timeout: Number.POSITIVE_INFINITY }, OPTION);
test('string timeout', rejectsInput, '198.18.0.2:80', { timeout: '100' as unknown as number }, OPTION);
test('retries -1', rejectsInput, '198.18.0.2:80', { retries: -1 }, OPTION);
test('retries 1.5', rejectsInput, '198.18.0.2:80', { retries: 1.5 }, OPTION);
test('retries 256', rejectsInput, '198.18.0.2:80', { retries: 256 }, OPTION);
test('family 5', rejectsInput, '198.18.0.2:80', { family: 5 as unknown as FamilyPreference }, OPTION);
test('IPv4 literal with family 6', rejectsInput, '198.18.0.2:80', { family: 6 }, OPTION);
test('IPv6 literal with family 4', rejectsInput, '[2001:2::2]:80', { family: 4 }, OPTION);
// Issue 13: a signal that is not one resolved status 'error' from deep in the strategy.
test("signal: 'x'", rejectsInput, '198.18.0.2:80', { signal: 'x' as unknown as AbortSignal }, OPTION);
test('signal: {}', rejectsInput, '198.18.0.2:80', { signal: {} as unknown as AbortSignal }, OPTION);
test('multicast literal', rejectsInput, '224.0.0.1:80', {}, ADDRESS);
test('IPv6 multicast literal', rejectsInput, '[ff02::1]:80', {}, ADDRESS);

const rejectsConstructorOption = test.macro({
  exec(t, options: CheckerOptions) {
    let factoryCalls = 0;
    const error = t.throws(() => new Checker({ ...options, strategyFactory: async () => (factoryCalls++, new FakeStrategy()) }), {
      instanceOf: InvalidArgumentError,
    });
    t.is(error?.code, OPTION);
    t.is(factoryCalls, 0);
  },
  title: (_p, options: CheckerOptions) => `new Checker(${JSON.stringify(options)}) throws InvalidArgumentError`,
});
for (const options of [
  { timeout: 0 },
  { timeout: -5 },
  { retries: 1.5 },
  { retries: 256 },
  { family: 'ipv4' as unknown as FamilyPreference },
  { strategy: 'bogus' as unknown as 'raw' },
]) test(rejectsConstructorOption, options);

test('an IP literal with a matching or non-numeric family is fine', async (t) => {
  const { fake, checker } = await started();
  for (const family of [4, 'both', 'prefer4', 'prefer6'] as const) t.is((await checker.check('198.18.0.2:80', { family })).status, 'open');
  t.is((await checker.check('[2001:2::2]:80', { family: 6 })).status, 'open');
  t.is(fake.probes.length, 5);
  await checker.close();
});

// --- outcome → CheckResult and → checkAddr() errors ------------------------------------------------

interface OutcomeCase {
  title: string;
  outcome: ProbeOutcome;
  /** What checkAddr() rejects with (undefined: resolves). */
  rejects?: { instanceOf: new (...a: never[]) => Error; code: string };
}
const refusedError = new ConnectError('refused by the fake', 'ECONNREFUSED');
const localError = Object.assign(new Error('sendmmsg: EPERM'), { code: 'EPERM' });
const outcomeCases: OutcomeCase[] = [
  {
    title: 'open with evidence',
    outcome: { status: 'open', attempts: 2, rttMs: 0.25, evidence: { flags: 'S.', ttl: 64, mss: 1460 } },
  },
  { title: 'closed (RST)', outcome: { status: 'closed', code: 'ECONNREFUSED', attempts: 1, rttMs: 0.1 }, rejects: { instanceOf: ConnectError, code: 'ECONNREFUSED' } },
  { title: 'closed with its own error object', outcome: { status: 'closed', code: 'ECONNREFUSED', attempts: 1, error: refusedError }, rejects: { instanceOf: ConnectError, code: 'ECONNREFUSED' } },
  { title: 'timeout', outcome: { status: 'timeout', code: 'ETIMEDOUT', attempts: 7 }, rejects: { instanceOf: TimeoutError, code: 'ETIMEDOUT' } },
  {
    title: 'unreachable (ICMP host unreachable)',
    outcome: { status: 'unreachable', code: 'EHOSTUNREACH', attempts: 1, rttMs: 3, evidence: { icmpType: 3, icmpCode: 1, responder: '198.18.0.1' } },
    rejects: { instanceOf: ConnectError, code: 'EHOSTUNREACH' },
  },
  { title: 'unreachable (net)', outcome: { status: 'unreachable', code: 'ENETUNREACH', attempts: 1 }, rejects: { instanceOf: ConnectError, code: 'ENETUNREACH' } },
  { title: 'unreachable without a code', outcome: { status: 'unreachable', attempts: 1 }, rejects: { instanceOf: ConnectError, code: 'EHOSTUNREACH' } },
  { title: 'error with a local error object', outcome: { status: 'error', code: 'EPERM', attempts: 0, error: localError }, rejects: { instanceOf: Error, code: 'EPERM' } },
  { title: 'error without an error object', outcome: { status: 'error', code: 'EMSGSIZE', attempts: 1 }, rejects: { instanceOf: ShakerError, code: 'EMSGSIZE' } },
  { title: 'error with neither code nor object', outcome: { status: 'error', attempts: 1 }, rejects: { instanceOf: ShakerError, code: 'ERR_SHAKER_SYSTEM' } },
];

const mapsOutcome = test.macro({
  async exec(t, c: OutcomeCase, api: 'probe' | 'submit') {
    const { fake, checker } = await started(() => c.outcome, { timeout: 1234, retries: 3 }, api);
    const result = await checker.check('198.18.0.2:8080');
    t.like(result, { target: '198.18.0.2:8080', ip: '198.18.0.2', port: 8080, status: c.outcome.status, strategy: 'connect', attempts: c.outcome.attempts });
    t.is(result.code, c.outcome.code);
    t.is(result.rttMs, c.outcome.rttMs);
    t.deepEqual(result.evidence, c.outcome.evidence);
    if (c.outcome.status === 'open') {
      t.is(result.error, undefined);
      t.false('code' in result, 'absent fields are absent, not undefined');
    } else {
      t.true(result.error instanceof Error);
      if (c.outcome.error) t.is(result.error, c.outcome.error, "the strategy's own error object is kept");
    }
    t.deepEqual(fake.probes[0].target, { ip: '198.18.0.2', family: 4, port: 8080 });
    t.is(fake.probes[0].options.retries, 3, 'the default retries reach the strategy');

    if (c.rejects) {
      const error = await t.throwsAsync(checker.checkAddr('198.18.0.2:8080'), { instanceOf: c.rejects.instanceOf });
      t.is((error as { code?: string }).code, c.rejects.code);
      if (c.outcome.error) t.is(error, c.outcome.error);
      if (c.rejects.instanceOf === TimeoutError) t.true((error as TimeoutError).timeout());
      if (c.outcome.status !== 'error' && !c.outcome.error) t.true(error!.message.includes('198.18.0.2:8080'), error!.message);
    } else {
      const ok = await checker.checkAddr('198.18.0.2:8080');
      t.is(ok.status, 'open');
    }
    await checker.close();
  },
  title: (_p, c: OutcomeCase, api: 'probe' | 'submit') => `maps a strategy outcome (${api}()): ${c.title}`,
});
for (const c of outcomeCases) {
  test(mapsOutcome, c, 'probe');
  test(mapsOutcome, c, 'submit');
}

test('through submit(): a strategy that throws gives status error with its code', async (t) => {
  const boom = Object.assign(new Error('the engine is closed'), { code: 'ERR_SHAKER_CLOSED' });
  const { checker } = await started(
    () => {
      throw boom;
    },
    {},
    'submit',
  );
  const result = await checker.check('198.18.0.2:80');
  t.like(result, { status: 'error', code: 'ERR_SHAKER_CLOSED', attempts: 0 });
  t.is(result.error, boom);
  await checker.close();
});

test('through submit(): aborting in flight cancels the probe once and rejects with signal.reason; no watcher stays', async (t) => {
  let answer: ((o: ProbeOutcome) => void) | undefined;
  const { fake, checker } = await started(() => new Promise<ProbeOutcome>((resolve) => (answer = resolve)), {}, 'submit');
  const controller = new AbortController();
  const reason = new Error('stop');
  const pending = checker.check('198.18.0.2:80', { signal: controller.signal });
  t.is(fake.probes.length, 1);
  t.is(abortWatcherCount(controller.signal), 1);
  controller.abort(reason);
  await t.throwsAsync(pending, { is: reason });
  t.is((fake as SubmitStrategy).cancels, 1);
  // An answer that arrives after the abort changes nothing.
  answer!({ status: 'open', attempts: 1 });
  t.is(abortWatcherCount(controller.signal), 0);
  await checker.close();
});

test('through submit(): a verdict removes its abort watcher; a later abort cancels nothing', async (t) => {
  const { fake, checker } = await started(undefined, {}, 'submit');
  const controller = new AbortController();
  const results = await Promise.all([checker.check('198.18.0.2:80', { signal: controller.signal }), checker.check('[2001:DB8::A]:443', { signal: controller.signal })]);
  t.deepEqual(results.map((r) => [r.status, r.ip]), [['open', '198.18.0.2'], ['open', '2001:db8::a']]);
  t.is(abortWatcherCount(controller.signal), 0);
  controller.abort();
  t.is((fake as SubmitStrategy).cancels, 0);
  // The same text again (the parsed target is remembered), then another: each its own address.
  for (const text of ['[2001:DB8::A]:443', '[2001:DB8::A]:443', '198.18.0.3:22']) await checker.check(text);
  t.deepEqual(fake.probes.slice(2).map((p) => p.target), [
    { ip: '2001:db8::a', family: 6, port: 443 },
    { ip: '2001:db8::a', family: 6, port: 443 },
    { ip: '198.18.0.3', family: 4, port: 22 },
  ]);
  await checker.close();
});

test('a strategy that throws (not an abort) gives status error with its code', async (t) => {
  const boom = Object.assign(new Error('addon exploded'), { code: 'ERR_SHAKER_SYSTEM' });
  const { checker } = await started(() => {
    throw boom;
  });
  const result = await checker.check('198.18.0.2:80');
  t.like(result, { status: 'error', code: 'ERR_SHAKER_SYSTEM', attempts: 0 });
  t.is(result.error, boom);
  await t.throwsAsync(checker.checkAddr('198.18.0.2:80'), { is: boom });
  await checker.close();
});

test('per-check timeout and retries reach the strategy as a deadline and a count', async (t) => {
  const { fake, checker } = await started();
  const before = performance.now();
  await checker.check('198.18.0.2:80', { timeout: 5000, retries: 0 });
  const after = performance.now();
  const { deadline, retries } = fake.probes[0].options;
  t.is(retries, 0);
  // Value bounds, not timing: the deadline is "now + timeout" for some now inside the call.
  t.true(deadline >= before + 5000 && deadline <= after + 5000);
  await checker.close();
});

test('IPv6 literals are probed in canonical lower case', async (t) => {
  const { fake, checker } = await started();
  const result = await checker.check('[2001:DB8::A]:443');
  t.is(result.ip, '2001:db8::a');
  t.deepEqual(fake.probes[0].target, { ip: '2001:db8::a', family: 6, port: 443 });
  await checker.close();
});

// --- names, families and DNS inside the timeout ---------------------------------------------------

/** Answers per address: `open`, `closed`, `timeout`... */
const byIp =
  (statuses: Record<string, ProbeOutcome['status']>): Respond =>
  (target) => {
    const status = statuses[target.ip] ?? 'error';
    return { status, attempts: 1, ...(status === 'open' ? {} : { code: status === 'closed' ? 'ECONNREFUSED' : 'ETIMEDOUT' }) };
  };

interface FamilyCase {
  family: FamilyPreference;
  statuses: Record<string, ProbeOutcome['status']>;
  probed: string[];
  status: ProbeOutcome['status'];
  ip: string;
  sequential?: boolean;
}
const familyCases: Array<[string, FamilyCase]> = [
  ["'both' probes both and is open if either is (v4 open)", { family: 'both', statuses: { '::1': 'closed', '127.0.0.1': 'open' }, probed: ['::1', '127.0.0.1'], status: 'open', ip: '127.0.0.1' }],
  ["'both' probes both and is open if either is (v6 open)", { family: 'both', statuses: { '::1': 'open', '127.0.0.1': 'timeout' }, probed: ['::1', '127.0.0.1'], status: 'open', ip: '::1' }],
  ["'both' with neither open: the most definite answer (closed beats timeout)", { family: 'both', statuses: { '::1': 'timeout', '127.0.0.1': 'closed' }, probed: ['::1', '127.0.0.1'], status: 'closed', ip: '127.0.0.1' }],
  ["'prefer6' probes ::1 first and stops when it is open", { family: 'prefer6', statuses: { '::1': 'open', '127.0.0.1': 'open' }, probed: ['::1'], status: 'open', ip: '::1' }],
  ["'prefer6' falls back to IPv4 when ::1 is not open", { family: 'prefer6', statuses: { '::1': 'closed', '127.0.0.1': 'open' }, probed: ['::1', '127.0.0.1'], status: 'open', ip: '127.0.0.1' }],
  ["'prefer4' probes 127.0.0.1 first whatever the resolver's order", { family: 'prefer4', statuses: { '::1': 'open', '127.0.0.1': 'open' }, probed: ['127.0.0.1'], status: 'open', ip: '127.0.0.1' }],
  ['family 4 probes only the IPv4 address', { family: 4, statuses: { '::1': 'open', '127.0.0.1': 'closed' }, probed: ['127.0.0.1'], status: 'closed', ip: '127.0.0.1' }],
  ['family 6 probes only the IPv6 address', { family: 6, statuses: { '::1': 'open', '127.0.0.1': 'closed' }, probed: ['::1'], status: 'open', ip: '::1' }],
];
const familyMacro = test.macro({
  async exec(t, c: FamilyCase) {
    const { fake, checker } = await started(byIp(c.statuses), { lookup: localhost });
    const result = await checker.check('localhost:80', { family: c.family });
    t.deepEqual(fake.probes.map((p) => p.target.ip).sort(), [...c.probed].sort());
    if (c.family === 'prefer4' || c.family === 'prefer6') t.deepEqual(fake.probes.map((p) => p.target.ip), c.probed, 'in preference order');
    t.true(fake.probes.every((p) => p.target.family === (p.target.ip.includes(':') ? 6 : 4)));
    t.is(result.status, c.status);
    t.is(result.ip, c.ip);
    t.is(result.target, 'localhost:80');
    await checker.close();
  },
  title: (what = '') => `family: ${what}`,
});
for (const [what, c] of familyCases) test(what, familyMacro, c);

test('the checker-wide family is the default for each check', async (t) => {
  const { fake, checker } = await started(undefined, { lookup: localhost, family: 4 });
  await checker.check('localhost:80');
  t.deepEqual(fake.probes.map((p) => p.target.ip), ['127.0.0.1']);
  await checker.close();
});

test('no address of the wanted family: status error with a ResolveError, nothing probed', async (t) => {
  const { fake, checker } = await started(undefined, { lookup: async () => [{ address: '127.0.0.1', family: 4 }] });
  const result = await checker.check('localhost:80', { family: 6 });
  t.like(result, { status: 'error', code: 'ERR_SHAKER_RESOLVE', ip: '', attempts: 0, target: 'localhost:80' });
  t.true(result.error instanceof ResolveError);
  t.is((result.error as ResolveError).host, 'localhost');
  t.regex(result.error!.message, /no IPv6 address/);
  await t.throwsAsync(checker.checkAddr('localhost:80', { family: 6 }), { instanceOf: ResolveError, code: 'ERR_SHAKER_RESOLVE' });
  t.is(fake.probes.length, 0);
  await checker.close();
});

test('multicast, broadcast and unspecified destinations are refused before anything is probed', async (t) => {
  const { fake, checker } = await started(undefined, {
    // A DNS sinkhole answers 0.0.0.0; the other address of the name is a real one.
    lookup: async () => [
      { address: '0.0.0.0', family: 4 },
      { address: '127.0.0.1', family: 4 },
    ],
  });
  for (const literal of ['0.0.0.0:80', '224.0.0.1:80', '255.255.255.255:80', '[::]:80', '[ff02::1]:80', '0xc6.18.0.2:80', '198.018.0.2:80']) {
    await t.throwsAsync(checker.check(literal), { instanceOf: InvalidArgumentError, code: 'ERR_SHAKER_INVALID_ADDRESS' }, literal);
  }
  t.is(fake.probes.length, 0);
  const result = await checker.check('sinkholed.example:80');
  t.is(result.status, 'open', 'the real address answers');
  t.deepEqual(fake.probes.map((p) => p.target.ip), ['127.0.0.1'], '0.0.0.0 is never probed');
  const only = await started(undefined, { lookup: async () => [{ address: '0.0.0.0', family: 4 }] });
  const refused = await only.checker.check('sinkholed.example:80');
  t.like(refused, { status: 'error', code: 'ERR_SHAKER_INVALID_ADDRESS', attempts: 0 });
  t.regex(refused.error!.message, /sinkholed.example resolved to "0.0.0.0" is in 0.0.0.0\/8/);
  t.is(only.fake.probes.length, 0);
  await checker.close();
  await only.checker.close();
});

test('an IPv4-mapped literal is checked over IPv4', async (t) => {
  const { fake, checker } = await started();
  const result = await checker.check('[::ffff:198.18.0.2]:80');
  t.like(result, { target: '[::ffff:198.18.0.2]:80', ip: '198.18.0.2' });
  t.deepEqual(fake.probes.map((p) => [p.target.ip, p.target.family]), [['198.18.0.2', 4]]);
  await checker.close();
});

test('a resolver failure becomes a ResolveError that keeps the cause', async (t) => {
  const notFound = Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.invalid'), { code: 'ENOTFOUND' });
  const { fake, checker } = await started(undefined, { lookup: async () => Promise.reject(notFound) });
  const result = await checker.check('nowhere.invalid:80');
  t.like(result, { status: 'error', code: 'ERR_SHAKER_RESOLVE' });
  t.true(result.error instanceof ResolveError);
  t.is(result.error!.cause, notFound);
  t.is(fake.probes.length, 0);
  await checker.close();
});

test('an empty answer is a ResolveError too', async (t) => {
  const { checker } = await started(undefined, { lookup: async () => [] });
  t.like(await checker.check('empty.example:80'), { status: 'error', code: 'ERR_SHAKER_RESOLVE' });
  await checker.close();
});

test('resolved addresses are normalized, deduplicated, and capped at 8', async (t) => {
  const many = [
    { address: 'FE80::1%eth0', family: 6 },
    { address: 'fe80::1', family: 6 },
    { address: '127.0.0.1', family: 4 },
    { address: '127.0.0.1', family: 4 },
    { address: 'not-ip-family', family: 0 },
    ...Array.from({ length: 20 }, (_, i) => ({ address: `10.0.0.${i}`, family: 4 })),
  ];
  const { fake, checker } = await started(() => ({ status: 'closed', code: 'ECONNREFUSED', attempts: 1 }), { lookup: async () => many });
  await checker.check('many.example:80');
  const probed = fake.probes.map((p) => p.target.ip);
  t.is(probed.length, 8);
  t.is(new Set(probed).size, 8);
  t.deepEqual(probed.slice(0, 2), ['fe80::1', '127.0.0.1']);
  await checker.close();
});

test('a lookup slower than the timeout gives status timeout: DNS counts against the timeout', async (t) => {
  const { fake, checker } = await started(undefined, {
    lookup: async () => {
      await sleep(500);
      return [{ address: '127.0.0.1', family: 4 }];
    },
  });
  const result = await checker.check('slow.example:80', { timeout: 30 });
  t.like(result, { status: 'timeout', code: 'ETIMEDOUT', ip: '', attempts: 0 });
  t.true(result.error instanceof TimeoutError);
  await t.throwsAsync(checker.checkAddr('slow.example:80', { timeout: 30 }), { instanceOf: TimeoutError, code: 'ETIMEDOUT' });
  t.is(fake.probes.length, 0);
  await checker.close();
});

test('a timeout past 2^31-1 ms (1e12) is a far deadline, not an immediate one', async (t) => {
  // Issue 13: setTimeout(1e12) fires after 1 ms, so a lookup "timed out" at once.
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(w.name);
  process.on('warning', onWarning);
  t.teardown(() => process.off('warning', onWarning));
  const { fake, checker } = await started(undefined, {
    lookup: async () => {
      await sleep(20);
      return [{ address: '127.0.0.1', family: 4 }];
    },
  });
  const result = await checker.check('a.example:80', { timeout: 1e12 });
  t.is(result.status, 'open');
  t.is(fake.probes.length, 1);
  t.deepEqual(warnings, []);
  await checker.close();
});

test('the probe gets what is left of the timeout after DNS (one shared deadline)', async (t) => {
  let resolvedAt = 0;
  const { fake, checker } = await started(undefined, {
    lookup: async () => {
      await sleep(20);
      resolvedAt = performance.now();
      return [{ address: '127.0.0.1', family: 4 }];
    },
  });
  const before = performance.now();
  await checker.check('a.example:80', { timeout: 10_000 });
  const { deadline } = fake.probes[0].options;
  t.true(deadline <= before + 10_000 + 1, 'not restarted after the lookup');
  t.true(deadline > resolvedAt);
  await checker.close();
});

// --- AbortSignal -----------------------------------------------------------------------------------

test('an already-aborted signal rejects with signal.reason before anything is probed or resolved', async (t) => {
  let lookups = 0;
  const { fake, checker } = await started(undefined, { lookup: async () => (lookups++, localhost()) });
  const reason = new Error('caller gave up');
  const signal = AbortSignal.abort(reason);
  await t.throwsAsync(checker.check('198.18.0.2:80', { signal }), { is: reason });
  await t.throwsAsync(checker.checkAddr('localhost:80', { signal }), { is: reason });
  const plain = AbortSignal.abort();
  // A DOMException named AbortError, not an Error subclass on every Node version: `any`.
  const error = await t.throwsAsync(checker.check('198.18.0.2:80', { signal: plain }), { any: true });
  t.is(error, plain.reason, "a signal without an explicit reason rejects with the platform's AbortError");
  t.is(fake.probes.length, 0);
  t.is(lookups, 0);
  await checker.close();
});

test('aborting while the probe is in flight rejects with signal.reason', async (t) => {
  const { fake, checker } = await started(hang);
  const controller = new AbortController();
  const reason = new Error('stop');
  const pending = checker.check('198.18.0.2:80', { signal: controller.signal });
  await sleep(5);
  t.is(fake.probes.length, 1);
  t.is(fake.probes[0].options.signal, controller.signal, 'the signal reaches the strategy');
  controller.abort(reason);
  await t.throwsAsync(pending, { is: reason });
  await checker.close();
});

test('aborting during a slow lookup rejects with signal.reason and probes nothing', async (t) => {
  const { fake, checker } = await started(undefined, {
    lookup: async () => {
      await sleep(300);
      return [{ address: '127.0.0.1', family: 4 }];
    },
  });
  const controller = new AbortController();
  const reason = new Error('stop resolving');
  const pending = checker.check('slow.example:80', { signal: controller.signal, timeout: 5000 });
  await sleep(5);
  controller.abort(reason);
  await t.throwsAsync(pending, { is: reason });
  t.is(fake.probes.length, 0);
  await checker.close();
});

// --- defaultChecker ---------------------------------------------------------------------------------

test.serial('defaultChecker() starts one shared checker and returns it every time', async (t) => {
  let factoryCalls = 0;
  const fake = new FakeStrategy();
  const options: CheckerOptions = { strategyFactory: async () => (factoryCalls++, fake) };
  const [a, b] = await Promise.all([defaultChecker(options), defaultChecker(options)]);
  const c = await defaultChecker();
  t.is(a, b);
  t.is(a, c, 'later calls return it too (their options are ignored)');
  t.is(factoryCalls, 1);
  t.true(a.isReady);
  t.is((await a.check('198.18.0.2:80')).status, 'open');
  await a.close();
});
