// Process concerns shared by both modes: stop signals and starting the checker with errors a
// user can act on. The library installs no signal handlers; the command line does, here.
import { ShakerError } from '../core/errors.js';
import type { Checker } from '../checker.js';
import type { CliOptions } from './args.js';
import { needsRaw } from './prepare.js';
import { UsageError } from './usage-error.js';

export interface StopSignals {
  /** The first signal received, if any. */
  readonly received: NodeJS.Signals | undefined;
  dispose(): void;
}

/**
 * SIGINT and SIGTERM call `onStop` once, so the caller can wind down cleanly. A second signal
 * while it does exits at once (status 1): a user pressing Ctrl-C twice means it. Nothing is
 * left behind even then, since the engine's nftables table dies with its `nft` child.
 */
export function onStopSignals(onStop: (signal: NodeJS.Signals) => void): StopSignals {
  let received: NodeJS.Signals | undefined;
  const handler = (signal: NodeJS.Signals): void => {
    if (received) {
      process.stderr.write(`tcp-checker: second ${signal}, exiting now\n`);
      process.exit(1);
    }
    received = signal;
    onStop(signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    get received() {
      return received;
    },
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

/** The flags that need the raw engine, for messages. */
function rawFlags(options: CliOptions): string {
  return [options.pcap !== undefined && '--pcap', options.source !== undefined && '--source', options.interface !== undefined && '--interface']
    .filter(Boolean)
    .join(', ');
}

/**
 * Starts the checker. When raw-only flags forced the raw strategy and it cannot run here, that
 * is a usage error (exit 2) saying which flag needs it; `onFail` undoes preparations (a pcap
 * file created for nothing). A `warning` on the chosen strategy goes to stderr.
 */
export async function startChecker(checker: Checker, options: CliOptions, onFail: () => void = () => {}): Promise<void> {
  try {
    await checker.start();
  } catch (error) {
    onFail();
    if (needsRaw(options) && options.strategy === 'auto' && error instanceof ShakerError) {
      throw new UsageError(`${rawFlags(options)} needs the raw strategy, which cannot run here: ${error.message}`, { cause: error });
    }
    throw error;
  }
  // Full handshakes instead of half-open ones: say so even without -v, once, on stderr (the
  // Strategy line then leaves the reason out, so JSON mode does not print it twice).
  const warning = checker.strategy?.warning;
  if (warning) process.stderr.write(`tcp-checker: warning: ${warning}\n`);
}
