#!/usr/bin/env node
// tcp-checker: the command-line face of the Checker, with the Go tool's flags and summary, and a
// monitor mode. This file owns what the library leaves alone: dispatch, exit codes, and turning
// every error into one line (stacks only with TCP_SHAKER_DEBUG=1).
import { createRequire } from 'node:module';
import { ShakerError } from '../core/errors.js';
import { doctor, formatDoctor } from '../doctor.js';
import { parseCli, UsageError, USAGE, type CliOptions } from './args.js';
import { runChecks } from './check-command.js';
import { runMonitor } from './monitor-command.js';
import { parseServeArgs, runServe } from './serve-command.js';
import { parseWaitArgs, runWait } from './wait-command.js';
import { parseReadArgs, runRead } from './read-command.js';

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

function version(): string {
  const require = createRequire(import.meta.url);
  for (const path of ['../../package.json', '../../../package.json']) {
    try {
      return (require(path) as { version: string }).version;
    } catch {
      // try the next layout (src/ under tsx, dist/src/ when built)
    }
  }
  return 'unknown';
}

async function runDoctor(argv: string[]): Promise<number> {
  const unknown = argv.filter((a) => a !== '--json' && a !== '--no-self-test');
  if (unknown.length > 0) {
    process.stderr.write(`tcp-checker doctor: unknown argument "${unknown[0]}" (takes --json, --no-self-test)\n`);
    return EXIT_USAGE;
  }
  const report = await doctor({ selfTest: !argv.includes('--no-self-test') });
  process.stdout.write(argv.includes('--json') ? `${JSON.stringify(report)}\n` : formatDoctor(report));
  return report.findings.some((f) => f.level === 'fail') ? EXIT_FAILED : EXIT_OK;
}

/** Usage errors, and the library's invalid-input errors, are the user's to fix: exit 2. */
function isUsageError(error: unknown): boolean {
  return error instanceof UsageError || (error instanceof ShakerError && error.code.startsWith('ERR_SHAKER_INVALID'));
}

/** One line on stderr (a stack only with TCP_SHAKER_DEBUG=1); exit 2 for the user's mistakes. */
function reportError(error: unknown): number {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`tcp-checker: ${message}\n`);
  if (process.env.TCP_SHAKER_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  return isUsageError(error) ? EXIT_USAGE : EXIT_FAILED;
}

/** Subcommands with flags of their own: they parse their argv and run. */
const SUBCOMMANDS = new Map<string, (argv: string[]) => Promise<number>>([
  ['wait', async (argv) => runWait(parseWaitArgs(argv))],
  ['serve', async (argv) => runServe(parseServeArgs(argv))],
  ['read', async (argv) => runRead(parseReadArgs(argv))],
]);

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'doctor') return runDoctor(argv.slice(1));
  const subcommand = SUBCOMMANDS.get(argv[0] ?? '');
  if (subcommand && argv.some((a) => a === '-h' || a === '--help')) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT_OK;
  }
  if (subcommand) return subcommand(argv.slice(1)).catch(reportError);
  let options: CliOptions;
  try {
    options = parseCli(argv);
  } catch (error) {
    process.stderr.write(`tcp-checker: ${(error as Error).message}\nTry 'tcp-checker --help'.\n`);
    return EXIT_USAGE;
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT_OK;
  }
  if (options.version) {
    process.stdout.write(`${version()}\n`);
    return EXIT_OK;
  }
  try {
    return await (options.mode === 'monitor' ? runMonitor(options) : runChecks(options));
  } catch (error) {
    return reportError(error);
  }
}

process.exitCode = await main(process.argv.slice(2));
