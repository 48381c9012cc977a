// Every error class in one table (undici test/errors.js style): name, code, message, `cause`,
// the ShakerError base, and instanceof across a second copy of the module, which is what a
// project with two installed copies of tcp-shaker gets.
import test from 'ava';
import * as errors from '../../src/core/errors.js';
import {
  AbortError,
  ConnectError,
  InvalidArgumentError,
  ResolveError,
  ShakerError,
  StateError,
  SystemError,
  TimeoutError,
  UnsupportedError,
} from '../../src/core/errors.js';

type ErrorsModule = typeof errors;

interface Case {
  /** Builds the error from a module, so the same case runs against both copies. */
  make: (m: ErrorsModule, cause?: unknown) => Error & { code: string };
  Class: keyof ErrorsModule;
  name: string;
  code: string;
  message: string;
  /** Whether the constructor accepts `{ cause }`. */
  takesCause: boolean;
}

const cases: Case[] = [
  { Class: 'ShakerError', make: (m, cause) => new m.ShakerError('base', 'ERR_X', { cause }), name: 'ShakerError', code: 'ERR_X', message: 'base', takesCause: true },
  { Class: 'TimeoutError', make: (m, cause) => new m.TimeoutError(undefined, { cause }), name: 'TimeoutError', code: 'ETIMEDOUT', message: 'no reply before the deadline', takesCause: true },
  { Class: 'TimeoutError', make: (m, cause) => new m.TimeoutError('slow', { cause }), name: 'TimeoutError', code: 'ETIMEDOUT', message: 'slow', takesCause: true },
  { Class: 'ConnectError', make: (m, cause) => new m.ConnectError('refused', 'ECONNREFUSED', { cause }), name: 'ConnectError', code: 'ECONNREFUSED', message: 'refused', takesCause: true },
  { Class: 'ConnectError', make: (m, cause) => new m.ConnectError('no route', 'EHOSTUNREACH', { cause }), name: 'ConnectError', code: 'EHOSTUNREACH', message: 'no route', takesCause: true },
  { Class: 'InvalidArgumentError', make: (m) => new m.InvalidArgumentError('bad option'), name: 'InvalidArgumentError', code: 'ERR_SHAKER_INVALID_OPTION', message: 'bad option', takesCause: false },
  {
    Class: 'InvalidArgumentError',
    make: (m) => new m.InvalidArgumentError('bad address', 'ERR_SHAKER_INVALID_ADDRESS'),
    name: 'InvalidArgumentError',
    code: 'ERR_SHAKER_INVALID_ADDRESS',
    message: 'bad address',
    takesCause: false,
  },
  { Class: 'ResolveError', make: (m, cause) => new m.ResolveError('example.invalid', 'no such host', { cause }), name: 'ResolveError', code: 'ERR_SHAKER_RESOLVE', message: 'no such host', takesCause: true },
  { Class: 'StateError', make: (m) => new m.StateError('twice', 'ERR_SHAKER_ALREADY_STARTED'), name: 'StateError', code: 'ERR_SHAKER_ALREADY_STARTED', message: 'twice', takesCause: false },
  { Class: 'StateError', make: (m) => new m.StateError('not yet', 'ERR_SHAKER_NOT_STARTED'), name: 'StateError', code: 'ERR_SHAKER_NOT_STARTED', message: 'not yet', takesCause: false },
  { Class: 'StateError', make: (m) => new m.StateError('gone', 'ERR_SHAKER_CLOSED'), name: 'StateError', code: 'ERR_SHAKER_CLOSED', message: 'gone', takesCause: false },
  { Class: 'UnsupportedError', make: (m, cause) => new m.UnsupportedError('no pcap', { cause }), name: 'UnsupportedError', code: 'ERR_SHAKER_UNSUPPORTED', message: 'no pcap', takesCause: true },
  {
    Class: 'AddonUnavailableError',
    make: (m, cause) => new m.AddonUnavailableError('not built', 'rebuild it', { cause }),
    name: 'AddonUnavailableError',
    code: 'ERR_SHAKER_NO_ADDON',
    message: 'the tcp-shaker native addon is unavailable: not built; fix: rebuild it',
    takesCause: true,
  },
  { Class: 'AbortError', make: (m, cause) => new m.AbortError(undefined, { cause }), name: 'AbortError', code: 'ABORT_ERR', message: 'the check was aborted', takesCause: true },
  { Class: 'SystemError', make: (m) => new m.SystemError('socket: EPERM', 'EPERM', -1, 'socket'), name: 'SystemError', code: 'EPERM', message: 'socket: EPERM', takesCause: false },
];

const title = (c: Case) => `${c.Class}(${c.code}${c.message === 'base' ? '' : `, "${c.message}"`})`;

const shape = test.macro({
  exec(t, c: Case) {
    const cause = new Error('underlying');
    const error = c.make(errors, cause);
    const Class = errors[c.Class] as unknown as new (...args: never[]) => Error;
    t.true(error instanceof Class);
    t.true(error instanceof ShakerError);
    t.true(error instanceof Error);
    t.is(error.name, c.name);
    t.is(error.code, c.code);
    t.is(error.message, c.message);
    t.is(error.constructor, Class);
    t.true(String(error).startsWith(`${c.name}: ${c.message}`), String(error));
    t.regex(error.stack ?? '', new RegExp(`^${c.name}: `), 'the stack starts with the class name');
    if (c.takesCause) t.is(error.cause, cause);
    else t.false('cause' in error);
  },
  title: (_p, c: Case) => `${title(c)}: name, code, message, cause, instanceof`,
});
for (const c of cases) test(shape, c);

test('an error without a cause has no `cause` property', (t) => {
  t.false('cause' in new TimeoutError());
  t.false('cause' in new ShakerError('m', 'ERR_X'));
});

test('TimeoutError.timeout() answers true (Go net.Error style); no other class has it', (t) => {
  t.true(new TimeoutError().timeout());
  for (const c of cases.filter((c) => c.Class !== 'TimeoutError')) {
    t.false('timeout' in c.make(errors), c.Class);
  }
});

test('ResolveError keeps the host; SystemError keeps errno and syscall', (t) => {
  t.is(new ResolveError('example.invalid', 'm').host, 'example.invalid');
  const e = new SystemError('m', 'EACCES', -13, 'sendmmsg');
  t.is(e.errno, -13);
  t.is(e.syscall, 'sendmmsg');
});

test('subclasses are not instances of their siblings, and plain Errors are not ShakerErrors', (t) => {
  t.false(new TimeoutError() instanceof ConnectError);
  t.false(new ConnectError('m', 'ECONNREFUSED') instanceof TimeoutError);
  t.false(new StateError('m', 'ERR_SHAKER_CLOSED') instanceof InvalidArgumentError);
  t.false((new ShakerError('m', 'ERR_X') as Error) instanceof TimeoutError, 'the base is not a subclass');
  t.false(new Error('plain') instanceof ShakerError);
  t.false(Object.assign(new Error('lookalike'), { code: 'ETIMEDOUT' }) instanceof ShakerError, 'a code alone is no brand');
  for (const value of [null, undefined, 0, 'ShakerError', {}, Symbol('x')]) t.false(value instanceof ShakerError);
});

test('AddonUnavailableError is an UnsupportedError that keeps its reason and fix apart', (t) => {
  const error = new errors.AddonUnavailableError('disabled by TCP_SHAKER_NO_ADDON=1', 'unset TCP_SHAKER_NO_ADDON');
  t.true(error instanceof UnsupportedError);
  t.is(error.reason, 'disabled by TCP_SHAKER_NO_ADDON=1');
  t.is(error.fix, 'unset TCP_SHAKER_NO_ADDON');
  t.false(new UnsupportedError('m') instanceof errors.AddonUnavailableError);
});

test('the brand is not enumerable and does not show up in JSON or keys', (t) => {
  const error = new ConnectError('refused', 'ECONNREFUSED');
  t.deepEqual(Object.keys(error), ['code']);
  t.is(JSON.stringify(error), '{"code":"ECONNREFUSED"}');
});

// --- a second copy of the module ----------------------------------------------------------------

/** The same source loaded again under another URL: a separate module instance with its own classes. */
async function secondCopy(): Promise<ErrorsModule> {
  // A non-literal specifier: TypeScript does not try to resolve the query string.
  const url = new URL('../../src/core/errors.ts?copy', import.meta.url).href;
  return (await import(url)) as ErrorsModule;
}

test('the second copy really is a different module instance', async (t) => {
  const copy = await secondCopy();
  t.not(copy.ShakerError, ShakerError);
  t.not(copy.TimeoutError, TimeoutError);
});

const crossCopy = test.macro({
  async exec(t, c: Case) {
    const copy = await secondCopy();
    const foreign = c.make(copy);
    t.true(foreign instanceof ShakerError, 'an error from the other copy is a ShakerError of this one');
    t.true(c.make(errors) instanceof copy.ShakerError, 'and the other way round');
    t.is(foreign.code, c.code);
    t.is(foreign.name, c.name);
  },
  title: (_p, c: Case) => `cross-copy: ${title(c)} from a second copy is instanceof ShakerError`,
});
for (const c of cases) test(crossCopy, c);

// Subclasses answer through the brand plus their name, so `copy.TimeoutError` is instanceof this
// TimeoutError and not this ConnectError.
test('cross-copy: subclasses too are instanceof across copies (as the module header says)', async (t) => {
  const copy = await secondCopy();
  t.true(new copy.TimeoutError() instanceof TimeoutError);
  t.true(new copy.ConnectError('m', 'ECONNREFUSED') instanceof ConnectError);
  t.false(new copy.TimeoutError() instanceof ConnectError);
});

test('every exported class is in the table', (t) => {
  const exported = Object.entries(errors)
    .filter(([, v]) => typeof v === 'function')
    .map(([k]) => k)
    .sort();
  t.deepEqual(exported, [...new Set(cases.map((c) => c.Class))].sort());
  // Referenced so the named imports stay meaningful to readers of this file.
  t.truthy(AbortError && UnsupportedError);
});
