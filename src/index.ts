// Public API of tcp-shaker. Packet builders and parsers are under `tcp-shaker/wire`, the
// network-namespace testbed under `tcp-shaker/testbed`.
export { Checker, defaultChecker, resultError } from './checker.js';
export type { BatchResult, CheckBatch, CheckManyItem, CheckManyOptions, CheckManyTarget } from './check-many.js';
export type { CheckerOptions, CheckOptions, CheckResult, FamilyPreference } from './checker.js';
export type { StrategyChoice, StrategyRequest } from './strategies/choose.js';
export type { RawStrategyOptions } from './engine/raw-strategy.js';
export type { CheckStatus, ProbeEvidence, StrategyName, Family } from './core/types.js';
export { AddressTarget, parseTarget } from './core/target.js';
export { WaitTimeoutError } from './wait-for.js';
export type { WaitForOptions, WaitForResult } from './wait-for.js';
// Sweeps: target specs ("198.18.0.0/24:80,443") expanded lazily, in address order or in a
// seeded permutation split into shards (--seed/--shard on the command line).
export { parseTargetSpec, expandSpecs, countShard, type TargetSpec, type SweepOrder } from './cli/target-spec.js';
export { Permutation, permutedIndices, shardSize, type Shard } from './core/permutation.js';
export { doctor, formatDoctor, selfTest } from './doctor.js';
export type { DoctorReport, DoctorFinding, DoctorLevel } from './doctor.js';
export type { Target } from './core/target.js';
export {
  ShakerError,
  TimeoutError,
  ConnectError,
  InvalidArgumentError,
  ResolveError,
  StateError,
  UnsupportedError,
  AddonUnavailableError,
  AbortError,
  SystemError,
} from './core/errors.js';
export { Monitor, MonitorMetrics, serveMetrics, ReplyTally, loadMonitorConfig, parseMonitorConfig, ConfigError } from './monitor/index.js';
export type {
  MonitorOptions,
  MonitorTarget,
  MonitorDefaults,
  MonitorCheck,
  MonitorRound,
  MonitorChange,
  MonitorEvents,
  TargetStatus,
  HealthCheckSettings,
  HealthStatus,
  IntervalKind,
  RoundStats,
  MetricsServer,
  MonitorConfig,
} from './monitor/index.js';
