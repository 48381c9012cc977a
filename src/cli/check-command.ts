// `tcp-checker -a ...`: every target, -n times each, with -c in flight and at most --rate
// started per second, then the Go tool's summary. SIGINT/SIGTERM abort the checks in flight,
// print the partial summary and close the checker (its nftables table goes with it): exit 1.
import { setMaxListeners } from 'node:events';
import fs from 'node:fs';
import { Checker, type CheckResult } from '../checker.js';
import type { CliOptions } from './args.js';
import { pump } from './check-pump.js';
import { resultJson, resultLine } from './output.js';
import { PcapRecorder } from './pcap-recorder.js';
import { checkerOptions, checkFamilies, checkInterface, checkSource, effectiveFamily, loadSpecs, needsRaw, resolveNames } from './prepare.js';
import { ProgressBar } from './progress.js';
import { Summary } from './summary.js';
import { countTargets, expandSpecs, type TargetSpec } from './target-spec.js';
import { TokenBucket } from './token-bucket.js';
import { UsageError } from './usage-error.js';
import { onStopSignals, startChecker } from './lifecycle.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;

/** Each target `requests` times in a row, lazily. */
function* jobs(specs: readonly TargetSpec[], requests: number): Generator<string> {
  for (const target of expandSpecs(specs)) for (let i = 0; i < requests; i++) yield target;
}

function describeTargets(specs: readonly TargetSpec[], count: number): string {
  const shown = specs.slice(0, 5).map((s) => s.text);
  const more = specs.length > shown.length ? ` and ${specs.length - shown.length} more` : '';
  const sized = count !== specs.length ? ` (${count} targets)` : '';
  return `${shown.join(', ')}${more}${sized}`;
}

function wantsProgress(options: CliOptions): boolean {
  if (options.quiet || !process.stderr.isTTY) return false;
  // JSON into a pipe is for a program; a progress line beside it would only be noise.
  return !(options.json && !process.stdout.isTTY);
}

export async function runChecks(options: CliOptions): Promise<number> {
  const specs = await loadSpecs(options);
  if (specs.length === 0) throw new UsageError('no target: the target files are empty');
  const count = countTargets(specs, options.maxTargets);
  const family = effectiveFamily(options);
  checkFamilies(specs, family, options.source !== undefined ? `--source ${options.source}` : `-${family}`);
  checkInterface(options.interface);
  checkSource(options.source);
  const lookup = await resolveNames(specs, family);
  const planned = count * options.requests;

  const recorder = options.pcap !== undefined ? PcapRecorder.open(options.pcap) : undefined;
  // Trouble the engine meets mid-run (the nft shim lost): told at once with -v, and in the summary.
  const warnings: string[] = [];
  let progress: ProgressBar | undefined;
  const onWarning = (message: string): void => {
    warnings.push(message);
    if (!options.verbose) return;
    progress?.clear();
    (options.json ? process.stderr : process.stdout).write(`warning: ${message}\n`);
  };
  const checker = new Checker(checkerOptions(options, family, recorder?.onPacket, lookup, onWarning));
  const aborter = new AbortController();
  // Every check in flight listens on this one signal; thousands of listeners are expected here.
  setMaxListeners(0, aborter.signal);
  const signals = onStopSignals((signal) => aborter.abort(new Error(`interrupted by ${signal}`)));
  const log = options.json ? process.stderr : process.stdout;
  try {
    await startChecker(checker, options, () => {
      if (recorder && options.pcap) fs.rmSync(options.pcap, { force: true });
    });
    const choice = checker.strategy!;
    const summary = new Summary(planned);
    log.write(
      `Checking ${describeTargets(specs, count)} with the following configurations:\n` +
        `  Timeout: ${options.timeoutMs}ms\n  Requests: ${options.requests}\n  Concurrency: ${options.concurrency}\n` +
        (options.rate !== undefined ? `  Rate: ${options.rate} checks/s\n` : '') +
        `  Strategy: ${choice.name}${options.verbose || (choice.name !== 'raw' && !needsRaw(options)) ? ` (${choice.reason})` : ''}\n`,
    );
    if (wantsProgress(options)) {
      progress = new ProgressBar(process.stderr, () => ({ done: summary.done, open: summary.open, failed: summary.failed, planned }));
    }
    const report = (result: CheckResult): void => {
      summary.add(result);
      if (!options.json && !options.verbose) return;
      progress?.clear();
      process.stdout.write(`${options.json ? resultJson(result) : resultLine(result)}\n`);
    };
    await pump({
      jobs: jobs(specs, options.requests),
      concurrency: options.concurrency,
      bucket: options.rate !== undefined ? new TokenBucket(options.rate) : undefined,
      signal: aborter.signal,
      run: async (target) => {
        try {
          report(await checker.check(target, { signal: aborter.signal }));
        } catch (error) {
          if (!aborter.signal.aborted) throw error;
        }
      },
    });
    progress?.stop();
    log.write(summary.render(signals.received));
    for (const message of new Set(warnings)) log.write(`  Warning: ${message}\n`);
    return summary.allSucceeded && !signals.received ? EXIT_OK : EXIT_FAILED;
  } finally {
    progress?.stop();
    signals.dispose();
    await checker.close();
    recorder?.close();
  }
}
