// `tcp-checker monitor`: every target checked forever (src/monitor/), one line per state change
// (JSON with --json, rounds too with -v), Prometheus metrics with --metrics. SIGINT/SIGTERM
// stop it cleanly: no new rounds, rounds in flight aborted, the HTTP server and the checker
// closed, exit 0.
//
// Settings, from weakest to strongest: built-in defaults, the config file's `defaults`, the
// command-line flags, a config target's own settings.
import { performance } from 'node:perf_hooks';
import { Checker } from '../checker.js';
import { InvalidArgumentError } from '../core/errors.js';
import { ConfigError, loadMonitorConfig, type MonitorConfig } from '../monitor/config.js';
import { MonitorMetrics, serveMetrics, type MetricsServer } from '../monitor/metrics.js';
import { Monitor } from '../monitor/monitor.js';
import { ReplyTally } from '../monitor/reply-tally.js';
import { resolveSettings, type HealthCheckSettings } from '../monitor/settings.js';
import { lacksPort, resolveTargets, withPort, type MonitorTarget } from '../monitor/targets.js';
import type { CliOptions, ListenAddress } from './args.js';
import { formatDuration } from './format.js';
import { onStopSignals, startChecker } from './lifecycle.js';
import { changeJson, changeLine, roundJson, roundLine } from './output.js';
import { PcapRecorder } from './pcap-recorder.js';
import { checkerOptions, checkFamilies, checkInterface, checkSource, combineHooks, effectiveFamily, loadSpecs, resolveNames } from './prepare.js';
import { countTargets, expandSpec, parseTargetSpec, type TargetSpec } from './target-spec.js';
import { UsageError } from './usage-error.js';

interface Planned {
  spec: TargetSpec;
  name?: string;
  settings: HealthCheckSettings;
}

function defined(settings: HealthCheckSettings): HealthCheckSettings {
  return Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined)) as HealthCheckSettings;
}

async function loadConfig(path: string | undefined): Promise<MonitorConfig> {
  if (path === undefined) return { defaults: {}, targets: [] };
  try {
    return await loadMonitorConfig(path);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message, { cause: error });
    throw error;
  }
}

/** Command-line targets and config targets, each with its layered settings, not yet expanded. */
async function plan(options: CliOptions, config: MonitorConfig, flags: HealthCheckSettings): Promise<Planned[]> {
  const { port: _defaultPort, ...base } = config.defaults;
  const planned: Planned[] = (await loadSpecs(options)).map((spec) => ({ spec, settings: { ...base, ...flags } }));
  config.targets.forEach((entry, i) => {
    const { target, port, name, ...own } = entry;
    const text = withPort(target, port ?? (lacksPort(target) ? config.defaults.port : undefined));
    let spec: TargetSpec;
    try {
      spec = parseTargetSpec(text);
    } catch (error) {
      throw new UsageError(`${options.monitor!.config}: targets[${i}]: ${(error as Error).message}`);
    }
    planned.push({ spec, name, settings: { ...base, ...flags, ...own } });
  });
  return planned;
}

function* monitorTargets(planned: readonly Planned[]): Generator<MonitorTarget> {
  for (const { spec, name, settings } of planned) {
    for (const target of expandSpec(spec)) {
      const label = name === undefined ? undefined : spec.count === 1n ? name : `${name} ${target}`;
      yield { ...settings, target, ...(label !== undefined ? { name: label } : {}) };
    }
  }
}

/** "127.0.0.1:9464", "[::1]:9464", ":9464": a ListenAddress as the user writes it. */
export function listenText(listen: ListenAddress): string {
  return `${listen.host === undefined ? '' : listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}`;
}

function describeSettings(targets: readonly MonitorTarget[]): string {
  const s = resolveSettings(targets[0]);
  const timeout = s.timeout !== undefined ? `, timeout ${s.timeout}ms` : '';
  const same = targets.every((t) => JSON.stringify(resolveSettings(t)) === JSON.stringify(s));
  return (
    `inter ${s.inter}ms, fastinter ${s.fastinter}ms, downinter ${s.downinter}ms, rise ${s.rise}, fall ${s.fall}, burst ${s.burst}${timeout}` +
    (same ? '' : ' (some targets differ)')
  );
}

export async function runMonitor(options: CliOptions): Promise<number> {
  const flags = options.monitor!;
  const config = await loadConfig(flags.config);
  const planned = await plan(options, config, defined({
    inter: flags.inter,
    fastinter: flags.fastinter,
    downinter: flags.downinter,
    rise: flags.rise,
    fall: flags.fall,
    burst: flags.burst,
    timeout: flags.timeout,
    retries: options.retries,
  }));
  if (planned.length === 0) throw new UsageError(`no target: ${flags.config ?? 'the target files'} lists none`);
  const specs = planned.map((p) => p.spec);
  countTargets(specs, options.maxTargets);
  const family = effectiveFamily(options);
  checkFamilies(specs, family, options.source !== undefined ? `--source ${options.source}` : `-${family}`);
  checkInterface(options.interface);
  checkSource(options.source);
  await resolveNames(specs, family);
  const targets = [...monitorTargets(planned)];
  try {
    resolveTargets(targets);
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw new UsageError(error.message, { cause: error });
    throw error;
  }

  const recorder = options.pcap !== undefined ? PcapRecorder.open(options.pcap) : undefined;
  const tally = new ReplyTally();
  // No cached lookup: names may move while the monitor runs, so the checker resolves each time.
  // Trouble the engine meets mid-run (the nft shim lost): one line in the log, as it happens.
  const onWarning = (message: string): void => {
    const time = new Date().toISOString();
    process.stdout.write(`${options.json ? JSON.stringify({ time, event: 'warning', message }) : `${time} warning: ${message}`}\n`);
  };
  const checker = new Checker(checkerOptions(options, family, combineHooks([recorder?.onPacket, tally.onPacket]), undefined, onWarning));
  let stopRequested: (signal: NodeJS.Signals) => void = () => {};
  const stopped = new Promise<NodeJS.Signals>((resolve) => (stopRequested = resolve));
  const signals = onStopSignals((signal) => stopRequested(signal));
  const log = options.json ? process.stderr : process.stdout;
  let server: MetricsServer | undefined;
  let monitor: Monitor | undefined;
  try {
    await startChecker(checker, options);
    monitor = new Monitor({
      checker,
      targets,
      concurrency: flags.concurrency,
      ...(checker.strategy?.name === 'raw' ? { replies: tally } : {}),
    });
    if (flags.metrics) {
      const metrics = new MonitorMetrics(monitor, checker);
      try {
        server = await serveMetrics(metrics, flags.metrics);
      } catch (error) {
        throw new UsageError(`--metrics ${listenText(flags.metrics)}: cannot listen: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      }
    }
    monitor.on('change', (change) => process.stdout.write(`${options.json ? changeJson(change) : changeLine(change)}\n`));
    if (options.verbose) monitor.on('round', (round) => process.stdout.write(`${options.json ? roundJson(round) : roundLine(round)}\n`));
    const choice = checker.strategy!;
    log.write(
      `Monitoring ${targets.length} target${targets.length === 1 ? '' : 's'} with ${choice.name}` +
        `${options.verbose || (choice.name !== 'raw' && !choice.warning) ? ` (${choice.reason})` : ''}: ${describeSettings(targets)}\n` +
        (server ? `  Metrics: ${server.url}\n` : ''),
    );
    const started = performance.now();
    monitor.start();
    const signal = await stopped;
    await monitor.stop();
    const counts = { up: 0, down: 0, unknown: 0 };
    for (const t of monitor.status()) counts[t.status]++;
    log.write(
      `Stopped by ${signal} after ${formatDuration(performance.now() - started)}: ` +
        `${counts.up} UP, ${counts.down} DOWN, ${counts.unknown} UNKNOWN\n`,
    );
    return 0;
  } finally {
    signals.dispose();
    await monitor?.stop();
    await server?.close();
    await checker.close();
    recorder?.close();
  }
}
