// Probes waiting for a source port (issue #12). One destination (ip:port) can have at most as
// many probes in flight as the engine holds source ports (4536 by default), and a tuple whose
// handshake may still be half-open on the server is not reused until that is cleared (README,
// "why a possibly half-open tuple is never reused"). Probes beyond that wait here, per
// destination, oldest first, until a port of theirs comes free:
//
//   - a probe that finishes on a clean tuple (answered and reset, refused, cancelled) hands its
//     port to the oldest probe waiting for the same destination, at once: no search of the port
//     list (a cursor walk over 4536 busy ports per finished probe was 70% of the CPU at -c 20000);
//   - a tuple that timed out is not handed on: the engine keeps it out of use for its quarantine,
//     and only the periodic wake() (one timer for the whole queue) looks for ports that became
//     clean by expiry, or were claimed since.
//
// What the queue does not know: ports, tuples, deadlines. The engine's `launch` decides whether a
// waiter can start (on the port given, or on any clean port for port -1) and starts it.
// Each operation is O(1) amortized: FIFOs with a moving head, cancelled entries skipped when they
// reach the head, never searched for.

/**
 * What the queue keeps on a waiting probe: `queued` (the queue's: true while it is in line) and
 * `cancelled` (set by cancel(), or by its owner once it has left the line).
 */
export interface PortWaiter {
  queued: boolean;
  cancelled: boolean;
}

/**
 * Starts `waiter`: on `port` (just freed cleanly for its destination), or on any clean port when
 * `port` is -1. True when the waiter left the queue (started, or failed and was told so); false
 * when no clean port is free yet (it stays first in line).
 */
export type LaunchWaiter<W> = (waiter: W, port: number) => boolean;

/** The one timer the queue uses; a fake in unit tests. */
export interface WakeTimers {
  set(callback: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realTimers: WakeTimers = {
  set: (callback, ms) => setTimeout(callback, ms),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * How often waiting probes look again when no probe of their destination finishes: short beside
 * the 64 s a possibly half-open tuple is kept out of use, long enough to cost nothing (one pass
 * over the destinations that wait, not over the waiters).
 */
export const WAKE_MS = 250;

/** A FIFO over an array with a moving head: push and shift are O(1) amortized, and so is putBack of the entry just shifted. */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  peek(): T | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined as T;
    // Drop the dead prefix once it is most of the array: each entry is copied O(1) times.
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Puts an entry back at the head (the one just shifted, whose launch found no port). */
  putBack(item: T): void {
    if (this.head > 0) this.items[--this.head] = item;
    else this.items.unshift(item);
  }

  drain(): T[] {
    const rest = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return rest;
  }
}

export class PortWaitQueue<W extends PortWaiter> {
  /** By destination (the engine's tuple key with local port 0), in order of first arrival. */
  private readonly queues = new Map<number, Fifo<W>>();
  /** Waiters neither launched nor cancelled. */
  private live = 0;
  private wakeHandle: unknown;
  private closed = false;

  constructor(
    private readonly launch: LaunchWaiter<W>,
    private readonly wakeMs = WAKE_MS,
    private readonly timers: WakeTimers = realTimers,
  ) {}

  /** Probes waiting (cancelled ones no longer count). */
  get size(): number {
    return this.live;
  }

  /** Whether any probe waits for `destination`. */
  has(destination: number): boolean {
    return this.queues.has(destination);
  }

  /** Queues `waiter` behind every probe already waiting for `destination`. */
  add(destination: number, waiter: W): void {
    if (this.closed) throw new Error('port-wait queue used after close()');
    let queue = this.queues.get(destination);
    if (queue === undefined) this.queues.set(destination, (queue = new Fifo<W>()));
    queue.push(waiter);
    waiter.queued = true;
    this.live++;
    this.armWake();
  }

  /**
   * The caller gave up on `waiter`: if still in line it will never be launched. O(1): it stays in
   * its FIFO, flagged, until it reaches the head. (One that already left the line is its owner's
   * to stop; this only flags it.)
   */
  cancel(waiter: W): void {
    if (waiter.cancelled) return;
    waiter.cancelled = true;
    if (!waiter.queued) return;
    waiter.queued = false;
    this.live--;
    if (this.live === 0) this.forgetAll();
  }

  /**
   * `port` of `destination` was freed on a clean tuple: the oldest probe waiting for that
   * destination starts on it now. False when none waits (or none could start).
   */
  portFreed(destination: number, port: number): boolean {
    return this.launchNext(destination, port);
  }

  /**
   * Tries every destination's waiters on any clean port, oldest first, until one finds none:
   * ports become clean without a probe finishing (a quarantined tuple's record expires) or appear
   * (the engine claimed more). Runs on the queue's own timer; public for the engine and tests.
   */
  wake(): void {
    for (const destination of [...this.queues.keys()]) {
      while (this.launchNext(destination, -1));
    }
  }

  /** Ends every wait: `settle` is told of each waiter not cancelled, in queue order. Idempotent. */
  close(settle: (waiter: W) => void): void {
    if (this.closed) return;
    this.closed = true;
    const waiting: W[] = [];
    for (const queue of this.queues.values()) {
      for (const waiter of queue.drain()) {
        if (!waiter.queued) continue;
        waiter.queued = false;
        waiting.push(waiter);
      }
    }
    this.forgetAll();
    for (const waiter of waiting) settle(waiter);
  }

  private launchNext(destination: number, port: number): boolean {
    const queue = this.queues.get(destination);
    if (queue === undefined) return false;
    let waiter = queue.shift();
    while (waiter !== undefined && !waiter.queued) waiter = queue.shift();
    if (waiter === undefined) {
      this.queues.delete(destination);
      return false;
    }
    waiter.queued = false;
    this.live--;
    if (queue.length === 0) this.queues.delete(destination);
    // Counted out before launch: it may settle synchronously, and its callback may queue more.
    if (this.launch(waiter, port)) {
      if (this.live === 0) this.forgetAll();
      return true;
    }
    // No clean port: back to the head of its line (the queue may have been dropped meanwhile).
    if (waiter.cancelled || this.closed) return false;
    let current = this.queues.get(destination);
    if (current === undefined) this.queues.set(destination, (current = new Fifo<W>()));
    current.putBack(waiter);
    waiter.queued = true;
    this.live++;
    this.armWake();
    return false;
  }

  private armWake(): void {
    if (this.wakeHandle !== undefined || this.live === 0 || this.closed) return;
    this.wakeHandle = this.timers.set(() => {
      this.wakeHandle = undefined;
      this.wake();
      this.armWake();
    }, this.wakeMs);
  }

  /** No live waiter: drop the cancelled ones and the timer. */
  private forgetAll(): void {
    this.queues.clear();
    this.live = 0;
    if (this.wakeHandle !== undefined) this.timers.clear(this.wakeHandle);
    this.wakeHandle = undefined;
  }
}
