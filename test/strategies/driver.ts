// Runs one strategy scenario inside the client namespace and prints a JSON report on stdout.
// on-testbed.ts starts it with `ip netns exec <client> [setpriv ...] node --import tsx/esm` so the
// probing process lives in the namespace (and, for the unprivileged case, has no capabilities).
//
// Usage: node --import tsx/esm test/strategies/driver.ts '<Scenario as JSON>'
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { ConnectStrategy } from '../../src/strategies/connect.js';
import { SocketStrategy } from '../../src/strategies/socket.js';
import type { Family, ProbeOutcome, Strategy } from '../../src/core/types.js';

export interface Scenario {
  strategy: 'socket' | 'connect';
  ip: string;
  family: Family;
  port: number;
  timeoutMs: number;
  retries: number;
  /**
   * probe: one probe. abort: abort after abortAfterMs. close: `count` probes, close() after
   * closeAfterMs. load: `count` probes, `concurrency` in flight at once (the Go tool's -n/-c);
   * only the outcomes that are not open are reported one by one, the rest as `statusCounts`.
   */
  mode: 'probe' | 'abort' | 'close' | 'load';
  concurrency?: number;
  abortAfterMs?: number;
  closeAfterMs?: number;
  count?: number;
}

export interface SerializedOutcome {
  status: ProbeOutcome['status'];
  code?: string;
  rttMs?: number;
  attempts: number;
  error?: { name: string; code?: string; message: string };
}

export interface Report {
  uid: number;
  /** Effective capability mask from /proc/self/status, hex: "0000000000000000" when unprivileged. */
  capEff: string;
  outcomes: SerializedOutcome[];
  /** Outcomes per status (every mode). */
  statusCounts: Record<string, number>;
  /** For mode abort: whether probe() rejected with the very reason given to abort(). */
  rejectedWithReason?: boolean;
  elapsedMs: number;
  fdsBefore: number;
  fdsAfter: number;
  stats: Record<string, number>;
}

function serialize(outcome: ProbeOutcome): SerializedOutcome {
  const { status, code, rttMs, attempts, error } = outcome;
  const e = error as (Error & { code?: string }) | undefined;
  return { status, code, rttMs, attempts, error: e && { name: e.name, code: e.code, message: e.message } };
}

/**
 * Open sockets of this process: what a strategy could leak. Only sockets are counted: other fds
 * come and go on their own (the tsx loader's pipes, node's lazily opened ones), which made a
 * count of every fd read one fewer after a check than before it on a loaded machine.
 */
function openFds(): number {
  let sockets = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:')) sockets++;
    } catch {
      // Closed between the listing and the read (the listing's own directory fd, say).
    }
  }
  return sockets;
}

async function main(scenario: Scenario): Promise<Report> {
  const strategy: Strategy = scenario.strategy === 'socket' ? new SocketStrategy() : new ConnectStrategy();
  // Counted before start(): the socket strategy's engine owns an epoll fd and an eventfd until close().
  const fdsBefore = openFds();
  await strategy.start();
  const target = { ip: scenario.ip, family: scenario.family, port: scenario.port };
  const startedAt = performance.now();
  const options = () => ({ deadline: performance.now() + scenario.timeoutMs, retries: scenario.retries });
  const outcomes: SerializedOutcome[] = [];
  const statusCounts: Record<string, number> = {};
  let rejectedWithReason: boolean | undefined;

  if (scenario.mode === 'probe') {
    outcomes.push(serialize(await strategy.probe(target, options())));
  } else if (scenario.mode === 'abort') {
    const controller = new AbortController();
    const reason = new Error('aborted by the test');
    setTimeout(() => controller.abort(reason), scenario.abortAfterMs ?? 200);
    try {
      outcomes.push(serialize(await strategy.probe(target, { ...options(), signal: controller.signal })));
    } catch (error) {
      rejectedWithReason = error === reason;
    }
  } else if (scenario.mode === 'load') {
    const count = scenario.count ?? 1000;
    let started = 0;
    const worker = async (): Promise<void> => {
      while (started < count) {
        started++;
        const outcome = await strategy.probe(target, options());
        statusCounts[outcome.status] = (statusCounts[outcome.status] ?? 0) + 1;
        if (outcome.status !== 'open') outcomes.push(serialize(outcome));
      }
    };
    await Promise.all(Array.from({ length: Math.min(count, scenario.concurrency ?? 100) }, worker));
  } else {
    const pending = Array.from({ length: scenario.count ?? 4 }, () => strategy.probe(target, options()));
    setTimeout(() => void strategy.close(), scenario.closeAfterMs ?? 200);
    for (const outcome of await Promise.all(pending)) outcomes.push(serialize(outcome));
  }
  const elapsedMs = performance.now() - startedAt;
  if (scenario.mode !== 'load') for (const o of outcomes) statusCounts[o.status] = (statusCounts[o.status] ?? 0) + 1;
  const stats = strategy.stats();
  await strategy.close();
  // net.Socket closes its fd synchronously, but let any close callback run before counting.
  await new Promise((resolve) => setImmediate(resolve));
  const capEff = /^CapEff:\s*(\S+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '?';
  return { uid: process.getuid?.() ?? -1, capEff, outcomes, statusCounts, rejectedWithReason, elapsedMs, fdsBefore, fdsAfter: openFds(), stats };
}

const report = await main(JSON.parse(process.argv[2] ?? '{}') as Scenario);
process.stdout.write(`${JSON.stringify(report)}\n`);
