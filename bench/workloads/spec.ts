// What the orchestrator (bench/run.ts) asks the driver (driver.ts) to do, and what the driver
// answers: one JSON object each way. Shared so both sides agree on the shape.

/** Targets are `addresses` consecutive IPv4 addresses from `base`, times `ports` ports from `port`. */
export interface TargetSpec {
  base: string;
  addresses: number;
  port: number;
  ports: number;
}

export type StrategyUnderTest = 'raw' | 'socket' | 'connect';

/**
 * - `submit`: RawStrategy.submit with a callback (raw only): no promise per probe in the caller;
 * - `probe`: Strategy.probe (a promise per probe, what the Checker calls);
 * - `checker`: Checker.check('ip:port'), the public API with parsing and result mapping;
 * - `batch`: Checker.checkMany('ip:port' texts, { concurrency }), the batch API (closed mode only);
 * - `none`: no check at all, every one "open" at once: the driver's own loop, as a floor (paced:
 *   what one timer wake-up per check costs Node on this machine, before any engine work).
 */
export type ApiUnderTest = 'submit' | 'probe' | 'checker' | 'batch' | 'none';

/**
 * - `closed`: `concurrency` checks in flight until `n` are done (the Go tool's `-n N -c C`);
 * - `paced`: an open loop at `rate` checks per second;
 * - `hold`: `n` checks to targets that never answer, all in flight at once, to weigh them.
 */
export type WorkloadMode = 'closed' | 'paced' | 'hold';

export interface DriverSpec {
  strategy: StrategyUnderTest;
  api: ApiUnderTest;
  mode: WorkloadMode;
  targets: TargetSpec;
  n: number;
  concurrency: number;
  rate?: number;
  timeoutMs: number;
  retries: number;
  /** Stop starting new checks after this long (the result is then marked truncated). */
  maxSeconds: number;
  /** Checks run before measuring (same shape), to warm the JIT and the engine's tables. */
  warmup: number;
  raw?: { interface?: string; source?: string };
  /** Count the packets the raw engine captures (its onPacket hook); adds a little work per packet. */
  countPackets?: boolean;
  /**
   * Run the driver as nobody with no capabilities (setpriv), as most library users run: the
   * `socket` strategy's promise is to stay half-open without privilege.
   */
  unprivileged?: boolean;
}

export interface MemoryReport {
  inFlight: number;
  heapUsedDelta: number;
  externalDelta: number;
  arrayBuffersDelta: number;
  rssDelta: number;
  /** (heapUsed + external) delta / in-flight probes; external already includes arrayBuffers. */
  bytesPerProbe: number;
  submitSeconds: number;
}

export interface DriverResult {
  submitted: number;
  completed: number;
  statuses: Record<string, number>;
  /** Codes of the non-open outcomes, with counts. */
  codes: Record<string, number>;
  elapsedS: number;
  checksPerSec: number;
  shareOpen: number;
  cpuUserS: number;
  cpuSysS: number;
  cpuSPer1000: number;
  maxRssKb: number;
  /** The strategy's own rttMs of open outcomes. */
  rttP50Ms: number | null;
  rttP99Ms: number | null;
  /** Seen by the caller: from the call to the callback or promise settling, every outcome. */
  latencyP50Ms: number | null;
  latencyP99Ms: number | null;
  truncated: boolean;
  stats: Record<string, number>;
  memory?: MemoryReport;
  /**
   * CPU per completed check (µs, run time from /proc/self/task/<tid>/schedstat) by thread: the
   * event loop, the addon's sender thread (its sendmmsg carries the target's kernel work on a
   * veth), and everything else (GC helpers, libuv's pool).
   */
  threadCpuUsPerCheck?: { eventLoop: number; sender: number; other: number; otherByName?: Record<string, number> };
  /** The measured window on CLOCK_MONOTONIC (µs), to cut a CPU profile down to it. */
  windowUs?: [number, number];
}

export type DriverLine = { result: DriverResult } | { failed: { name: string; code?: string; message: string } };
