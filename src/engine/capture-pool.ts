// The raw engine's captures, one per interface, opened on first use and closed when no probe
// has used them for a while: a steady trickle of checks does not reopen libpcap every time, yet
// an idle engine holds no capture (and so keeps neither a packet socket nor the process alive).
//
// The idle timer is lazy: a release notes when the capture went idle, and the one timer, when it
// fires, closes the capture or re-arms for what is left of the idle period. At a trickle every
// check takes the capture and gives it back (1000 times a second for a monitor); arming and
// cancelling a Node timer on each of them cost more than the rest of the pool's work.
import { timerDelay } from '../core/timer-delay.js';
import type { FrameHandler, LiveCapture, LiveCaptureOptions } from '../capture/pcap.js';

/** The ring of an engine that does not say how many checks it keeps in flight. */
export const DEFAULT_RING_BYTES = 64 * 1024 * 1024;
/**
 * One ring frame at the capture's 512-byte snap length, with libpcap's TPACKET_V2 header and
 * link header rounded up: the ring holds bufferSize / RING_FRAME_BYTES replies.
 */
const RING_FRAME_BYTES = 640;
/** The smallest ring ringBytesFor() gives: room for other engines' replies, too (they share the port range's filter). */
const MIN_RING_FRAMES = 8192;

/**
 * A ring for `inFlight` checks at once. Replies waiting to be read never outnumber the probes
 * in flight by much (one SYN-ACK, RST or ICMP error per SYN sent, and SYNs go out only while the
 * event loop runs), so four frames a check leave room for retransmissions and for another
 * engine's replies. 2000 in flight: 5 MiB instead of 64, which the kernel zeroes at every start.
 */
export function ringBytesFor(inFlight: number): number {
  const frames = Math.max(MIN_RING_FRAMES, Math.ceil(inFlight) * 4);
  return Math.min(DEFAULT_RING_BYTES, frames * RING_FRAME_BYTES);
}

export type CaptureOpener = (options: LiveCaptureOptions, onFrame: FrameHandler) => LiveCapture;

interface Entry {
  id: number;
  iface: string;
  capture: LiveCapture | undefined;
  users: number;
  idleTimer: NodeJS.Timeout | undefined;
  /** performance.now() of the release that left it without users. */
  idleSince: number;
}

export class CapturePool {
  private readonly byName = new Map<string, Entry>();
  private readonly byId: Entry[] = [];
  private closed = false;
  /** Idle timers armed so far (a test reads it: once per idle period, not once per check). */
  idleTimersArmed = 0;

  constructor(
    private readonly open: CaptureOpener,
    private readonly filter: string,
    private readonly onFrame: FrameHandler,
    private readonly idleMs: number,
    // libpcap cuts its ring into snaplen-sized frames: at the capture's 512-byte snap length
    // (about 600 bytes a frame) 64 MiB hold some 110k replies before the kernel drops any.
    private readonly bufferSize = DEFAULT_RING_BYTES,
    /** The clock idle periods are measured on (tests give their own). */
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * The capture on `iface`, opened now if needed (before the first SYN goes out, so its reply
   * cannot slip past). Returns an id for release(). Throws when libpcap cannot open it.
   */
  acquire(iface: string): number {
    let entry = this.byName.get(iface);
    if (!entry) {
      entry = { id: this.byId.length, iface, capture: undefined, users: 0, idleTimer: undefined, idleSince: 0 };
      this.byName.set(iface, entry);
      this.byId.push(entry);
    }
    // A running idle timer is left alone: when it fires it finds users and stops.
    entry.capture ??= this.open({ iface, filter: this.filter, bufferSize: this.bufferSize }, this.onFrame);
    entry.users++;
    return entry.id;
  }

  release(id: number): void {
    const entry = this.byId[id];
    if (!entry || entry.users === 0) return;
    entry.users--;
    if (entry.users > 0 || this.closed) return;
    entry.idleSince = this.now();
    if (!entry.idleTimer) this.armIdle(entry, this.idleMs);
  }

  private armIdle(entry: Entry, delayMs: number): void {
    this.idleTimersArmed++;
    entry.idleTimer = setTimeout(() => {
      entry.idleTimer = undefined;
      if (entry.users > 0 || this.closed) return;
      const left = entry.idleSince + this.idleMs - this.now();
      // A timer may fire up to a millisecond before performance.now() says it is due (libuv
      // starts it from its cached loop time): what is left under 1 ms is due now, not a re-arm.
      if (left >= 1) {
        this.armIdle(entry, left);
        return;
      }
      entry.capture?.close();
      entry.capture = undefined;
    }, timerDelay(delayMs));
    entry.idleTimer.unref();
  }

  /** Packets the kernel dropped because we did not read fast enough, over open captures. */
  drops(): number {
    let dropped = 0;
    for (const entry of this.byId) if (entry.capture) dropped += entry.capture.stats().dropped;
    return dropped;
  }

  closeAll(): void {
    this.closed = true;
    for (const entry of this.byId) {
      if (entry.idleTimer) clearTimeout(entry.idleTimer);
      entry.idleTimer = undefined;
      entry.capture?.close();
      entry.capture = undefined;
      entry.users = 0;
    }
  }
}
