// The privileged half of socket.test.ts and connect.test.ts, on the shared Testbed: each case
// runs driver.ts (the strategy object itself, /proc/self/fd counted around it) inside the client
// namespace of a fresh testbed.
//
// test/integration/conformance.test.ts already checks, for every strategy through the Checker,
// the status and code per port and family, the open check on the wire, the server's accept
// count, AbortSignal and auto without capabilities. What is here only the strategy object
// shows: attempts (TCP_SYNCNT, the kernel's SYN retransmissions), when a probe ends against its
// deadline, the fds left after a probe, an abort and close(), and the stats counters.
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import { privilegedTest, withTestbed } from '../helpers/testbed.js';
import type { Testbed } from '../../src/testbed/index.js';
import type { Family } from '../../src/core/types.js';
import type { Report, Scenario } from './driver.js';

export const OPEN = 80;
export const CLOSED = 79;
export const FILTERED = 81;
export const PROHIBITED = 82;
export const families = [4, 6] as const;

const DRIVER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'driver.ts');

// Drops every capability and becomes nobody: the unprivileged path (Go tcp-shaker's promise).
const nobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all'];

export interface StrategyBed {
  tb: Testbed;
  /** Runs driver.ts in the client namespace, as root or as nobody without capabilities. */
  drive(family: Family, port: number, extra?: Partial<Scenario>, options?: { unprivileged?: boolean }): Promise<Report>;
}

/** A testbed (destroyed at teardown) with FILTERED dropped and PROHIBITED answered by ICMP. */
export async function strategyBed(t: ExecutionContext, strategy: Scenario['strategy']): Promise<StrategyBed> {
  const tb = await withTestbed(t, { filter: [FILTERED], prohibit: [PROHIBITED] });
  const drive: StrategyBed['drive'] = async (family, port, extra = {}, options = {}) => {
    const scenario: Scenario = { strategy, ip: tb.address('server', family), family, port, timeoutMs: 3_000, retries: 3, mode: 'probe', ...extra };
    const argv = [...(options.unprivileged ? nobody : []), process.execPath, '--import', 'tsx/esm', DRIVER, JSON.stringify(scenario)];
    const result = await tb.exec('client', argv, { check: false, timeoutMs: 60_000 });
    if (result.code !== 0) throw new Error(`driver exited ${result.code}: ${result.stderr.trim()}`);
    return JSON.parse(result.stdout) as Report;
  };
  return { tb, drive };
}

export interface Expectations {
  /** Connections the server application accepts for one open probe. */
  accepts: number;
  /** Whether the kernel retransmits the SYN of a filtered probe (socket: yes; connect counts 1). */
  retransmits: boolean;
}

/** The cases socket and connect share, for both families. */
export function sharedCases(strategy: Scenario['strategy'], expected: Expectations): void {
  for (const family of families) {
    privilegedTest(`IPv${family} open port: open after one SYN, ${expected.accepts} accepted, no fd left`, async (t) => {
      const bed = await strategyBed(t, strategy);
      const server = await bed.tb.startServer({ port: OPEN });
      const report = await bed.drive(family, OPEN);
      t.log(JSON.stringify(report.outcomes[0]));
      t.like(report.outcomes[0], { status: 'open', attempts: 1 });
      // The driver has exited; give an accept still queued in the server (up to 2 s) to land.
      let accepted = await server.acceptCount();
      for (let i = 0; i < 100 && accepted < expected.accepts; i++) accepted = await sleep(20).then(() => server.acceptCount());
      t.is(accepted, expected.accepts, 'what the server application saw');
      t.is(report.fdsAfter, report.fdsBefore);
    });

    privilegedTest(`IPv${family} closed port: closed / ECONNREFUSED after one SYN`, async (t) => {
      const report = await (await strategyBed(t, strategy)).drive(family, CLOSED);
      t.log(JSON.stringify(report.outcomes[0]));
      t.like(report.outcomes[0], { status: 'closed', code: 'ECONNREFUSED', attempts: 1 });
      t.is(typeof report.outcomes[0].rttMs, 'number');
      t.true(report.elapsedMs < 3_000, 'ended by the RST, not by the deadline');
    });

    privilegedTest(`IPv${family} filtered port: timeout at our deadline`, async (t) => {
      const report = await (await strategyBed(t, strategy)).drive(family, FILTERED, { timeoutMs: 1_500 });
      const outcome = report.outcomes[0];
      t.log(`${JSON.stringify(outcome)} after ${report.elapsedMs.toFixed(0)} ms`);
      t.like(outcome, { status: 'timeout', code: 'ETIMEDOUT' });
      t.true(report.elapsedMs >= 1_500, 'never before the deadline');
      if (expected.retransmits) t.true(outcome.attempts >= 2, 'the first SYN retransmission comes at 1 s');
      else t.is(outcome.attempts, 1);
      t.is(report.fdsAfter, report.fdsBefore);
    });

    privilegedTest(`IPv${family} ICMP administratively prohibited`, async (t) => {
      const bed = await strategyBed(t, strategy);
      const report = await bed.drive(family, PROHIBITED);
      t.log(`${JSON.stringify(report.outcomes[0])} after ${report.elapsedMs.toFixed(0)} ms`);
      // IPv4 (ICMP 3/13) ends the connect at once with EHOSTUNREACH. IPv6 (ICMPv6 1/1) gives
      // EACCES, but on Linux 6.18 only once the first SYN retransmission (1 s) has run: with a
      // deadline under 1 s the same target reads as a timeout.
      t.like(report.outcomes[0], { status: 'unreachable', code: family === 4 ? 'EHOSTUNREACH' : 'EACCES' });
      const short = await bed.drive(family, PROHIBITED, { timeoutMs: 500 });
      t.log(`with a 500 ms deadline: ${JSON.stringify(short.outcomes[0])}`);
      t.true(['unreachable', 'timeout'].includes(short.outcomes[0].status));
    });

    privilegedTest(`IPv${family} AbortSignal: rejects with the reason, no fd left`, async (t) => {
      const report = await (await strategyBed(t, strategy)).drive(family, FILTERED, { mode: 'abort', abortAfterMs: 200 });
      t.log(`rejected with the reason: ${report.rejectedWithReason}, fds ${report.fdsBefore} → ${report.fdsAfter}`);
      t.true(report.rejectedWithReason);
      t.deepEqual(report.outcomes, []);
      t.true(report.elapsedMs < 3_000, 'ended by the abort, not by the deadline');
      t.is(report.fdsAfter, report.fdsBefore);
      t.like(report.stats, { aborted: 1, inFlight: 0 });
    });

    privilegedTest(`IPv${family} close() with probes in flight: all settle, no fd left`, async (t) => {
      const report = await (await strategyBed(t, strategy)).drive(family, FILTERED, { mode: 'close', count: 8, closeAfterMs: 200 });
      t.log(`${report.outcomes.map((o) => o.code).join(' ')}, fds ${report.fdsBefore} → ${report.fdsAfter}`);
      t.is(report.outcomes.length, 8);
      for (const outcome of report.outcomes) t.like(outcome, { status: 'error', code: 'ERR_SHAKER_CLOSED' });
      t.is(report.fdsAfter, report.fdsBefore);
      t.like(report.stats, { probesStarted: 8, errors: 8, inFlight: 0 });
    });
  }
}
