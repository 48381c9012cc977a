// The `socket` strategy: Go tcp-shaker's Linux mechanism, no privileges needed. The addon makes
// a non-blocking TCP socket with TCP_QUICKACK off (the kernel delays the ACK of the SYN-ACK,
// tcp_rcv_synsent_state_process "pingpong" branch, up to 200 ms) and SO_LINGER {1, 0} (close()
// aborts with a RST), then starts connect(). libuv's epoll tells us when it settles, we read
// SO_ERROR and close at once, inside that delayed-ACK window: on the wire SYN, SYN-ACK, RST and
// no ACK, so the server application is never handed a connection.
//
// Lifecycle and outcomes:
// - probe() rejects only for misuse (not started, closed, a malformed address) and for an abort,
//   with `signal.reason`. Everything the network said is a resolved ProbeOutcome.
// - close() settles every in-flight probe as status 'error', code 'ERR_SHAKER_CLOSED' (a
//   StateError in `error`), closing its fd and poll handle before it returns.
// - The kernel retransmits the SYN itself; `retries` becomes TCP_SYNCNT (see synRetriesFor) and
//   `attempts` is exact: 1 + tcpi_total_retrans from TCP_INFO, the SYNs the kernel really sent.
// - An in-flight probe keeps the process alive through its libuv poll handle, like a pending
//   net.Socket; the shared deadline timer is unref'd, so an idle strategy holds nothing.
import { InvalidArgumentError, StateError } from '../core/errors.js';
import { errnoName, native, systemError } from '../native/addon.js';
import type { ConnectCalls, WritableWatch } from '../native/connect.js';
import type { Family, ProbeOptions, ProbeOutcome, ProbeTarget, Strategy } from '../core/types.js';
import { classifyConnectErrno } from '../core/errno.js';
import { ProbeCounters, untilSettled } from './counters.js';
import { TimerHeap, type TimerEntry } from './timer-heap.js';
import { parseAddress } from '../wire/address.js';

/** The addon calls this strategy makes (a fake in tests). */
export type SocketAddon = ConnectCalls & { close(fd: number): number };

// TCP_SYNCNT accepts 1..MAX_TCP_SYNCNT (127, include/net/tcp.h); 0 is EINVAL, so `retries: 0`
// is sent as 1. The kernel reads it as a time budget more than a count: it gives up once the
// time n exponentially backed-off retransmissions would take, (2^(n+1) - 1) x the 1 s initial
// RTO, has passed. net.ipv4.tcp_syn_linear_timeouts (4 here) spaces the first retransmissions
// 1 s apart, so more SYNs fit in that budget: on Linux 6.18 `retries: 1` sent 3 SYNs and ended
// with ETIMEDOUT after 3 s. Hence `attempts` is read from TCP_INFO rather than assumed.
const maxSynRetries = 127;

/** Maps ProbeOptions.retries to TCP_SYNCNT; -1 keeps the kernel default. */
export function synRetriesFor(retries: number): number {
  if (!Number.isFinite(retries) || retries < 0) return -1;
  return Math.min(maxSynRetries, Math.max(1, Math.floor(retries)));
}

const anySource = new Uint8Array(0);

interface InFlightProbe {
  readonly fd: number;
  readonly startedAt: number;
  watch: WritableWatch | undefined;
  timer: TimerEntry | undefined;
  resolve(outcome: ProbeOutcome): void;
  reject(reason: unknown): void;
}

export class SocketStrategy implements Strategy {
  readonly name = 'socket' as const;
  #addon: SocketAddon | undefined;
  #state: 'new' | 'started' | 'closed' = 'new';
  readonly #timers = new TimerHeap();
  readonly #inFlight = new Set<InFlightProbe>();
  readonly #counters = new ProbeCounters();

  /** `addon` replaces the native addon (tests); by default it is loaded on start(). */
  constructor(options: { addon?: SocketAddon } = {}) {
    this.#addon = options.addon;
  }

  /** Loads the addon; rejects with UnsupportedError when it was never built. */
  async start(): Promise<void> {
    if (this.#state === 'started') throw new StateError('the socket strategy is already started', 'ERR_SHAKER_ALREADY_STARTED');
    if (this.#state === 'closed') throw new StateError('the socket strategy is closed', 'ERR_SHAKER_CLOSED');
    this.#addon ??= native();
    this.#state = 'started';
  }

  async probe(target: ProbeTarget, options: ProbeOptions): Promise<ProbeOutcome> {
    const { signal } = options;
    signal?.throwIfAborted();
    const addon = this.#addon;
    if (this.#state !== 'started' || addon === undefined) throw this.#notRunning();
    const dst = ipBytes(target.ip, target.family);

    this.#counters.probesStarted++;
    const startedAt = performance.now();
    if (options.deadline <= startedAt) return this.#counters.record({ status: 'timeout', code: 'ETIMEDOUT', attempts: 0 });
    const fd = addon.connectStart(dst, target.port, anySource, synRetriesFor(options.retries));
    // Failing here means no SYN left this host (no route, no free port, out of fds).
    if (fd < 0) return this.#counters.record(failedConnect(-fd, { attempts: 0 }));

    let probe!: InFlightProbe;
    const settled = new Promise<ProbeOutcome>((resolve, reject) => {
      probe = { fd, startedAt, watch: undefined, timer: undefined, resolve, reject };
    });
    this.#inFlight.add(probe);
    try {
      probe.watch = new addon.WritableWatch(fd, (status) => this.#onWritable(probe, status));
    } catch (cause) {
      const attempts = this.#release(probe);
      return this.#counters.record({ status: 'error', code: errorCode(cause), attempts, error: asError(cause) });
    }
    probe.timer = this.#timers.add(options.deadline, () => this.#onDeadline(probe));

    return untilSettled(settled, signal, (reason) => this.#onAbort(probe, reason));
  }

  /** Settles every in-flight probe as 'error' / ERR_SHAKER_CLOSED; idempotent. */
  async close(): Promise<void> {
    this.#state = 'closed';
    for (const probe of [...this.#inFlight]) {
      const attempts = this.#release(probe);
      const error = new StateError('the socket strategy was closed while the probe was in flight', 'ERR_SHAKER_CLOSED');
      probe.resolve(this.#counters.record({ status: 'error', code: error.code, attempts, error }));
    }
    this.#timers.clear();
  }

  stats(): Record<string, number> {
    return this.#counters.snapshot(this.#inFlight.size);
  }

  #onWritable(probe: InFlightProbe, status: number): void {
    if (!this.#inFlight.has(probe)) return;
    const rttMs = performance.now() - probe.startedAt;
    // SO_ERROR is the answer, whatever the poll status: libuv reports POLLERR (how epoll flags
    // a refused or unreachable connect) as status UV_EBADF (uv__poll_io), not as writability.
    // Read it, and TCP_INFO in #release, before the fd is closed.
    const soError = (this.#addon as SocketAddon).socketError(probe.fd);
    const attempts = this.#release(probe);
    if (soError > 0) {
      probe.resolve(this.#counters.record(failedConnect(soError, { attempts, rttMs })));
    } else if (soError < 0 || status < 0) {
      // getsockopt failed, or the poll failed with no pending socket error: a local fault.
      const error = soError < 0 ? systemError(soError, 'getsockopt') : systemError(status, 'uv_poll');
      probe.resolve(this.#counters.record({ status: 'error', code: error.code, attempts, error }));
    } else {
      probe.resolve(this.#counters.record({ status: 'open', rttMs, attempts }));
    }
  }

  #onDeadline(probe: InFlightProbe): void {
    if (!this.#inFlight.has(probe)) return;
    probe.timer = undefined;
    const attempts = this.#release(probe);
    probe.resolve(this.#counters.record({ status: 'timeout', code: 'ETIMEDOUT', attempts }));
  }

  #onAbort(probe: InFlightProbe, reason: unknown): void {
    if (!this.#inFlight.has(probe)) return;
    this.#release(probe);
    this.#counters.aborted++;
    probe.reject(reason);
  }

  /** Frees the probe's poll handle, deadline and fd; returns the SYNs the kernel sent. */
  #release(probe: InFlightProbe): number {
    this.#inFlight.delete(probe);
    // libuv requires the poll stopped before its fd is closed (uv_poll_init docs).
    probe.watch?.stop();
    probe.watch = undefined;
    if (probe.timer !== undefined) this.#timers.cancel(probe.timer);
    probe.timer = undefined;
    const addon = this.#addon as SocketAddon;
    const retransmits = addon.tcpRetransmits(probe.fd);
    addon.close(probe.fd);
    return 1 + Math.max(0, retransmits);
  }

  #notRunning(): StateError {
    return this.#state === 'closed'
      ? new StateError('the socket strategy is closed', 'ERR_SHAKER_CLOSED')
      : new StateError('call start() before probe()', 'ERR_SHAKER_NOT_STARTED');
  }
}

/** The outcome for a positive errno that ended the connect (SO_ERROR or connect() itself). */
function failedConnect(errno: number, extra: { attempts: number; rttMs?: number }): ProbeOutcome {
  const rc = -errno;
  const verdict = classifyConnectErrno(errnoName(rc));
  if (verdict.status === 'error') {
    return { ...verdict, attempts: extra.attempts, error: systemError(rc, 'connect') };
  }
  // A timeout has no reply to measure; RST and ICMP answers do.
  if (verdict.status === 'timeout') return { ...verdict, attempts: extra.attempts };
  return { ...verdict, ...extra };
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : 'ERR_SHAKER_SYSTEM';
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** The 4 or 16 network-order bytes of an IP literal of the given family (the checker resolved it). */
export function ipBytes(ip: string, family: Family): Uint8Array {
  const bytes = parseAddress(ip);
  if (bytes === undefined || bytes.length !== (family === 4 ? 4 : 16)) {
    throw new InvalidArgumentError(`${ip} is not an IPv${family} address literal`, 'ERR_SHAKER_INVALID_ADDRESS');
  }
  return bytes;
}
