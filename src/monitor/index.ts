// The monitor's public surface, re-exported by src/index.ts.
export { Monitor } from './monitor.js';
export type { MonitorOptions, MonitorCheck, MonitorRound, MonitorChange, MonitorEvents, TargetStatus } from './monitor.js';
export type { MonitorTarget, MonitorDefaults } from './targets.js';
export type { HealthCheckSettings } from './settings.js';
export type { HealthStatus, IntervalKind } from './health.js';
export type { RoundStats, RoundLatency } from './round.js';
export { ROUND_HISTOGRAM_MS } from './round.js';
export { ReplyTally } from './reply-tally.js';
export { MonitorMetrics, serveMetrics } from './metrics.js';
export type { MetricsServer } from './metrics.js';
export { loadMonitorConfig, parseMonitorConfig, ConfigError } from './config.js';
export type { MonitorConfig, MonitorTargetConfig, MonitorDefaultsConfig } from './config.js';
