// Prometheus metrics for a Monitor, in a private prom-client Registry (never the global one, so
// an application embedding the monitor keeps its own metrics apart), and a small HTTP server
// for `/metrics`.
//
// Per target (label `target`): tcp_shaker_up (1 UP, 0 DOWN, absent while UNKNOWN),
// tcp_shaker_checks_total{status}, tcp_shaker_check_duration_seconds (round-trip time of open
// probes), tcp_shaker_state_changes_total{to}, tcp_shaker_burst_loss_ratio and
// tcp_shaker_duplicate_replies_total. Engine-wide: one tcp_shaker_engine_* metric per
// checker.stats() counter, read at scrape time, plus tcp_shaker_engine_info{strategy}.
import { listenHttp } from '../core/listen.js';
import http from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Checker } from '../checker.js';
import type { Monitor } from './monitor.js';

/** Seconds; from 100 µs (a veth next door) to 5 s (a bad day across the world). */
const DURATION_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** checker.stats() keys that are levels, not running totals. */
// Stats that hold a current value (they go down as well as up) are gauges, named without
// `_total`; a counter that decreases would read as a restart to Prometheus' rate().
// inFlight: probes awaiting a verdict; waitingForPort: probes queued for a free source port;
// queued: packets handed to the sender and not yet sent.
const GAUGE_STATS = new Set(['inFlight', 'waitingForPort', 'queued']);

function snakeCase(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/[^a-zA-Z0-9_]/g, '_').toLowerCase();
}

export class MonitorMetrics {
  readonly registry = new Registry();

  constructor(monitor: Monitor, checker: Checker = monitor.checker) {
    const registers = [this.registry];
    // Like the counter below, the gauges of the current state are read at scrape time.
    new Gauge({
      name: 'tcp_shaker_up',
      help: 'Whether the target is UP (1) or DOWN (0), after rise/fall',
      labelNames: ['target'],
      registers,
      collect() {
        this.reset();
        for (const target of monitor.status()) if (target.status !== 'unknown') this.set({ target: target.target }, target.status === 'up' ? 1 : 0);
      },
    });
    // Read from the monitor's per-target tallies at scrape time, not counted per probe: a label
    // lookup (prom-client hashes the label set) per probe is a cost a 1000-target monitor pays
    // a thousand times a second, and a scrape comes every few seconds.
    new Counter({
      name: 'tcp_shaker_checks_total',
      help: 'Probes by outcome',
      labelNames: ['target', 'status'],
      registers,
      collect() {
        this.reset();
        for (const target of monitor.status()) {
          for (const [status, n] of Object.entries(target.checks)) if (n > 0) this.inc({ target: target.target, status }, n);
        }
      },
    });
    const duration = new Histogram({
      name: 'tcp_shaker_check_duration_seconds',
      help: 'Round-trip time from SYN to SYN-ACK of open probes',
      labelNames: ['target'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    const changes = new Counter({ name: 'tcp_shaker_state_changes_total', help: 'State changes, by new state', labelNames: ['target', 'to'], registers });
    new Gauge({
      name: 'tcp_shaker_burst_loss_ratio',
      help: 'Share of the last round\'s probes that were not open',
      labelNames: ['target'],
      registers,
      collect() {
        this.reset();
        for (const target of monitor.status()) if (target.lastRound) this.set({ target: target.target }, target.lastRound.lossRatio);
      },
    });
    const duplicates = new Counter({
      name: 'tcp_shaker_duplicate_replies_total',
      help: 'Answers beyond one per answered probe (raw strategy only)',
      labelNames: ['target'],
      registers,
    });

    monitor.on('round', (round) => {
      for (const result of round.results) {
        if (result.status === 'open' && result.rttMs !== undefined) duration.observe({ target: round.target }, result.rttMs / 1000);
      }
      if (round.duplicates !== undefined) duplicates.inc({ target: round.target }, round.duplicates);
    });
    monitor.on('change', ({ target, to }) => changes.inc({ target, to }));

    registerEngineMetrics(this.registry, checker);
  }

  /** The text exposition format. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/**
 * tcp_shaker_engine_info{strategy} and one tcp_shaker_engine_* metric per checker.stats() key,
 * read at scrape time. Call once the checker has started (its set of stats is fixed from then);
 * `tcp-checker serve` uses it for its /metrics too.
 */
export function registerEngineMetrics(registry: Registry, checker: Checker): void {
  const registers = [registry];
  new Gauge({
    name: 'tcp_shaker_engine_info',
    help: 'The strategy the checker runs (always 1)',
    labelNames: ['strategy'],
    registers,
    collect() {
      this.reset();
      const name = checker.strategy?.name;
      if (name) this.set({ strategy: name }, 1);
    },
  });
  // The set of counters is fixed once the checker has started; read their values per scrape.
  for (const key of Object.keys(checker.stats())) {
    const read = (): number => checker.stats()[key] ?? 0;
    if (GAUGE_STATS.has(key)) {
      new Gauge({ name: `tcp_shaker_engine_${snakeCase(key)}`, help: `checker.stats().${key}`, registers, collect() { this.set(read()); } });
    } else {
      new Counter({
        name: `tcp_shaker_engine_${snakeCase(key)}_total`,
        help: `checker.stats().${key}`,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    }
  }
}

export interface MetricsServer {
  /** e.g. "http://127.0.0.1:9464/metrics". */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Serves GET /metrics; resolves once listening, rejects with the listen error (EADDRINUSE...). */
export async function serveMetrics(metrics: MonitorMetrics, listen: { host?: string; port: number }): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
      return;
    }
    metrics.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text),
      (error: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${error.message}\n`),
    );
  });
  const { origin, port } = await listenHttp(server, listen);
  return {
    url: `${origin}/metrics`,
    port,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}
