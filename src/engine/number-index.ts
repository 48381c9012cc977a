// A hash map from tuple keys (engine/tuple-key.ts: non-negative integers below 2^52) to small
// non-negative integers, in two typed arrays. The engine inserts and deletes a few entries per
// check; a Map keyed by such doubles boxes each key on the heap, so at 100k checks a second it
// churns the garbage collector. Open addressing with linear probing; deletion shifts the rest of
// the run back (Knuth 6.4, Algorithm R) instead of leaving tombstones, so a sweep that inserts and
// deletes a new key per check never degrades the probe runs or forces rebuilds.
const EMPTY = -1;

export class NumberIndex {
  private keys: Float64Array;
  private values: Int32Array;
  private mask: number;
  private used = 0;

  constructor(initialCapacity = 1024) {
    let capacity = 16;
    while (capacity < initialCapacity * 2) capacity *= 2;
    this.keys = new Float64Array(capacity);
    this.values = new Int32Array(capacity).fill(EMPTY);
    this.mask = capacity - 1;
  }

  get size(): number {
    return this.used;
  }

  /** The value stored under `key`, or -1. */
  get(key: number): number {
    const { keys, values, mask } = this;
    // The low 32 bits of a tuple key are already a mixed hash.
    for (let i = (key >>> 0) & mask; ; i = (i + 1) & mask) {
      const v = values[i];
      if (v === EMPTY) return -1;
      if (keys[i] === key) return v;
    }
  }

  has(key: number): boolean {
    return this.get(key) >= 0;
  }

  /** Stores `value` (>= 0) under `key`, replacing what was there. */
  set(key: number, value: number): void {
    // At most half full: linear probing's runs stay short.
    if ((this.used + 1) * 2 > this.values.length) this.grow();
    const { keys, values, mask } = this;
    for (let i = (key >>> 0) & mask; ; i = (i + 1) & mask) {
      if (values[i] === EMPTY) {
        keys[i] = key;
        values[i] = value;
        this.used++;
        return;
      }
      if (keys[i] === key) {
        values[i] = value;
        return;
      }
    }
  }

  /** Removes `key`; returns whether it was there. */
  delete(key: number): boolean {
    const { keys, values, mask } = this;
    let hole = (key >>> 0) & mask;
    for (; ; hole = (hole + 1) & mask) {
      if (values[hole] === EMPTY) return false;
      if (keys[hole] === key) break;
    }
    // Pull back every later entry of the run that may not sit beyond the hole (its home slot is
    // not cyclically inside (hole, j]), so no lookup ever stops early at the new gap.
    for (let j = (hole + 1) & mask; values[j] !== EMPTY; j = (j + 1) & mask) {
      const home = (keys[j] >>> 0) & mask;
      const stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (stays) continue;
      keys[hole] = keys[j];
      values[hole] = values[j];
      hole = j;
    }
    values[hole] = EMPTY;
    this.used--;
    return true;
  }

  clear(): void {
    this.values.fill(EMPTY);
    this.used = 0;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldValues = this.values;
    const capacity = oldValues.length * 2;
    this.keys = new Float64Array(capacity);
    this.values = new Int32Array(capacity).fill(EMPTY);
    this.mask = capacity - 1;
    this.used = 0;
    for (let i = 0; i < oldValues.length; i++) if (oldValues[i] >= 0) this.set(oldKeys[i], oldValues[i]);
  }
}
