// A hash map from tuple keys (engine/tuple-key.ts: non-negative integers below 2^52) to small
// non-negative integers, in two typed arrays. The engine inserts and deletes a few entries per
// check; a Map keyed by such doubles boxes each key on the heap, so at 100k checks a second it
// churns the garbage collector. Open addressing with linear probing and tombstones, rebuilt when
// used + deleted slots pass half the table.
const EMPTY = -1;
const DELETED = -2;

export class NumberIndex {
  private keys: Float64Array;
  private values: Int32Array;
  private mask: number;
  private used = 0;
  private deleted = 0;

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
      if (v !== DELETED && keys[i] === key) return v;
    }
  }

  has(key: number): boolean {
    return this.get(key) >= 0;
  }

  /** Stores `value` (>= 0) under `key`, replacing what was there. */
  set(key: number, value: number): void {
    if ((this.used + this.deleted + 1) * 2 > this.values.length) this.rebuild();
    const { keys, values, mask } = this;
    let tombstone = -1;
    for (let i = (key >>> 0) & mask; ; i = (i + 1) & mask) {
      const v = values[i];
      if (v === EMPTY) {
        const at = tombstone >= 0 ? tombstone : i;
        if (tombstone >= 0) this.deleted--;
        keys[at] = key;
        values[at] = value;
        this.used++;
        return;
      }
      if (v === DELETED) {
        if (tombstone < 0) tombstone = i;
      } else if (keys[i] === key) {
        values[i] = value;
        return;
      }
    }
  }

  /** Removes `key`; returns whether it was there. */
  delete(key: number): boolean {
    const { keys, values, mask } = this;
    for (let i = (key >>> 0) & mask; ; i = (i + 1) & mask) {
      const v = values[i];
      if (v === EMPTY) return false;
      if (v !== DELETED && keys[i] === key) {
        values[i] = DELETED;
        this.used--;
        this.deleted++;
        return true;
      }
    }
  }

  clear(): void {
    this.values.fill(EMPTY);
    this.used = 0;
    this.deleted = 0;
  }

  /** Calls `fn` for every entry (in no particular order). */
  forEach(fn: (value: number, key: number) => void): void {
    for (let i = 0; i < this.values.length; i++) if (this.values[i] >= 0) fn(this.values[i], this.keys[i]);
  }

  /** Re-inserts the live entries, into a table twice as big when more than a quarter is in use. */
  private rebuild(): void {
    const oldKeys = this.keys;
    const oldValues = this.values;
    const capacity = (this.used + 1) * 4 > oldValues.length ? oldValues.length * 2 : oldValues.length;
    this.keys = new Float64Array(capacity);
    this.values = new Int32Array(capacity).fill(EMPTY);
    this.mask = capacity - 1;
    this.used = 0;
    this.deleted = 0;
    for (let i = 0; i < oldValues.length; i++) if (oldValues[i] >= 0) this.set(oldKeys[i], oldValues[i]);
  }
}
