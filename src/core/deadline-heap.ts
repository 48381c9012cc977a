// One timer for every in-flight probe. A binary min-heap of (time, slot, generation) kept in
// typed arrays, so a million pending deadlines cost 16 bytes each and no closure or Timeout
// object. Entries are never removed early: a probe that finishes bumps its slot's generation
// and the stale entry is dropped when it reaches the top (lazy deletion).
import { timerDelay } from './timer-delay.js';

export class DeadlineHeap {
  private times: Float64Array;
  private slots: Uint32Array;
  private gens: Uint32Array;
  private count = 0;

  constructor(initialCapacity = 1024) {
    this.times = new Float64Array(initialCapacity);
    this.slots = new Uint32Array(initialCapacity);
    this.gens = new Uint32Array(initialCapacity);
  }

  get size(): number {
    return this.count;
  }

  /** Earliest time in the heap, or Infinity when empty. */
  peekTime(): number {
    return this.count > 0 ? this.times[0] : Infinity;
  }

  /** Slot and generation of the earliest entry (undefined contents when empty). */
  peekSlot(): number {
    return this.slots[0];
  }

  peekGen(): number {
    return this.gens[0];
  }

  /** Drops the earliest entry without calling anything. */
  pop(): void {
    if (this.count > 0) this.removeTop();
  }

  push(time: number, slot: number, gen: number): void {
    if (this.count === this.times.length) this.grow();
    let i = this.count++;
    // Sift up.
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.times[parent] <= time) break;
      this.move(parent, i);
      i = parent;
    }
    this.times[i] = time;
    this.slots[i] = slot;
    this.gens[i] = gen;
  }

  /**
   * Pops every entry due at or before `now`, calling `onDue(slot, gen)` for each in time order.
   * `onDue` may push new entries (a retransmission reschedules its probe).
   */
  popDue(now: number, onDue: (slot: number, gen: number) => void): void {
    while (this.count > 0 && this.times[0] <= now) {
      const slot = this.slots[0];
      const gen = this.gens[0];
      this.removeTop();
      onDue(slot, gen);
    }
  }

  clear(): void {
    this.count = 0;
  }

  private removeTop(): void {
    const last = --this.count;
    if (last === 0) return;
    const time = this.times[last];
    const slot = this.slots[last];
    const gen = this.gens[last];
    let i = 0;
    // Sift down.
    for (;;) {
      const left = 2 * i + 1;
      if (left >= last) break;
      const right = left + 1;
      const child = right < last && this.times[right] < this.times[left] ? right : left;
      if (this.times[child] >= time) break;
      this.move(child, i);
      i = child;
    }
    this.times[i] = time;
    this.slots[i] = slot;
    this.gens[i] = gen;
  }

  private move(from: number, to: number): void {
    this.times[to] = this.times[from];
    this.slots[to] = this.slots[from];
    this.gens[to] = this.gens[from];
  }

  private grow(): void {
    const capacity = this.times.length * 2;
    const times = new Float64Array(capacity);
    const slots = new Uint32Array(capacity);
    const gens = new Uint32Array(capacity);
    times.set(this.times);
    slots.set(this.slots);
    gens.set(this.gens);
    this.times = times;
    this.slots = slots;
    this.gens = gens;
  }
}

/**
 * Drives a DeadlineHeap with a single Node timer re-armed to the earliest entry. The owner says
 * whether work is in flight (`keepAlive`): only then does the timer hold the process open, so
 * stale entries of finished probes never delay a process's exit.
 */
export class DeadlineTimer {
  readonly heap = new DeadlineHeap();
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Infinity;
  private keepAlive = false;

  /**
   * `isLive(slot, gen)`, when given, says whether an entry still matters: stale entries at the
   * top are dropped before the timer is armed instead of waking it. Without this, a steady 1000
   * checks a second woke the event loop once per check for a retransmission time of a probe that
   * had finished long before (lazy deletion), which was most of an idle engine's CPU.
   */
  /**
   * `slackMs` (default 0): wake-ups fall on multiples of it (on the `now()` clock), so entries
   * due within the same slackMs run in one wake-up, at most slackMs late. Each wake-up costs
   * far more than the work of one entry (50-60 µs of CPU on a VM for an empty Node timer tick):
   * a monitor of 1000 targets a second, spread at random, otherwise wakes ~1000 times a second.
   */
  constructor(
    private readonly now: () => number,
    private readonly onDue: (slot: number, gen: number) => void,
    private readonly isLive?: (slot: number, gen: number) => boolean,
    private readonly slackMs = 0,
  ) {}

  schedule(time: number, slot: number, gen: number): void {
    this.heap.push(time, slot, gen);
    if (time < this.armedFor) this.arm();
  }

  /** Runs what is due now and re-arms. Safe to call at any time (e.g. after a capture batch). */
  runDue(): void {
    this.heap.popDue(this.now(), this.onDue);
    this.arm();
  }

  setKeepAlive(keepAlive: boolean): void {
    if (keepAlive === this.keepAlive) return;
    this.keepAlive = keepAlive;
    if (this.timer) {
      if (keepAlive) this.timer.ref();
      else this.timer.unref();
    }
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
    this.heap.clear();
  }

  private arm(): void {
    const heap = this.heap;
    if (this.isLive) while (heap.size > 0 && !this.isLive(heap.peekSlot(), heap.peekGen())) heap.pop();
    const earliest = heap.peekTime();
    // With slack, the wake-up moves to the end of its slackMs window (armedFor is that end, so
    // a later schedule() inside the same window finds the timer already armed for it).
    const next = this.slackMs > 0 && earliest !== Infinity ? Math.ceil(earliest / this.slackMs) * this.slackMs : earliest;
    if (next === this.armedFor && this.timer) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = next;
    if (next === Infinity) return;
    // Rounded up and clamped (core/timer-delay.ts): a deadline past 24.8 days wakes early and re-arms.
    const delay = timerDelay(next - this.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.armedFor = Infinity;
      this.runDue();
    }, delay);
    if (!this.keepAlive) this.timer.unref();
  }
}
