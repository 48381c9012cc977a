// ava helpers for tests that need a testbed (and so root).
//
// - `privilegedTest`: use instead of `test.serial` for a test that needs root. As root it is
//   `test.serial`; as non-root outside CI the test is skipped with a loud warning; as non-root in
//   CI (CI=true) the test FAILS, because CI is supposed to run as root and a silent skip there
//   would hide every privileged test.
// - `requireRoot(t)`: the same decision from inside a running test, for tests that are only
//   partly privileged: returns true when the test may go on.
// - `withTestbed(t, options)`: a Testbed destroyed by `t.teardown`, whatever the test does.
import test from 'ava';
import type { ExecutionContext, TestFn } from 'ava';
import { Testbed } from '../../src/testbed/index.js';
import type { TestbedOptions } from '../../src/testbed/index.js';

const inCi = process.env.CI === 'true' || process.env.CI === '1';
const isRoot = process.getuid?.() === 0;
const reason = 'needs root (network namespaces, raw sockets, nftables); run as root or with CI=true in a root container';

let warned = false;
function warnOnce(): void {
  if (warned) return;
  warned = true;
  console.warn(`\n*** SKIPPING the privileged tests of this file (not root): ${reason} ***\n`);
}

type SerialFn = TestFn['serial'];

/** The title ava would show for `test(title, ...)` or `test(macro, ...args)`. */
function titleOf(args: unknown[]): string {
  const [first, ...rest] = args;
  if (typeof first === 'string') return first;
  const macro = first as { title?: (provided: string | undefined, ...args: unknown[]) => string };
  return macro?.title?.(undefined, ...rest) ?? 'privileged test';
}

/** In CI without root: every declared test becomes one that fails, `.failing` ones included
 *  (an expected failure would otherwise pass). */
function failingInCi(): SerialFn {
  const declare = (...args: unknown[]): void => {
    test.serial(titleOf(args), (t) => t.fail(`CI=true but not root: ${reason}`));
  };
  return Object.assign(declare, { failing: declare, skip: declare, only: declare }) as unknown as SerialFn;
}

function skippedLoudly(): SerialFn {
  warnOnce();
  const declare = (...args: unknown[]): void => {
    (test.serial.skip as (...a: unknown[]) => void)(...args);
  };
  return Object.assign(declare, { failing: declare, skip: declare, only: declare }) as unknown as SerialFn;
}

/** `test.serial` when root; a loud skip outside CI; a failing test in CI. Supports `.failing`. */
export const privilegedTest: SerialFn = isRoot ? test.serial : inCi ? failingInCi() : skippedLoudly();

/** Inside a test: true when privileged; otherwise logs loudly (outside CI) or fails (in CI). */
export function requireRoot(t: ExecutionContext): boolean {
  if (isRoot) return true;
  if (inCi) {
    t.fail(`CI=true but not root: ${reason}`);
    return false;
  }
  const message = `SKIPPED (not root): ${t.title}: ${reason}`;
  t.log(message);
  console.warn(`*** ${message} ***`);
  t.pass();
  return false;
}

/** A fresh testbed whose destruction is registered with `t.teardown` before anything can fail. */
export async function withTestbed(t: ExecutionContext, options?: TestbedOptions): Promise<Testbed> {
  const testbed = await Testbed.create(options);
  t.teardown(() => testbed.destroy());
  return testbed;
}
