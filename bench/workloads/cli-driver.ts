// One CLI workload: `tcp-checker` (the compiled dist/ build, as users run it) started inside the
// client namespace by bench/run.ts, its JSON lines going to /dev/null or into a pipe this driver
// reads (and parses, as a consumer would). stdout gets one JSON line, a DriverLine.
//
// Rate and RTTs are the CLI's own summary (its clock starts after the checker is up, so engine
// start-up is outside it). CPU is the child's, from this process's cutime + cstime in
// /proc/self/stat (the kernel adds a child's CPU there when it is waited for), minus the CPU of
// a `-n 1` run of the same command (start-up and shutdown), divided by the checks.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { DriverLine, DriverResult } from './spec.js';

export interface CliDriverSpec {
  /** tcp-checker arguments, -n and -c included. */
  args: string[];
  /** The same command with -n 1: its CPU is subtracted as start-up. */
  startupArgs: string[];
  output: 'devnull' | 'pipe';
  n: number;
  timeoutS: number;
  /**
   * Hold mode: SIGINT the run this long after it printed its configuration (all its checks in
   * flight to targets that never answer), and report the peak RSS growth over the start-up run
   * per check in flight instead of a rate.
   */
  interruptAfterS?: number;
  /**
   * Monitor mode: `args` start `tcp-checker monitor ... --metrics 127.0.0.1:PORT`; after
   * warmupS the driver reads the child's CPU per thread and the checks counted in its metrics,
   * again monitorS later, then stops it with SIGINT. The row is the CPU per check in between.
   */
  monitor?: { metricsPort: number; warmupS: number; monitorS: number };
}

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'src', 'cli', 'tcp-checker.js');
const spec = JSON.parse(process.argv[2] ?? '{}') as CliDriverSpec;
const TICKS_PER_S = 100; // USER_HZ on Linux

function childCpuS(): number {
  // Fields after the command name (which may hold spaces, so split after the last ')').
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // cutime and cstime are fields 16 and 17 of stat(5), i.e. 13 and 14 after the name.
  return (Number(fields[13]) + Number(fields[14])) / TICKS_PER_S;
}

interface Run {
  code: number | null;
  stderr: string;
  lines: number;
  statuses: Record<string, number>;
  peakRssKb: number;
}

function runCli(args: string[], output: 'devnull' | 'pipe'): Promise<Run> {
  return new Promise((resolve, reject) => {
    const devnull = output === 'devnull' ? fs.openSync('/dev/null', 'w') : undefined;
    // TSHK_BENCH_CLI_PROF=DIR: a V8 CPU profile of each CLI run into DIR (for bench/README.md's budget).
    // TSHK_BENCH_CLI_PROF_INTERVAL=µs: a finer sampling interval than V8's 1000 µs (a sweep of a /17 lasts a few tenths of a second).
    const interval = process.env.TSHK_BENCH_CLI_PROF_INTERVAL ? ['--cpu-prof-interval', process.env.TSHK_BENCH_CLI_PROF_INTERVAL] : [];
    const prof = process.env.TSHK_BENCH_CLI_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.TSHK_BENCH_CLI_PROF, ...interval] : [];
    const flags = process.env.TSHK_BENCH_CLI_NODE_FLAGS ? process.env.TSHK_BENCH_CLI_NODE_FLAGS.split(' ') : [];
    const child = spawn(process.execPath, [...flags, ...prof, CLI, ...args], { stdio: ['ignore', devnull ?? 'pipe', 'pipe'] });
    const run: Run = { code: null, stderr: '', lines: 0, statuses: {}, peakRssKb: 0 };
    const timer = setTimeout(() => child.kill('SIGKILL'), spec.timeoutS * 1000);
    // Peak RSS of the child, sampled (its maxRSS is gone once it is reaped).
    const sampler = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) run.peakRssKb = Math.max(run.peakRssKb, Number(m[1]));
      } catch {
        // exited
      }
    }, 50);
    let interrupt: NodeJS.Timeout | undefined;
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      run.stderr += d;
      if (spec.interruptAfterS !== undefined && args !== spec.startupArgs && !interrupt && /Strategy:/.test(run.stderr)) {
        interrupt = setTimeout(() => child.kill('SIGINT'), spec.interruptAfterS * 1000);
      }
    });
    if (child.stdout) {
      let rest = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        const text = rest + d;
        const lines = text.split('\n');
        rest = lines.pop()!;
        for (const line of lines) {
          run.lines++;
          const status = (JSON.parse(line) as { status: string }).status;
          run.statuses[status] = (run.statuses[status] ?? 0) + 1;
        }
      });
    }
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (interrupt) clearTimeout(interrupt);
      clearInterval(sampler);
      if (devnull !== undefined) fs.closeSync(devnull);
      run.code = code;
      resolve(run);
    });
  });
}

function summaryNumber(stderr: string, pattern: RegExp): number | undefined {
  const m = pattern.exec(stderr);
  return m ? Number(m[1].replace(/,/g, '')) : undefined;
}

/** "1.23ms" or "2.5s" or "950µs" as milliseconds. */
function ms(text: string | undefined): number | null {
  if (!text) return null;
  const m = /^([\d.]+)\s*(µs|us|ms|s)$/.exec(text.trim());
  if (!m) return null;
  const v = Number(m[1]);
  return m[2] === 's' ? v * 1000 : m[2] === 'ms' ? v : v / 1000;
}

/** Per thread of a child process: CPU ns (schedstat, exact) by thread name, the main thread apart. */
function threadCpuNs(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const ns = Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      const comm = fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const name = Number(tid) === pid ? 'main' : comm;
      out[name] = (out[name] ?? 0) + ns;
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

/** tcp_shaker_checks_total summed by status, from the monitor's /metrics. */
async function checksByStatus(port: number): Promise<Record<string, number>> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await response.text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^tcp_shaker_checks_total\{[^}]*status="(\w+)"[^}]*\} (\d+)/gm)) out[m[1]] = (out[m[1]] ?? 0) + Number(m[2]);
  return out;
}

const sleep = (s: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, s * 1000));

/**
 * A monitor at its steady state: CPU per completed check of every thread of the process, over a
 * window that starts after the first rounds (spread over one interval) and the JIT's warm-up.
 */
async function monitorRun(m: NonNullable<CliDriverSpec['monitor']>): Promise<DriverResult> {
  const child = spawn(process.execPath, [CLI, ...spec.args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  const killer = setTimeout(() => child.kill('SIGKILL'), spec.timeoutS * 1000);
  try {
    const started = Date.now();
    while (!/Metrics:/.test(stderr)) {
      if (child.exitCode !== null || Date.now() - started > 30_000) throw new Error(`the monitor did not start: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
      await sleep(0.05);
    }
    await sleep(m.warmupS);
    const checks0 = await checksByStatus(m.metricsPort);
    const threads0 = threadCpuNs(child.pid!);
    const t0 = performance.now();
    await sleep(m.monitorS);
    const threads1 = threadCpuNs(child.pid!);
    const elapsedS = (performance.now() - t0) / 1000;
    const checks1 = await checksByStatus(m.metricsPort);
    child.kill('SIGINT');
    const code = await closed;
    if (code !== 0) throw new Error(`the monitor exited with ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
    const statuses: Record<string, number> = {};
    let completed = 0;
    for (const [status, n] of Object.entries(checks1)) {
      const d = n - (checks0[status] ?? 0);
      if (d > 0) statuses[status] = d;
      completed += d;
    }
    const us = (name: string): number => Math.round((((threads1[name] ?? 0) - (threads0[name] ?? 0)) / 1000 / Math.max(1, completed)) * 100) / 100;
    const otherByName: Record<string, number> = {};
    let cpuNs = 0;
    let other = 0;
    for (const name of Object.keys(threads1)) {
      cpuNs += threads1[name] - (threads0[name] ?? 0);
      if (name === 'main' || name === 'tshk-sender') continue;
      otherByName[name] = us(name);
      other += us(name);
    }
    return {
      submitted: completed,
      completed,
      statuses,
      codes: {},
      elapsedS,
      checksPerSec: Math.round(completed / elapsedS),
      shareOpen: (statuses.open ?? 0) / Math.max(1, completed),
      cpuUserS: cpuNs / 1e9,
      cpuSysS: 0,
      cpuSPer1000: completed > 0 ? (cpuNs / 1e9 / completed) * 1000 : 0,
      maxRssKb: 0,
      rttP50Ms: null,
      rttP99Ms: null,
      latencyP50Ms: null,
      latencyP99Ms: null,
      truncated: false,
      stats: {},
      threadCpuUsPerCheck: { eventLoop: us('main'), sender: us('tshk-sender'), other: Math.round(other * 100) / 100, otherByName },
    };
  } finally {
    clearTimeout(killer);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

async function main(): Promise<DriverResult> {
  if (spec.monitor) return monitorRun(spec.monitor);
  const cpu0 = childCpuS();
  const startup = await runCli(spec.startupArgs, 'devnull');
  const cpu1 = childCpuS();
  const run = await runCli(spec.args, spec.output);
  const cpu2 = childCpuS();
  if (run.code === null) throw new Error(`tcp-checker was killed after ${spec.timeoutS} s`);
  if (spec.interruptAfterS !== undefined) {
    const rssDelta = (run.peakRssKb - startup.peakRssKb) * 1024;
    return {
      submitted: spec.n,
      completed: 0,
      statuses: {},
      codes: {},
      elapsedS: 0,
      checksPerSec: 0,
      shareOpen: 0,
      cpuUserS: cpu2 - cpu1,
      cpuSysS: 0,
      cpuSPer1000: 0,
      maxRssKb: run.peakRssKb,
      rttP50Ms: null,
      rttP99Ms: null,
      latencyP50Ms: null,
      latencyP99Ms: null,
      truncated: false,
      stats: { startupPeakRssKb: startup.peakRssKb },
      // The peak RSS over the start-up run's: what the checks in flight added (no heap split).
      memory: { inFlight: spec.n, heapUsedDelta: 0, externalDelta: 0, arrayBuffersDelta: 0, rssDelta, bytesPerProbe: Math.round(rssDelta / spec.n), submitSeconds: spec.interruptAfterS },
    };
  }
  const finished = /Finished (\d+)\/(\d+) checks in (\S+)/.exec(run.stderr);
  if (!finished) throw new Error(`no summary from tcp-checker (exit ${run.code}): ${run.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  const completed = Number(finished[1]);
  const elapsedMs = ms(finished[3]) ?? 0;
  const open = summaryNumber(run.stderr, /Succeed: (\d+)/) ?? 0;
  const errors = /Errors: connect (\d+), timeout (\d+), other (\d+)/.exec(run.stderr);
  const latency = /Latency: p50 (\S+), p90 \S+, p99 (\S+),/.exec(run.stderr);
  const statuses: Record<string, number> = spec.output === 'pipe' ? run.statuses : { open };
  const codes: Record<string, number> = {};
  if (errors) {
    if (Number(errors[1])) codes['connect (closed/unreachable)'] = Number(errors[1]);
    if (Number(errors[2])) codes.timeout = Number(errors[2]);
    if (Number(errors[3])) codes.other = Number(errors[3]);
  }
  if (spec.output === 'pipe' && run.lines !== completed) codes[`json lines ${run.lines} != ${completed} checks`] = 1;
  const cpuS = Math.max(0, cpu2 - cpu1 - (cpu1 - cpu0));
  const elapsedS = elapsedMs / 1000;
  return {
    submitted: spec.n,
    completed,
    statuses,
    codes,
    elapsedS,
    checksPerSec: elapsedS > 0 ? Math.round(completed / elapsedS) : 0,
    shareOpen: open / spec.n,
    cpuUserS: cpuS,
    cpuSysS: 0,
    cpuSPer1000: completed > 0 ? (cpuS / completed) * 1000 : 0,
    maxRssKb: run.peakRssKb,
    rttP50Ms: ms(latency?.[1]),
    rttP99Ms: ms(latency?.[2]),
    latencyP50Ms: null,
    latencyP99Ms: null,
    truncated: completed < spec.n,
    stats: { startupCpuMs: Math.round((cpu1 - cpu0) * 1000), startupPeakRssKb: startup.peakRssKb },
  };
}

try {
  const line: DriverLine = { result: await main() };
  process.stdout.write(`${JSON.stringify(line)}\n`);
} catch (error) {
  const line: DriverLine = { failed: { name: (error as Error).name, message: (error as Error).message } };
  process.stdout.write(`${JSON.stringify(line)}\n`);
  process.exitCode = 1;
}
