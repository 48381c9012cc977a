// Public API of tcp-shaker. Packet builders and parsers are under `tcp-shaker/wire`, the
// network-namespace testbed under `tcp-shaker/testbed`.
export { Checker, defaultChecker, resultError } from './checker.js';
export type { BatchResult, CheckBatch, CheckManyItem, CheckManyOptions, CheckManyTarget } from './check-many.js';
export type { CheckerOptions, CheckOptions, CheckResult, FamilyPreference } from './checker.js';
export type { StrategyChoice, StrategyRequest } from './strategies/choose.js';
export type { RawStrategyOptions } from './engine/raw-strategy.js';
export type { CheckStatus, ProbeEvidence, StrategyName, Family } from './core/types.js';
export { parseTarget } from './core/target.js';
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
