// The C baseline (bench/baseline/syn-blaster.c): built with gcc into a temporary directory at
// bench time, run inside the client namespace under its own nftables table (the same drop and
// notrack rules the engine's shim installs, so the client kernel never answers a SYN-ACK), and
// its JSON line mapped onto the fields the driver reports.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Testbed } from '../../src/testbed/index.js';
import type { DriverResult } from './spec.js';

const SOURCES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'baseline');

/** The probe ports of the baseline: the same block the engine uses by default. */
export const BASELINE_PORTS = [61000, 65535] as const;
/** One slot per source port, so at most this many baseline probes are in flight. */
export const BASELINE_MAX_WINDOW = BASELINE_PORTS[1] - BASELINE_PORTS[0] + 1;

/** `binary`: syn-blaster (the raw trick); `trick`: connect-trick (the kernel-socket trick). */
export type BuildResult = { ok: true; binary: string; trick: string; dir: string } | { ok: false; reason: string };

/** Compiles the baselines; never throws (the bench runs on without them). */
export function buildBaseline(): BuildResult {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tshk-bench-'));
  // The build directory must be readable by nobody: the kernel-socket baseline runs as nobody.
  fs.chmodSync(dir, 0o755);
  const built: string[] = [];
  for (const name of ['syn-blaster', 'connect-trick']) {
    const binary = path.join(dir, name);
    const gcc = spawnSync('gcc', ['-O2', '-Wall', '-Wextra', '-std=gnu11', '-o', binary, path.join(SOURCES, `${name}.c`)], { encoding: 'utf8' });
    if (gcc.error || gcc.status !== 0) {
      fs.rmSync(dir, { recursive: true, force: true });
      const why = (gcc.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT' ? 'gcc is not installed' : `gcc failed: ${gcc.stderr.trim()}`;
      return { ok: false, reason: why };
    }
    built.push(binary);
  }
  return { ok: true, binary: built[0], trick: built[1], dir };
}

/** Drops every capability and becomes nobody (the path most library users are on). */
export const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all'];

export interface TrickArgs {
  dst: string;
  port: number;
  n: number;
  window: number;
  timeoutMs: number;
  maxSeconds: number;
}

/** What both C programs report alike: their rate and what it cost, per completed check. */
interface ProgramTotals {
  checks: number;
  open: number;
  elapsedS: number;
  cpuUserS: number;
  cpuSysS: number;
  maxRssKb: number;
}

function rateAndCost(out: ProgramTotals, completed: number) {
  return {
    elapsedS: out.elapsedS,
    checksPerSec: out.elapsedS > 0 ? Math.round(completed / out.elapsedS) : 0,
    shareOpen: out.checks > 0 ? out.open / out.checks : 0,
    cpuUserS: out.cpuUserS,
    cpuSysS: out.cpuSysS,
    cpuSPer1000: completed > 0 ? ((out.cpuUserS + out.cpuSysS) / completed) * 1000 : 0,
    maxRssKb: out.maxRssKb,
  };
}

interface TrickOutput {
  checks: number;
  started: number;
  open: number;
  closed: number;
  timeouts: number;
  errors: number;
  truncated: boolean;
  elapsedS: number;
  cpuUserS: number;
  cpuSysS: number;
  maxRssKb: number;
  rttP50Ms: number;
  rttP99Ms: number;
  closeSamples: number;
  closeP50Ms: number;
  closeP99Ms: number;
  closeMaxMs: number;
}

/** Runs connect-trick once as nobody without capabilities, in the client namespace. */
export async function runConnectTrick(tb: Testbed, binary: string, a: TrickArgs): Promise<DriverResult> {
  const argv = [...NOBODY, binary, '-d', a.dst, '-p', String(a.port), '-n', String(a.n), '-w', String(a.window), '-t', String(a.timeoutMs), '-T', String(a.maxSeconds)];
  const r = await tb.exec('client', argv, { check: false, timeoutMs: (a.maxSeconds + a.timeoutMs / 1000 + 30) * 1000 });
  let out: TrickOutput;
  try {
    out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as TrickOutput;
  } catch {
    throw new Error(`connect-trick printed no result: ${r.stderr.trim() || r.stdout.trim() || '(nothing)'}`);
  }
  const completed = out.open + out.closed + out.timeouts + out.errors;
  const statuses: Record<string, number> = {};
  const codes: Record<string, number> = {};
  if (out.open) statuses.open = out.open;
  if (out.closed) (statuses.closed = out.closed), (codes.ECONNREFUSED = out.closed);
  if (out.timeouts) (statuses.timeout = out.timeouts), (codes.ETIMEDOUT = out.timeouts);
  if (out.errors) (statuses.error = out.errors), (codes.error = out.errors);
  const ms = (v: number): number | null => (v >= 0 ? v : null);
  return {
    submitted: out.started,
    completed,
    statuses,
    codes,
    ...rateAndCost(out, completed),
    rttP50Ms: ms(out.rttP50Ms),
    rttP99Ms: ms(out.rttP99Ms),
    latencyP50Ms: null,
    latencyP99Ms: null,
    truncated: out.truncated,
    stats: { closeSamples: out.closeSamples, closeLatencyP50Ms: out.closeP50Ms, closeLatencyP99Ms: out.closeP99Ms, closeLatencyMaxMs: out.closeMaxMs },
  };
}

const TABLE = `tshk_bench_${process.pid}`;

function tableScript(): string {
  const ports = `${BASELINE_PORTS[0]}-${BASELINE_PORTS[1]}`;
  return [
    `table inet ${TABLE} {`,
    '  chain pre {',
    // Before conntrack (-200) and the TCP stack: the SYN-ACKs reach the AF_PACKET tap, not the kernel.
    '    type filter hook prerouting priority -300;',
    `    tcp dport ${ports} drop`,
    '  }',
    '  chain out {',
    '    type filter hook output priority -300;',
    `    tcp sport ${ports} notrack`,
    '  }',
    '}',
    '',
  ].join('\n');
}

export interface BlasterArgs {
  iface: string;
  source: string;
  base: string;
  addresses: number;
  port: number;
  ports: number;
  n: number;
  window: number;
  timeoutMs: number;
  rate?: number;
  maxSeconds: number;
}

interface BlasterOutput {
  checks: number;
  window: number;
  sent: number;
  open: number;
  closed: number;
  timeouts: number;
  notSent: number;
  ignored: number;
  sendErrors: number;
  sendBlocked: number;
  rstSent: number;
  rstFailed: number;
  elapsedS: number;
  cpuUserS: number;
  cpuSysS: number;
  maxRssKb: number;
  rttP50Ms: number;
  rttP99Ms: number;
  rttMaxMs: number;
}

/** Runs the baseline once with its nftables table in place; the table is removed whatever happens. */
export async function runBaseline(tb: Testbed, binary: string, nft: string, a: BlasterArgs): Promise<DriverResult & { blaster: BlasterOutput }> {
  const argv = [
    binary,
    '-i', a.iface,
    '-s', a.source,
    '-d', a.base,
    '-a', String(a.addresses),
    '-p', String(a.port),
    '-P', String(a.ports),
    '-n', String(a.n),
    '-w', String(Math.min(a.window, BASELINE_MAX_WINDOW)),
    '-t', String(a.timeoutMs),
    '-T', String(a.maxSeconds),
    '-L', String(BASELINE_PORTS[0]),
    '-H', String(BASELINE_PORTS[1]),
    ...(a.rate ? ['-r', String(a.rate)] : []),
  ];
  await tb.exec('client', [nft, '-f', '-'], { input: tableScript() });
  let stdout: string;
  let stderr: string;
  try {
    const r = await tb.exec('client', argv, { check: false, timeoutMs: (a.maxSeconds + a.timeoutMs / 1000 + 30) * 1000 });
    stdout = r.stdout;
    stderr = r.stderr;
  } finally {
    await tb.exec('client', [nft, 'delete', 'table', 'inet', TABLE], { check: false });
  }
  const line = stdout.trim().split('\n').pop() ?? '';
  let out: BlasterOutput;
  try {
    out = JSON.parse(line) as BlasterOutput;
  } catch {
    throw new Error(`syn-blaster printed no result: ${stderr.trim() || stdout.trim() || '(nothing)'}`);
  }
  const completed = out.open + out.closed + out.timeouts;
  const statuses: Record<string, number> = {};
  if (out.open) statuses.open = out.open;
  if (out.closed) statuses.closed = out.closed;
  if (out.timeouts) statuses.timeout = out.timeouts;
  return {
    submitted: out.sent,
    completed,
    statuses,
    codes: out.timeouts ? { ETIMEDOUT: out.timeouts } : {},
    ...rateAndCost(out, completed),
    rttP50Ms: out.rttP50Ms >= 0 ? out.rttP50Ms : null,
    rttP99Ms: out.rttP99Ms >= 0 ? out.rttP99Ms : null,
    // The baseline has no caller: its latency is its RTT.
    latencyP50Ms: out.rttP50Ms >= 0 ? out.rttP50Ms : null,
    latencyP99Ms: out.rttP99Ms >= 0 ? out.rttP99Ms : null,
    truncated: out.notSent > 0,
    stats: { sendBlocked: out.sendBlocked, sendErrors: out.sendErrors, ignored: out.ignored, rstSent: out.rstSent, rstFailed: out.rstFailed },
    blaster: out,
  };
}
