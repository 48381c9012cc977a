// Runs in a testbed namespace under setpriv (see least-privilege.test.ts): starts a Checker with
// the requested strategy and checks each target, then prints one JSON line with this process's
// uid and capability sets, the strategy chosen, and each result (or the start error).
import { readFileSync } from 'node:fs';
import { Checker } from '../../src/checker.js';
import type { StrategyRequest } from '../../src/strategies/choose.js';

const [strategy, ...targets] = process.argv.slice(2);
const caps = Object.fromEntries(
  readFileSync('/proc/self/status', 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('Cap'))
    .map((l) => l.split(/:\s+/)),
);
const checker = new Checker({ strategy: strategy as StrategyRequest, timeout: 2000, retries: 1 });
const out: Record<string, unknown> = { uid: process.getuid?.(), caps };
try {
  await checker.start();
  out.strategy = checker.strategy?.name;
  out.results = [];
  for (const target of targets) {
    const r = await checker.check(target);
    (out.results as unknown[]).push({ target, status: r.status, code: r.code, strategy: r.strategy });
  }
} catch (error) {
  const e = error as { name?: string; code?: string; message?: string };
  out.startError = { name: e.name, code: e.code, message: e.message };
} finally {
  await checker.close();
}
process.stdout.write(`${JSON.stringify(out)}\n`);
