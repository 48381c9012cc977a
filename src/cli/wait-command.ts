// `tcp-checker wait TARGET... [--timeout T] [--interval T]`: exit 0 once every target answers
// open (half-open: the service accepts nothing), 1 when --timeout (total, as wait-on's; default
// forever) runs out or a signal ends the wait, 2 on bad input before anything is sent. Built on
// checker.waitFor (src/wait-for.ts). Silent on success unless -v, like wait-on; the reason for a
// failure is one line on stderr.
import { parseArgs } from 'node:util';
import { Checker } from '../checker.js';
import { AbortError, ShakerError } from '../core/errors.js';
import { parseTarget } from '../core/target.js';
import type { StrategyRequest } from '../strategies/choose.js';
import { DEFAULT_WAIT_INTERVAL_MS, WaitTimeoutError } from '../wait-for.js';
import { duration } from './args.js';
import { formatDuration } from './format.js';
import { onStopSignals } from './lifecycle.js';
import { resultLine } from './output.js';
import { UsageError } from './usage-error.js';

export interface WaitCliOptions {
  targets: string[];
  /** Total; undefined: forever. */
  timeoutMs: number | undefined;
  intervalMs: number;
  checkTimeoutMs: number;
  strategy: StrategyRequest;
  family: 4 | 6 | 'both';
  verbose: boolean;
}

const DEFAULT_CHECK_TIMEOUT_MS = 1000;

export function parseWaitArgs(argv: string[]): WaitCliOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        timeout: { type: 'string', short: 't' },
        interval: { type: 'string' },
        'check-timeout': { type: 'string' },
        strategy: { type: 'string' },
        ipv4: { type: 'boolean', short: '4' },
        ipv6: { type: 'boolean', short: '6' },
        verbose: { type: 'boolean', short: 'v' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0]);
  }
  const v = parsed.values;
  if (parsed.positionals.length === 0) throw new UsageError('wait: no target: give HOST:PORT...');
  for (const target of parsed.positionals) {
    try {
      parseTarget(target);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  }
  const strategy = (v.strategy ?? 'auto') as StrategyRequest;
  if (!['auto', 'raw', 'socket', 'connect'].includes(strategy)) {
    throw new UsageError(`--strategy must be auto, raw, socket or connect, got "${strategy}"`);
  }
  if (v.ipv4 && v.ipv6) throw new UsageError('-4 and -6 exclude each other');
  return {
    targets: parsed.positionals,
    timeoutMs: duration(v.timeout, '--timeout'),
    intervalMs: duration(v.interval, '--interval') ?? DEFAULT_WAIT_INTERVAL_MS,
    checkTimeoutMs: duration(v['check-timeout'], '--check-timeout') ?? DEFAULT_CHECK_TIMEOUT_MS,
    strategy,
    family: v.ipv4 ? 4 : v.ipv6 ? 6 : 'both',
    verbose: v.verbose === true,
  };
}

export async function runWait(options: WaitCliOptions): Promise<number> {
  const checker = new Checker({ strategy: options.strategy, timeout: options.checkTimeoutMs, family: options.family });
  const stop = new AbortController();
  const signals = onStopSignals((signal) => stop.abort(new AbortError(`stopped by ${signal}`)));
  try {
    await checker.start();
    // The connect strategy (no CAP_NET_RAW, no socket trick) completes handshakes: say so, since
    // the point of this wait is that the service sees nothing.
    if (checker.strategy!.name === 'connect') {
      process.stderr.write(`tcp-checker wait: using full connects (${checker.strategy!.reason}): the service will see them\n`);
    }
    if (options.verbose) process.stderr.write(`Waiting for ${options.targets.join(', ')} with ${checker.strategy!.name}\n`);
    const done = await checker.waitFor(options.targets, {
      ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
      interval: options.intervalMs,
      signal: stop.signal,
      ...(options.verbose ? { onCheck: (r) => process.stderr.write(`${resultLine(r)}\n`) } : {}),
    });
    if (options.verbose) {
      process.stderr.write(`All ${done.results.length} open after ${formatDuration(done.elapsedMs)} (${done.checks} checks)\n`);
    }
    return 0;
  } catch (error) {
    if (error instanceof WaitTimeoutError || (error instanceof AbortError && stop.signal.aborted)) {
      process.stderr.write(`tcp-checker wait: ${error.message}\n`);
      return 1;
    }
    if (error instanceof ShakerError && error.code.startsWith('ERR_SHAKER_INVALID')) throw new UsageError(error.message, { cause: error });
    throw error;
  } finally {
    signals.dispose();
    await checker.close();
  }
}
