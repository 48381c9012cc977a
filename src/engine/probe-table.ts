// The raw engine's in-flight probes, stored column-wise in typed arrays indexed by slot number,
// so a probe costs a few dozen bytes and no object beyond its completion callback. An index (number-index.ts)
// from the 4-tuple key (tuple-key.ts) to the slot gives O(1) lookup from a reply; the full tuple is
// compared on every hit because keys may collide.
//
// A slot's generation changes when it is freed: deadline-heap entries and send-error tags carry
// (slot, generation), so nothing can act on a probe that already finished.
import { NumberIndex } from './number-index.js';
import type { Family, ProbeOutcome } from '../core/types.js';

export type ProbeCallback = (outcome: ProbeOutcome) => void;

export class ProbeTable {
  capacity: number;
  gen: Uint32Array;
  family: Uint8Array;
  localPort: Uint16Array;
  remotePort: Uint16Array;
  isn: Uint32Array;
  /** 16 bytes per slot; IPv4 uses the first 4. */
  remoteAddr: Uint8Array;
  localAddr: Uint8Array;
  key: Float64Array;
  /** tupleKey of (remote address, remote port, local port 0): the destination, for per-destination counts. */
  destinationKey: Float64Array;
  /** performance.now() of the last SYN sent, and wall-clock µs of the same moment (for capture timestamps). */
  lastSentPerf: Float64Array;
  lastSentWallUs: Float64Array;
  deadline: Float64Array;
  /**
   * performance.now() of the last SYN repeated on the probe's current tuple, 0 when none yet: a
   * server answers a repeated SYN at most once per 500 ms (net.ipv4.tcp_invalid_ratelimit).
   */
  repeatedPerf: Float64Array;
  /** The probe's base RTO (engine/rto.ts); the delay to each retransmission derives from it. */
  rtoMs: Float64Array;
  /** 1 when rtoMs came from a measured round trip to the destination, 0 while it is a guess. */
  rtoMeasured: Uint8Array;
  attempts: Uint8Array;
  retriesLeft: Uint8Array;
  /** Index into the engine's capture list, so the probe releases what it acquired. */
  captureId: Uint16Array;
  callbacks: Array<ProbeCallback | undefined>;
  private readonly index = new NumberIndex();
  private free: Uint32Array;
  private freeCount: number;
  private live = 0;

  constructor(initialCapacity = 1024) {
    this.capacity = initialCapacity;
    this.gen = new Uint32Array(initialCapacity);
    this.family = new Uint8Array(initialCapacity);
    this.localPort = new Uint16Array(initialCapacity);
    this.remotePort = new Uint16Array(initialCapacity);
    this.isn = new Uint32Array(initialCapacity);
    this.remoteAddr = new Uint8Array(initialCapacity * 16);
    this.localAddr = new Uint8Array(initialCapacity * 16);
    this.key = new Float64Array(initialCapacity);
    this.destinationKey = new Float64Array(initialCapacity);
    this.lastSentPerf = new Float64Array(initialCapacity);
    this.lastSentWallUs = new Float64Array(initialCapacity);
    this.deadline = new Float64Array(initialCapacity);
    this.repeatedPerf = new Float64Array(initialCapacity);
    this.rtoMs = new Float64Array(initialCapacity);
    this.rtoMeasured = new Uint8Array(initialCapacity);
    this.attempts = new Uint8Array(initialCapacity);
    this.retriesLeft = new Uint8Array(initialCapacity);
    this.captureId = new Uint16Array(initialCapacity);
    this.callbacks = new Array(initialCapacity).fill(undefined);
    this.free = new Uint32Array(initialCapacity);
    for (let i = 0; i < initialCapacity; i++) this.free[i] = initialCapacity - 1 - i;
    this.freeCount = initialCapacity;
  }

  get size(): number {
    return this.live;
  }

  has(key: number): boolean {
    return this.index.has(key);
  }

  /** Takes a free slot and indexes it under `key`; the caller fills in the columns. */
  allocate(key: number, callback: ProbeCallback): number {
    if (this.freeCount === 0) this.grow();
    const slot = this.free[--this.freeCount];
    this.key[slot] = key;
    this.callbacks[slot] = callback;
    this.index.set(key, slot);
    this.live++;
    return slot;
  }

  /** Moves a live slot to another tuple key (a retransmission from a fresh source port). */
  rekey(slot: number, key: number): void {
    if (this.index.get(this.key[slot]) === slot) this.index.delete(this.key[slot]);
    this.key[slot] = key;
    this.index.set(key, slot);
  }

  /** Releases a slot and returns its callback (once; undefined if already released). */
  release(slot: number): ProbeCallback | undefined {
    const callback = this.callbacks[slot];
    if (callback === undefined) return undefined;
    this.callbacks[slot] = undefined;
    if (this.index.get(this.key[slot]) === slot) this.index.delete(this.key[slot]);
    this.gen[slot] = (this.gen[slot] + 1) >>> 0;
    this.free[this.freeCount++] = slot;
    this.live--;
    return callback;
  }

  isLive(slot: number, gen: number): boolean {
    return this.callbacks[slot] !== undefined && this.gen[slot] === gen;
  }

  /** The live slot for a reply's tuple, or -1. The remote address is `remote[remoteAt..]`. */
  find(key: number, family: Family, remote: Uint8Array, remotePort: number, localPort: number, remoteAt = 0): number {
    const slot = this.index.get(key);
    if (slot < 0) return -1;
    if (this.family[slot] !== family || this.remotePort[slot] !== remotePort || this.localPort[slot] !== localPort) return -1;
    const len = family === 4 ? 4 : 16;
    const base = slot * 16;
    for (let i = 0; i < len; i++) if (this.remoteAddr[base + i] !== remote[remoteAt + i]) return -1;
    return slot;
  }

  /** Every live slot (for close()). */
  liveSlots(): number[] {
    const slots: number[] = [];
    for (let slot = 0; slot < this.capacity; slot++) if (this.callbacks[slot] !== undefined) slots.push(slot);
    return slots;
  }

  private grow(): void {
    const old = this.capacity;
    const capacity = old * 2;
    const widen = <T extends Uint8Array | Uint16Array | Uint32Array | Float64Array>(a: T, per = 1): T => {
      const b = new (a.constructor as new (n: number) => T)(capacity * per);
      b.set(a);
      return b;
    };
    this.gen = widen(this.gen);
    this.family = widen(this.family);
    this.localPort = widen(this.localPort);
    this.remotePort = widen(this.remotePort);
    this.isn = widen(this.isn);
    this.remoteAddr = widen(this.remoteAddr, 16);
    this.localAddr = widen(this.localAddr, 16);
    this.key = widen(this.key);
    this.destinationKey = widen(this.destinationKey);
    this.lastSentPerf = widen(this.lastSentPerf);
    this.lastSentWallUs = widen(this.lastSentWallUs);
    this.deadline = widen(this.deadline);
    this.repeatedPerf = widen(this.repeatedPerf);
    this.rtoMs = widen(this.rtoMs);
    this.rtoMeasured = widen(this.rtoMeasured);
    this.attempts = widen(this.attempts);
    this.retriesLeft = widen(this.retriesLeft);
    this.captureId = widen(this.captureId);
    this.callbacks.length = capacity;
    this.callbacks.fill(undefined, old);
    const free = new Uint32Array(capacity);
    free.set(this.free.subarray(0, this.freeCount));
    let n = this.freeCount;
    for (let i = capacity - 1; i >= old; i--) free[n++] = i;
    this.free = free;
    this.freeCount = n;
    this.capacity = capacity;
  }
}

/**
 * Tuples that were recently in use: finished probes, and tuples a live probe left for a fresh
 * one (its `owner`). A late SYN-ACK on one of them gets at most one more RST and never a second
 * verdict, except that a late answer on a tuple its live owner left still answers the owner. A
 * tuple whose server may still hold a half-open connection (`settled` 0: it timed out, or was
 * left behind) is not reused until that is cleared by our RST or the record expires. A fixed
 * ring: the oldest record is forgotten first.
 */
export class RecentProbes {
  private readonly keys: Float64Array;
  private readonly isn: Uint32Array;
  private readonly expires: Float64Array;
  private readonly rstSent: Uint8Array;
  private readonly settled: Uint8Array;
  private readonly owner: Int32Array;
  private readonly ownerGen: Uint32Array;
  private readonly index: NumberIndex;
  private next = 0;

  constructor(
    private readonly size = 65536,
    private readonly ttlMs = 10_000,
    /**
     * How long a tuple the server may still hold half-open is remembered: a Linux server
     * retransmits its SYN-ACK 5 times (tcp_synack_retries) over 63 s, and a new SYN with another
     * ISN on that tuple meets the old handshake, which answers it with a RST-ACK for the new ISN
     * (an "embryonic reset"): a wrong "closed". So such a tuple is not reused for that long.
     */
    private readonly unsettledTtlMs = 64_000,
  ) {
    this.keys = new Float64Array(size);
    this.isn = new Uint32Array(size);
    this.expires = new Float64Array(size);
    this.rstSent = new Uint8Array(size);
    this.settled = new Uint8Array(size);
    this.owner = new Int32Array(size);
    this.ownerGen = new Uint32Array(size);
    // Room for twice the ring: a full ring keeps the table a quarter full, its probe runs short.
    this.index = new NumberIndex(size * 2);
  }

  /**
   * Remembers tuple `key` whose SYN carried `isn`. `settled`: the server holds nothing on it (it
   * answered with a RST, or with a SYN-ACK we reset). `owner`/`ownerGen`: the live probe that left it.
   */
  add(key: number, isn: number, now: number, settled = true, owner = -1, ownerGen = 0): void {
    const i = this.next;
    this.next = (this.next + 1) % this.size;
    if (this.expires[i] !== 0 && this.index.get(this.keys[i]) === i) this.index.delete(this.keys[i]);
    this.keys[i] = key;
    this.isn[i] = isn;
    this.expires[i] = now + (settled ? this.ttlMs : this.unsettledTtlMs);
    this.rstSent[i] = 0;
    this.settled[i] = settled ? 1 : 0;
    this.owner[i] = owner;
    this.ownerGen[i] = ownerGen;
    this.index.set(key, i);
  }

  has(key: number, now: number): boolean {
    const i = this.index.get(key);
    return i >= 0 && this.expires[i] > now;
  }

  /** True while the server may still hold a half-open connection on tuple `key`. */
  unsettled(key: number, now: number): boolean {
    const i = this.index.get(key);
    return i >= 0 && this.expires[i] > now && this.settled[i] === 0;
  }

  /** The record of tuple `key` whose ISN `ack` acknowledges (ISN + 1), or -1. */
  find(key: number, ack: number, now: number): number {
    const i = this.index.get(key);
    return i < 0 || this.expires[i] <= now || ((this.isn[i] + 1) >>> 0) !== ack ? -1 : i;
  }

  /** The live probe that left record `i`'s tuple, as [slot, generation]; slot -1 for none. */
  ownerSlot(i: number): number {
    return this.owner[i];
  }

  ownerGeneration(i: number): number {
    return this.ownerGen[i];
  }

  /** Record `i`'s server state was cleared (a RST went out for it). */
  settle(i: number): void {
    this.settled[i] = 1;
  }

  /**
   * For a late SYN-ACK whose ack matches a remembered tuple: 'send' once (send one more RST),
   * 'already-sent' after that, 'unknown' when nothing matches.
   */
  claimExtraRst(key: number, ack: number, now: number): 'send' | 'already-sent' | 'unknown' {
    const i = this.find(key, ack, now);
    if (i < 0) return 'unknown';
    if (this.rstSent[i] !== 0) return 'already-sent';
    this.rstSent[i] = 1;
    this.settled[i] = 1;
    return 'send';
  }

  /** The RST claimExtraRst() granted did not leave (rate limit): the tuple is not settled after all. */
  rstNotSent(key: number, ack: number, now: number): void {
    const i = this.find(key, ack, now);
    if (i < 0) return;
    this.rstSent[i] = 0;
    this.settled[i] = 0;
  }

  clear(): void {
    this.index.clear();
    this.expires.fill(0);
  }
}
