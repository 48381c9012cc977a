// The TypeScript face of native/connect.cc: the unprivileged half-open trick's connect engine, a
// thread of the addon with its own epoll that starts kernel TCP connects, reads SO_ERROR and
// TCP_INFO when they settle and closes each socket with a RST (SO_LINGER {1, 0}), then hands the
// results over in batches of records. The strategy built on it is src/strategies/socket.ts; what
// each errno means is in src/core/errno.ts.

/** What a record reports (the `kind` field). */
export const RecordKind = {
  /** The connect ended: errno 0 = connected (and closed with a RST), else its SO_ERROR. */
  settled: 0,
  /** Closed on request (cancel()) while still connecting; errno 0. */
  cancelled: 1,
  /** socket/setsockopt/bind/connect failed at once: no SYN left this host. */
  notStarted: 2,
  /** A local call failed after the SYN went out (epoll_ctl, getsockopt). */
  failed: 3,
} as const;
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind];

/**
 * Records are RECORD_INTS consecutive int32s, at these offsets. `retransmits` is
 * tcpi_total_retrans (SYNs the kernel retransmitted); `rttUs` the kernel's RTT (tcpi_rtt) for a
 * connected check, else the time from connect() to the answer; `closeLatencyUs` how long the
 * socket sat established before its close (the SYN-ACK's delayed ACK goes out at 200 ms), -1
 * when not measured.
 */
export const RecordField = { slot: 0, generation: 1, kind: 2, errno: 3, retransmits: 4, rttUs: 5, closeLatencyUs: 6 } as const;
export const RECORD_INTS = 7;

export interface ConnectEngineStats {
  /** Connects started. */
  connects: number;
  /** Settled by the TCP_INFO read right after connect() (loopback, veth: the answer came inside the call). */
  settledAtConnect: number;
  settledByEpoll: number;
  cancelled: number;
  /** Request batches taken, epoll sleeps, JavaScript calls made with records. */
  rounds: number;
  sleeps: number;
  deliveries: number;
  /** Sockets open now. */
  open: number;
}

export interface NativeConnectEngine {
  /**
   * Queues a check: a non-blocking TCP socket with TCP_QUICKACK off and SO_LINGER {1, 0}, bound to
   * `src` when it has the destination's length, connecting to dst:port. synRetries >= 0 sets
   * TCP_SYNCNT (-1 keeps net.ipv4.tcp_syn_retries); userTimeoutMs > 0 sets TCP_USER_TIMEOUT.
   * Exactly one record with this slot and generation follows, unless close() comes first.
   */
  connect(slot: number, generation: number, dst: Uint8Array, port: number, src: Uint8Array, synRetries: number, userTimeoutMs: number): void;
  /** Closes the check's socket if it is still connecting (a `cancelled` record follows); else a no-op. */
  cancel(slot: number, generation: number): void;
  /** Keep the process alive while records are due (checks in flight) / stop doing so. */
  ref(): void;
  unref(): void;
  /** Stops the thread, closes every socket still open; returns how many were. Idempotent. */
  close(): number;
  stats(): ConnectEngineStats;
}

/** `onRecords` gets a batch of records (RECORD_INTS each), on the event loop. */
export type NativeConnectEngineClass = new (onRecords: (records: Int32Array) => void) => NativeConnectEngine;

export interface ConnectCalls {
  /** native/connect.cc */
  ConnectEngine: NativeConnectEngineClass;
}
