// The `connect` strategy: a plain node:net connect, then socket.resetAndDestroy() as soon as it
// succeeds. The portable fallback for when neither the raw engine nor the native addon can run.
//
// DEGRADATION: this is a full three-way handshake (SYN, SYN-ACK, ACK, then RST). The server's
// kernel completes the connection and queues it, so the server *application* accepts it, may log
// it and sees it reset at once. Use it only where the half-open strategies are unavailable.
//
// Same contract as the socket strategy (socket.ts): outcomes through the errno table in
// errno.ts, one shared unref'd timer for all deadlines (the DeadlineTimer of
// src/core/deadline-heap.ts, no per-socket setTimeout), abort rejects
// with `signal.reason`, close() settles in-flight probes as 'error' / ERR_SHAKER_CLOSED.
// `attempts` is always 1: node:net neither sets TCP_SYNCNT nor tells how many SYNs the kernel
// retransmitted, so `retries` is ignored and the deadline alone bounds the wait.
import net from 'node:net';
import { InvalidArgumentError, StateError } from '../core/errors.js';
import type { ProbeOptions, ProbeOutcome, ProbeTarget, Strategy } from '../core/types.js';
import { ProbeCounters, untilSettled } from './counters.js';
import { classifyConnectErrno } from '../core/errno.js';
import { DeadlineTimer } from '../core/deadline-heap.js';

interface InFlightConnect {
  /** Its key in #inFlight and its entry in the deadline heap. */
  readonly id: number;
  readonly socket: net.Socket;
  readonly startedAt: number;
  resolve(outcome: ProbeOutcome): void;
  reject(reason: unknown): void;
}

export class ConnectStrategy implements Strategy {
  readonly name = 'connect' as const;
  private state: 'new' | 'started' | 'closed' = 'new';
  private readonly inFlight = new Map<number, InFlightConnect>();
  private nextId = 0;
  // Entries of settled probes stay in the heap until due and are skipped then (no such id).
  private readonly timer = new DeadlineTimer(
    () => performance.now(),
    (id) => {
      const probe = this.inFlight.get(id);
      if (probe !== undefined) this.onDeadline(probe);
    },
  );
  private readonly counters = new ProbeCounters();

  async start(): Promise<void> {
    if (this.state === 'started') throw new StateError('the connect strategy is already started', 'ERR_SHAKER_ALREADY_STARTED');
    if (this.state === 'closed') throw new StateError('the connect strategy is closed', 'ERR_SHAKER_CLOSED');
    this.state = 'started';
  }

  async probe(target: ProbeTarget, options: ProbeOptions): Promise<ProbeOutcome> {
    const { signal } = options;
    signal?.throwIfAborted();
    if (this.state !== 'started') {
      throw this.state === 'closed'
        ? new StateError('the connect strategy is closed', 'ERR_SHAKER_CLOSED')
        : new StateError('call start() before probe()', 'ERR_SHAKER_NOT_STARTED');
    }
    // An IP literal: net.connect then skips DNS entirely (the checker resolved names already).
    if (net.isIP(target.ip) !== target.family) {
      throw new InvalidArgumentError(`${target.ip} is not an IPv${target.family} address literal`, 'ERR_SHAKER_INVALID_ADDRESS');
    }

    this.counters.probesStarted++;
    const startedAt = performance.now();
    if (options.deadline <= startedAt) return this.counters.record({ status: 'timeout', code: 'ETIMEDOUT', attempts: 0 });

    let probe!: InFlightConnect;
    const settled = new Promise<ProbeOutcome>((resolve, reject) => {
      const socket = net.connect({ host: target.ip, port: target.port, family: target.family });
      probe = { id: this.nextId, socket, startedAt, resolve, reject };
    });
    // Ids wrap at 2^32 (the heap's slot width); by then the old owner is long settled.
    this.nextId = (this.nextId + 1) >>> 0;
    this.inFlight.set(probe.id, probe);
    probe.socket.once('connect', () => this.onConnect(probe));
    // Stays attached for the socket's life: after we settle, a late 'error' must not become an
    // unhandled one.
    probe.socket.on('error', (error: NodeJS.ErrnoException) => this.onError(probe, error));
    this.timer.schedule(options.deadline, probe.id, 0);

    return untilSettled(settled, signal, (reason) => this.onAbort(probe, reason));
  }

  /** Settles every in-flight probe as 'error' / ERR_SHAKER_CLOSED; idempotent. */
  async close(): Promise<void> {
    this.state = 'closed';
    for (const probe of [...this.inFlight.values()]) {
      this.release(probe);
      probe.socket.destroy();
      const error = new StateError('the connect strategy was closed while the probe was in flight', 'ERR_SHAKER_CLOSED');
      probe.resolve(this.counters.record({ status: 'error', code: error.code, attempts: 1, error }));
    }
    this.timer.stop();
  }

  stats(): Record<string, number> {
    return this.counters.snapshot(this.inFlight.size);
  }

  private onConnect(probe: InFlightConnect): void {
    if (!this.release(probe)) return;
    const rttMs = performance.now() - probe.startedAt;
    // SO_LINGER {1, 0} then close: a RST instead of a FIN, so the connection leaves no
    // TIME_WAIT here and the server application sees it end at once.
    probe.socket.resetAndDestroy();
    probe.resolve(this.counters.record({ status: 'open', rttMs, attempts: 1 }));
  }

  private onError(probe: InFlightConnect, error: NodeJS.ErrnoException): void {
    if (!this.release(probe)) return;
    const rttMs = performance.now() - probe.startedAt;
    const verdict = classifyConnectErrno(error.code ?? 'ERR_SHAKER_SYSTEM');
    if (verdict.status === 'error') {
      probe.resolve(this.counters.record({ ...verdict, attempts: 1, error }));
    } else if (verdict.status === 'timeout') {
      probe.resolve(this.counters.record({ ...verdict, attempts: 1 }));
    } else {
      probe.resolve(this.counters.record({ ...verdict, rttMs, attempts: 1 }));
    }
  }

  private onDeadline(probe: InFlightConnect): void {
    if (!this.release(probe)) return;
    // Still in SYN-SENT: a plain destroy sends nothing (resetAndDestroy would wait for 'connect').
    probe.socket.destroy();
    probe.resolve(this.counters.record({ status: 'timeout', code: 'ETIMEDOUT', attempts: 1 }));
  }

  private onAbort(probe: InFlightConnect, reason: unknown): void {
    if (!this.release(probe)) return;
    probe.socket.destroy();
    this.counters.aborted++;
    probe.reject(reason);
  }

  /** Forgets the probe (its deadline entry is skipped when due); false when it was already settled. */
  private release(probe: InFlightConnect): boolean {
    return this.inFlight.get(probe.id) === probe && this.inFlight.delete(probe.id);
  }
}
