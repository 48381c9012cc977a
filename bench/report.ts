// Plain-text tables for the bench results (the JSON file holds everything, these hold the gist).
import type { DriverResult } from './workloads/spec.js';
import type { ProfileSummary } from './profile-summary.js';
import { formatProfileSummary } from './profile-summary.js';

export interface ThroughputRow {
  group: 'one-target' | 'sweep' | 'cli' | 'unprivileged';
  workload: string;
  strategy: string;
  result?: DriverResult;
  error?: string;
  /** vs the baseline of the same workload. */
  throughputRatio?: number;
  cpuRatio?: number;
  server?: { accepted: number; halfOpenAfter: number; counters: Record<string, number> };
  /** checks/s of every run when the workload was repeated (the row is the median one). */
  runs?: number[];
  notes: string[];
}

export interface MemoryRow {
  workload: string;
  strategy: string;
  result?: DriverResult;
  error?: string;
  notes: string[];
}

export interface LatencyRow {
  workload: string;
  strategy: string;
  result?: DriverResult;
  error?: string;
  notes: string[];
}

export interface ProfileRow {
  workload: string;
  file?: string;
  result?: DriverResult;
  summary?: ProfileSummary;
  error?: string;
}

type Cell = string | number | null | undefined;

function table(headers: string[], rows: Cell[][], rightAlign: boolean[]): string {
  const text = rows.map((row) => row.map((cell) => (cell === null || cell === undefined ? '-' : String(cell))));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((row) => row[i].length)));
  const line = (cells: string[]): string =>
    cells.map((cell, i) => (rightAlign[i] ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...text.map(line)].join('\n');
}

const int = (n: number | undefined): string | undefined => (n === undefined ? undefined : Math.round(n).toLocaleString('en-US'));
const fixed = (n: number | null | undefined, digits: number): string | undefined =>
  n === null || n === undefined ? undefined : n.toFixed(digits);
const pct = (n: number | undefined): string | undefined => (n === undefined ? undefined : `${(n * 100).toFixed(n === 1 ? 0 : 2)}`);
const mb = (kb: number | undefined): string | undefined => (kb === undefined ? undefined : (kb / 1024).toFixed(0));

export function formatThroughput(rows: ThroughputRow[]): string {
  const body: Cell[][] = [];
  let last = '';
  for (const row of rows) {
    const r = row.result;
    body.push([
      row.workload === last ? '' : row.workload,
      row.strategy,
      r ? int(r.checksPerSec) : 'FAILED',
      fixed(row.throughputRatio, 3),
      r ? pct(r.shareOpen) : undefined,
      // Wrong verdicts: every target is open, so any check started and not open is one.
      r ? int(r.submitted - (r.statuses.open ?? 0)) : undefined,
      r ? fixed(r.cpuSPer1000, 4) : undefined,
      fixed(row.cpuRatio, 2),
      r?.threadCpuUsPerCheck ? `${r.threadCpuUsPerCheck.eventLoop.toFixed(1)}/${r.threadCpuUsPerCheck.sender.toFixed(1)}` : undefined,
      r ? mb(r.maxRssKb) : undefined,
      r ? fixed(r.rttP50Ms, 3) : undefined,
      r ? fixed(r.rttP99Ms, 3) : undefined,
      r ? fixed(r.latencyP99Ms, 3) : undefined,
      [row.error, ...row.notes].filter(Boolean).join('; '),
    ]);
    last = row.workload;
  }
  return table(
    ['workload', 'strategy', 'checks/s', 'x base', 'open %', 'wrong', 'CPU s/1k', 'x base', 'loop/send µs', 'RSS MB', 'RTT p50', 'RTT p99', 'call p99', 'notes'],
    body,
    [false, false, true, true, true, true, true, true, true, true, true, true, true, false],
  );
}

/**
 * Issue #16's table: checks/s against the C trick, what the server application accepted, and
 * how long an established socket waited for its linger-0 close (p50/p99/max, ms) against the
 * kernel's 200 ms delayed-ACK window (TCP_DELACK_MAX): past it the ACK goes out and the
 * application is handed a connection.
 */
export function formatUnprivileged(rows: ThroughputRow[]): string {
  const body: Cell[][] = [];
  let last = '';
  for (const row of rows) {
    const r = row.result;
    const s = r?.stats ?? {};
    body.push([
      row.workload === last ? '' : row.workload,
      row.strategy,
      r ? int(r.checksPerSec) : 'FAILED',
      fixed(row.throughputRatio, 3),
      r ? pct(r.shareOpen) : undefined,
      row.server ? int(row.server.accepted) : undefined,
      fixed(s.closeLatencyP50Ms, 3),
      fixed(s.closeLatencyP99Ms, 3),
      fixed(s.closeLatencyMaxMs, 3),
      r ? fixed(r.cpuSPer1000, 4) : undefined,
      r?.threadCpuUsPerCheck ? `${r.threadCpuUsPerCheck.eventLoop.toFixed(1)}/${r.threadCpuUsPerCheck.sender.toFixed(1)}` : undefined,
      s.governorHeld === undefined ? undefined : int(s.governorHeld),
      row.runs ? row.runs.map((n) => `${(n / 1000).toFixed(1)}k`).join(' ') : undefined,
    ]);
    last = row.workload;
  }
  return table(
    ['workload', 'strategy', 'checks/s', 'x base', 'open %', 'accepted', 'close p50', 'close p99', 'close max', 'CPU s/1k', 'loop/addon µs', 'held', 'runs'],
    body,
    [false, false, true, true, true, true, true, true, true, true, true, true, false],
  );
}

export function formatMemory(rows: MemoryRow[]): string {
  const body = rows.map((row): Cell[] => {
    const m = row.result?.memory;
    return [
      row.workload,
      row.strategy,
      m ? int(m.inFlight) : 'FAILED',
      m ? (m.heapUsedDelta / 2 ** 20).toFixed(1) : undefined,
      m ? (m.externalDelta / 2 ** 20).toFixed(1) : undefined,
      m ? (m.rssDelta / 2 ** 20).toFixed(1) : undefined,
      m ? int(m.bytesPerProbe) : undefined,
      m && m.inFlight > 0 ? int(m.rssDelta / m.inFlight) : undefined,
      m ? fixed(m.submitSeconds, 2) : undefined,
      [row.error, ...row.notes].filter(Boolean).join('; '),
    ];
  });
  return table(
    ['workload', 'strategy', 'in flight', 'heap MB', 'ext MB', 'RSS MB', 'B/probe (heap+ext)', 'B/probe (RSS)', 'submit s', 'notes'],
    body,
    [false, false, true, true, true, true, true, true, true, false],
  );
}

export function formatLatency(rows: LatencyRow[]): string {
  const base = rows.find((row) => row.strategy === 'baseline (C)')?.result;
  const body = rows.map((row): Cell[] => {
    const r = row.result;
    const added = (a: number | null | undefined, b: number | null | undefined): string | undefined =>
      a === null || a === undefined || b === null || b === undefined ? undefined : (a - b).toFixed(3);
    return [
      row.workload,
      row.strategy,
      r ? int(r.completed) : 'FAILED',
      r ? pct(r.shareOpen) : undefined,
      r ? fixed(r.rttP50Ms, 3) : undefined,
      r ? fixed(r.rttP99Ms, 3) : undefined,
      r ? fixed(r.latencyP50Ms, 3) : undefined,
      r ? fixed(r.latencyP99Ms, 3) : undefined,
      added(r?.latencyP50Ms, base?.rttP50Ms),
      added(r?.latencyP99Ms, base?.rttP99Ms),
      r ? fixed(r.cpuSPer1000, 4) : undefined,
      r?.threadCpuUsPerCheck ? `${r.threadCpuUsPerCheck.eventLoop.toFixed(1)}/${r.threadCpuUsPerCheck.sender.toFixed(1)}` : undefined,
      [row.error, ...row.notes].filter(Boolean).join('; '),
    ];
  });
  return table(
    ['workload', 'strategy', 'checks', 'open %', 'RTT p50', 'RTT p99', 'call p50', 'call p99', '+p50 vs C', '+p99 vs C', 'CPU s/1k', 'loop/send µs', 'notes'],
    body,
    [false, false, true, true, true, true, true, true, true, true, true, true, false],
  );
}

export function formatProfiles(rows: ProfileRow[]): string {
  return rows
    .map((row) => {
      if (!row.summary) return `${row.workload}: ${row.error ?? 'no profile'}`;
      const r = row.result;
      const head = r ? `${row.workload}: ${int(r.checksPerSec)} checks/s, ${pct(r.shareOpen)} % open (profiled)` : row.workload;
      return `${head}\n${formatProfileSummary(row.summary)}`;
    })
    .join('\n\n');
}
