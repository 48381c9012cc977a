#!/usr/bin/env node
// tcp-checker: the command-line face of the Checker, with the Go tool's flags and summary.
// This file owns process concerns the library leaves alone: signal handlers (to print a partial
// summary and close the engine), exit codes, and turning every error into one line.
import dns from 'node:dns';
import { createRequire } from 'node:module';
import { Checker } from '../checker.js';
import type { CheckResult } from '../checker.js';
import { ShakerError } from '../errors.js';
import { parseCli, UsageError, USAGE, type CliOptions } from './args.js';
import { Summary } from './summary.js';
import { doctor, formatDoctor } from '../doctor.js';

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

/** Host names must resolve before anything is sent: an unresolvable one is a usage error. */
async function checkNamesResolve(options: CliOptions): Promise<void> {
  const names = [...new Set(options.targets.filter((t) => t.literal === 0).map((t) => t.host))];
  await Promise.all(
    names.map(async (host) => {
      try {
        const all = await dns.promises.lookup(host, { all: true });
        const usable = all.filter((a) => options.family === 'both' || a.family === options.family);
        if (usable.length === 0) throw new Error(`no IPv${options.family} address`);
      } catch (error) {
        const why = (error as { code?: string }).code ?? (error as Error).message;
        throw new UsageError(`cannot resolve "${host}": ${why}`);
      }
    }),
  );
}

function printResult(result: CheckResult, options: CliOptions): void {
  if (options.json) {
    const { error, ...rest } = result;
    const line = error ? { ...rest, error: { name: error.name, code: (error as ShakerError).code, message: error.message } } : rest;
    process.stdout.write(`${JSON.stringify(line)}\n`);
    return;
  }
  if (!options.verbose) return;
  const where = result.ip ? `${result.ip.includes(':') ? `[${result.ip}]` : result.ip}:${result.port}` : result.target;
  const rtt = result.rttMs !== undefined ? ` in ${result.rttMs.toFixed(3)}ms` : '';
  const code = result.code && result.status !== 'open' ? ` (${result.code})` : '';
  const flags = result.evidence?.flags ? ` [${result.evidence.flags}]` : '';
  const name = where === result.target ? where : `${result.target} (${where})`;
  process.stdout.write(`${name}: ${result.status}${code}${flags}${rtt}, ${result.attempts} SYN${result.attempts === 1 ? '' : 's'}\n`);
}

async function run(options: CliOptions): Promise<number> {
  await checkNamesResolve(options);
  const checker = new Checker({
    strategy: options.strategy,
    timeout: options.timeoutMs,
    ...(options.retries !== undefined ? { retries: options.retries } : {}),
    family: options.family,
  });
  const aborter = new AbortController();
  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = signal;
    aborter.abort(new ShakerError(`interrupted by ${signal}`, 'ABORT_ERR'));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const log = options.json ? process.stderr : process.stdout;
  try {
    await checker.start();
    const choice = checker.strategy!;
    log.write(
      `Checking ${options.targets.map((t) => t.text).join(', ')} with the following configurations:\n` +
        `  Timeout: ${options.timeoutMs}ms\n  Requests: ${options.requests}\n  Concurrency: ${options.concurrency}\n` +
        `  Strategy: ${choice.name}${options.verbose || choice.name !== 'raw' ? ` (${choice.reason})` : ''}\n`,
    );
    const summary = new Summary(options.targets.length * options.requests);
    const jobs = options.targets.flatMap((t) => Array.from({ length: options.requests }, () => t));
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < jobs.length && !aborter.signal.aborted) {
        const target = jobs[next++];
        let result: CheckResult;
        try {
          result = await checker.check(target.text, { signal: aborter.signal });
        } catch (error) {
          if (aborter.signal.aborted) return;
          throw error;
        }
        summary.add(result);
        printResult(result, options);
      }
    };
    await Promise.all(Array.from({ length: Math.min(options.concurrency, jobs.length) }, worker));
    log.write(summary.render(interrupted));
    return summary.allSucceeded && !interrupted ? EXIT_OK : EXIT_FAILED;
  } finally {
    await checker.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
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

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'doctor') return runDoctor(argv.slice(1));
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
    return await run(options);
  } catch (error) {
    const usage = error instanceof UsageError || (error instanceof ShakerError && error.code.startsWith('ERR_SHAKER_INVALID'));
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`tcp-checker: ${message}\n`);
    if (process.env.TCP_SHAKER_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    return usage ? EXIT_USAGE : EXIT_FAILED;
  }
}

process.exitCode = await main(process.argv.slice(2));
