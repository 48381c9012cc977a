// `tcp-checker -a ...`: every target, -n times each, with -c in flight and at most --rate
// started per second, then the Go tool's summary. SIGINT/SIGTERM abort the checks in flight,
// print the partial summary and close the checker (its nftables table goes with it): exit 1.
import fs from 'node:fs';
import { Checker } from '../checker.js';
import type { BatchResult } from '../check-many.js';
import type { CliOptions } from './args.js';
import { JsonLinesWriter, resultJson } from './json-lines.js';
import { resultLine } from './output.js';
import { PcapRecorder } from './pcap-recorder.js';
import { checkerOptions, checkFamilies, checkInterface, checkSource, effectiveFamily, loadSpecs, needsRaw, resolveNames } from './prepare.js';
import { ProgressBar } from './progress.js';
import { Summary } from './summary.js';
import { countShard, countTargets, expandSpecItems, expandSpecsItems, type SweepOrder, type TargetSpec } from './target-spec.js';
import type { AddressTarget } from '../core/target.js';
import { UsageError } from './usage-error.js';
import { onStopSignals, startChecker } from './lifecycle.js';
import { ringBytesFor } from '../engine/capture-pool.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;

/** Specs whose first target checker.prepare() gets ready: a file of thousands of lines is not read ahead. */
const PREPARED_SPECS = 16;

/**
 * The first address of each of the first specs: their routes and captures usually serve all the
 * rest. Texts (host names, addresses parseTarget refuses) are left to their checks.
 */
function firstTargets(specs: readonly TargetSpec[]): AddressTarget[] {
  const out: AddressTarget[] = [];
  for (const spec of specs.slice(0, PREPARED_SPECS)) {
    const first = expandSpecItems(spec).next();
    if (!first.done && typeof first.value !== 'string') out.push(first.value);
  }
  return out;
}

/** --seed/--shard as an expansion order; undefined keeps address order. */
function sweepOrder(options: CliOptions): SweepOrder | undefined {
  return options.seed === undefined ? undefined : { seed: options.seed, shard: options.shard };
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
  const count = options.shard ? countShard(specs, options.shard, options.maxTargets) : countTargets(specs, options.maxTargets);
  const family = effectiveFamily(options);
  checkFamilies(specs, family, options.source !== undefined ? `--source ${options.source}` : options.syn?.extensionHeaders ? '--ipv6-ext' : `-${family}`);
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
  const checkerConfig = checkerOptions(options, family, recorder?.onPacket, lookup, onWarning);
  // -c bounds the checks in flight, and so the replies the capture ring must hold at once.
  checkerConfig.raw = { ...checkerConfig.raw, captureBufferBytes: ringBytesFor(options.concurrency) };
  const checker = new Checker(checkerConfig);
  const aborter = new AbortController();
  const signals = onStopSignals((signal) => aborter.abort(new Error(`interrupted by ${signal}`)));
  const log = options.json ? process.stderr : process.stdout;
  try {
    await startChecker(checker, options, () => {
      if (recorder && options.pcap) fs.rmSync(options.pcap, { force: true });
    });
    const choice = checker.strategy!;
    // Routes looked up and captures opened now, not by the first checks: start-up, outside the
    // run's clock (the rate a sweep reports), like the checker's own start.
    await checker.prepare(firstTargets(specs));
    // process.stdout is made on first use, a few milliseconds: before the clock too.
    const json = options.json ? new JsonLinesWriter(process.stdout) : undefined;
    const summary = new Summary(planned);
    log.write(
      `Checking ${describeTargets(specs, count)} with the following configurations:\n` +
        `  Timeout: ${options.timeoutMs}ms\n  Requests: ${options.requests}\n  Concurrency: ${options.concurrency}\n` +
        (options.rate !== undefined ? `  Rate: ${options.rate} checks/s\n` : '') +
        `  Strategy: ${choice.name}${options.verbose || (choice.name !== 'raw' && !needsRaw(options) && !choice.warning) ? ` (${choice.reason})` : ''}\n`,
    );
    if (wantsProgress(options)) {
      progress = new ProgressBar(process.stderr, () => ({ done: summary.done, open: summary.open, failed: summary.failed, planned }));
    }
    // One batch: no promise or abort listener per check, results in completion order, and a
    // full stdout pauses the batch (its backpressure) instead of queueing lines in memory.
    // Each target -n times in a row, lazily; IP literals as AddressTargets, so checkMany and the
    // engine take them without parsing a text per check.
    const results = checker.checkMany(expandSpecsItems(specs, sweepOrder(options), options.requests), {
      concurrency: options.concurrency,
      ...(options.rate !== undefined ? { rate: options.rate } : {}),
      signal: aborter.signal,
      evidence: options.json || options.verbose,
    });
    try {
      // Each awaited result, then those already waiting behind it (nextReady): one promise
      // and one resumption of this loop per burst of replies, not per check.
      for await (const first of results) {
        let result: BatchResult | undefined = first;
        do {
          summary.add(result);
          if (json) {
            if (!json.write(resultJson(result))) {
              progress?.clear();
              await json.drained();
            }
          } else if (options.verbose) {
            progress?.clear();
            process.stdout.write(`${resultLine(result)}\n`);
          }
        } while ((result = results.nextReady()) !== undefined);
      }
    } catch (error) {
      if (!aborter.signal.aborted) throw error;
    } finally {
      await json?.end();
    }
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
