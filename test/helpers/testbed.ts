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
  console.warn(`\n*** SKIPPING privileged tests in ${process.argv[1] ?? 'this file'}: ${reason} ***\n`);
}

type SerialFn = TestFn['serial'];

function failingInCi(title: string): void {
  test.serial(title, (t) => t.fail(`CI=true but not root: ${reason}`));
}

/** `test.serial` when root; a loud skip outside CI; a failing test in CI. */
export const privilegedTest: SerialFn = (() => {
  if (isRoot) return test.serial;
  if (inCi) return ((title: string) => failingInCi(title)) as unknown as SerialFn;
  warnOnce();
  return test.serial.skip as unknown as SerialFn;
})();

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
