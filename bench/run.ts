// `npm run bench`: throughput, CPU, memory and latency of the three strategies against a C
// baseline, all inside a private two-namespace testbed (198.18.0.0/15 only; see README.md here).
//
//   npm run bench [-- --quick] [-- --only raw,socket] [-- --groups one-target,latency]
//
// The orchestrator (this file) stays in the root namespace: it builds the testbed, starts the
// server application, runs every workload as its own process inside the client namespace
// (workloads/driver.ts, or the C baseline), collects one JSON line from each, prints tables and
// writes bench/results/<date>-<host>.json. The testbed, the baseline's nftables table, the
// server and the temporary build directory are removed on every exit path, signals included.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERROR_ROUTES, Testbed } from '../src/testbed/index.js';
import { findNft } from '../src/firewall/nft-command.js';
import { buildBaseline, runBaseline, runConnectTrick, BASELINE_MAX_WINDOW, NOBODY } from './workloads/baseline.js';
import { buildPlan, GROUP_NAMES, STRATEGY_NAMES, MONITOR_TARGETS, SWEEP17, type GroupName, type Job, type StrategyLabel, type StrategyName } from './workloads/plan.js';
import { BenchServer, counterDelta, halfOpenOnServer, tcpCounters } from './workloads/server-side.js';
import type { DriverLine, DriverResult, DriverSpec, TargetSpec } from './workloads/spec.js';
import type { CliDriverSpec } from './workloads/cli-driver.js';
import { summariseProfile } from './profile-summary.js';
import {
  formatLatency,
  formatMemory,
  formatProfiles,
  formatThroughput,
  formatUnprivileged,
  type LatencyRow,
  type MemoryRow,
  type ProfileRow,
  type ThroughputRow,
} from './report.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DRIVER = path.join(HERE, 'workloads', 'driver.ts');
const CLI_DRIVER = path.join(HERE, 'workloads', 'cli-driver.ts');
const RESULTS = path.join(HERE, 'results');

/** Server ports: [PORT_BASE, PORT_BASE + ports) on every address the server answers for. */
const PORT_BASE = 20000;
/** One-target and paced workloads each get a fresh address of this prefix (see nextAddress). */
const ONE_TARGET_PREFIX = '198.18.128.0/17';
const SWEEP_PREFIX = '198.19.0.0/16';
/** Like the Checker's defaults: a lost reply is retransmitted once (at 1 s) inside the deadline. */
const TIMEOUT_MS = 3000;
const RETRIES = 6;

interface Args {
  quick: boolean;
  only: Set<StrategyName>;
  groups: Set<GroupName>;
  baseline: boolean;
  sweepConcurrency: number;
  /** Throughput runs per workload and strategy; the median one is reported. */
  repeat: number | undefined;
}

function usage(): never {
  process.stderr.write(
    [
      'usage: npm run bench -- [--quick] [--only LIST] [--groups LIST] [--no-baseline] [--sweep-concurrency N] [--repeat N]',
      `  --only    strategies, comma-separated: ${STRATEGY_NAMES.join(', ')} (default all; 'checker' = raw through Checker.check;`,
      '            the C baseline runs whenever anything does, unless --no-baseline)',
      `  --groups  ${GROUP_NAMES.join(', ')} (default all)`,
      '  --quick   smaller N everywhere (about 2 minutes)',
      '  --repeat  throughput runs per workload and strategy, the median reported (default 3, quick 1)',
      '',
    ].join('\n'),
  );
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false, only: new Set(STRATEGY_NAMES), groups: new Set(GROUP_NAMES), baseline: true, sweepConcurrency: 1000, repeat: undefined };
  const list = <T extends string>(value: string | undefined, allowed: readonly T[]): Set<T> => {
    if (!value) usage();
    const items = value.split(',').map((s) => s.trim()).filter(Boolean);
    for (const item of items) if (!allowed.includes(item as T)) usage();
    return new Set(items as T[]);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    if (flag === '--quick') args.quick = true;
    else if (flag === '--only') args.only = list(value(), STRATEGY_NAMES);
    else if (flag === '--groups') args.groups = list(value(), GROUP_NAMES);
    else if (flag === '--no-baseline') args.baseline = false;
    else if (flag === '--sweep-concurrency') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1) usage();
      args.sweepConcurrency = n;
    } else if (flag === '--repeat') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1 || n > 25) usage();
      args.repeat = n;
    } else usage();
  }
  if (args.baseline) args.only.add('baseline');
  else args.only.delete('baseline');
  return args;
}

function ipv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

function stamp(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
}

function loadAverage(): number[] {
  return os.loadavg().map((n) => Math.round(n * 100) / 100);
}

function softnetDrops(): number {
  try {
    return fs
      .readFileSync('/proc/net/softnet_stat', 'utf8')
      .trim()
      .split('\n')
      .reduce((sum, line) => sum + parseInt(line.trim().split(/\s+/)[1] ?? '0', 16), 0);
  } catch {
    return 0;
  }
}

/** The `ss` filter for server sockets of one workload's targets. */
function ssFilter(t: TargetSpec): string[] {
  if (t.addresses === 1) return ['src', t.base];
  return ['sport', '>=', `:${t.port}`, 'and', 'sport', '<=', `:${t.port + t.ports - 1}`];
}

function log(text: string): void {
  process.stderr.write(`${text}\n`);
}

class Bench {
  private addressCursor = 0;
  private portCursor = 0;
  private readonly nft = findNft();

  constructor(
    private readonly tb: Testbed,
    private readonly server: BenchServer,
    private readonly args: Args,
    private readonly baselineBinary: string | undefined,
    private readonly trickBinary: string | undefined,
    private readonly profileName: (workload: string) => string,
  ) {}

  /**
   * A server address no earlier workload has used. The server keeps state for a handshake the
   * client never finished (SYN-RECV, retransmitting its SYN-ACK for about a minute); a later
   * workload reusing that 4-tuple would get that old handshake's answer instead of its own.
   */
  nextAddress(): string {
    const base = 0xc6128000; // 198.18.128.0
    return ipv4(base + 1 + this.addressCursor++);
  }

  /** A block of server ports no earlier sweep has used, for the same reason. */
  nextPorts(count: number): number {
    const first = PORT_BASE + 1 + this.portCursor;
    this.portCursor += count;
    return first;
  }

  get maxSeconds(): number {
    return this.args.quick ? 20 : 90;
  }

  async driver(spec: DriverSpec, nodeArgs: string[] = []): Promise<DriverResult> {
    const argv = [...(spec.unprivileged ? NOBODY : []), process.execPath, ...nodeArgs, '--import', import.meta.resolve('tsx/esm'), DRIVER, JSON.stringify(spec)];
    const timeoutMs = (spec.maxSeconds + spec.timeoutMs / 1000 + 90) * 1000;
    const r = await this.tb.exec('client', argv, { check: false, timeoutMs });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    let parsed: DriverLine;
    try {
      parsed = JSON.parse(line) as DriverLine;
    } catch {
      const why = r.signal ? `killed by ${r.signal}` : `exit status ${r.code}`;
      throw new Error(`the driver printed no result (${why}): ${r.stderr.trim().split('\n').slice(-3).join(' | ') || '(no stderr)'}`);
    }
    if ('failed' in parsed) throw new Error(`${parsed.failed.name}${parsed.failed.code ? ` ${parsed.failed.code}` : ''}: ${parsed.failed.message}`);
    return parsed.result;
  }

  /** tcp-checker (dist/ build) with --json, its output into /dev/null or a pipe (cli-driver.ts). */
  async cliDriver(label: StrategyLabel, targets: TargetSpec, n: number, concurrency: number): Promise<DriverResult> {
    const target =
      targets.addresses === 1
        ? `${targets.base}:${targets.port}`
        : // The CIDR block whose hosts are targets.base .. + addresses (a /17 of the sweep prefix).
          `${SWEEP_PREFIX.split('/')[0]}/${32 - Math.log2(targets.addresses + 2)}:${targets.port}`;
    const common = ['-a', target, '-t', String(TIMEOUT_MS), '--json', '-q'];
    const perTarget = targets.addresses === 1 ? n : Math.ceil(n / targets.addresses);
    const spec: CliDriverSpec = {
      args: [...common, '-n', String(perTarget), '-c', String(concurrency)],
      // Start-up cost measured with one check and the same -c (its CPU is subtracted): the
      // capture ring is sized by -c (engine/capture-pool.ts ringBytesFor), a cost of the start.
      startupArgs: ['-a', `${this.nextAddress()}:${PORT_BASE}`, '-t', String(TIMEOUT_MS), '--json', '-q', '-n', '1', '-c', String(concurrency)],
      output: label === 'CLI --json | pipe' ? 'pipe' : 'devnull',
      n,
      timeoutS: this.maxSeconds + 60,
    };
    return this.runCliDriver(spec);
  }

  /**
   * `tcp-checker monitor` over the first /22 of the sweep prefix (1022 targets) every second, for
   * `seconds` after a warm-up; its CPU per check (cli-driver.ts). Its port is fresh: no half-open
   * state of an earlier workload answers it.
   */
  async cliMonitor(seconds: number): Promise<DriverResult> {
    const port = this.nextPorts(1);
    const metricsPort = 9464;
    const spec: CliDriverSpec = {
      args: ['monitor', '-a', `${SWEEP_PREFIX.split('/')[0]}/22:${port}`, '--inter', '1s', '--json', '--metrics', `127.0.0.1:${metricsPort}`],
      startupArgs: [],
      output: 'devnull',
      n: MONITOR_TARGETS * seconds,
      timeoutS: seconds + 60,
      // The first rounds spread over one interval, two more to go UP, then V8's optimising
      // compiler: over the first 10 s its background threads cost 7-16 µs a check, after it 3.
      // A monitor runs for days; its steady state is what the row is about.
      monitor: { metricsPort, warmupS: this.args.quick ? 8 : 12, monitorS: seconds },
    };
    return this.runCliDriver(spec);
  }

  /** tcp-checker holding `n` checks to the blackhole prefix in flight, then SIGINT (cli-driver.ts). */
  async cliHold(n: number): Promise<DriverResult> {
    const [prefix] = ERROR_ROUTES.blackhole.prefix4.split('/');
    const hosts = 254;
    const ports = Math.ceil(n / hosts);
    const spec: CliDriverSpec = {
      args: ['-a', `${prefix}/24:1024-${1024 + ports - 1}`, '--max-targets', String(hosts * ports), '-c', String(n), '-t', '300000', '--json', '-q'],
      // The same -c: the ring sized for it is the same in both runs (64 MiB at 10^5).
      startupArgs: ['-a', `${this.nextAddress()}:${PORT_BASE}`, '-t', String(TIMEOUT_MS), '--json', '-q', '-n', '1', '-c', String(n)],
      output: 'devnull',
      n,
      timeoutS: this.maxSeconds + 60,
      interruptAfterS: 5,
    };
    return this.runCliDriver(spec);
  }

  private async runCliDriver(spec: CliDriverSpec): Promise<DriverResult> {
    const argv = [process.execPath, '--import', import.meta.resolve('tsx/esm'), CLI_DRIVER, JSON.stringify(spec)];
    const r = await this.tb.exec('client', argv, { check: false, timeoutMs: (spec.timeoutS + 90) * 1000 });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    let parsed: DriverLine;
    try {
      parsed = JSON.parse(line) as DriverLine;
    } catch {
      throw new Error(`the CLI driver printed no result (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-3).join(' | ') || '(no stderr)'}`);
    }
    if ('failed' in parsed) throw new Error(`${parsed.failed.name}: ${parsed.failed.message}`);
    return parsed.result;
  }

  private rawOptions(): DriverSpec['raw'] {
    // Known route: no lookup per new address in sweeps (the engine's knownRoute()).
    return { interface: this.tb.client.iface, source: this.tb.client.ipv4 };
  }

  /** A closed-loop workload: `concurrency` checks in flight until `n` are done. */
  private closedLoop(strategy: StrategyLabel, targets: TargetSpec, n: number, concurrency: number): DriverSpec {
    return {
      ...this.api(strategy),
      mode: 'closed',
      targets,
      n,
      concurrency,
      timeoutMs: TIMEOUT_MS,
      retries: RETRIES,
      maxSeconds: this.maxSeconds,
      // V8 needs some thousands of calls per function to reach its optimising tier; at 100k+
      // checks/s a 10^4 workload lasts a tenth of a second, so a short warm-up would measure the
      // JIT, not the engine. Half of N, at most 10 000 checks.
      warmup: Math.min(10_000, Math.floor(n / 2)),
    };
  }

  private api(strategy: StrategyLabel): Pick<DriverSpec, 'strategy' | 'api' | 'raw' | 'unprivileged'> {
    switch (strategy) {
      case 'raw (submit)':
        return { strategy: 'raw', api: 'submit', raw: this.rawOptions() };
      case 'raw (Checker)':
        // The public path, defaults included (route lookup, cached after the first check).
        return { strategy: 'raw', api: 'checker' };
      case 'raw (checkMany)':
        // The batch API with the Checker's defaults (routes from the routing table).
        return { strategy: 'raw', api: 'batch' };
      case 'socket':
        return { strategy: 'socket', api: 'probe' };
      case 'connect':
        return { strategy: 'connect', api: 'probe' };
      case 'socket (nobody)':
        return { strategy: 'socket', api: 'probe', unprivileged: true };
      case 'connect (nobody)':
        return { strategy: 'connect', api: 'probe', unprivileged: true };
      case 'Node timer only':
        return { strategy: 'raw', api: 'none' };
      default:
        throw new Error(`${strategy} is not a driver strategy`);
    }
  }

  /** Runs one job with the server's view of it (accepted connections, kernel counters). */
  async measure<T>(targets: TargetSpec, run: () => Promise<T>): Promise<{ value: T; server: NonNullable<ThroughputRow['server']>; softnetDrops: number }> {
    const accepted0 = await this.server.accepted();
    const counters0 = await tcpCounters(this.tb, 'server');
    const softnet0 = softnetDrops();
    const value = await run();
    const counters1 = await tcpCounters(this.tb, 'server');
    return {
      value,
      server: {
        accepted: (await this.server.accepted()) - accepted0,
        halfOpenAfter: await halfOpenOnServer(this.tb, ssFilter(targets)),
        counters: counterDelta(counters0, counters1),
      },
      softnetDrops: softnetDrops() - softnet0,
    };
  }

  /**
   * The workload `repeat` times, each on fresh targets; the run with the median checks/s is the
   * row. A VM's speed drifts by tens of percent from one second to the next (the C baseline alone
   * has been seen at 105k and 225k checks/s minutes apart), so one run per side makes a noisy ratio.
   */
  async throughput(job: Extract<Job, { kind: 'throughput' }>, repeat: number): Promise<ThroughputRow & { softnetDrops?: number }> {
    const runs: Array<ThroughputRow & { softnetDrops?: number }> = [];
    for (let i = 0; i < repeat; i++) {
      const run = await this.throughputOnce(job);
      runs.push(run);
      if (run.error) return run;
    }
    if (runs.length === 1) return runs[0];
    const sorted = [...runs].sort((a, b) => a.result!.checksPerSec - b.result!.checksPerSec);
    const median = sorted[Math.floor((sorted.length - 1) / 2)];
    median.runs = runs.map((r) => r.result!.checksPerSec);
    median.notes.push(`median of ${runs.length}: ${runs.map((r) => `${Math.round(r.result!.checksPerSec / 1000)}k`).join(' ')}`);
    return median;
  }

  private async throughputOnce(job: Extract<Job, { kind: 'throughput' }>): Promise<ThroughputRow & { softnetDrops?: number }> {
    const row: ThroughputRow & { softnetDrops?: number } = { group: job.group, workload: job.workload, strategy: job.strategy, notes: [] };
    const targets: TargetSpec =
      job.addresses === 1
        ? { base: this.nextAddress(), addresses: 1, port: PORT_BASE, ports: 1 }
        : job.addresses === SWEEP17
          ? { base: '198.19.0.1', addresses: SWEEP17, port: this.nextPorts(1), ports: 1 }
          : { base: SWEEP_PREFIX.split('/')[0], addresses: job.addresses, port: this.nextPorts(job.ports), ports: job.ports };
    try {
      const { value, server, softnetDrops: drops } = await this.measure(targets, () => {
        if (job.strategy === 'trick baseline (C)') {
          if (!this.trickBinary) throw new Error('no baseline binary');
          return runConnectTrick(this.tb, this.trickBinary, {
            dst: targets.base,
            port: targets.port,
            n: job.n,
            window: job.concurrency,
            timeoutMs: TIMEOUT_MS,
            maxSeconds: this.maxSeconds,
          });
        }
        if (job.strategy === 'baseline (C)') {
          if (!this.baselineBinary) throw new Error('no baseline binary');
          return runBaseline(this.tb, this.baselineBinary, this.nft, {
            iface: this.tb.client.iface,
            source: this.tb.client.ipv4,
            ...targets,
            n: job.n,
            window: job.concurrency,
            timeoutMs: TIMEOUT_MS,
            maxSeconds: this.maxSeconds,
          });
        }
        if (job.strategy === 'CLI --json >/dev/null' || job.strategy === 'CLI --json | pipe') return this.cliDriver(job.strategy, targets, job.n, job.concurrency);
        return this.driver(this.closedLoop(job.strategy, targets, job.n, job.concurrency));
      });
      row.result = value;
      row.server = server;
      row.softnetDrops = drops;
      if (job.strategy === 'baseline (C)' && job.concurrency > BASELINE_MAX_WINDOW) row.notes.push(`window capped at ${BASELINE_MAX_WINDOW} (one slot per source port)`);
      if (value.truncated) row.notes.push(`stopped after ${this.maxSeconds} s: ${value.submitted} of ${job.n} started`);
      const codes = Object.entries(value.codes).sort((a, b) => b[1] - a[1]);
      if (codes.length) row.notes.push(codes.map(([code, n]) => `${code} ${n}`).join(', '));
      if (server.accepted > 0 && !job.strategy.startsWith('connect')) row.notes.push(`server accepted ${server.accepted}!`);
      if (server.halfOpenAfter > 0) row.notes.push(`${server.halfOpenAfter} left in SYN-RECV on the server`);
      const captureDrops = value.stats.captureDrops ?? 0;
      if (captureDrops > 0) row.notes.push(`capture drops ${captureDrops}`);
    } catch (error) {
      row.error = (error as Error).message;
    }
    return row;
  }

  async memory(job: Extract<Job, { kind: 'memory' }>): Promise<MemoryRow> {
    const row: MemoryRow = { workload: job.workload, strategy: job.strategy, notes: [] };
    // The blackhole prefix: the server drops everything to it, so every probe waits.
    const blackhole = ERROR_ROUTES.blackhole.prefix4.split('/')[0];
    try {
      if (job.strategy === 'CLI --json >/dev/null') {
        if (job.marginal) {
          const base = await this.cliHold(job.n);
          row.result = await this.cliHold(2 * job.n);
          const rssDelta = (row.result.maxRssKb - base.maxRssKb) * 1024;
          row.result.memory = { ...row.result.memory!, inFlight: job.n, rssDelta, bytesPerProbe: Math.round(rssDelta / job.n) };
          row.notes.push(`peak RSS of a hold of ${2 * job.n} over one of ${job.n}, per check; no heap split`);
          return row;
        }
        row.result = await this.cliHold(job.n);
        row.notes.push('RSS growth over a -n 1 run (peak), per check in flight; no heap split');
        return row;
      }
      row.result = await this.driver(
        {
          ...this.api(job.strategy),
          mode: 'hold',
          targets: { base: blackhole, addresses: 256, port: 1024, ports: Math.ceil(job.n / 256) },
          n: job.n,
          concurrency: job.n,
          timeoutMs: 300_000,
          retries: 0,
          maxSeconds: this.maxSeconds,
          warmup: 0,
        },
        ['--expose-gc'],
      );
      const m = row.result.memory;
      if (m && m.inFlight < job.n) row.notes.push(`only ${m.inFlight} of ${job.n} in flight`);
      const codes = Object.entries(row.result.codes);
      if (codes.length) row.notes.push(codes.map(([code, n]) => `${code} ${n}`).join(', '));
      if (job.strategy === 'socket' || job.strategy === 'connect') row.notes.push('kernel socket memory not included (not in this process)');
    } catch (error) {
      row.error = (error as Error).message;
    }
    return row;
  }

  async latency(job: Extract<Job, { kind: 'latency' }>): Promise<LatencyRow> {
    const row: LatencyRow = { workload: job.workload, strategy: job.strategy, notes: [] };
    const targets: TargetSpec = { base: this.nextAddress(), addresses: 1, port: PORT_BASE, ports: 1 };
    try {
      if (job.strategy === 'CLI monitor') {
        row.result = await this.cliMonitor(job.n);
      } else if (job.strategy === 'baseline (C)') {
        if (!this.baselineBinary) throw new Error('no baseline binary');
        row.result = await runBaseline(this.tb, this.baselineBinary, this.nft, {
          iface: this.tb.client.iface,
          source: this.tb.client.ipv4,
          ...targets,
          n: job.n,
          window: BASELINE_MAX_WINDOW,
          rate: job.rate,
          timeoutMs: TIMEOUT_MS,
          maxSeconds: this.maxSeconds,
        });
      } else {
        row.result = await this.driver({
          ...this.api(job.strategy),
          mode: 'paced',
          rate: job.rate,
          targets,
          n: job.n,
          concurrency: job.n,
          timeoutMs: TIMEOUT_MS,
          retries: RETRIES,
          maxSeconds: this.maxSeconds,
          // Two seconds at the paced rate: V8 keeps compiling on its background threads for
          // the first second or two, which a shorter warm-up charged to every check (35 µs
          // per check of "other" threads with 200 checks of warm-up, 5 µs with 3000).
          warmup: 2 * job.rate,
        });
      }
      const codes = Object.entries(row.result.codes);
      if (codes.length) row.notes.push(codes.map(([code, n]) => `${code} ${n}`).join(', '));
    } catch (error) {
      row.error = (error as Error).message;
    }
    return row;
  }

  async profile(job: Extract<Job, { kind: 'profile' }>): Promise<ProfileRow> {
    const row: ProfileRow = { workload: job.workload };
    const name = this.profileName(job.workload);
    const file = path.join(RESULTS, name);
    const targets: TargetSpec =
      job.addresses === 1
        ? { base: this.nextAddress(), addresses: 1, port: PORT_BASE, ports: 1 }
        : { base: SWEEP_PREFIX.split('/')[0], addresses: job.addresses, port: this.nextPorts(job.ports), ports: job.ports };
    try {
      row.result = await this.driver(
        this.closedLoop(job.strategy, targets, job.n, job.concurrency),
        ['--cpu-prof', '--cpu-prof-dir', RESULTS, '--cpu-prof-name', name],
      );
      row.file = path.relative(process.cwd(), file);
      row.summary = summariseProfile(file, { top: 20, windowUs: row.result.windowUs });
    } catch (error) {
      row.error = (error as Error).message;
    }
    return row;
  }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    log('bench: needs Linux and root (network namespaces, raw sockets, nftables); run `sudo npm run bench`');
    return 1;
  }
  const started = Date.now();
  const runStamp = stamp();
  const host = os.hostname().replace(/[^A-Za-z0-9_.-]/g, '_');
  fs.mkdirSync(RESULTS, { recursive: true });
  const notes: string[] = [];

  let baselineBinary: string | undefined;
  let trickBinary: string | undefined;
  let buildDir: string | undefined;
  if (args.only.has('baseline')) {
    const built = buildBaseline();
    if (built.ok) {
      baselineBinary = built.binary;
      trickBinary = built.trick;
      buildDir = built.dir;
    } else {
      notes.push(`NO BASELINE: ${built.reason}; ratios are not available (install gcc for them)`);
      args.only.delete('baseline');
    }
  }
  const removeBuild = (): void => {
    if (buildDir) fs.rmSync(buildDir, { recursive: true, force: true });
  };
  process.once('exit', removeBuild);

  const plan = buildPlan({ quick: args.quick, only: args.only, groups: args.groups, sweepConcurrency: args.sweepConcurrency });
  const repeat = args.repeat ?? (args.quick ? 1 : 3);
  // Every throughput run takes fresh ports of the sweep block (see nextPorts).
  const portsNeeded =
    1 +
    plan.reduce((sum, job) => sum + ('ports' in job && job.addresses > 1 ? job.ports * (job.kind === 'throughput' ? repeat : 1) : 0), 0) +
    plan.filter((job) => job.strategy === 'CLI monitor').length;
  const loadBefore = loadAverage();
  log(`bench: ${plan.length} workloads${args.quick ? ' (quick)' : ''}; load average ${loadBefore.join(' ')} on ${os.cpus().length} CPUs`);

  const tb = await Testbed.create({ localPrefixes: [SWEEP_PREFIX, ONE_TARGET_PREFIX] });
  let server: BenchServer | undefined;
  const throughputRows: Array<ThroughputRow & { softnetDrops?: number }> = [];
  const memoryRows: MemoryRow[] = [];
  const latencyRows: LatencyRow[] = [];
  const profileRows: ProfileRow[] = [];
  try {
    server = await BenchServer.start(tb, PORT_BASE, portsNeeded);
    const bench = new Bench(tb, server, args, baselineBinary, trickBinary, (workload) =>
      // .json so the results/ gitignore covers it; DevTools opens it all the same.
      `${runStamp}-${host}-raw-${workload.replace(/[^A-Za-z0-9]+/g, '-').replace(/-+$/, '')}.cpuprofile.json`,
    );
    for (const [i, job] of plan.entries()) {
      const t0 = Date.now();
      const prefix = `[${String(i + 1).padStart(2)}/${plan.length}] ${job.workload} | ${job.strategy}`;
      let summary: string;
      if (job.kind === 'throughput') {
        const row = await bench.throughput(job, repeat);
        throughputRows.push(row);
        summary = row.result ? `${row.result.checksPerSec.toLocaleString('en-US')} checks/s, ${(row.result.shareOpen * 100).toFixed(2)} % open` : `FAILED: ${row.error}`;
      } else if (job.kind === 'memory') {
        const row = await bench.memory(job);
        memoryRows.push(row);
        summary = row.result?.memory ? `${row.result.memory.bytesPerProbe} B per probe in flight` : `FAILED: ${row.error}`;
      } else if (job.kind === 'latency') {
        const row = await bench.latency(job);
        latencyRows.push(row);
        summary = !row.result
          ? `FAILED: ${row.error}`
          : job.strategy === 'CLI monitor'
            ? `${row.result.completed} checks, ${(row.result.cpuSPer1000 * 1000).toFixed(1)} µs CPU per check`
            : `p50 ${row.result.latencyP50Ms} ms, p99 ${row.result.latencyP99Ms} ms`;
      } else {
        const row = await bench.profile(job);
        profileRows.push(row);
        summary = row.file ? `profile in ${row.file}` : `FAILED: ${row.error}`;
      }
      log(`${prefix}: ${summary} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    }
  } finally {
    server?.stop();
    await tb.destroy();
    removeBuild();
  }

  // Ratios against the baseline of the same workload.
  for (const row of throughputRows) {
    // The unprivileged group's denominator is the same kernel-socket trick in C.
    const baseLabel = row.group === 'unprivileged' ? 'trick baseline (C)' : 'baseline (C)';
    const base = throughputRows.find((r) => r.workload === row.workload && r.strategy === baseLabel)?.result;
    if (!base || !row.result) continue;
    if (base.checksPerSec > 0) row.throughputRatio = row.result.checksPerSec / base.checksPerSec;
    if (base.cpuSPer1000 > 0) row.cpuRatio = row.result.cpuSPer1000 / base.cpuSPer1000;
  }

  const loadAfter = loadAverage();
  // Only the load before counts: the bench itself loads the machine.
  if (loadBefore[0] > 0.25 * os.cpus().length) {
    notes.push(`the machine was not idle when the bench started (load average ${loadBefore.join(' ')} on ${os.cpus().length} CPUs): numbers are noisy`);
  }
  const out = {
    meta: {
      date: new Date(started).toISOString(),
      host: os.hostname(),
      node: process.version,
      kernel: os.release(),
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      loadAverageBefore: loadBefore,
      loadAverageAfter: loadAfter,
      args: process.argv.slice(2),
      durationS: Math.round((Date.now() - started) / 1000),
      timeoutMs: TIMEOUT_MS,
      retries: RETRIES,
      notes,
    },
    throughput: throughputRows,
    memory: memoryRows,
    latency: latencyRows,
    profiles: profileRows,
  };
  const file = path.join(RESULTS, `${runStamp}-${host}.json`);
  fs.writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);

  const print = (text: string): void => void process.stdout.write(`${text}\n`);
  if (throughputRows.length) {
    print('\n== Throughput: completed checks per second, all targets open (x base = ratio to the C baseline of the same workload)');
    print(formatThroughput(throughputRows));
  }
  const unprivileged = throughputRows.filter((r) => r.group === 'unprivileged');
  if (unprivileged.length) {
    print('\n== Unprivileged kernel-socket trick: close latency after the SYN-ACK vs the 200 ms delayed-ACK window (x base = vs the same trick in C)');
    print(formatUnprivileged(unprivileged));
  }
  if (memoryRows.length) {
    print('\n== Memory per in-flight probe (targets in a blackhole prefix; gc before and after)');
    print(formatMemory(memoryRows));
  }
  if (latencyRows.length) {
    print('\n== Added latency at a steady 1000 checks/s (ms; call = from the call to the answer, as the caller sees it)');
    print(formatLatency(latencyRows));
  }
  if (profileRows.length) {
    print('\n== Raw engine CPU profile: self time per function inside the measured window');
    print(formatProfiles(profileRows));
  }
  for (const note of notes) print(`\nNOTE: ${note}`);
  print(`\nresults: ${path.relative(process.cwd(), file)} (${out.meta.durationS} s)`);
  const failed = [...throughputRows, ...memoryRows, ...latencyRows, ...profileRows].filter((r) => r.error).length;
  return failed > 0 ? 1 : 0;
}

process.exitCode = await main();
