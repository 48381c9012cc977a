// Which workloads a bench run is made of, as plain data: bench/run.ts turns each Job into a
// driver or baseline invocation. Sizes for the full run fit the whole bench in ~10 minutes on a
// 2-core machine; --quick shrinks them.

export type StrategyLabel =
  | 'baseline (C)'
  | 'raw (submit)'
  | 'raw (Checker)'
  | 'raw (checkMany)'
  | 'CLI --json >/dev/null'
  | 'CLI --json | pipe'
  | 'socket'
  | 'connect'
  // The unprivileged group: the kernel-socket trick in C (bench/baseline/connect-trick.c), and
  // the two kernel-socket strategies run as nobody without capabilities.
  | 'trick baseline (C)'
  | 'socket (nobody)'
  | 'connect (nobody)'
  // The latency group's floor: the driver's paced loop with no check (a Node timer wake-up each).
  | 'Node timer only'
  // `tcp-checker monitor --inter 1s` over 1022 targets: the 1k checks/s of issue #12's goal, as
  // users run it (its CPU per check, every thread of the process).
  | 'CLI monitor';

/**
 * Names accepted by --only. 'checker' is the raw engine through Checker.check(), 'batch' through
 * Checker.checkMany(), 'cli' the tcp-checker command (dist/ build) with --json.
 */
export const STRATEGY_NAMES = ['baseline', 'raw', 'checker', 'batch', 'cli', 'socket', 'connect'] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

export const GROUP_NAMES = ['one-target', 'sweep', 'cli', 'unprivileged', 'memory', 'latency', 'profile'] as const;
export type GroupName = (typeof GROUP_NAMES)[number];

export interface ThroughputJob {
  kind: 'throughput';
  group: 'one-target' | 'sweep' | 'cli' | 'unprivileged';
  workload: string;
  strategy: StrategyLabel;
  n: number;
  concurrency: number;
  /** one-target: 1 address, 1 port; sweep: up to 65536 addresses x ports. */
  addresses: number;
  ports: number;
  /** The engine's `interface` and `source` given (no route lookups): raw (submit) only. */
  knownRoute?: boolean;
}

export interface MemoryJob {
  kind: 'memory';
  group: 'memory';
  workload: string;
  strategy: StrategyLabel;
  n: number;
  /**
   * The CLI only: weigh `n` more checks in flight (a hold of 2n against one of n) rather than n
   * over a -n 1 run, so what any run that holds many checks pays once (V8's young generation
   * grown to its full size, the ring) is not spread over the checks.
   */
  marginal?: boolean;
}

export interface LatencyJob {
  kind: 'latency';
  group: 'latency';
  workload: string;
  strategy: StrategyLabel;
  rate: number;
  n: number;
}

export interface ProfileJob {
  kind: 'profile';
  group: 'profile';
  workload: string;
  strategy: StrategyLabel;
  n: number;
  concurrency: number;
  addresses: number;
  ports: number;
}

export type Job = ThroughputJob | MemoryJob | LatencyJob | ProfileJob;

export interface PlanOptions {
  quick: boolean;
  only: ReadonlySet<StrategyName>;
  groups: ReadonlySet<GroupName>;
  sweepConcurrency: number;
}

/** The latency group's monitor: the hosts of a /22 of the sweep prefix. */
export const MONITOR_TARGETS = 1022;

/** How many addresses the sweeps spread over: the server answers for 198.19.0.0/16. */
export const SWEEP_ADDRESSES = 65536;
/** The hosts of a /17 (network and broadcast addresses left out, as the CLI's CIDR expansion does). */
export const SWEEP17 = 32766;

function wanted(label: StrategyLabel, only: ReadonlySet<StrategyName>): boolean {
  switch (label) {
    case 'baseline (C)':
      return only.has('baseline');
    case 'raw (submit)':
      return only.has('raw');
    case 'raw (Checker)':
      return only.has('checker');
    case 'trick baseline (C)':
    case 'Node timer only':
      return only.has('baseline');
    case 'socket (nobody)':
      return only.has('socket');
    case 'connect (nobody)':
      return only.has('connect');
    case 'raw (checkMany)':
      return only.has('batch');
    case 'CLI --json >/dev/null':
    case 'CLI --json | pipe':
    case 'CLI monitor':
      return only.has('cli');
    default:
      return only.has(label);
  }
}

function count(n: number): string {
  const exp = Math.log10(n);
  return Number.isInteger(exp) && n >= 10_000 ? `10^${exp}` : String(n);
}

export function buildPlan(options: PlanOptions): Job[] {
  const { quick, only, groups } = options;
  const jobs: Job[] = [];
  const add = (job: Job): void => {
    if (groups.has(job.group) && wanted(job.strategy, only)) jobs.push(job);
  };

  // The Go tool's shape: one target, -n N -c C. 200 / 2000 / 20000 are issue #12's steps ("rate
  // never falls as concurrency grows": -c 2000 and -c 20000 at least 0.8x the rate of -c 200).
  for (const c of [1, 100, 200, 1000, 2000, 10_000, 20_000]) {
    // -c 1 runs 20000 in quick mode too: at 2000 (1000 of them warm-up) it measured V8 compiling.
    const n = c === 1 ? 20_000 : c === 20_000 ? (quick ? 40_000 : 200_000) : quick ? 10_000 : 100_000;
    const workload = `one target -n ${n} -c ${c}`;
    for (const strategy of ['baseline (C)', 'raw (submit)', 'raw (Checker)', 'raw (checkMany)', 'socket', 'connect'] as const) {
      // One fd per check in flight: RLIMIT_NOFILE (20000 here) caps the kernel-socket strategies.
      if (c > 10_000 && (strategy === 'socket' || strategy === 'connect')) continue;
      add({ kind: 'throughput', group: 'one-target', workload, strategy, n, concurrency: c, addresses: 1, ports: 1 });
    }
  }

  // The public paths at the sizes: the command line with --json (into /dev/null and into
  // a pipe read by a consumer), the batch API, against the engine alone and the C baseline.
  {
    const n = quick ? 50_000 : 200_000;
    const workload = `CLI one target -n ${n} -c 2000`;
    for (const strategy of ['baseline (C)', 'raw (submit)', 'raw (checkMany)', 'CLI --json >/dev/null', 'CLI --json | pipe'] as const) {
      add({ kind: 'throughput', group: 'cli', workload, strategy, n, concurrency: 2000, addresses: 1, ports: 1 });
    }
    // The same through the command line at issue #12's other steps: the rate must not fall as
    // -c grows (-c 20000 is 4.4x the source ports one target has: most checks wait for a port).
    for (const c of [200, 20_000]) {
      for (const strategy of ['baseline (C)', 'CLI --json >/dev/null'] as const) {
        add({ kind: 'throughput', group: 'cli', workload: `CLI one target -n ${n} -c ${c}`, strategy, n, concurrency: c, addresses: 1, ports: 1 });
      }
    }
    // A /17 of the sweep prefix (32766 addresses, one port), no --interface/--source: the route
    // comes from the routing table.
    const sweep = `CLI sweep of a /17 (${SWEEP17} addr) -c 2000`;
    for (const strategy of ['baseline (C)', 'raw (submit)', 'raw (checkMany)', 'CLI --json >/dev/null', 'CLI --json | pipe'] as const) {
      add({ kind: 'throughput', group: 'cli', workload: sweep, strategy, n: SWEEP17, concurrency: 2000, addresses: SWEEP17, ports: 1 });
    }
  }

  // Distinct targets: addresses of 198.19.0.0/16 first, then the next port.
  for (const n of quick ? [10_000, 100_000] : [10_000, 100_000, 1_000_000]) {
    const addresses = Math.min(n, SWEEP_ADDRESSES);
    const ports = Math.ceil(n / addresses);
    const c = options.sweepConcurrency;
    const workload = `sweep ${count(n)} targets (${addresses} addr x ${ports} port) -c ${c}`;
    for (const strategy of ['baseline (C)', 'raw (submit)', 'socket', 'connect'] as const) {
      add({ kind: 'throughput', group: 'sweep', workload, strategy, n, concurrency: c, addresses, ports });
    }
  }

  // Issue #16's table: one open target, the kernel-socket strategies as a user with no
  // capabilities, against the same trick in C; the server application must accept nothing
  // (connect excepted). The connect strategy runs at -c 1000 only: it completes every handshake.
  for (const c of [100, 1000, 5000, 10_000]) {
    const n = quick ? 20_000 : 100_000;
    const workload = `unprivileged one target -n ${n} -c ${c}`;
    for (const strategy of ['trick baseline (C)', 'socket (nobody)', 'connect (nobody)'] as const) {
      if (strategy === 'connect (nobody)' && c !== 1000) continue;
      add({ kind: 'throughput', group: 'unprivileged', workload, strategy, n, concurrency: c, addresses: 1, ports: 1 });
    }
  }

  // Probes held in flight (targets that never answer), weighed. The socket and connect
  // strategies hold one fd each: RLIMIT_NOFILE caps them (see run.ts).
  for (const n of quick ? [10_000, 100_000] : [100_000, 1_000_000]) {
    add({ kind: 'memory', group: 'memory', workload: `${count(n)} in flight`, strategy: 'raw (submit)', n });
  }
  for (const strategy of ['socket', 'connect'] as const) {
    add({ kind: 'memory', group: 'memory', workload: '10^4 in flight', strategy, n: 10_000 });
  }
  // The public paths at 10^5 in flight: Checker.check() and the batch API (heap + external), and
  // the CLI (RSS).
  add({ kind: 'memory', group: 'memory', workload: '10^5 in flight', strategy: 'raw (Checker)', n: 100_000 });
  add({ kind: 'memory', group: 'memory', workload: '10^5 in flight', strategy: 'raw (checkMany)', n: 100_000 });
  add({ kind: 'memory', group: 'memory', workload: '10^5 in flight', strategy: 'CLI --json >/dev/null', n: 100_000 });
  add({ kind: 'memory', group: 'memory', workload: '10^5 more (2x10^5 - 10^5)', strategy: 'CLI --json >/dev/null', n: 100_000, marginal: true });

  // Added latency at a steady 1000 checks/s.
  const seconds = quick ? 2 : 5;
  for (const strategy of ['baseline (C)', 'Node timer only', 'raw (submit)', 'raw (Checker)', 'socket', 'connect'] as const) {
    add({ kind: 'latency', group: 'latency', workload: `paced 1000/s for ${seconds} s`, strategy, rate: 1000, n: 1000 * seconds });
  }
  // The same rate from a monitor: 1022 targets (a /22), each checked every second.
  add({ kind: 'latency', group: 'latency', workload: `monitor of ${MONITOR_TARGETS} targets, --inter 1s, ${2 * seconds} s`, strategy: 'CLI monitor', rate: 1000, n: 2 * seconds });

  // Where the raw engine's time goes at its best throughput (one target, -c 100), and in a sweep.
  add({
    kind: 'profile',
    group: 'profile',
    workload: `one target -n ${quick ? 50_000 : 200_000} -c 100`,
    strategy: 'raw (submit)',
    n: quick ? 50_000 : 200_000,
    concurrency: 100,
    addresses: 1,
    ports: 1,
  });
  // The public batch path at the CLI's concurrency, to compare stage by stage with the engine.
  add({
    kind: 'profile',
    group: 'profile',
    workload: `checkMany one target -n ${quick ? 50_000 : 200_000} -c 2000`,
    strategy: 'raw (checkMany)',
    n: quick ? 50_000 : 200_000,
    concurrency: 2000,
    addresses: 1,
    ports: 1,
  });
  // Issue #12's concurrency steps: the engine with more checks in flight to one ip:port than it
  // has source ports (the port-wait queue), and Checker.check() at -c 1000 against submit().
  for (const [strategy, c] of [['raw (submit)', 20_000], ['raw (checkMany)', 20_000], ['raw (Checker)', 1000], ['raw (Checker)', 20_000]] as const) {
    const n = c === 20_000 ? (quick ? 40_000 : 200_000) : quick ? 50_000 : 200_000;
    add({ kind: 'profile', group: 'profile', workload: `${strategy} one target -n ${n} -c ${c}`, strategy, n, concurrency: c, addresses: 1, ports: 1 });
  }
  add({
    kind: 'profile',
    group: 'profile',
    workload: `sweep 10^5 targets -c ${options.sweepConcurrency}`,
    strategy: 'raw (submit)',
    n: 100_000,
    concurrency: options.sweepConcurrency,
    addresses: SWEEP_ADDRESSES,
    ports: 2,
  });
  return jobs;
}
