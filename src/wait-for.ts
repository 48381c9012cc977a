// checker.waitFor(): wait until every target answers open, the half-open way, so the service
// being waited for never sees a connection (no ECONNRESET noise in its logs, unlike wait-on or
// wait-port, which connect). Each target is checked on its own schedule: one check, and if it
// was not open, another `interval` ms after the previous one *started* (a check that took the
// whole interval, a silent port say, is followed at once). A target that answered open once is
// done; the wait resolves when all are.
//
// A host name is checked on every address it resolves to, in parallel, and any open address
// counts (Checker.check with family 'both' does that): "localhost" resolving to ::1 first while
// the service listens on 127.0.0.1 only must not wait forever (wait-on issue #109).
import { timerDelay } from './core/timer-delay.js';
import { addAbortListener } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { CheckOptions, CheckResult, FamilyPreference } from './checker.js';
import { AbortError, InvalidArgumentError, TimeoutError } from './core/errors.js';
import { parseTarget } from './core/target.js';

export interface WaitForOptions {
  /** Total time for the whole wait in ms (as wait-on's --timeout); default: wait forever. */
  timeout?: number;
  /** From the start of one check of a target to the start of its next (default 250 ms, wait-on's). */
  interval?: number;
  /** Timeout of each check, capped by what is left of `timeout` (default: the checker's; waitFor()
   *  called with a bare CheckFunction and no checkTimeout gives each check all that is left). */
  checkTimeout?: number;
  retries?: number;
  family?: FamilyPreference;
  signal?: AbortSignal;
  /** Called after every check, open or not (progress output, logs). */
  onCheck?: (result: CheckResult) => void;
}

export interface WaitForResult {
  /** The open result of each target, in the order given. */
  results: CheckResult[];
  /** Checks made, all targets together. */
  checks: number;
  elapsedMs: number;
}

/** What waitFor rejects with when `timeout` runs out: which targets never answered open. */
export class WaitTimeoutError extends TimeoutError {
  constructor(
    message: string,
    /** Each target that never answered open, with its last result (none if no check finished). */
    readonly pending: ReadonlyArray<{ target: string; last: CheckResult | undefined }>,
  ) {
    super(message);
  }
  override get name(): string {
    return 'WaitTimeoutError';
  }
}

export const DEFAULT_WAIT_INTERVAL_MS = 250;

/** The subset of Checker that waitFor needs (a Checker, or a test's stand-in). */
export interface CheckFunction {
  check(addr: string, options?: CheckOptions): Promise<CheckResult>;
}

function positive(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new InvalidArgumentError(`${name} must be a positive number of milliseconds, got ${String(value)}`, 'ERR_SHAKER_INVALID_OPTION');
  }
  return value;
}

function describe(result: CheckResult | undefined, target: string): string {
  if (!result) return `${target} (not checked yet)`;
  return `${target} ${result.status}${result.code && result.status !== 'open' ? ` (${result.code})` : ''}`;
}

export async function waitFor(checker: CheckFunction, targets: readonly string[], options: WaitForOptions = {}): Promise<WaitForResult> {
  if (!Array.isArray(targets) || targets.length === 0) {
    throw new InvalidArgumentError('waitFor needs at least one target', 'ERR_SHAKER_INVALID_OPTION');
  }
  // Every target and option is checked before the first SYN.
  for (const target of targets) parseTarget(target);
  const totalMs = options.timeout === undefined ? Infinity : positive(options.timeout, 'timeout');
  const intervalMs = options.interval === undefined ? DEFAULT_WAIT_INTERVAL_MS : positive(options.interval, 'interval');
  const checkTimeout = options.checkTimeout === undefined ? undefined : positive(options.checkTimeout, 'checkTimeout');
  const { signal } = options;
  if (signal?.aborted) throw signal.reason ?? new AbortError();

  const started = performance.now();
  const deadline = started + totalMs;
  // Ends the sleeps and checks in flight when the wait is over, whichever way it ends.
  const stop = new AbortController();
  let stopListener: Disposable | undefined;
  if (signal) stopListener = addAbortListener(signal, () => stop.abort(signal.reason ?? new AbortError()));
  let timer: NodeJS.Timeout | undefined;
  // Re-armed while the deadline is ahead: a total past setTimeout's 24.8 days wakes early (timerDelay).
  const armTotal = (): void => {
    const left = deadline - performance.now();
    if (left <= 0) stop.abort(new AbortError('wait timed out'));
    else timer = setTimeout(armTotal, timerDelay(left));
  };
  if (totalMs !== Infinity) armTotal();

  const last: Array<CheckResult | undefined> = targets.map(() => undefined);
  let checks = 0;

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      if (stop.signal.aborted || ms <= 0) return resolve();
      // A sleep past setTimeout's limit ends early (timerDelay): the next check simply comes sooner.
      const t = setTimeout(done, timerDelay(ms));
      const listener = addAbortListener(stop.signal, done);
      function done(): void {
        clearTimeout(t);
        listener[Symbol.dispose]();
        resolve();
      }
    });

  const waitOne = async (target: string, index: number): Promise<CheckResult | undefined> => {
    while (!stop.signal.aborted) {
      const attemptStart = performance.now();
      const remaining = deadline - attemptStart;
      if (remaining <= 0) return undefined;
      const perCheck: CheckOptions = { signal: stop.signal };
      const capped = checkTimeout === undefined ? remaining : Math.min(checkTimeout, remaining);
      if (capped !== Infinity) perCheck.timeout = capped;
      if (options.retries !== undefined) perCheck.retries = options.retries;
      if (options.family !== undefined) perCheck.family = options.family;
      let result: CheckResult;
      try {
        result = await checker.check(target, perCheck);
      } catch (error) {
        if (stop.signal.aborted) return undefined;
        throw error;
      }
      checks++;
      last[index] = result;
      options.onCheck?.(result);
      if (result.status === 'open') return result;
      await sleep(attemptStart + intervalMs - performance.now());
    }
    return undefined;
  };

  try {
    const results = await Promise.all(targets.map(waitOne));
    if (results.every((r) => r !== undefined)) {
      return { results: results as CheckResult[], checks, elapsedMs: performance.now() - started };
    }
    if (signal?.aborted) throw signal.reason ?? new AbortError();
    const pending = targets.flatMap((target, i) => (results[i] ? [] : [{ target, last: last[i] }]));
    const names = targets.flatMap((t, i) => (results[i] ? [] : [describe(last[i], t)]));
    throw new WaitTimeoutError(`not open after ${Math.round(totalMs)}ms: ${names.join(', ')}`, pending);
  } finally {
    // A check that throws (a closed checker) ends the others too.
    stop.abort(new AbortError('wait finished'));
    if (timer) clearTimeout(timer);
    stopListener?.[Symbol.dispose]();
  }
}
