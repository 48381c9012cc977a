// The `socket` strategy: Go tcp-shaker's Linux mechanism, no privileges needed. Each check is a
// kernel TCP socket with TCP_QUICKACK off (the kernel delays the ACK of the SYN-ACK,
// tcp_rcv_synsent_state_process "pingpong" branch, up to 200 ms) and SO_LINGER {1, 0} (close()
// aborts with a RST), closed as soon as the connect settles, inside that delayed-ACK window: on the
// wire SYN, SYN-ACK, RST and no ACK, so the server application is never handed a connection.
//
// The time-critical part, connect completion → SO_ERROR → TCP_INFO → linger-0 close, runs on the
// addon's connect engine (native/connect.cc), a thread with its own epoll: a lagging event loop
// cannot push a close past the window (issue #16). Results come back in batches of records; this
// file keeps the policy: deadlines (the one DeadlineTimer of src/core/deadline-heap.ts), retries
// (TCP_SYNCNT, TCP_USER_TIMEOUT), what each errno means (src/core/errno.ts), and the governor
// (close-governor.ts) that holds new connects while closes run late.
//
// Lifecycle and outcomes:
// - probe() rejects only for misuse (not started, closed, a malformed address) and for an abort,
//   with `signal.reason`. Everything the network said is a resolved ProbeOutcome.
// - close() settles every in-flight probe as status 'error', code 'ERR_SHAKER_CLOSED' (a
//   StateError in `error`), and closes every socket before it returns.
// - The kernel retransmits the SYN itself; `retries` becomes TCP_SYNCNT (see synRetriesFor) and
//   `attempts` is exact: 1 + tcpi_total_retrans from TCP_INFO, the SYNs the kernel really sent.
//   At the deadline the socket is closed by the engine and its retransmissions read first, so a
//   timeout's `attempts` is exact too.
// - `rttMs` is the kernel's own RTT sample (tcpi_rtt) for an open port, the time from connect()
//   to the RST or ICMP error otherwise.
// - While probes are in flight the engine holds the process open, like pending net.Sockets; the
//   deadline timer is unref'd, so an idle strategy holds nothing.
import { InvalidArgumentError, StateError } from '../core/errors.js';
import { DeadlineTimer } from '../core/deadline-heap.js';
import { errnoName, native, systemError } from '../native/addon.js';
import { RECORD_INTS, RecordField, RecordKind, type ConnectCalls, type NativeConnectEngine } from '../native/connect.js';
import type { Family, ProbeOptions, ProbeOutcome, ProbeTarget, Strategy } from '../core/types.js';
import { classifyConnectErrno } from '../core/errno.js';
import { CloseGovernor, type GovernorOptions } from './close-governor.js';
import { LatencyHistogram } from './latency-histogram.js';
import { ProbeCounters, untilSettled } from './counters.js';
import { parseAddress } from '../wire/address.js';

/** The addon calls this strategy makes (a fake in tests). */
export type SocketAddon = ConnectCalls;

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

/**
 * TCP_USER_TIMEOUT for a probe with `remainingMs` to its deadline: the kernel then sends no SYN
 * retransmission past the deadline even if our cancel is late (it checks at each retransmission,
 * tcp_write_timeout). 0 (unset) when there is no finite deadline.
 */
export function userTimeoutFor(remainingMs: number): number {
  if (!Number.isFinite(remainingMs)) return 0;
  return Math.min(0x7fffffff, Math.max(1, Math.ceil(remainingMs)));
}

const anySource = new Uint8Array(0);

type ProbeState =
  /** Waiting for the governor to let it into the kernel. */
  | 'held'
  /** connect() queued or in flight in the engine. */
  | 'connecting'
  /** Past its deadline: the engine was asked to close it, its record settles it as a timeout. */
  | 'expiring'
  /** Aborted (already rejected): the slot is freed when the engine's record comes back. */
  | 'aborted';

interface InFlightProbe {
  readonly slot: number;
  readonly generation: number;
  readonly dst: Uint8Array;
  readonly port: number;
  readonly deadline: number;
  readonly synRetries: number;
  state: ProbeState;
  resolve(outcome: ProbeOutcome): void;
  reject(reason: unknown): void;
}

export interface SocketStrategyOptions {
  /** Replaces the native addon (tests); by default it is loaded on start(). */
  addon?: SocketAddon;
  /** Tuning of the close-latency governor (close-governor.ts). */
  governor?: GovernorOptions;
}

export class SocketStrategy implements Strategy {
  readonly name = 'socket' as const;
  private addon: SocketAddon | undefined;
  private engine: NativeConnectEngine | undefined;
  private state: 'new' | 'started' | 'closed' = 'new';
  /** Probes by slot; a slot is reused only after the engine's record for it came back. */
  private readonly slots: Array<InFlightProbe | undefined> = [];
  private readonly generations: number[] = [];
  private readonly freeSlots: number[] = [];
  /** Probes waiting for the governor, in arrival order (entries no longer 'held' are skipped). */
  private readonly held: InFlightProbe[] = [];
  private heldHead = 0;
  /** Probes the caller still waits for, and those whose socket the engine still holds. */
  private pending = 0;
  private inKernel = 0;
  private referenced = false;
  private readonly timer = new DeadlineTimer(
    () => performance.now(),
    (slot, generation) => this.onDeadline(slot, generation),
  );
  private readonly counters = new ProbeCounters();
  private readonly governor: CloseGovernor;
  private readonly closeLatency = new LatencyHistogram();
  private heldTotal = 0;

  constructor(options: SocketStrategyOptions = {}) {
    this.addon = options.addon;
    this.governor = new CloseGovernor(options.governor);
  }

  /** Loads the addon and starts its connect engine; rejects with UnsupportedError when it was never built. */
  async start(): Promise<void> {
    if (this.state === 'started') throw new StateError('the socket strategy is already started', 'ERR_SHAKER_ALREADY_STARTED');
    if (this.state === 'closed') throw new StateError('the socket strategy is closed', 'ERR_SHAKER_CLOSED');
    this.addon ??= native();
    this.engine = new this.addon.ConnectEngine(this.onRecords);
    this.state = 'started';
  }

  async probe(target: ProbeTarget, options: ProbeOptions): Promise<ProbeOutcome> {
    const { signal } = options;
    signal?.throwIfAborted();
    if (this.state !== 'started' || this.engine === undefined) throw this.notRunning();
    const dst = ipBytes(target.ip, target.family);

    this.counters.probesStarted++;
    if (options.deadline <= performance.now()) return this.counters.record({ status: 'timeout', code: 'ETIMEDOUT', attempts: 0 });

    const slot = this.freeSlots.pop() ?? this.slots.length;
    const generation = ((this.generations[slot] ?? 0) + 1) >>> 0;
    this.generations[slot] = generation;
    let probe!: InFlightProbe;
    const settled = new Promise<ProbeOutcome>((resolve, reject) => {
      probe = { slot, generation, dst, port: target.port, deadline: options.deadline, synRetries: synRetriesFor(options.retries), state: 'held', resolve, reject };
    });
    this.slots[slot] = probe;
    this.pending++;
    this.updateRef();
    this.timer.schedule(options.deadline, slot, generation);
    if (this.heldHead === this.held.length && this.governor.admits(this.inKernel)) this.enter(probe);
    else {
      // Behind those already waiting (some may have left: #admitHeld skips them).
      this.held.push(probe);
      this.admitHeld();
      if (probe.state === 'held') this.heldTotal++;
    }
    return untilSettled(settled, signal, (reason) => this.onAbort(probe, reason));
  }

  /** Settles every in-flight probe as 'error' / ERR_SHAKER_CLOSED and closes every socket; idempotent. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.engine?.close();
    this.engine = undefined;
    this.timer.stop();
    for (const probe of this.slots) {
      if (probe === undefined) continue;
      this.free(probe);
      if (probe.state === 'aborted') continue;
      const attempts = probe.state === 'held' ? 0 : 1;
      const error = new StateError('the socket strategy was closed while the probe was in flight', 'ERR_SHAKER_CLOSED');
      probe.resolve(this.counters.record({ status: 'error', code: error.code, attempts, error }));
    }
    this.held.length = 0;
    this.heldHead = 0;
    this.inKernel = 0;
  }

  /**
   * The outcome counters, plus the close latency after the SYN-ACK (ms: p50, p99, max, against
   * the 200 ms delayed-ACK window) and the governor's state (`governorLimit` is -1 while
   * unlimited; `governorHeld`: probes that had to wait).
   */
  stats(): Record<string, number> {
    const h = this.closeLatency;
    return {
      ...this.counters.snapshot(this.pending),
      closeSamples: h.count,
      closeLatencyP50Ms: h.quantileUs(0.5) / 1000,
      closeLatencyP99Ms: h.quantileUs(0.99) / 1000,
      closeLatencyMaxMs: h.maxUs / 1000,
      governorLimit: this.governor.limit === Infinity ? -1 : this.governor.limit,
      governorCuts: this.governor.cuts,
      governorHeld: this.heldTotal,
      held: this.held.length - this.heldHead,
    };
  }

  /** Forgets the close latencies seen so far (a benchmark's warm-up). */
  resetCloseLatency(): void {
    this.closeLatency.reset();
  }

  private enter(probe: InFlightProbe): void {
    probe.state = 'connecting';
    this.inKernel++;
    (this.engine as NativeConnectEngine).connect(
      probe.slot,
      probe.generation,
      probe.dst,
      probe.port,
      anySource,
      probe.synRetries,
      userTimeoutFor(probe.deadline - performance.now()),
    );
  }

  /** Lets held probes into the kernel while the governor admits them. */
  private admitHeld(): void {
    while (this.heldHead < this.held.length && this.governor.admits(this.inKernel)) {
      const probe = this.held[this.heldHead++];
      if (probe.state === 'held' && this.slots[probe.slot] === probe) this.enter(probe);
    }
    if (this.heldHead === this.held.length) {
      this.held.length = 0;
      this.heldHead = 0;
    }
  }

  private readonly onRecords = (records: Int32Array): void => {
    let maxCloseUs = -1;
    for (let at = 0; at + RECORD_INTS <= records.length; at += RECORD_INTS) {
      const closeUs = records[at + RecordField.closeLatencyUs];
      if (closeUs >= 0) {
        this.closeLatency.record(closeUs);
        if (closeUs > maxCloseUs) maxCloseUs = closeUs;
      }
      this.settle(records, at);
    }
    this.governor.observe(maxCloseUs < 0 ? -1 : maxCloseUs / 1000, this.inKernel, this.heldHead < this.held.length);
    this.admitHeld();
    this.updateRef();
  };

  /** One engine record: the probe's outcome, and its slot is free again. */
  private settle(records: Int32Array, at: number): void {
    const slot = records[at + RecordField.slot];
    const probe = this.slots[slot];
    if (probe === undefined || probe.generation !== records[at + RecordField.generation] >>> 0) return;
    this.inKernel--;
    this.free(probe);
    if (probe.state === 'aborted') return;
    const kind = records[at + RecordField.kind] as RecordKind;
    const errno = records[at + RecordField.errno];
    const attempts = 1 + records[at + RecordField.retransmits];
    const rttMs = records[at + RecordField.rttUs] / 1000;
    let outcome: ProbeOutcome;
    if (kind === RecordKind.settled) {
      outcome = errno === 0 ? { status: 'open', rttMs, attempts } : failedConnect(errno, { attempts, rttMs });
    } else if (kind === RecordKind.cancelled) {
      outcome = { status: 'timeout', code: 'ETIMEDOUT', attempts };
    } else if (kind === RecordKind.notStarted) {
      // No SYN left this host (no route, no free port, out of fds).
      outcome = failedConnect(errno, { attempts: 0 });
    } else {
      const error = systemError(-errno, 'getsockopt', 'the connect engine lost track of a socket');
      outcome = { status: 'error', code: error.code, attempts, error };
    }
    probe.resolve(this.counters.record(outcome));
  }

  private onDeadline(slot: number, generation: number): void {
    const probe = this.slots[slot];
    if (probe === undefined || probe.generation !== generation) return;
    if (probe.state === 'held') {
      this.free(probe);
      probe.resolve(this.counters.record({ status: 'timeout', code: 'ETIMEDOUT', attempts: 0 }));
      this.updateRef();
    } else if (probe.state === 'connecting') {
      // The engine closes the socket and reads its retransmissions first; its record settles
      // the probe (as a timeout, or with the answer that raced the deadline).
      probe.state = 'expiring';
      this.engine?.cancel(slot, generation);
    }
  }

  private onAbort(probe: InFlightProbe, reason: unknown): void {
    if (this.slots[probe.slot] !== probe || probe.state === 'aborted') return;
    this.counters.aborted++;
    if (probe.state === 'held') this.free(probe);
    else {
      // The slot stays taken until the engine's record says the socket is closed.
      this.engine?.cancel(probe.slot, probe.generation);
      this.pending--;
    }
    probe.state = 'aborted';
    probe.reject(reason);
    this.updateRef();
  }

  /** Frees the probe's slot (its stale deadline entry is ignored by generation). */
  private free(probe: InFlightProbe): void {
    this.slots[probe.slot] = undefined;
    this.freeSlots.push(probe.slot);
    if (probe.state !== 'aborted') this.pending--;
  }

  /** The engine keeps the process alive exactly while a probe waits for it. */
  private updateRef(): void {
    const want = this.pending > 0 || this.inKernel > 0;
    if (want === this.referenced || this.engine === undefined) return;
    this.referenced = want;
    if (want) this.engine.ref();
    else this.engine.unref();
  }

  private notRunning(): StateError {
    return this.state === 'closed'
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

/** The 4 or 16 network-order bytes of an IP literal of the given family (the checker resolved it). */
export function ipBytes(ip: string, family: Family): Uint8Array {
  const bytes = parseAddress(ip);
  if (bytes === undefined || bytes.length !== (family === 4 ? 4 : 16)) {
    throw new InvalidArgumentError(`${ip} is not an IPv${family} address literal`, 'ERR_SHAKER_INVALID_ADDRESS');
  }
  return bytes;
}
