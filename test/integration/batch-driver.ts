// Runs Checker.checkMany inside a testbed namespace and prints one JSON line: the statuses and
// codes of the results, the engine's counters, and what is left after close(). The spec comes
// as one JSON argument (BatchSpec in batch.test.ts).
import { readdirSync } from 'node:fs';
import { Checker } from '../../src/index.js';

interface Spec {
  /** The first address (IPv4) and how many consecutive addresses, all on `port`. */
  base: string;
  count: number;
  port: number;
  concurrency: number;
  timeout: number;
  /** Abort once this many checks are in flight (the whole batch when it is `count`). */
  abortAtInFlight?: number;
}

function ipv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as Spec;
const [a, b, c, d] = spec.base.split('.').map(Number);
const first = ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
function* targets(): Generator<string> {
  for (let i = 0; i < spec.count; i++) yield `${ipv4((first + i) >>> 0)}:${spec.port}`;
}

const checker = new Checker({ strategy: 'raw', timeout: spec.timeout, retries: 1 });
const out: Record<string, unknown> = {};
try {
  await checker.start();
  const aborter = new AbortController();
  const statuses: Record<string, number> = {};
  const codes: Record<string, number> = {};
  const batch = checker.checkMany(targets(), { concurrency: spec.concurrency, signal: aborter.signal });
  if (spec.abortAtInFlight !== undefined) {
    const watch = setInterval(() => {
      if ((checker.stats().inFlight ?? 0) >= spec.abortAtInFlight!) {
        clearInterval(watch);
        out.inFlightAtAbort = checker.stats().inFlight;
        aborter.abort(new Error('stopped by the test'));
      }
    }, 10);
  }
  try {
    for await (const r of batch) {
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      if (r.code !== undefined && r.status !== 'open') codes[r.code] = (codes[r.code] ?? 0) + 1;
    }
  } catch (error) {
    out.threw = (error as Error).message;
  }
  out.statuses = statuses;
  out.codes = codes;
  out.stats = checker.stats();
} catch (error) {
  out.failed = (error as Error).message;
} finally {
  await checker.close();
  out.fdsAfterClose = readdirSync('/proc/self/fd').length;
  out.handlesAfterClose = process.getActiveResourcesInfo();
  process.stdout.write(`${JSON.stringify(out)}\n`);
}
