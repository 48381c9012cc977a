// Checker.checkMany(): many checks as one async iterable of results, in completion order.
//
// Why not check() in a loop: at 100k checks a second a promise, an abort listener and two
// result objects per check were most of the cost above the engine (bench: Checker.check() at
// 0.2-0.35x the C baseline where RawStrategy.submit was at 0.35-0.8x). Here an address literal
// goes straight to the strategy's callback API (RawStrategy.submit): no promise per check inside,
// one result object built once, one abort watcher for the whole batch, and a target iterator
// advanced only when a check can start (a million targets are never held at once).
//
// Backpressure: results wait in a queue until the consumer pulls them, and a check starts only
// while (checks in flight + results not yet pulled) < concurrency, so a slow consumer (stdout
// into a slow pipe) slows the run instead of growing memory. Host names, and strategies without
// a callback API, take check()'s path for that target (a promise each), same results.
import { performance } from 'node:perf_hooks';
import { AbortError, InvalidArgumentError, ShakerError } from './core/errors.js';
import { unwatchAbort, watchAbort } from './core/abort-watch.js';
import { AddressTarget, parseTarget, type Target } from './core/target.js';
import { TokenBucket } from './core/token-bucket.js';
import { timerDelay } from './core/timer-delay.js';
import type { Family, ProbeOptions, ProbeOutcome, ProbeTarget, StrategyName } from './core/types.js';
import type { CheckOptions, CheckResult } from './checker.js';

/**
 * A target with what belongs to it: `tag` comes back on its result (to tell apart checks of one
 * target), `timeout` and `retries` override the batch's for this check.
 */
export interface CheckManyTarget {
  target: string | AddressTarget;
  tag?: unknown;
  timeout?: number;
  retries?: number;
}

export type CheckManyItem = string | AddressTarget | CheckManyTarget;

/** A result of checkMany: check()'s, plus the item's `tag` when it had one. */
export type BatchResult = CheckResult & { tag?: unknown };

export interface CheckManyOptions extends Omit<CheckOptions, 'signal'> {
  /** Checks in flight at most, results not yet pulled included (default 100). */
  concurrency?: number;
  /** Checks started per second at most (a token bucket; default unlimited). */
  rate?: number;
  /** Aborting cancels the checks in flight; the iterator then throws `signal.reason`. */
  signal?: AbortSignal;
  /** Keep the reply's evidence (flags, ttl, window, options) on results (default false). */
  evidence?: boolean;
}

/** What a batch needs from its Checker (kept narrow so the batch is testable on its own). */
export interface BatchHost {
  readonly strategyName: StrategyName;
  /** The strategy's callback API, when it has one (the raw engine). */
  readonly submit: ((target: ProbeTarget, options: ProbeOptions, callback: (outcome: ProbeOutcome) => void) => () => void) | undefined;
  /** submit() with a number to cancel by instead of a closure, when the strategy has it. */
  readonly submitHandle?: (target: ProbeTarget, options: ProbeOptions, callback: (outcome: ProbeOutcome) => void) => number;
  readonly cancelHandle?: (handle: number) => void;
  /** check() itself, for host names and strategies without a callback API. */
  check(addr: string, options: CheckOptions): Promise<CheckResult>;
  normalizeIp(ip: string): string;
  defaults: { timeout: number; retries: number; family: CheckOptions['family'] };
}

const DEFAULT_CONCURRENCY = 100;
/** Checks started in one go before yielding to the loop, so a signal or a reply is not kept waiting. */
const START_SLICE = 4096;

export function checkConcurrency(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new InvalidArgumentError(`concurrency must be a whole number of at least 1, got ${String(value)}`);
  }
  return value;
}

/** An item's own timeout and retries, checked as check() checks its options. */
function checkItemOptions(timeout: number, retries: number): void {
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) {
    throw new InvalidArgumentError(`timeout must be a positive number of milliseconds, got ${String(timeout)}`);
  }
  if (typeof retries !== 'number' || !Number.isInteger(retries) || retries < 0 || retries > 255) {
    throw new InvalidArgumentError(`retries must be an integer from 0 to 255, got ${String(retries)}`);
  }
}

export class CheckBatch implements AsyncIterableIterator<BatchResult> {
  private readonly concurrency: number;
  private readonly bucket: TokenBucket | undefined;
  /** A sync source's item drawn but not started yet: it waits for its token. */
  private drawn: { item: CheckManyItem } | undefined;
  private readonly timeout: number;
  private readonly retries: number;
  private readonly evidence: boolean;
  private readonly signal: AbortSignal | undefined;
  /** Results not yet pulled: an array used as a queue from `head`. */
  private queue: BatchResult[] = [];
  private head = 0;
  private inFlight = 0;
  private exhausted = false;
  private stopped = false;
  /** The iterator has said done (or thrown): every later next() is done. */
  private ended = false;
  private failure: { error: unknown } | undefined;
  private waiter: { resolve: (r: IteratorResult<BatchResult>) => void; reject: (e: unknown) => void } | undefined;
  /** An async source: a pull is under way (one at a time). */
  private pulling = false;
  private timer: NodeJS.Timeout | undefined;
  private filling = false;
  private sliceScheduled = false;
  /**
   * Fast-path checks in flight live in numbered places, reused through a free list: what the
   * result needs (text, ip, port, tag) and how to cancel it (the strategy's handle, or its
   * canceller closure) in arrays by place, and one callback per place, made when the place is
   * first used and reused by every check after. So a check allocates no closure of its own
   * (10^5 in flight held two closures and their contexts each), and nothing is hashed.
   */
  private placeText: string[] = [];
  private placeIp: string[] = [];
  private placePort: number[] = [];
  private placeTag: unknown[] = [];
  /** 0: submitting, 1: in flight (its canceller in place), 2: free. */
  private placeState: number[] = [];
  private placeCancel: Array<number | (() => void) | undefined> = [];
  private placeCallback: Array<(outcome: ProbeOutcome) => void> = [];
  private freePlaces: number[] = [];
  private lastTarget: { text: string; target: Target; ip: string } | undefined;
  private readonly onAbort = (): void => this.abort();

  constructor(
    private readonly host: BatchHost,
    private readonly targets: Iterator<CheckManyItem> | AsyncIterator<CheckManyItem>,
    private readonly asyncSource: boolean,
    options: CheckManyOptions = {},
  ) {
    this.concurrency = checkConcurrency(options.concurrency ?? DEFAULT_CONCURRENCY);
    if (options.rate !== undefined && !(typeof options.rate === 'number' && options.rate > 0 && Number.isFinite(options.rate))) {
      throw new InvalidArgumentError(`rate must be a positive number of checks per second, got ${String(options.rate)}`);
    }
    this.bucket = options.rate !== undefined ? new TokenBucket(options.rate) : undefined;
    this.timeout = options.timeout ?? host.defaults.timeout;
    this.retries = options.retries ?? host.defaults.retries;
    this.evidence = options.evidence === true;
    this.signal = options.signal;
    this.checkOptions = {
      ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
      ...(options.retries !== undefined ? { retries: options.retries } : {}),
      ...(options.family !== undefined ? { family: options.family } : {}),
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
    };
    this.family = options.family ?? host.defaults.family;
    if (this.signal?.aborted) {
      this.stopped = true;
      this.failure = { error: this.signal.reason ?? new AbortError() };
      return;
    }
    if (this.signal) watchAbort(this.signal, this.onAbort);
    this.fill();
  }

  private readonly checkOptions: CheckOptions;
  private readonly family: CheckOptions['family'];

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<BatchResult>> {
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    if (this.head < this.queue.length) return Promise.resolve({ value: this.take(), done: false });
    if (this.failure) {
      const { error } = this.failure;
      this.failure = undefined;
      this.finish();
      return Promise.reject(error);
    }
    if (this.isDone()) {
      this.finish();
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  /**
   * A result already waiting, taken without a promise; undefined when none is (then `await`
   * next(), or go on with `for await`). Replies settle checks in bursts (one capture batch), so
   * a consumer that takes what is ready after each awaited result pays one promise and one
   * resumption of its async function per burst, not per check:
   * `for await (let r of batch) do { use(r); } while ((r = batch.nextReady()) !== undefined);`
   */
  nextReady(): BatchResult | undefined {
    if (this.ended || this.head >= this.queue.length) return undefined;
    return this.take();
  }

  /** The oldest waiting result, out of the queue (there is one). */
  private take(): BatchResult {
    const value = this.queue[this.head];
    this.queue[this.head++] = undefined as unknown as BatchResult;
    // Compact now and then, not per pull: the queue never holds more than `concurrency`.
    if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    // A pulled result frees room for one more check.
    if (!this.stopped && !this.filling) this.fill();
    return value;
  }

  /** Breaking out of `for await`: the checks in flight are cancelled, nothing more starts. */
  return(): Promise<IteratorResult<BatchResult>> {
    this.stop();
    this.finish();
    if (this.asyncSource) void (this.targets as AsyncIterator<CheckManyItem>).return?.();
    return Promise.resolve({ value: undefined, done: true });
  }

  /** Checks in flight and results waiting to be pulled (for tests and progress). */
  get pending(): { inFlight: number; queued: number } {
    return { inFlight: this.inFlight, queued: this.queue.length - this.head };
  }

  private isDone(): boolean {
    return (this.exhausted || this.stopped) && !this.pulling && this.inFlight === 0 && this.head >= this.queue.length;
  }

  private finish(): void {
    this.stopped = true;
    this.ended = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.signal) unwatchAbort(this.signal, this.onAbort);
  }

  private stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const cancels: Array<number | (() => void)> = [];
    for (let place = 0; place < this.placeState.length; place++) {
      if (this.placeState[place] !== 1) continue;
      cancels.push(this.placeCancel[place]!);
      this.freePlace(place);
    }
    this.inFlight -= cancels.length;
    // Checks still waiting inside the engine (for a route or a source port: negative handles)
    // go before the ones on the wire, so cancelling the latter does not launch the former just
    // to cancel them.
    for (const cancel of cancels) if (typeof cancel === 'number' && cancel < 0) this.host.cancelHandle!(cancel);
    for (const cancel of cancels) {
      if (typeof cancel === 'function') cancel();
      else if (cancel >= 0) this.host.cancelHandle!(cancel);
    }
  }

  private abort(): void {
    if (this.stopped && this.inFlight === 0) return;
    this.stop();
    // Results already in the queue are still handed out; then the abort reason.
    this.failure ??= { error: this.signal?.reason ?? new AbortError() };
    this.wake();
  }

  /** Settles a waiting next() if there is something to give it. */
  private wake(): void {
    const waiter = this.waiter;
    if (!waiter) return;
    if (this.head < this.queue.length || this.failure || this.isDone()) {
      this.waiter = undefined;
      this.next().then(waiter.resolve, waiter.reject);
    }
  }

  private push(result: BatchResult): void {
    this.queue.push(result);
    this.wake();
  }

  private fill(): void {
    if (this.filling) return;
    this.filling = true;
    try {
      let started = 0;
      while (!this.stopped && !this.exhausted && this.inFlight + (this.queue.length - this.head) < this.concurrency) {
        if (started >= START_SLICE) {
          // Let replies, timers and signals in; go on from a macrotask.
          if (!this.sliceScheduled) {
            this.sliceScheduled = true;
            setImmediate(() => {
              this.sliceScheduled = false;
              this.fill();
            });
          }
          break;
        }
        // A sync source's next item is drawn before its token is taken, so a rate-limited run
        // ends with its last check, not one token period later (--rate 0.5 -n 3: 4 s, not 6).
        if (!this.asyncSource && !this.drawn) {
          let next: IteratorResult<CheckManyItem>;
          try {
            next = (this.targets as Iterator<CheckManyItem>).next();
          } catch (error) {
            this.failure ??= { error };
            this.stop();
            break;
          }
          if (next.done) {
            this.exhausted = true;
            break;
          }
          this.drawn = { item: next.value };
        }
        if (this.bucket) {
          const waitMs = this.bucket.take();
          if (waitMs > 0) {
            if (!this.timer) {
              // At least 1 ms, at most what setTimeout honours: a tiny rate wakes early and waits again.
              this.timer = setTimeout(() => {
                this.timer = undefined;
                this.fill();
              }, Math.max(1, timerDelay(waitMs)));
            }
            break;
          }
        }
        if (this.asyncSource) {
          // What the source already holds comes without a promise (its nextReady()); only when
          // it has nothing ready is it asked, and waited for.
          const ready = this.pulling ? undefined : this.readyItem();
          if (ready === undefined) {
            this.pull();
            break;
          }
          started++;
          this.start(ready);
          continue;
        }
        const item = this.drawn!.item;
        this.drawn = undefined;
        started++;
        this.start(item);
      }
    } finally {
      this.filling = false;
    }
    this.wake();
  }

  /**
   * The async source's next item if it holds one now: its `nextReady()`, when it has one (the
   * batch's own convention, so a CheckBatch's results can feed another batch; the monitor's due
   * checks have one). Undefined when it has none or nothing ready.
   */
  private readyItem(): CheckManyItem | undefined {
    const source = this.targets as { nextReady?: () => CheckManyItem | undefined };
    if (typeof source.nextReady !== 'function') return undefined;
    try {
      return source.nextReady();
    } catch (error) {
      this.failure ??= { error };
      this.stop();
      return undefined;
    }
  }

  /**
   * Asks an async source for one item (a monitor's due checks, lines of a stream); starts it
   * and asks again while there is room. One pull at a time, so items start in order.
   */
  private pull(): void {
    if (this.pulling) return;
    this.pulling = true;
    let pending: Promise<IteratorResult<CheckManyItem>>;
    try {
      pending = (this.targets as AsyncIterator<CheckManyItem>).next();
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(
      (next) => {
        this.pulling = false;
        if (this.stopped) return this.wake();
        if (next.done) {
          this.exhausted = true;
          return this.wake();
        }
        this.start(next.value);
        this.fill();
      },
      (error: unknown) => {
        this.pulling = false;
        this.failure ??= { error };
        this.stop();
        this.wake();
      },
    );
  }

  private start(item: CheckManyItem): void {
    // Pre-parsed (the CLI's CIDR expansion): no text to parse, and the target itself is the
    // engine's ProbeTarget, bytes included.
    if (item instanceof AddressTarget) {
      this.startAddress(item, item.text, item.ip, item.port, item.family, undefined, this.timeout, this.retries);
      return;
    }
    let text: string | AddressTarget;
    let tag: unknown;
    let timeout = this.timeout;
    let retries = this.retries;
    if (typeof item === 'string') text = item;
    else {
      text = item?.target;
      tag = item?.tag;
      if (item?.timeout !== undefined) timeout = item.timeout;
      if (item?.retries !== undefined) retries = item.retries;
    }
    if (text instanceof AddressTarget) {
      try {
        checkItemOptions(timeout, retries);
      } catch (error) {
        this.queue.push(this.invalid(text.text, error as ShakerError, tag));
        return;
      }
      this.startAddress(text, text.text, text.ip, text.port, text.family, tag, timeout, retries);
      return;
    }
    let parsed: { target: Target; ip: string };
    try {
      if (typeof item !== 'string') checkItemOptions(timeout, retries);
      parsed = this.parse(text);
    } catch (error) {
      // Bad input is this target's result, typed; a sweep does not die on one bad line.
      this.queue.push(this.invalid(String(text), error as ShakerError, tag));
      return;
    }
    const { target, ip } = parsed;
    this.startAddress(undefined, target.text, ip, target.port, target.literal, tag, timeout, retries);
  }

  private invalid(text: string, e: ShakerError, tag: unknown): BatchResult {
    const bad: BatchResult = { target: text, ip: '', port: 0, status: 'error', code: e.code ?? 'ERR_SHAKER_INVALID_ARGUMENT', strategy: this.host.strategyName, attempts: 0, error: e };
    if (tag !== undefined) bad.tag = tag;
    return bad;
  }

  /**
   * Starts a parsed target: through the strategy's submit() when it has one and the target is
   * an address of the batch's family, else through check(). `probeTarget` is the engine's
   * ProbeTarget when the item already is one (an AddressTarget), else one is made here.
   */
  private startAddress(
    probeTarget: ProbeTarget | undefined,
    targetText: string,
    ip: string,
    port: number,
    literal: 0 | 4 | 6,
    tag: unknown,
    timeout: number,
    retries: number,
  ): void {
    // What the callback keeps is primitives, not the parsed Target: a check in flight should
    // hold as little as possible (10^5 of them through the CLI).
    const submit = this.host.submit;
    if (submit === undefined || literal === 0 || (typeof this.family === 'number' && this.family !== literal)) {
      this.startSlow(targetText, tag, timeout, retries);
      return;
    }
    this.inFlight++;
    const place = this.freePlaces.length > 0 ? this.freePlaces.pop()! : this.newPlace();
    this.placeText[place] = targetText;
    this.placeIp[place] = ip;
    this.placePort[place] = port;
    this.placeTag[place] = tag;
    this.placeState[place] = 0;
    const target = probeTarget ?? { ip, family: literal as Family, port };
    const options = { deadline: performance.now() + timeout, retries };
    const callback = this.placeCallback[place];
    let cancel: number | (() => void);
    try {
      cancel = this.host.submitHandle !== undefined ? this.host.submitHandle(target, options, callback) : submit(target, options, callback);
    } catch (error) {
      callback({ status: 'error', code: (error as ShakerError).code ?? 'ERR_SHAKER_SYSTEM', attempts: 0, error: error as Error });
      return;
    }
    // Answered inside submit (an immediate failure), the place is free again, or already holds
    // a newer check (settle() fills from an async source's pull): only a place still submitting
    // is this check's.
    if (this.placeState[place] === 0) {
      this.placeState[place] = 1;
      this.placeCancel[place] = cancel;
    }
  }

  /** A place of its own for one more check in flight, with its callback. */
  private newPlace(): number {
    const place = this.placeCallback.length;
    this.placeCallback.push((outcome) => this.settle(place, outcome));
    this.placeState.push(2);
    this.placeCancel.push(undefined);
    return place;
  }

  /** The check in `place` answered: its result, its place freed, and the next check started. */
  private settle(place: number, outcome: ProbeOutcome): void {
    if (this.placeState[place] === 2) return;
    const text = this.placeText[place];
    const ip = this.placeIp[place];
    const port = this.placePort[place];
    const tag = this.placeTag[place];
    this.freePlace(place);
    this.inFlight--;
    this.push(this.result(text, ip, port, outcome, tag));
    if (!this.filling) this.fill();
  }

  private freePlace(place: number): void {
    this.placeState[place] = 2;
    this.placeCancel[place] = undefined;
    this.placeTag[place] = undefined;
    this.freePlaces.push(place);
  }

  /** check()'s path: host names, a family mismatch, strategies without submit(). */
  private startSlow(text: string, tag: unknown, timeout: number, retries: number): void {
    this.inFlight++;
    const options = timeout === this.timeout && retries === this.retries ? this.checkOptions : { ...this.checkOptions, timeout, retries };
    this.host.check(text, options).then(
      (result: BatchResult) => {
        this.inFlight--;
        if (this.stopped) return this.wake();
        if (!this.evidence) delete result.evidence;
        if (tag !== undefined) result.tag = tag;
        this.push(result);
        if (!this.filling) this.fill();
      },
      (error: unknown) => {
        this.inFlight--;
        if (this.stopped) return this.wake();
        const e = error as ShakerError;
        const failed: BatchResult = { target: text, ip: '', port: 0, status: 'error', code: e.code ?? 'ERR_SHAKER_SYSTEM', strategy: this.host.strategyName, attempts: 0, error: e };
        if (tag !== undefined) failed.tag = tag;
        this.push(failed);
        if (!this.filling) this.fill();
      },
    );
  }

  /** parseTarget, remembering the last text: `-n` repeats one target many times in a row. */
  private parse(text: string): { target: Target; ip: string } {
    const last = this.lastTarget;
    if (last !== undefined && last.text === text) return last;
    const target = parseTarget(text);
    const ip = target.literal !== 0 ? this.host.normalizeIp(target.host) : '';
    const parsed = { text, target, ip };
    this.lastTarget = parsed;
    return parsed;
  }

  /** The result, built once; evidence only when asked for. */
  private result(text: string, ip: string, port: number, outcome: ProbeOutcome, tag: unknown): BatchResult {
    const result: BatchResult = {
      target: text,
      ip,
      port,
      status: outcome.status,
      strategy: this.host.strategyName,
      attempts: outcome.attempts,
    };
    if (outcome.code !== undefined) result.code = outcome.code;
    if (outcome.rttMs !== undefined) result.rttMs = outcome.rttMs;
    if (this.evidence && outcome.evidence !== undefined) result.evidence = outcome.evidence;
    // Only a local failure carries an Error (the strategy made it); a network verdict's typed
    // error is built on demand by resultError(), not per result: its stack trace is the
    // most expensive thing a timeout sweep would otherwise make.
    if (outcome.error !== undefined) result.error = outcome.error;
    if (tag !== undefined) result.tag = tag;
    return result;
  }
}
