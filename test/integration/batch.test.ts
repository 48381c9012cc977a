// Checker.checkMany end to end in a testbed: a sweep of 16382 distinct addresses with no
// --interface/--source (the route comes from the routing table: one route, no socket per
// address, no EMFILE), and an abort with 30000 checks in flight (every one cancelled, the engine
// empty, nothing left after close). The server namespace answers for 198.19.0.0/16 as its own.
import type { ExecutionContext } from 'ava';
import { privilegedTest, withTestbed } from '../helpers/testbed.js';
import type { Testbed } from '../../src/testbed/index.js';

const PREFIX = '198.19.0.0/16';
const OPEN = 80;
const FILTERED = 81;
const DRIVER = new URL('./batch-driver.ts', import.meta.url).pathname;

interface BatchReport {
  statuses: Record<string, number>;
  codes: Record<string, number>;
  stats: Record<string, number>;
  threw?: string;
  failed?: string;
  inFlightAtAbort?: number;
  fdsAfterClose: number;
  handlesAfterClose: string[];
}

async function runBatch(t: ExecutionContext, tb: Testbed, spec: Record<string, unknown>): Promise<BatchReport> {
  const r = await tb.execNode(DRIVER, [JSON.stringify(spec)], { timeoutMs: 120_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  t.log(line.slice(0, 600));
  if (r.code !== 0) t.log(r.stderr);
  return JSON.parse(line) as BatchReport;
}

privilegedTest('a sweep of 16382 addresses: all open, one route from the table, no socket per address, nothing accepted', async (t) => {
  const tb = await withTestbed(t, { localPrefixes: [PREFIX] });
  const server = await tb.startServer({ port: OPEN, family: 4 });
  const count = 16_382;
  const report = await runBatch(t, tb, { base: '198.19.0.1', count, port: OPEN, concurrency: 5000, timeout: 5000 });
  t.is(report.failed, undefined);
  t.deepEqual(report.statuses, { open: count }, 'every check of an open target is open');
  t.deepEqual(report.codes, {});
  t.true(report.stats.routeTableReads >= 1, 'the routing table was read');
  t.is(report.stats.routesResolved, 1, 'one route for the whole sweep');
  t.true(report.stats.routeKernelLookups <= 1, `at most one question to the kernel (${report.stats.routeKernelLookups}), not one per address`);
  t.is(report.stats.inFlight, 0);
  t.is(await server.acceptCount(), 0, 'the server application accepted nothing');
});

privilegedTest('abort with 30000 checks in flight: all cancelled, the iterator throws the reason, nothing left', async (t) => {
  const tb = await withTestbed(t, { localPrefixes: [PREFIX], filter: [FILTERED] });
  const report = await runBatch(t, tb, { base: '198.19.0.1', count: 40_000, port: FILTERED, concurrency: 30_000, timeout: 60_000, abortAtInFlight: 30_000 });
  t.is(report.failed, undefined);
  t.is(report.threw, 'stopped by the test');
  t.is(report.inFlightAtAbort, 30_000);
  t.deepEqual(report.statuses, {}, 'nothing answers a filtered port: no verdict before the abort');
  t.is(report.stats.inFlight, 0, 'the engine let go of every probe');
  t.is(report.stats.aborted, 30_000);
  t.is(report.stats.errors, 0, 'no EMFILE or any other error');
  t.deepEqual(report.handlesAfterClose.filter((h) => h !== 'TTYWrap' && h !== 'PipeWrap' && h !== 'FSReqCallback'), [], 'no timer or socket left after close()');
});
