// One timer for every in-flight probe's deadline. A min-heap orders the deadlines (absolute,
// performance.now() clock) and a single unref'd setTimeout is armed for the earliest; adding or
// cancelling is O(log n), and ten thousand pending checks cost one timer, not ten thousand.
import { timerDelay } from '../core/timer-delay.js';

/** Clock and timer primitives; tests pass a fake so nothing depends on real time. */
export interface TimerClock {
  now(): number;
  setTimer(callback: () => void, delayMs: number): unknown;
  clearTimer(handle: unknown): void;
}

export const systemClock: TimerClock = {
  now: () => performance.now(),
  // Unref'd: a pending deadline alone never keeps the process alive. Whatever the deadline
  // guards (a socket, a poll handle) does, for as long as it is in flight.
  setTimer: (callback, delayMs) => setTimeout(callback, delayMs).unref(),
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Handle returned by `add`; pass it to `cancel`. */
export interface TimerEntry {
  readonly deadline: number;
}

interface Slot extends TimerEntry {
  readonly order: number;
  readonly onExpire: () => void;
  /** Position in the heap array; -1 once expired or cancelled. */
  index: number;
}

export class TimerHeap {
  readonly #clock: TimerClock;
  readonly #heap: Slot[] = [];
  #nextOrder = 0;
  #timer: unknown = undefined;
  #armedFor = Infinity;

  constructor(clock: TimerClock = systemClock) {
    this.#clock = clock;
  }

  get size(): number {
    return this.#heap.length;
  }

  /**
   * Calls `onExpire` once `deadline` has passed, unless cancelled first. Callbacks with equal
   * deadlines run in the order they were added. A callback must not throw; if one does, the
   * error is rethrown on the next tick so the others still run.
   */
  add(deadline: number, onExpire: () => void): TimerEntry {
    const slot: Slot = { deadline, order: this.#nextOrder++, onExpire, index: this.#heap.length };
    this.#heap.push(slot);
    this.#siftUp(slot.index);
    this.#arm();
    return slot;
  }

  /** Forgets an entry; false when it already expired or was cancelled. */
  cancel(entry: TimerEntry): boolean {
    const slot = entry as Slot;
    const i = slot.index;
    if (i < 0 || this.#heap[i] !== slot) return false;
    this.#removeAt(i);
    // The timer may stay armed for a now-earlier moment: it then fires, finds nothing due and
    // re-arms, which costs less than clearing and setting a timer on every cancel.
    if (this.#heap.length === 0) this.#disarm();
    return true;
  }

  /** Drops every entry without calling it and disarms the timer. */
  clear(): void {
    for (const slot of this.#heap) slot.index = -1;
    this.#heap.length = 0;
    this.#disarm();
  }

  #arm(): void {
    const head = this.#heap[0];
    if (head === undefined || head.deadline >= this.#armedFor) return;
    this.#disarm();
    const delayMs = Math.max(1, timerDelay(head.deadline - this.#clock.now()));
    this.#armedFor = head.deadline;
    this.#timer = this.#clock.setTimer(() => this.#fire(), delayMs);
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Infinity;
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    // Node's timers run on the loop's cached millisecond clock and may fire a fraction of a
    // millisecond before performance.now() reaches the deadline; such entries wait for the
    // re-armed timer instead of expiring early.
    const now = this.#clock.now();
    const due: Slot[] = [];
    while (this.#heap.length > 0 && this.#heap[0].deadline <= now) {
      due.push(this.#heap[0]);
      this.#removeAt(0);
    }
    // Re-arm before running callbacks: they may add or cancel entries.
    this.#arm();
    for (const slot of due) {
      try {
        slot.onExpire();
      } catch (error) {
        process.nextTick(() => {
          throw error;
        });
      }
    }
  }

  #removeAt(i: number): void {
    const heap = this.#heap;
    const removed = heap[i];
    const last = heap.pop() as Slot;
    removed.index = -1;
    if (last === removed) return;
    heap[i] = last;
    last.index = i;
    this.#siftDown(i);
    this.#siftUp(last.index);
  }

  #before(a: Slot, b: Slot): boolean {
    return a.deadline < b.deadline || (a.deadline === b.deadline && a.order < b.order);
  }

  #swap(i: number, j: number): void {
    const heap = this.#heap;
    const a = heap[i];
    heap[i] = heap[j];
    heap[j] = a;
    heap[i].index = i;
    heap[j].index = j;
  }

  #siftUp(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#before(this.#heap[i], this.#heap[parent])) return;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #siftDown(i: number): void {
    const heap = this.#heap;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let first = i;
      if (left < heap.length && this.#before(heap[left], heap[first])) first = left;
      if (right < heap.length && this.#before(heap[right], heap[first])) first = right;
      if (first === i) return;
      this.#swap(i, first);
      i = first;
    }
  }
}
