// The TypeScript face of native/connect.cc: the unprivileged half-open trick's system calls.
// The strategy built on them is src/strategies/socket.ts; what each errno means is in
// src/core/errno.ts.

/** A libuv poll on one fd that reports, once, that a connect settled. */
export interface WritableWatch {
  /** Stops polling; call before closing the fd. Idempotent. */
  stop(): void;
}

export interface ConnectCalls {
  /**
   * A non-blocking TCP socket with TCP_QUICKACK off and SO_LINGER {1, 0}, bound to `src` when
   * it has the destination's length, connecting to dst:port: fd (connect in flight) or -errno.
   * synRetries >= 0 sets TCP_SYNCNT; -1 keeps the kernel's default.
   */
  connectStart(dst: Uint8Array, port: number, src: Uint8Array, synRetries?: number): number;
  /** The pending SO_ERROR (0 when connected), or -errno of getsockopt. */
  socketError(fd: number): number;
  /** tcpi_total_retrans from TCP_INFO (the SYNs retransmitted during a connect), or -errno. */
  tcpRetransmits(fd: number): number;
  /** `callback(status)` fires once: 0, or a negative libuv error (read SO_ERROR either way). */
  WritableWatch: new (fd: number, callback: (status: number) => void) => WritableWatch;
}
