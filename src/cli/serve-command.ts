// `tcp-checker serve [--listen HOST:PORT] [--config FILE]`: a blackbox_exporter-compatible
// /probe endpoint for Prometheus (src/serve/), on loopback unless told otherwise. One line on
// startup, one per check with -v; SIGINT/SIGTERM close the HTTP server, abort the checks in
// flight and close the checker (its nftables table goes with it), exit 0.
import { parseArgs } from 'node:util';
import net from 'node:net';
import { Checker } from '../checker.js';
import { ConfigError } from '../monitor/config.js';
import type { StrategyRequest } from '../strategies/choose.js';
import { loadServeConfig } from '../serve/modules.js';
import { serveProbes, type ProbeServer } from '../serve/probe-server.js';
import { decidingResult } from '../serve/probe-text.js';
import { DEFAULT_TIMEOUT_OFFSET_MS } from '../serve/probe-timeout.js';
import { parseListenAddress, type ListenAddress } from './args.js';
import { onStopSignals } from './lifecycle.js';
import { listenText } from './monitor-command.js';
import { resultLine } from './output.js';
import { checkInterface } from './prepare.js';
import { UsageError } from './usage-error.js';

export interface ServeCliOptions {
  listen: ListenAddress;
  config: string | undefined;
  timeoutOffsetMs: number;
  strategy: StrategyRequest;
  family: 4 | 6 | 'both';
  source: string | undefined;
  interface: string | undefined;
  verbose: boolean;
}

/** Next to blackbox_exporter's 9115, so both can run side by side. */
export const DEFAULT_LISTEN: ListenAddress = { host: '127.0.0.1', port: 9116 };

export function parseServeArgs(argv: string[]): ServeCliOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: false,
      strict: true,
      options: {
        listen: { type: 'string' },
        config: { type: 'string' },
        'timeout-offset': { type: 'string' },
        strategy: { type: 'string' },
        source: { type: 'string' },
        interface: { type: 'string' },
        ipv4: { type: 'boolean', short: '4' },
        ipv6: { type: 'boolean', short: '6' },
        verbose: { type: 'boolean', short: 'v' },
      },
    });
  } catch (error) {
    throw new UsageError(`serve: ${(error as Error).message.split('\n')[0]}`);
  }
  const v = parsed.values;
  const strategy = (v.strategy ?? 'auto') as StrategyRequest;
  if (!['auto', 'raw', 'socket', 'connect'].includes(strategy)) {
    throw new UsageError(`--strategy must be auto, raw, socket or connect, got "${strategy}"`);
  }
  if (v.ipv4 && v.ipv6) throw new UsageError('-4 and -6 exclude each other');
  if (v.source !== undefined && net.isIP(v.source) === 0) throw new UsageError(`--source must be an IP address, got "${v.source}"`);
  if (v.interface !== undefined && !/^[\w.:@-]{1,15}$/.test(v.interface)) throw new UsageError(`--interface "${v.interface}" is not an interface name`);
  // Seconds, as blackbox_exporter's flag of the same name.
  const offset = v['timeout-offset'];
  const offsetSeconds = offset === undefined ? DEFAULT_TIMEOUT_OFFSET_MS / 1000 : /^\d+(\.\d+)?$/.test(offset) ? Number(offset) : Number.NaN;
  if (!(offsetSeconds >= 0 && offsetSeconds <= 60)) throw new UsageError(`--timeout-offset must be seconds from 0 to 60 (e.g. 0.5), got "${offset}"`);
  return {
    listen: v.listen === undefined ? DEFAULT_LISTEN : parseListenAddress(v.listen, '--listen'),
    config: v.config,
    timeoutOffsetMs: offsetSeconds * 1000,
    strategy,
    family: v.ipv4 ? 4 : v.ipv6 ? 6 : 'both',
    source: v.source,
    interface: v.interface,
    verbose: v.verbose === true,
  };
}

export async function runServe(options: ServeCliOptions): Promise<number> {
  let modules;
  try {
    modules = await loadServeConfig(options.config);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message, { cause: error });
    throw error;
  }
  checkInterface(options.interface);
  const raw = { ...(options.source !== undefined ? { source: options.source } : {}), ...(options.interface !== undefined ? { interface: options.interface } : {}) };
  const strategy = options.strategy === 'auto' && (options.source !== undefined || options.interface !== undefined) ? 'raw' : options.strategy;
  const checker = new Checker({ strategy, family: options.family, raw });
  let stopRequested: (signal: NodeJS.Signals) => void = () => {};
  const stopped = new Promise<NodeJS.Signals>((resolve) => (stopRequested = resolve));
  const signals = onStopSignals((signal) => stopRequested(signal));
  let server: ProbeServer | undefined;
  try {
    await checker.start();
    try {
      server = await serveProbes(
        {
          checker,
          modules,
          timeoutOffsetMs: options.timeoutOffsetMs,
          ...(options.verbose
            ? { onProbe: (request, report) => process.stderr.write(`${request.moduleName} ${resultLine(decidingResult(report.results))}\n`) }
            : {}),
        },
        options.listen,
      );
    } catch (error) {
      throw new UsageError(`--listen ${listenText(options.listen)}: cannot listen: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    const choice = checker.strategy!;
    process.stderr.write(
      `Serving ${server.url}/probe?target=HOST:PORT and ${server.url}/metrics with ${choice.name}` +
        `${choice.name !== 'raw' || options.verbose ? ` (${choice.reason})` : ''}; modules: ${[...modules.keys()].join(', ')}\n`,
    );
    const signal = await stopped;
    process.stderr.write(`Stopped by ${signal}\n`);
    return 0;
  } finally {
    signals.dispose();
    await server?.close();
    await checker.close();
  }
}
