// One benchmark workload, run inside the client namespace (bench/run.ts starts it with the
// testbed). argv[2] is a DriverSpec (spec.ts); stdout gets exactly one JSON line: {result} or
// {failed}. CPU time and memory are this process's own, measured around the workload only
// (engine start-up, target generation and warm-up are outside the measured window).
//
// The caller side is kept as cheap as the API allows, so what is measured is the strategy:
// targets are precomputed strings, completions go to one callback per concurrency slot (no
// closure per check), and latencies land in preallocated Float64Arrays.
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import type { ProbeOutcome, ProbeTarget, Strategy } from '../../src/core/types.js';
import type { DriverLine, DriverResult, DriverSpec, MemoryReport, TargetSpec } from './spec.js';

// The library as users run it: the compiled dist/ build (npm run bench builds it first), not
// the sources through tsx. tsx compiles with esbuild's keepNames, which wraps every function
// that creates closures in a __name() call giving each closure a `name` property of its own:
// per check in flight that was ~255 B more per closure (a heap snapshot of 10^5 Checker.check()
// calls in flight: 3 such closures per check) and a defineProperty call per closure created.
// TSHK_BENCH_SOURCES=1 measures the sources instead.
const LIBRARY = new URL(process.env.TSHK_BENCH_SOURCES === '1' ? '../../src/' : '../../dist/src/', import.meta.url).href;
const { Checker } = (await import(`${LIBRARY}checker.js`)) as typeof import('../../src/checker.js');
const { RawStrategy } = (await import(`${LIBRARY}engine/raw-strategy.js`)) as typeof import('../../src/engine/raw-strategy.js');
const { SocketStrategy } = (await import(`${LIBRARY}strategies/socket.js`)) as typeof import('../../src/strategies/socket.js');
const { ConnectStrategy } = (await import(`${LIBRARY}strategies/connect.js`)) as typeof import('../../src/strategies/connect.js');

const spec = JSON.parse(process.argv[2] ?? '{}') as DriverSpec;
const packetCounts = { sent: 0, received: 0 };

function emit(line: DriverLine): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

function ipv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** Check i goes to address i mod A, port floor(i / A) mod P: every address before a port repeats. */
class Targets {
  readonly ips: string[];
  readonly texts: string[] | undefined;

  constructor(
    private readonly t: TargetSpec,
    withText: boolean,
  ) {
    const [a, b, c, d] = t.base.split('.').map(Number);
    const base = ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
    this.ips = Array.from({ length: t.addresses }, (_, i) => ipv4((base + i) >>> 0));
    // Checker.check takes "ip:port"; built up front when there are few, else per check.
    this.texts = withText && t.addresses * t.ports <= 65536 ? this.ips.flatMap((ip) => this.portsOf(ip)) : undefined;
  }

  private portsOf(ip: string): string[] {
    return Array.from({ length: this.t.ports }, (_, p) => `${ip}:${this.t.port + p}`);
  }

  ip(i: number): string {
    return this.ips[i % this.t.addresses];
  }

  port(i: number): number {
    return this.t.port + (Math.floor(i / this.t.addresses) % this.t.ports);
  }

  text(i: number): string {
    if (this.texts) return this.texts[(i % this.t.addresses) * this.t.ports + (Math.floor(i / this.t.addresses) % this.t.ports)];
    return `${this.ip(i)}:${this.port(i)}`;
  }
}

function percentile(sorted: Float64Array, q: number): number | null {
  if (sorted.length === 0) return null;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.round(q * (sorted.length - 1)))] * 1000) / 1000;
}

/** Run time in ns of each thread of this process, by role, from the scheduler's own accounting. */
function threadCpuNs(): { eventLoop: number; sender: number; other: number; byName: Record<string, number> } {
  const out = { eventLoop: 0, sender: 0, other: 0, byName: {} as Record<string, number> };
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const ns = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      const comm = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
      if (Number(tid) === process.pid) out.eventLoop += ns;
      // The addon's threads: the raw sender, and the socket strategy's connect engine.
      else if (comm === 'tshk-sender' || comm === 'tshk-connect') out.sender += ns;
      else out.other += ns;
      const key = Number(tid) === process.pid ? `${comm} (main)` : comm;
      out.byName[key] = (out.byName[key] ?? 0) + ns;
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

function threadCpuPerCheck(
  before: ReturnType<typeof threadCpuNs>,
  after: ReturnType<typeof threadCpuNs>,
  completed: number,
): DriverResult['threadCpuUsPerCheck'] {
  if (completed === 0) return undefined;
  const per = (a: number, b: number) => Math.round(((b - a) / 1000 / completed) * 100) / 100;
  // A thread that ended inside the window takes its time with it: clamp at 0.
  const otherByName: Record<string, number> = {};
  for (const [name, ns] of Object.entries(after.byName)) {
    const us = per(before.byName[name] ?? 0, ns);
    if (us > 0 && name !== "tshk-sender" && !name.endsWith("(main)")) otherByName[name] = us;
  }
  return {
    eventLoop: Math.max(0, per(before.eventLoop, after.eventLoop)),
    sender: Math.max(0, per(before.sender, after.sender)),
    other: Math.max(0, per(before.other, after.other)),
    otherByName,
  };
}

/** CLOCK_MONOTONIC in µs, the clock V8's .cpuprofile timestamps use: marks the measured window. */
function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (!collect) throw new Error('the hold workload needs node --expose-gc');
  collect();
  collect();
}

/** Issues check i; `done` is called exactly once with its outcome. */
type Issue = (i: number, deadline: number, done: (outcome: ProbeOutcome) => void) => void;

interface Issuer {
  issue: Issue;
  stats: () => Record<string, number>;
  close: () => Promise<void>;
  /** Forgets what the warm-up left in the strategy's latency statistics. */
  afterWarmup?: () => void;
}

async function makeIssue(): Promise<Issuer> {
  const targets = new Targets(spec.targets, spec.api === 'checker');
  const failed = (error: unknown): ProbeOutcome => ({
    status: 'error',
    attempts: 0,
    code: (error as { code?: string }).code ?? 'EXCEPTION',
    error: error as Error,
  });

  if (spec.api === 'none') {
    const open: ProbeOutcome = { status: 'open', attempts: 1, rttMs: 0 };
    return { issue: (_i, _deadline, done) => done(open), stats: () => ({}), close: async () => {} };
  }

  if (spec.api === 'checker') {
    const checker = new Checker({
      strategy: spec.strategy,
      timeout: spec.timeoutMs,
      retries: spec.retries,
      ...(spec.raw ? { raw: spec.raw } : {}),
    });
    await checker.start();
    const options = { timeout: spec.timeoutMs };
    return {
      issue: (i, _deadline, done) => {
        checker.check(targets.text(i), options).then(
          (r) => done({ status: r.status, code: r.code, rttMs: r.rttMs, attempts: r.attempts }),
          (error: unknown) => done(failed(error)),
        );
      },
      stats: () => checker.stats(),
      close: () => checker.close(),
    };
  }

  let strategy: Strategy;
  if (spec.strategy === 'raw') {
    strategy = new RawStrategy({
      ...spec.raw,
      // Diagnostics only: counts every packet the engine sends and every reply it captures.
      ...(spec.countPackets ? { onPacket: (direction: 'sent' | 'received') => void packetCounts[direction]++ } : {}),
    });
  }
  else if (spec.strategy === 'socket') strategy = new SocketStrategy();
  else strategy = new ConnectStrategy();
  await strategy.start();
  const close = () => strategy.close();
  // The socket strategy's close-latency histogram should describe the measured window only.
  const afterWarmup = strategy instanceof SocketStrategy ? () => strategy.resetCloseLatency() : undefined;
  const stats = () => (spec.countPackets ? { ...strategy.stats(), packetsCapturedByEngine: packetCounts.received } : strategy.stats());

  if (spec.api === 'submit') {
    if (!(strategy instanceof RawStrategy)) throw new Error('api "submit" is the raw engine\'s');
    const raw = strategy;
    return {
      issue: (i, deadline, done) => {
        const target: ProbeTarget = { ip: targets.ip(i), family: 4, port: targets.port(i) };
        // submit() returns a canceller; it throws only for misuse. The callback may run before
        // it returns (no free source port: EADDRNOTAVAIL), which runLoop allows for.
        try {
          raw.submit(target, { deadline, retries: spec.retries }, done);
        } catch (error) {
          done(failed(error));
        }
      },
      stats,
      close,
    };
  }
  return {
    issue: (i, deadline, done) => {
      const target: ProbeTarget = { ip: targets.ip(i), family: 4, port: targets.port(i) };
      strategy.probe(target, { deadline, retries: spec.retries }).then(done, (error: unknown) => done(failed(error)));
    },
    stats,
    close,
    afterWarmup,
  };
}

interface Tally {
  statuses: Record<string, number>;
  codes: Record<string, number>;
  rtt: Float64Array;
  rttCount: number;
  latency: Float64Array;
  latencyCount: number;
  completed: number;
}

function newTally(n: number): Tally {
  return { statuses: {}, codes: {}, rtt: new Float64Array(n), rttCount: 0, latency: new Float64Array(n), latencyCount: 0, completed: 0 };
}

/** Counts one outcome (status, code, RTT); the batch API's rows have no per-call latency. */
function countOutcome(tally: Tally, outcome: Pick<ProbeOutcome, 'status' | 'code' | 'rttMs'>): void {
  tally.completed++;
  tally.statuses[outcome.status] = (tally.statuses[outcome.status] ?? 0) + 1;
  if (outcome.status === 'open') {
    if (outcome.rttMs !== undefined && tally.rttCount < tally.rtt.length) tally.rtt[tally.rttCount++] = outcome.rttMs;
  } else {
    const code = outcome.code ?? outcome.status;
    tally.codes[code] = (tally.codes[code] ?? 0) + 1;
  }
}

function record(tally: Tally, outcome: ProbeOutcome, latencyMs: number): void {
  countOutcome(tally, outcome);
  if (tally.latencyCount < tally.latency.length) tally.latency[tally.latencyCount++] = latencyMs;
}

/**
 * Runs checks [first, first + count) with at most `concurrency` in flight (closed loop), or at
 * `rate` per second (open loop). Resolves when every started check has completed; stops
 * starting new ones after `maxSeconds`.
 */
function runLoop(issue: Issue, first: number, count: number, tally: Tally, paced: boolean): Promise<{ started: number; truncated: boolean }> {
  const slots = paced ? Math.max(64, Math.ceil((spec.rate ?? 1000) * (spec.timeoutMs / 1000 + 1))) : Math.max(1, Math.min(spec.concurrency, count));
  const startedAt = new Float64Array(slots);
  const free: number[] = [];
  for (let s = slots - 1; s >= 0; s--) free.push(s);
  const begin = performance.now();
  const stopAt = begin + spec.maxSeconds * 1000;
  let next = 0;
  let inFlight = 0;
  let truncated = false;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));

  const start = (): void => {
    const s = free.pop()!;
    inFlight++;
    const now = performance.now();
    startedAt[s] = now;
    issue(first + next++, now + spec.timeoutMs, callbacks[s]);
  };
  // A check may complete inside issue() (the raw engine reports some failures synchronously):
  // its callback then calls pump() again, which must not recurse; the running loop below
  // picks up the freed slot instead.
  let pumping = false;
  const pump = (): void => {
    if (pumping) return;
    pumping = true;
    try {
      while (inFlight < slots && next < count && free.length > 0) {
        if (performance.now() > stopAt) {
          truncated = true;
          break;
        }
        start();
      }
    } finally {
      pumping = false;
    }
    if (inFlight === 0 && (next >= count || truncated)) finish();
  };
  const callbacks = Array.from({ length: slots }, (_, s) => (outcome: ProbeOutcome) => {
    record(tally, outcome, performance.now() - startedAt[s]);
    inFlight--;
    free.push(s);
    if (paced) {
      if (inFlight === 0 && (next >= count || truncated)) finish();
    } else {
      pump();
    }
  });

  if (paced) {
    const rate = spec.rate ?? 1000;
    const tick = (): void => {
      const now = performance.now();
      if (now > stopAt && next < count) truncated = true;
      const due = truncated ? next : Math.min(count, Math.floor(((now - begin) * rate) / 1000) + 1);
      while (next < due && free.length > 0) start();
      if (next < count && !truncated) setTimeout(tick, 1);
      else if (inFlight === 0) finish();
    };
    tick();
  } else {
    pump();
  }
  return finished.then(() => ({ started: next, truncated }));
}

/** Growth between two memoryUsage() readings, per probe in flight (heap + external). */
function memoryReport(before: NodeJS.MemoryUsage, after: NodeJS.MemoryUsage, inFlight: number, submitSeconds: number): MemoryReport {
  const heapUsedDelta = after.heapUsed - before.heapUsed;
  const externalDelta = after.external - before.external;
  return {
    inFlight,
    heapUsedDelta,
    externalDelta,
    arrayBuffersDelta: after.arrayBuffers - before.arrayBuffers,
    rssDelta: after.rss - before.rss,
    bytesPerProbe: inFlight > 0 ? Math.round((heapUsedDelta + externalDelta) / inFlight) : 0,
    submitSeconds: Math.round(submitSeconds * 1000) / 1000,
  };
}

async function runHold(issue: Issue, stats: () => Record<string, number>): Promise<{ memory: MemoryReport; tally: Tally }> {
  const tally = newTally(0);
  let submitted = 0;
  const done = (outcome: ProbeOutcome): void => record(tally, outcome, 0);
  // One probe first, outside the measurement: it opens the capture (a libpcap ring) and
  // whatever else the strategy creates once, so the delta below is per probe only.
  issue(spec.n, performance.now() + spec.timeoutMs, done);
  for (let i = 0; i < 5; i++) await yieldToLoop();
  await sleep(100);
  const inFlightBefore = stats().inFlight ?? 1;
  gc();
  const before = process.memoryUsage();
  const t0 = performance.now();
  const deadline = t0 + spec.timeoutMs;
  // In chunks, yielding between them so sends and captures keep up.
  while (submitted < spec.n) {
    const end = Math.min(spec.n, submitted + 10_000);
    for (; submitted < end; submitted++) issue(submitted, deadline, done);
    await yieldToLoop();
  }
  // Let the last SYNs leave and every submit() settle before weighing.
  for (let i = 0; i < 20; i++) await yieldToLoop();
  await sleep(200);
  const submitSeconds = (performance.now() - t0) / 1000;
  gc();
  const after = process.memoryUsage();
  if (process.env.TSHK_HEAPSNAP) (await import('node:v8')).writeHeapSnapshot(process.env.TSHK_HEAPSNAP);
  const inFlight = (stats().inFlight ?? submitted + 1 - tally.completed) - inFlightBefore;
  return { tally, memory: memoryReport(before, after, inFlight, submitSeconds) };
}

/**
 * The batch API: `for await (const r of checker.checkMany(texts, { concurrency }))`, targets
 * generated lazily. Latency per check is not seen by the caller of a batch (completion order).
 */
async function mainBatch(): Promise<DriverResult> {
  const targets = new Targets(spec.targets, true);
  const checker = new Checker({ strategy: spec.strategy, timeout: spec.timeoutMs, retries: spec.retries, ...(spec.raw ? { raw: spec.raw } : {}) });
  await checker.start();
  const run = async (first: number, count: number, tally: Tally): Promise<void> => {
    function* texts(): Generator<string> {
      for (let i = first; i < first + count; i++) yield targets.text(i);
    }
    for await (const r of checker.checkMany(texts(), { concurrency: spec.concurrency })) countOutcome(tally, r);
  };
  try {
    if (spec.warmup > 0) await run(0, spec.warmup, newTally(spec.warmup));
    const tally = newTally(spec.n);
    const threads0 = threadCpuNs();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const from = monotonicUs();
    await run(spec.warmup, spec.n, tally);
    const to = monotonicUs();
    const elapsedS = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const threadCpuUsPerCheck = threadCpuPerCheck(threads0, threadCpuNs(), tally.completed);
    return { ...summarise(tally, spec.n, elapsedS, cpu, false, checker.stats()), threadCpuUsPerCheck, windowUs: [from, to] };
  } finally {
    await checker.close();
  }
}

/**
 * The batch API holding `n` checks to a blackhole in flight: heap + external growth per check
 * (results, the batch's bookkeeping and the engine's rows together), then an abort.
 */
async function mainBatchHold(): Promise<DriverResult> {
  const targets = new Targets(spec.targets, true);
  const checker = new Checker({ strategy: spec.strategy, timeout: spec.timeoutMs, retries: spec.retries, ...(spec.raw ? { raw: spec.raw } : {}) });
  await checker.start();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  try {
    // One check first, outside the measurement: the capture ring and other one-time costs.
    const first = checker.checkMany([targets.text(spec.n)], { concurrency: 1 });
    const firstDone = first.next();
    for (let i = 0; i < 5; i++) await yieldToLoop();
    await sleep(100);
    gc();
    const before = process.memoryUsage();
    const inFlightBefore = checker.stats().inFlight ?? 0;
    const aborter = new AbortController();
    function* texts(): Generator<string> {
      for (let i = 0; i < spec.n; i++) yield targets.text(i);
    }
    const batch = checker.checkMany(texts(), { concurrency: spec.n, signal: aborter.signal });
    const pulled = batch.next().catch(() => undefined);
    while ((checker.stats().inFlight ?? 0) - inFlightBefore < spec.n && performance.now() - t0 < spec.maxSeconds * 1000) await sleep(50);
    for (let i = 0; i < 20; i++) await yieldToLoop();
    await sleep(200);
    const submitSeconds = (performance.now() - t0) / 1000;
    gc();
    const after = process.memoryUsage();
    const inFlight = (checker.stats().inFlight ?? 0) - inFlightBefore;
    const engineStats = checker.stats();
    aborter.abort(new Error('weighed'));
    await pulled;
    await first.return();
    void firstDone;
    const memory = memoryReport(before, after, inFlight, submitSeconds);
    return summarise(newTally(0), spec.n, (performance.now() - t0) / 1000, process.cpuUsage(cpu0), false, engineStats, memory);
  } finally {
    await checker.close();
  }
}

async function main(): Promise<DriverResult> {
  if (spec.api === 'batch') return spec.mode === 'hold' ? mainBatchHold() : mainBatch();
  const { issue, stats, close, afterWarmup } = await makeIssue();
  try {
    if (spec.mode === 'hold') {
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const { memory, tally } = await runHold(issue, stats);
      const engineStats = stats();
      const cpu = process.cpuUsage(cpu0);
      return summarise(tally, spec.n, (performance.now() - t0) / 1000, cpu, false, engineStats, memory);
    }
    const paced = spec.mode === 'paced';
    if (spec.warmup > 0) await runLoop(issue, 0, spec.warmup, newTally(spec.warmup), paced);
    afterWarmup?.();
    const tally = newTally(spec.n);
    const threads0 = threadCpuNs();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const from = monotonicUs();
    const { started, truncated } = await runLoop(issue, spec.warmup, spec.n, tally, paced);
    const to = monotonicUs();
    const elapsedS = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const threadCpuUsPerCheck = threadCpuPerCheck(threads0, threadCpuNs(), tally.completed);
    return { ...summarise(tally, started, elapsedS, cpu, truncated, stats()), threadCpuUsPerCheck, windowUs: [from, to] };
  } finally {
    await close();
  }
}

function summarise(
  tally: Tally,
  submitted: number,
  elapsedS: number,
  cpu: NodeJS.CpuUsage,
  truncated: boolean,
  stats: Record<string, number>,
  memory?: MemoryReport,
): DriverResult {
  const rtt = tally.rtt.subarray(0, tally.rttCount).sort();
  const latency = tally.latency.subarray(0, tally.latencyCount).sort();
  const cpuUserS = cpu.user / 1e6;
  const cpuSysS = cpu.system / 1e6;
  const open = tally.statuses.open ?? 0;
  return {
    submitted,
    completed: tally.completed,
    statuses: tally.statuses,
    codes: tally.codes,
    elapsedS: Math.round(elapsedS * 1e6) / 1e6,
    checksPerSec: elapsedS > 0 ? Math.round(tally.completed / elapsedS) : 0,
    shareOpen: submitted > 0 ? open / submitted : 0,
    cpuUserS,
    cpuSysS,
    cpuSPer1000: tally.completed > 0 ? ((cpuUserS + cpuSysS) / tally.completed) * 1000 : 0,
    maxRssKb: process.resourceUsage().maxRSS,
    rttP50Ms: percentile(rtt, 0.5),
    rttP99Ms: percentile(rtt, 0.99),
    latencyP50Ms: percentile(latency, 0.5),
    latencyP99Ms: percentile(latency, 0.99),
    truncated,
    stats,
    ...(memory ? { memory } : {}),
  };
}

try {
  emit({ result: await main() });
} catch (error) {
  const e = error as { name?: string; code?: string; message?: string };
  emit({ failed: { name: e.name ?? 'Error', code: e.code, message: e.message ?? String(error) } });
  process.stderr.write(String((error as Error).stack));
  process.exitCode = 1;
}
