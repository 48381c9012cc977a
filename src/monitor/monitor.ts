// The monitor: checks every target forever with HAProxy's health-check rules (health.ts) and
// reports what happens as events ('check' per probe, 'round' per burst, 'change' per state
// change) and as an async iterator of changes.
//
// One DeadlineTimer (src/engine/deadline-heap.ts) schedules every target: a heap entry per
// target and a single Node timer armed for the earliest, so 10 000 targets cost one timer, not
// 10 000 intervals. A target's next round is due `inter`/`fastinter`/`downinter` after its
// previous round *ended*, so a slow round never overlaps the next one. First rounds are spread
// at random over min(inter, 1 ms per target), so a large monitor does not fire all at once
// while a small one starts at once.
//
// Every check goes through one Checker.checkMany batch fed with the checks as they fall due (a
// round's burst is `burst` items tagged with the round), so a check costs no promise, no abort
// listener and no result copy of its own: at 1000 targets a second that is most of the CPU a
// monitor spends above the engine. Stopping aborts the batch, which cancels what is in flight.
//
// The monitor neither starts nor closes the checker: give it a started one and close it after
// stop(). While started, the monitor keeps the process alive (like a setInterval would).
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Checker, CheckResult } from '../checker.js';
import type { BatchResult, CheckBatch, CheckManyTarget } from '../check-many.js';
import { AbortError, InvalidArgumentError, StateError } from '../core/errors.js';
import { DeadlineTimer } from '../core/deadline-heap.js';
import { AddressTarget, parseTarget } from '../core/target.js';
import type { CheckStatus } from '../core/types.js';
import { parseAddress } from '../wire/address.js';
import { applyResult, INITIAL_HEALTH, intervalKind, type HealthState, type HealthStatus, type IntervalKind } from './health.js';
import { summarizeRound, zeroStatusCounts, type RoundStats } from './round.js';
import { resolveTargets, type MonitorDefaults, type MonitorTarget, type ResolvedTarget } from './targets.js';
import type { ResolvedSettings } from './settings.js';

export interface MonitorOptions {
  /** A started checker; the monitor does not close it. */
  checker: Checker;
  targets: ReadonlyArray<string | MonitorTarget>;
  defaults?: MonitorDefaults;
  /** Rounds in flight at once (default 1000); due rounds beyond it wait their turn. */
  concurrency?: number;
  /** Spread the first rounds over this many ms (default: min(inter, 1 ms per target)). */
  spreadMs?: number;
  /** Counts answers per "ip|port" for duplicate detection: a ReplyTally fed by the raw engine. */
  replies?: { take(ip: string, port: number): number };
}

export interface MonitorCheck {
  /** The target's label. */
  target: string;
  probe: string;
  round: number;
  result: CheckResult;
}

export interface MonitorRound extends RoundStats {
  time: Date;
  target: string;
  probe: string;
  /** 1 for the first round of this target. */
  round: number;
  /** The state after this round. */
  status: HealthStatus;
  /** Which interval applies now, and how long until the next round. */
  interval: IntervalKind;
  nextInMs: number;
  results: CheckResult[];
}

export interface MonitorChange {
  time: Date;
  target: string;
  probe: string;
  from: HealthStatus;
  to: HealthStatus;
  /** Consecutive successes (to UP) or failures (to DOWN) that made the change... */
  consecutive: number;
  /** ...out of the rise or fall needed. */
  needed: number;
  /** The round that made it. */
  round: MonitorRound;
}

export interface TargetStatus {
  target: string;
  probe: string;
  status: HealthStatus;
  /** HAProxy's health counter (see health.ts). */
  health: number;
  rounds: number;
  settings: ResolvedSettings;
  /** Probes since start() by outcome, as the 'check' event reported them. */
  checks: Record<CheckStatus, number>;
  /** When the status last changed (undefined while UNKNOWN). */
  since?: Date;
  lastRound?: MonitorRound;
}

export type MonitorEvents = {
  check: [MonitorCheck];
  round: [MonitorRound];
  change: [MonitorChange];
  stop: [];
};

interface Entry extends ResolvedTarget {
  /**
   * What the batch is given: the probe parsed once when it is an address (no parse per check),
   * else the "host:port" text, resolved on every check (names may move).
   */
  item: string | AddressTarget;
  health: HealthState;
  rounds: number;
  checks: Record<CheckStatus, number>;
  since?: Date;
  lastRound?: MonitorRound;
}

const DEFAULT_CONCURRENCY = 1000;
// Scheduling slack: rounds due within the same window start in one timer wake-up, and their
// SYNs, replies and RSTs travel together. The window is 2.5% of the shortest interval, at most
// 50 ms: a round starts at most that late (HAProxy's default inter is 2 s; it spreads its own
// checks by up to 50% with spread-checks). On a VM, waking an idle process costs far more than
// the checks it starts (an empty Node timer tick measured 38 µs of CPU at 1 ms intervals, 86 µs
// at 10 ms, 227 µs at 50 ms): 1022 targets every second with 10 ms windows spent 53 µs of the
// event loop's CPU a check, with 50 ms windows 27 µs (bench/README.md, the CLI monitor row).
const MONITOR_SLACK_MS = 50;
const MONITOR_SLACK_SHARE = 0.025;

/** A round whose checks are in flight: its results gather here until the last one is in. */
interface RoundInFlight {
  slot: number;
  number: number;
  results: CheckResult[];
  remaining: number;
}

/**
 * The checks that have fallen due, as the async iterable the monitor's batch reads: push() hands
 * an item to a waiting pull at once, or queues it; close() ends the iteration.
 */
class DueChecks implements AsyncIterableIterator<CheckManyTarget> {
  private items: CheckManyTarget[] = [];
  private head = 0;
  private waiter: ((r: IteratorResult<CheckManyTarget>) => void) | undefined;
  private closed = false;

  push(item: CheckManyTarget): void {
    if (this.closed) return;
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      waiter({ value: item, done: false });
    } else this.items.push(item);
  }

  close(): void {
    this.closed = true;
    this.items = [];
    this.head = 0;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<CheckManyTarget>> {
    const value = this.nextReady();
    if (value !== undefined) return Promise.resolve({ value, done: false });
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.waiter = resolve));
  }

  /** A queued item without a promise (checkMany takes a window's rounds this way), else undefined. */
  nextReady(): CheckManyTarget | undefined {
    if (this.head >= this.items.length) return undefined;
    const value = this.items[this.head++];
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    }
    return value;
  }

  return(): Promise<IteratorResult<CheckManyTarget>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/** The probe as the batch's pre-parsed target when it is an IP address whose text is canonical. */
function addressItem(probe: string): string | AddressTarget {
  const target = parseTarget(probe);
  if (target.literal === 0) return probe;
  const bytes = parseAddress(target.host);
  if (bytes === undefined) return probe;
  try {
    const address = new AddressTarget(bytes, target.port);
    // The same text the string would have given the result (a mapped or non-canonical IPv6
    // address would come back written differently): else the text path, as before.
    return address.text === probe ? address : probe;
  } catch {
    return probe;
  }
}

/** Replies counted for the round's addresses (one per address, however many probes went there). */
function takeReplies(replies: NonNullable<MonitorOptions['replies']>, results: readonly CheckResult[]): number {
  const port = results[0].port;
  const first = results[0].ip;
  let total = first ? replies.take(first, port) : 0;
  for (let i = 1; i < results.length; i++) {
    const ip = results[i].ip;
    // A burst goes to one address (or a few, for a name): take each address once.
    let seen = ip === '' || ip === first;
    for (let j = 1; j < i && !seen; j++) seen = results[j].ip === ip;
    if (!seen) total += replies.take(ip, port);
  }
  return total;
}

export class Monitor extends EventEmitter<MonitorEvents> {
  readonly checker: Checker;
  private readonly entries: Entry[];
  private readonly concurrency: number;
  private readonly spreadMs: number | undefined;
  private readonly replies: MonitorOptions['replies'];
  private readonly timer: DeadlineTimer;
  private readonly waiting: number[] = [];
  private roundsInFlight = 0;
  private readonly due = new DueChecks();
  private batch: CheckBatch | undefined;
  private consuming: Promise<void> | undefined;
  private readonly aborter = new AbortController();
  private state: 'new' | 'running' | 'stopped' = 'new';

  constructor(options: MonitorOptions) {
    super();
    if (!options || typeof options.checker?.check !== 'function') throw new InvalidArgumentError('Monitor needs a `checker`');
    if (!Array.isArray(options.targets) || options.targets.length === 0) throw new InvalidArgumentError('Monitor needs at least one target');
    this.checker = options.checker;
    this.entries = resolveTargets(options.targets, options.defaults).map((t) => ({
      ...t,
      item: addressItem(t.probe),
      health: INITIAL_HEALTH,
      rounds: 0,
      checks: zeroStatusCounts(),
    }));
    this.concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) {
      throw new InvalidArgumentError(`concurrency must be a whole number of at least 1, got ${String(options.concurrency)}`);
    }
    if (options.spreadMs !== undefined && !(options.spreadMs >= 0)) {
      throw new InvalidArgumentError(`spreadMs must be 0 or more, got ${String(options.spreadMs)}`);
    }
    this.spreadMs = options.spreadMs;
    this.replies = options.replies;
    // Rounds fall due in windows of MONITOR_SLACK_MS (at most MONITOR_SLACK_SHARE of the shortest
    // interval), each window one wake-up for all its rounds instead of one per round.
    const shortest = this.entries.reduce((min, e) => Math.min(min, e.settings.inter, e.settings.fastinter, e.settings.downinter), Infinity);
    this.timer = new DeadlineTimer(
      () => performance.now(),
      (slot) => this.onDue(slot),
      undefined,
      Math.min(MONITOR_SLACK_MS, shortest * MONITOR_SLACK_SHARE),
    );
  }

  get running(): boolean {
    return this.state === 'running';
  }

  /** Schedules the first round of every target. The checker must be started. */
  start(): void {
    if (this.state !== 'new') {
      throw new StateError(this.state === 'running' ? 'the monitor is already started' : 'the monitor is stopped', this.state === 'running' ? 'ERR_SHAKER_ALREADY_STARTED' : 'ERR_SHAKER_CLOSED');
    }
    if (!this.checker.isReady) throw new StateError('start the checker before the monitor: `await checker.start()`', 'ERR_SHAKER_NOT_STARTED');
    // Rounds are limited by `concurrency`; the batch only needs room for all their checks.
    const maxBurst = this.entries.reduce((max, e) => Math.max(max, e.settings.burst), 1);
    this.batch = this.checker.checkMany(this.due, { concurrency: this.concurrency * maxBurst, signal: this.aborter.signal, evidence: true });
    this.state = 'running';
    this.consuming = this.consume(this.batch);
    this.timer.setKeepAlive(true);
    const now = performance.now();
    for (let slot = 0; slot < this.entries.length; slot++) {
      const spread = this.spreadMs ?? Math.min(this.entries[slot].settings.inter, this.entries.length);
      this.timer.schedule(now + Math.random() * spread, slot, 0);
    }
  }

  /** Stops scheduling, aborts the rounds in flight and waits for them; ends every changes() iterator. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.timer.stop();
    this.timer.setKeepAlive(false);
    this.waiting.length = 0;
    this.aborter.abort(new AbortError('the monitor was stopped'));
    this.due.close();
    await this.consuming;
    this.emit('stop');
  }

  /** Every state change from now on, until stop(). Breaking out of the loop unsubscribes. */
  changes(): AsyncIterableIterator<MonitorChange> {
    const queue: MonitorChange[] = [];
    const waiters: Array<(r: IteratorResult<MonitorChange>) => void> = [];
    let done = this.state === 'stopped';
    const finish = (): void => {
      done = true;
      this.off('change', onChange);
      this.off('stop', finish);
      for (const w of waiters.splice(0)) w({ value: undefined, done: true });
    };
    const onChange = (change: MonitorChange): void => {
      const waiter = waiters.shift();
      if (waiter) waiter({ value: change, done: false });
      else queue.push(change);
    };
    if (!done) {
      this.on('change', onChange);
      this.once('stop', finish);
    }
    return {
      next: (): Promise<IteratorResult<MonitorChange>> => {
        if (queue.length > 0) return Promise.resolve({ value: queue.shift()!, done: false });
        if (done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => waiters.push(resolve));
      },
      return: (): Promise<IteratorResult<MonitorChange>> => {
        queue.length = 0;
        finish();
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  /** A snapshot of every target's state. */
  status(): TargetStatus[] {
    return this.entries.map((e) => {
      const s: TargetStatus = { target: e.name, probe: e.probe, status: e.health.status, health: e.health.health, rounds: e.rounds, settings: e.settings, checks: { ...e.checks } };
      if (e.since) s.since = e.since;
      if (e.lastRound) s.lastRound = e.lastRound;
      return s;
    });
  }

  private onDue(slot: number): void {
    if (this.state !== 'running') return;
    if (this.roundsInFlight >= this.concurrency) {
      this.waiting.push(slot);
      return;
    }
    this.launch(slot);
  }

  /** Starts a round: its burst of checks goes to the batch, tagged with the round. */
  private launch(slot: number): void {
    const entry = this.entries[slot];
    const round: RoundInFlight = { slot, number: ++entry.rounds, results: [], remaining: entry.settings.burst };
    this.roundsInFlight++;
    const { timeout, retries } = entry.settings;
    for (let i = 0; i < entry.settings.burst; i++) {
      const item: CheckManyTarget = { target: entry.item, tag: round };
      if (timeout !== undefined) item.timeout = timeout;
      if (retries !== undefined) item.retries = retries;
      this.due.push(item);
    }
  }

  /** Takes the batch's results as they come and closes each round with its last check. */
  private async consume(batch: CheckBatch): Promise<void> {
    try {
      // Each awaited result, then those already waiting behind it (one capture batch settles
      // many): a promise and a resumption of this function per burst, not per check.
      for await (const first of batch) {
        let result: BatchResult | undefined = first;
        do this.onResult(result);
        while ((result = batch.nextReady()) !== undefined);
      }
    } catch (error) {
      // The abort of stop() ends the batch this way; anything else is a bug to surface.
      if (!this.aborter.signal.aborted) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  private onResult(result: BatchResult): void {
    const round = result.tag as RoundInFlight;
    // The tag is the monitor's bookkeeping, not part of the result users see.
    delete result.tag;
    if (this.state !== 'running') return;
    const entry = this.entries[round.slot];
    round.results.push(result);
    entry.checks[result.status]++;
    // An event object per check only for someone listening: at 1000 targets a second the
    // allocation is a cost of its own.
    if (this.listenerCount('check') > 0) this.safeEmit('check', { target: entry.name, probe: entry.probe, round: round.number, result });
    if (--round.remaining > 0) return;
    this.roundsInFlight--;
    this.finishRound(round.slot, entry, round.number, round.results);
    while (this.state === 'running' && this.waiting.length > 0 && this.roundsInFlight < this.concurrency) this.launch(this.waiting.shift()!);
  }

  private finishRound(slot: number, entry: Entry, number: number, results: CheckResult[]): void {
    const replies = this.replies ? takeReplies(this.replies, results) : undefined;
    const stats = summarizeRound(results, replies);
    const before = entry.health;
    const step = applyResult(before, stats.success, entry.settings);
    entry.health = step.state;
    const interval = intervalKind(step.state, entry.settings);
    const nextInMs = entry.settings[interval];
    const time = new Date();
    // The round's own fields are stored onto the stats object rather than spread into a new
    // one: a spread built a fresh hidden class (map) per round, and V8's slow path for that was
    // a third of a 1000-target monitor's CPU. Same fields, same order.
    const round = stats as MonitorRound;
    round.time = time;
    round.target = entry.name;
    round.probe = entry.probe;
    round.round = number;
    round.status = step.state.status;
    round.interval = interval;
    round.nextInMs = nextInMs;
    round.results = results;
    entry.lastRound = round;
    this.timer.schedule(performance.now() + nextInMs, slot, 0);
    this.safeEmit('round', round);
    if (step.change) {
      entry.since = time;
      const toUp = step.change.to === 'up';
      this.safeEmit('change', {
        time,
        target: entry.name,
        probe: entry.probe,
        from: step.change.from,
        to: step.change.to,
        consecutive: Math.abs(step.state.streak),
        needed: toUp ? entry.settings.rise : entry.settings.fall,
        round,
      });
    }
  }

  /**
   * A throwing listener must not end the target's schedule (the round would reject into the
   * void); rethrown outside the round, it surfaces as the uncaught exception it is.
   */
  private safeEmit<K extends keyof MonitorEvents>(event: K, ...args: MonitorEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: MonitorEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}
