// Sending prebuilt IP packets through the addon's raw sockets. Packets are written in place into
// one preallocated ring per family and flushed with a single sendmmsg(2) in the event loop's
// check phase (setImmediate), after every packet the capture had ready was processed: a burst
// of replies and the SYNs of the checks they make room for cost one syscall, not one per packet. When the socket buffer
// fills (a partial batch, EAGAIN or ENOBUFS), the rest stays queued and is retried shortly: the
// retry policy lives here, not in C++.
import { native, systemError } from './native.js';
import type { Family } from './types.js';

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
   * Queues the packet just built in the reserved slot for `dst` (4 or 16 bytes). `tag` comes
   * back with a send error for this packet, so the engine knows which probe failed.
   */
  commit(family: Family, length: number, dst: Uint8Array, tag: number): void;
  /** Sends what is queued now (also happens by itself at the end of the tick). */
  flush(): void;
  close(): void;
  stats(): { packetsSent: number; batches: number; sendErrors: number; deferred: number };
}

export type SendErrorHandler = (error: Error, tag: number) => void;

const RING_BYTES = 1 << 20;
// At most this many packets per sendmmsg, then the event loop turns (the capture is read) before
// the next batch: their replies must fit the capture ring, which libpcap sizes in whole
// snaplen-sized frames (npm `cap` fixes snaplen at 65535, so 64 MiB hold 1024 frames).
const MAX_BATCH = 256;
const RETRY_DELAY_MS = 1;

class FamilyQueue {
  readonly ring = new Uint8Array(RING_BYTES);
  readonly offsets = new Uint32Array(MAX_BATCH);
  readonly lengths = new Uint32Array(MAX_BATCH);
  readonly tags = new Uint32Array(MAX_BATCH);
  readonly dsts: Uint8Array;
  count = 0;
  cursor = 0;

  constructor(
    readonly family: Family,
    readonly fd: number,
  ) {
    this.dsts = new Uint8Array(MAX_BATCH * (family === 4 ? 4 : 16));
  }

  get addrLen(): 4 | 16 {
    return this.family === 4 ? 4 : 16;
  }

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
    }
    this.dsts.copyWithin(0, sent * this.addrLen, this.count * this.addrLen);
    this.count -= sent;
    this.cursor -= start;
  }
}

export class NativeRawTransport implements RawTransport {
  private readonly queues = new Map<Family, FamilyQueue>();
  private flushScheduled = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly counters = { packetsSent: 0, batches: 0, sendErrors: 0, deferred: 0 };

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
        // The kernel did not take the backlog: the oldest queued packets are dropped, as a
        // full NIC queue would. Counted; the engine's retransmissions cover the loss.
        this.counters.deferred += q.count;
        q.shift(q.count);
      }
    }
    return { buf: q.ring, offset: q.cursor };
  }

  commit(family: Family, length: number, dst: Uint8Array, tag: number): void {
    const q = this.queue(family);
    q.offsets[q.count] = q.cursor;
    q.lengths[q.count] = length;
    q.tags[q.count] = tag;
    q.dsts.set(dst, q.count * q.addrLen);
    q.count++;
    q.cursor += length;
    this.scheduleFlush();
  }

  private readonly flushSoon = (): void => this.flush();

  flush(): void {
    this.flushScheduled = false;
    for (const q of this.queues.values()) this.flushQueue(q);
  }

  /** Sends whatever is still queued (the last RSTs), then closes the sockets. */
  close(): void {
    if (this.closed) return;
    for (const q of this.queues.values()) {
      // Bounded: a full socket buffer (EAGAIN) leaves the rest unsent rather than spinning.
      for (let i = 0; i < 64 && q.count > 0; i++) {
        const before = q.count;
        this.flushQueue(q);
        if (q.count === before) break;
      }
    }
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    for (const q of this.queues.values()) native().close(q.fd);
    this.queues.clear();
  }

  stats() {
    return { ...this.counters };
  }

  private queue(family: Family): FamilyQueue {
    let q = this.queues.get(family);
    if (q) return q;
    const fd = native().openRaw(family, this.sndbufBytes);
    if (fd < 0) throw systemError(fd, 'socket', `raw IPv${family} socket`);
    q = new FamilyQueue(family, fd);
    this.queues.set(family, q);
    return q;
  }

  private flushQueue(q: FamilyQueue): void {
    if (this.closed) return;
    if (q.count > 0) {
      const rc = native().sendBatch(q.fd, q.ring, q.offsets, q.lengths, q.dsts, q.addrLen, q.count);
      if (rc > 0) {
        this.counters.packetsSent += rc;
        this.counters.batches++;
        q.shift(rc);
        if (q.count > 0) this.scheduleFlush();
        return;
      }
      const code = rc < 0 ? systemError(rc, 'sendmmsg').code : 'EAGAIN';
      // Congestion, not failure: the socket buffer or the device queue is full. Try again in a
      // moment with the same packets.
      if (code === 'EAGAIN' || code === 'EWOULDBLOCK' || code === 'ENOBUFS' || code === 'EINTR') {
        this.scheduleRetry();
        return;
      }
      // A per-packet failure (EPERM from a firewall, ENETUNREACH, EMSGSIZE...): sendmmsg stops at
      // the first bad message, so report it and skip that one packet.
      this.counters.sendErrors++;
      const tag = q.tags[0];
      q.shift(1);
      this.onError(systemError(rc, 'sendmmsg'), tag);
      if (q.count > 0) this.scheduleFlush();
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.flushSoon);
  }

  private scheduleRetry(): void {
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.flush();
    }, RETRY_DELAY_MS);
  }
}
