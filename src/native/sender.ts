// Sending prebuilt IP packets through the addon's raw sockets. Packets are written in place into
// one preallocated ring per family; at the end of the tick (setImmediate, after every packet the
// capture had ready was processed) the ring is handed to the addon's sender thread in one call,
// which copies it and sends it with sendmmsg(2) on the other core. On a veth pair or loopback
// that syscall runs the target's whole network stack, so keeping it off the event loop's thread
// is what lets the JavaScript keep up. When the sender's queue is full the rest stays here and is
// offered again shortly: the retry policy lives here, not in C++.
import { native, rawSocketError, systemError } from './addon.js';
import type { Family } from '../core/types.js';

/** Where a packet is built: `buf[offset...]`, at most `maxLength` bytes. */
export interface PacketSlot {
  buf: Uint8Array;
  offset: number;
}

/** The engine's view of the network; a fake one records frames in tests. */
export interface RawTransport {
  /** Room for one packet of at most `maxLength` bytes; valid until `commit` or the next `reserve`. */
  reserve(family: Family, maxLength: number): PacketSlot;
  /**
   * Queues the packet just built in the reserved slot (to the destination in its IP header). `tag` and
   * `generation` come back with a send error for this packet, so the engine knows which probe
   * failed (errors arrive asynchronously: the generation tells a reused slot from its old probe).
   */
  commit(family: Family, length: number, tag: number, generation: number): void;
  /** Hands what is queued to the sender now (also happens by itself at the end of the tick). */
  flush(): void;
  /**
   * Set by the engine while many checks are in flight: every hand-over then goes to the sender
   * thread, none is sent on the event loop (native/sender.cc enqueue). Optional for fakes.
   */
  busy?: boolean;
  close(): void;
  stats(): { packetsSent: number; batches: number; sendErrors: number; deferred: number } & Record<string, number>;
}

export type SendErrorHandler = (error: Error, tag: number, generation: number) => void;

/** A raw socket's send queue, drained by a thread of the addon (native/sender.cc). */
export interface NativeSender {
  /** Registers the caller's queue arrays once; enqueue() reads packets 0..count-1 from them. */
  attach(ring: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, tags: Uint32Array, generations: Uint32Array, family: 4 | 6): void;
  /**
   * Copies the first `accepted` of `count` attached packets (whole IP packets) into the queue
   * and returns `accepted`; each goes to the destination address in its own IP header.
   */
  enqueue(count: number, busy?: boolean): number;
  /** Sends what is queued for at most `drainMs`, stops the thread; returns packets left unsent. */
  close(drainMs: number): number;
  /**
   * sentInline: packets sent on the calling thread (a hand-over of a few packets found the sender
   * thread asleep); wakeups: hand-overs that woke the sleeping thread instead (a futex call each).
   */
  stats(): { packetsSent: number; batches: number; sendErrors: number; blockedWaits: number; queued: number; sentInline: number; wakeups: number };
}

/** `onFailures` gets [errno, tag, generation] triples (errno positive) for refused packets. */
export type NativeSenderClass = new (fd: number, onFailures: (failures: Int32Array) => void) => NativeSender;

const RING_BYTES = 1 << 20;
// Packets per hand-over to the sender thread; a tick that builds more hands over several batches.
const MAX_BATCH = 4096;
const RETRY_DELAY_MS = 1;
// Packets after which commit() hands the ring over at once instead of at the end of the tick.
// A burst of replies is processed in one tick; handing its SYNs and RSTs over only at the end
// would make the two threads take turns on the same batch (the sender idle while JavaScript
// works, then the other way round). Handing over every few dozen lets them overlap.
const EAGER_HANDOVER = 16;
// close() lets the sender thread send the last RSTs for at most this long.
const CLOSE_DRAIN_MS = 250;

class FamilyQueue {
  readonly ring = new Uint8Array(RING_BYTES);
  readonly offsets = new Uint32Array(MAX_BATCH);
  readonly lengths = new Uint32Array(MAX_BATCH);
  readonly tags = new Uint32Array(MAX_BATCH);
  readonly generations = new Uint32Array(MAX_BATCH);
  count = 0;
  cursor = 0;

  constructor(
    readonly family: Family,
    readonly fd: number,
    readonly sender: NativeSender,
  ) {}

  hasRoom(maxLength: number): boolean {
    return this.count < MAX_BATCH && this.cursor + maxLength <= RING_BYTES;
  }

  /** Drops the first `sent` packets and moves the rest to the front of the ring. */
  shift(sent: number): void {
    if (sent >= this.count) {
      this.count = 0;
      this.cursor = 0;
      return;
    }
    const start = this.offsets[sent];
    this.ring.copyWithin(0, start, this.cursor);
    for (let i = sent; i < this.count; i++) {
      this.offsets[i - sent] = this.offsets[i] - start;
      this.lengths[i - sent] = this.lengths[i];
      this.tags[i - sent] = this.tags[i];
      this.generations[i - sent] = this.generations[i];
    }
    this.count -= sent;
    this.cursor -= start;
  }
}

type SenderCounts = Omit<ReturnType<NativeSender['stats']>, 'queued'>;

/** Adds one sender's running counts to `into` (the queue length is a level, not a count). */
function addSenderCounts(into: SenderCounts, s: SenderCounts): void {
  into.packetsSent += s.packetsSent;
  into.batches += s.batches;
  into.sendErrors += s.sendErrors;
  into.blockedWaits += s.blockedWaits;
  into.sentInline += s.sentInline;
  into.wakeups += s.wakeups;
}

export class NativeRawTransport implements RawTransport {
  busy = false;
  private readonly queues = new Map<Family, FamilyQueue>();
  private flushScheduled = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** `deferred`: packets dropped because neither the ring nor the sender had room. */
  private readonly counters = { deferred: 0, unsentAtClose: 0 };
  /** Sender counters of queues already closed, so stats() survives close(). */
  private readonly closedTotals: SenderCounts = { packetsSent: 0, batches: 0, sendErrors: 0, blockedWaits: 0, sentInline: 0, wakeups: 0 };

  constructor(
    private readonly onError: SendErrorHandler,
    private readonly sndbufBytes = 4 * 1024 * 1024,
  ) {}

  /** Opens the raw socket of a family now, so permission problems surface at start. */
  open(family: Family): void {
    this.queue(family);
  }

  reserve(family: Family, maxLength: number): PacketSlot {
    const q = this.queue(family);
    if (!q.hasRoom(maxLength)) {
      this.flushQueue(q);
      if (!q.hasRoom(maxLength)) {
        // Neither the ring nor the sender's queue has room: the oldest queued packets are
        // dropped, as a full NIC queue would. Counted; the engine's retransmissions cover it.
        this.counters.deferred += q.count;
        q.shift(q.count);
      }
    }
    return { buf: q.ring, offset: q.cursor };
  }

  commit(family: Family, length: number, tag: number, generation: number): void {
    const q = this.queue(family);
    const i = q.count;
    q.offsets[i] = q.cursor;
    q.lengths[i] = length;
    q.tags[i] = tag;
    q.generations[i] = generation;
    q.count = i + 1;
    q.cursor += length;
    // (Not while the sender is full: the retry timer offers the backlog again.)
    if (q.count >= EAGER_HANDOVER && this.retryTimer === undefined) this.flushQueue(q);
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushSoon);
    }
  }

  private readonly flushSoon = (): void => this.flush();

  flush(): void {
    this.flushScheduled = false;
    for (const q of this.queues.values()) this.flushQueue(q);
  }

  /** Hands over what is still queued (the last RSTs), lets the sender send it, closes the sockets. */
  close(): void {
    if (this.closed) return;
    for (const q of this.queues.values()) this.flushQueue(q);
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    for (const q of this.queues.values()) {
      this.counters.unsentAtClose += q.count + q.sender.close(CLOSE_DRAIN_MS);
      addSenderCounts(this.closedTotals, q.sender.stats());
      native().close(q.fd);
    }
    this.queues.clear();
  }

  stats() {
    const totals = { ...this.closedTotals };
    let queued = 0;
    for (const q of this.queues.values()) {
      const s = q.sender.stats();
      addSenderCounts(totals, s);
      queued += s.queued + q.count;
    }
    return { ...totals, queued, ...this.counters };
  }

  private queue(family: Family): FamilyQueue {
    let q = this.queues.get(family);
    if (q) return q;
    if (this.closed) throw new Error('the raw transport is closed');
    const addon = native();
    const fd = addon.openRaw(family, this.sndbufBytes);
    if (fd < 0) throw rawSocketError(fd, family);
    let sender: NativeSender | undefined;
    try {
      sender = new addon.Sender(fd, this.onFailures);
      q = new FamilyQueue(family, fd, sender);
      sender.attach(q.ring, q.offsets, q.lengths, q.tags, q.generations, family);
    } catch (error) {
      sender?.close(0);
      addon.close(fd);
      throw error;
    }
    this.queues.set(family, q);
    return q;
  }

  /** The kernel refused these packets (EPERM from a firewall, ENETUNREACH...): tell their probes. */
  private readonly onFailures = (failures: Int32Array): void => {
    for (let i = 0; i + 2 < failures.length; i += 3) {
      this.onError(systemError(-failures[i], 'sendmmsg'), failures[i + 1] >>> 0, failures[i + 2] >>> 0);
    }
  };

  private flushQueue(q: FamilyQueue): void {
    if (this.closed || q.count === 0) return;
    const accepted = q.sender.enqueue(q.count, this.busy);
    q.shift(accepted);
    // The sender's queue is full (the kernel is not keeping up): offer the rest again shortly.
    if (q.count > 0) this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.flush();
    }, RETRY_DELAY_MS);
  }
}
