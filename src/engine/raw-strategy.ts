// The raw engine: a half-open check done entirely in userspace.
//
//   1. build a Linux-looking SYN in place (wire/probe.ts) and queue it on a raw socket;
//   2. libpcap, filtered to SYN-ACK/RST to our source ports and ICMP errors, hands back replies;
//   3. a SYN-ACK whose ack is our ISN+1 means open: we answer with exactly one RST
//      (seq = that ack); the kernel never sees the SYN-ACK because the shim table drops it at
//      prerouting, so it cannot send a second RST, and the server application never gets a
//      connection because the handshake never completes;
//   4. a matching RST means closed; a matching ICMP error, unreachable; the deadline, timeout.
//
// Everything per probe lives in ProbeTable columns; one DeadlineTimer drives retransmissions and
// timeouts for all of them. Replies that match nothing are counted and dropped.
import { performance } from 'node:perf_hooks';
import { addAbortListener } from 'node:events';
import { AbortError, InvalidArgumentError, StateError, UnsupportedError } from '../core/errors.js';
import type { Family, ProbeOptions, ProbeOutcome, ProbeTarget, Strategy } from '../core/types.js';
import { NativeRawTransport, type PacketSlot, type RawTransport } from '../native/sender.js';
import { openLiveCapture, type FrameHandler } from '../capture/pcap.js';
import { ipOffset } from '../capture/link-layer.js';
import { CapturePool, type CaptureOpener } from './capture-pool.js';
import { IsnGenerator } from './isn.js';
import { buildCaptureFilter } from '../capture/filter.js';
import { NftShim, sweepStaleTables } from '../firewall/nftables.js';
import { DeadlineTimer } from '../core/deadline-heap.js';
import { ProbeTable, RecentProbes, type ProbeCallback } from './probe-table.js';
import { RstLimiter } from './rst-limiter.js';
import { tupleKey } from './tuple-key.js';
import { NumberIndex } from './number-index.js';
import { defaultProbePortRange, checkPortRange, type PortRange } from '../core/port-range.js';
import { classifyConnectErrno } from '../core/errno.js';
import { RouteCache, type Route } from './route.js';
import { decodeReply } from './reply.js';
import { TcpReplyView } from './tcp-reply-view.js';
import {
  buildSyn,
  PacketTemplate,
  synLength,
  parseAddress,
  formatAddress,
  TcpFlags,
  formatTcpFlags,
  type SynSpec,
  type IcmpQuote,
} from '../wire/index.js';
import { synAckEvidence, synOptionEvidence } from './evidence.js';

export interface RawStrategyOptions {
  /** Source ports for probes; default: the block above the kernel's ephemeral range. */
  sourcePorts?: PortRange;
  /**
   * Install the nftables table that hides SYN-ACKs from the local kernel (default true). With
   * false, the kernel answers every SYN-ACK with its own RST and the engine sends none.
   */
  rstShim?: boolean;
  /** Capture on this interface instead of the one the route points at ('any' works). */
  interface?: string;
  /**
   * Send from this address instead of the one the kernel would choose; one per family at most
   * (e.g. ['198.18.0.1', '2001:2::1']).
   */
  source?: string | readonly string[];
  /** First retransmission after this long (the kernel's initial RTO is 1 s), doubling after. */
  initialRtoMs?: number;
  /** Verify TCP/ICMP checksums of replies (off by default: offloaded checksums on lo/veth). */
  verifyChecksums?: boolean;
  /** Overrides for the SYN (ttl, window, options...). */
  syn?: Partial<Omit<SynSpec, 'src' | 'dst' | 'srcPort' | 'dstPort' | 'seq'>>;
  /** Close a capture after this long with no probe on its interface (default 2000 ms). */
  captureIdleMs?: number;
  /**
   * Called with every IP packet the engine sends and every reply it captures (before matching),
   * e.g. to record them in a pcap file (LINKTYPE_RAW). `bytes` is only valid during the call.
   */
  onPacket?: (direction: 'sent' | 'received', bytes: Uint8Array, timestampUs: number) => void;
  /** Told once, when something goes wrong mid-run that `warnings` then lists (the shim was lost). */
  onWarning?: (message: string) => void;
  /** Test seams. */
  transport?: RawTransport;
  openCapture?: CaptureOpener;
  installShim?: boolean;
}

interface WaitingProbe {
  target: ProbeTarget;
  remote: Uint8Array;
  route: Route;
  options: ProbeOptions;
  callback: ProbeCallback;
  cancelled: boolean;
}


export class RawStrategy implements Strategy {
  readonly name = 'raw' as const;
  readonly portRange: PortRange;
  private readonly table = new ProbeTable();
  private readonly recent = new RecentProbes();
  private readonly rstLimiter = new RstLimiter();
  private readonly routes = new RouteCache();
  private readonly parsedSources = new Map<string, Uint8Array>();
  private lastTarget: { text: string; bytes: Uint8Array } = { text: '', bytes: new Uint8Array(0) };
  private readonly replyView = new TcpReplyView();
  private readonly verifyChecksums: boolean;
  private readonly timer: DeadlineTimer;
  private readonly isns = new IsnGenerator();
  /** SYNs and RSTs stamped from templates (wire/packet-template.ts); no SYN template with extension headers. */
  private readonly synTemplates: { [F in Family]: PacketTemplate | undefined };
  private readonly rstTemplates = { 4: PacketTemplate.rst(4), 6: PacketTemplate.rst(6) } as const;
  private captures: CapturePool | undefined;
  /** `source` by family (index 4 and 6). */
  private readonly sourceOverride: { [F in Family]?: { text: string; bytes: Uint8Array } } = {};
  /** Whether the engine answers SYN-ACKs with its own RST (the shim keeps the kernel from it). */
  private readonly sendsRst: boolean;
  private transport: RawTransport | undefined;
  private shim: NftShim | undefined;
  private nextPort: number;
  private started = false;
  private closed = false;
  private readonly counters = {
    probesStarted: 0,
    synsSent: 0,
    retransmits: 0,
    open: 0,
    closed: 0,
    unreachable: 0,
    timeout: 0,
    errors: 0,
    rstSent: 0,
    duplicateSynAcks: 0,
    rstRateLimited: 0,
    repliesIgnored: 0,
    malformed: 0,
    shimLost: 0,
    aborted: 0,
    waitedForPort: 0,
  };
  /** Probes waiting for a free source port, by destination (tuple key with local port 0). */
  private readonly waiting = new Map<number, WaitingProbe[]>();
  /** In-flight probes per destination (tuple key with local port 0): all ports busy is O(1). */
  private readonly busyByDestination = new NumberIndex();
  private waitingCount = 0;

  constructor(private readonly options: RawStrategyOptions = {}) {
    this.portRange = options.sourcePorts ? checkPortRange(options.sourcePorts) : defaultProbePortRange();
    this.nextPort = this.portRange[0] + Math.floor(Math.random() * (this.portRange[1] - this.portRange[0] + 1));
    this.timer = new DeadlineTimer(() => performance.now(), (slot, gen) => this.onTimer(slot, gen));
    for (const text of options.source === undefined ? [] : typeof options.source === 'string' ? [options.source] : options.source) {
      const bytes = parseAddress(text);
      if (!bytes) throw new InvalidArgumentError(`source ${JSON.stringify(text)} is not an IP address`);
      const family: Family = bytes.length === 4 ? 4 : 6;
      if (this.sourceOverride[family]) throw new InvalidArgumentError(`source: one IPv${family} address at most, got two`);
      this.sourceOverride[family] = { text, bytes };
    }
    this.sendsRst = options.rstShim !== false;
    this.verifyChecksums = options.verifyChecksums ?? false;
    this.synTemplates = { 4: PacketTemplate.syn(4, options.syn), 6: PacketTemplate.syn(6, options.syn) };
  }

  /**
   * Things that work, but worse than they should: the shim table is not an owner table (it
   * outlives a crash until the next start sweeps it), or nft died and the kernel now answers
   * SYN-ACKs with its own RSTs.
   */
  readonly warnings: string[] = [];

  get shimTable(): string | undefined {
    return this.shim?.tableName;
  }

  async start(): Promise<void> {
    if (this.started) throw new StateError('the raw engine is already started', 'ERR_SHAKER_ALREADY_STARTED');
    this.started = true;
    this.captures = new CapturePool(
      this.options.openCapture ?? openLiveCapture,
      buildCaptureFilter({ portRange: this.portRange, families: [4, 6] }),
      this.onFrame,
      this.options.captureIdleMs ?? 2000,
    );
    const transport =
      this.options.transport ?? new NativeRawTransport((error, tag, generation) => this.onSendError(error, tag, generation));
    try {
      if (transport instanceof NativeRawTransport) transport.open(4);
      this.transport = transport;
      if (this.options.rstShim !== false && this.options.installShim !== false) {
        await sweepStaleTables().catch(() => undefined);
        this.shim = await NftShim.install({
          portRange: this.portRange,
          onLost: (error) => {
            this.counters.shimLost++;
            const message = `the nftables shim was lost (${error.message}): the local kernel now answers SYN-ACKs with its own RST`;
            this.warnings.push(message);
            this.options.onWarning?.(message);
          },
        });
        if (this.shim.warning) this.warnings.push(this.shim.warning);
      }
    } catch (error) {
      transport.close();
      this.transport = undefined;
      this.started = false;
      throw error;
    }
  }

  probe(target: ProbeTarget, options: ProbeOptions): Promise<ProbeOutcome> {
    return new Promise((resolve, reject) => {
      const signal = options.signal;
      if (signal?.aborted) {
        reject(signal.reason ?? new AbortError());
        return;
      }
      let settled = false;
      let disposeAbort: Disposable | undefined;
      const done: ProbeCallback = (outcome) => {
        if (settled) return;
        settled = true;
        disposeAbort?.[Symbol.dispose]();
        resolve(outcome);
      };
      let cancel: () => void;
      try {
        cancel = this.submit(target, options, done);
      } catch (error) {
        reject(error);
        return;
      }
      if (signal && !settled) {
        disposeAbort = addAbortListener(signal, () => {
          if (settled) return;
          settled = true;
          cancel();
          reject(signal.reason ?? new AbortError());
        });
      }
    });
  }

  /**
   * The callback form of probe(), for callers that run many checks: no promise per probe inside
   * the engine, and no await when the route to the target is known. `callback` gets exactly one
   * outcome (never for a cancelled probe). Throws for misuse (not started, closed, an address of
   * the wrong family); what goes wrong later (no route, no capture) arrives as status 'error'.
   * Returns a canceller.
   */
  submit(target: ProbeTarget, options: ProbeOptions, callback: ProbeCallback): () => void {
    // Closed first: close() also drops the transport, and a closed engine must say so.
    if (this.closed) throw new StateError('the raw engine is closed', 'ERR_SHAKER_CLOSED');
    if (!this.started || !this.transport) throw new StateError('the raw engine is not started', 'ERR_SHAKER_NOT_STARTED');
    const remote = this.targetBytes(target.ip);
    if (!remote || (remote.length === 4) !== (target.family === 4)) {
      throw new UnsupportedError(`not an IPv${target.family} address: ${target.ip}`);
    }
    const route = this.knownRoute(target);
    if (route) return this.launchOrReport(target, remote, route, options, callback);

    // First probe to this address: ask the kernel's routing table, then go on.
    let cancelled = false;
    let cancelLaunched: (() => void) | undefined;
    this.routes.lookup(target.ip, target.family).then(
      (found) => {
        if (cancelled) return;
        if (this.closed) return callback(this.closedOutcome(0));
        cancelLaunched = this.launchOrReport(target, remote, found, options, callback);
      },
      (error: Error) => {
        if (!cancelled) callback({ status: 'error', code: (error as { code?: string }).code ?? 'ENETUNREACH', attempts: 0, error });
      },
    );
    return () => {
      cancelled = true;
      cancelLaunched?.();
    };
  }

  /** launch(), with a failure (no source address, no capture) reported as status 'error'. */
  private launchOrReport(target: ProbeTarget, remote: Uint8Array, route: Route, options: ProbeOptions, callback: ProbeCallback): () => void {
    try {
      return this.launch(target, remote, route, options, callback);
    } catch (error) {
      callback({ status: 'error', code: (error as { code?: string }).code ?? 'ERR_SHAKER_SYSTEM', attempts: 0, error: error as Error });
      return () => {};
    }
  }

  /** Allocates the probe, sends its SYN and arms its timer. */
  private launch(target: ProbeTarget, remote: Uint8Array, route: Route, options: ProbeOptions, callback: ProbeCallback): () => void {
    const local = this.sourceOverride[target.family]?.bytes ?? this.sourceBytes(route.source);
    if (!local || local.length !== remote.length) {
      throw new UnsupportedError(`no IPv${target.family} source address to reach ${target.ip}`);
    }
    const destination = tupleKey(remote, 0, remote.length, target.port, 0);
    const busy = Math.max(0, this.busyByDestination.get(destination));
    if (busy >= this.portRange[1] - this.portRange[0] + 1) return this.waitForPort(target, remote, route, options, callback);
    const captureId = this.captures!.acquire(this.options.interface ?? route.interface);
    const now = performance.now();
    const localPort = this.pickPort(remote, target.port);
    if (localPort < 0) {
      // Every source port is busy with this very destination (more checks in flight to one
      // ip:port than the range has ports): wait for one of them to finish, inside the deadline,
      // as a kernel connect() would wait for a free ephemeral port... except it would fail.
      this.captures!.release(captureId);
      return this.waitForPort(target, remote, route, options, callback);
    }
    const t = this.table;
    const key = tupleKey(remote, 0, remote.length, target.port, localPort);
    const slot = t.allocate(key, callback);
    this.busyByDestination.set(destination, busy + 1);
    t.destinationKey[slot] = destination;
    t.family[slot] = target.family;
    t.localPort[slot] = localPort;
    t.remotePort[slot] = target.port;
    t.remoteAddr.set(remote, slot * 16);
    t.localAddr.set(local, slot * 16);
    t.isn[slot] = this.isns.next(local, remote, localPort, target.port, now);
    t.deadline[slot] = options.deadline;
    t.rtoMs[slot] = this.options.initialRtoMs ?? 1000;
    t.attempts[slot] = 0;
    t.retriesLeft[slot] = Math.max(0, Math.min(255, options.retries));
    t.captureId[slot] = captureId;
    this.counters.probesStarted++;
    this.timer.setKeepAlive(true);
    this.sendSyn(slot, now);
    this.scheduleNext(slot, now);
    const gen = t.gen[slot];
    return () => {
      // Cancelled by its caller (an abort): freed without a callback, the caller has its answer.
      if (t.isLive(slot, gen)) this.finish(slot, { status: 'error', code: 'ABORT_ERR', attempts: t.attempts[slot] }, false, false);
    };
  }

  private closedOutcome(attempts: number): ProbeOutcome {
    return {
      status: 'error',
      code: 'ERR_SHAKER_CLOSED',
      attempts,
      error: new StateError('the checker was closed while the check was in flight', 'ERR_SHAKER_CLOSED'),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const waiting = [...this.waiting.values()].flat();
    this.waiting.clear();
    this.waitingCount = 0;
    for (const entry of waiting) if (!entry.cancelled) entry.callback(this.closedOutcome(0));
    for (const slot of this.table.liveSlots()) this.finish(slot, this.closedOutcome(this.table.attempts[slot]), false);
    this.timer.stop();
    this.captures?.closeAll();
    // RSTs of the last verdicts may still sit in the send queue: close() sends them first, or the
    // servers would keep those handshakes half-open and retransmit their SYN-ACKs for a minute.
    this.transport?.close();
    this.transport = undefined;
    this.recent.clear();
    const shim = this.shim;
    this.shim = undefined;
    await shim?.remove();
  }

  stats(): Record<string, number> {
    const captureDrops = this.captures?.drops() ?? 0;
    return {
      ...this.counters,
      ...(this.transport?.stats() ?? {}),
      inFlight: this.table.size,
      waitingForPort: this.waitingCount,
      captureDrops,
    };
  }

  // --- sending -------------------------------------------------------------------------------

  private sendSyn(slot: number, now: number): void {
    const t = this.table;
    const family = t.family[slot] as Family;
    const transport = this.transport!;
    const template = this.synTemplates[family];
    let written: number;
    let at: PacketSlot;
    if (template) {
      at = transport.reserve(family, template.length);
      // The TS option carries a millisecond clock, as Linux's does (RFC 7323 §5.4).
      const tsVal = (performance.timeOrigin + now) >>> 0;
      const base = slot * 16;
      written = template.write(at.buf, at.offset, t.localAddr, base, t.remoteAddr, base, t.localPort[slot], t.remotePort[slot], t.isn[slot], tsVal);
    } else {
      const len = family === 4 ? 4 : 16;
      const base = slot * 16;
      const spec: SynSpec = {
        ...this.options.syn,
        src: t.localAddr.subarray(base, base + len),
        dst: t.remoteAddr.subarray(base, base + len),
        srcPort: t.localPort[slot],
        dstPort: t.remotePort[slot],
        seq: t.isn[slot],
      };
      at = transport.reserve(family, synLength(spec));
      written = buildSyn(at.buf, at.offset, spec);
    }
    this.options.onPacket?.('sent', at.buf.subarray(at.offset, at.offset + written), (performance.timeOrigin + now) * 1000);
    transport.commit(family, written, slot, t.gen[slot]);
    t.attempts[slot]++;
    t.lastSentPerf[slot] = now;
    t.lastSentWallUs[slot] = (performance.timeOrigin + now) * 1000;
    this.counters.synsSent++;
  }

  /** A RST from `src[srcAt..]` to `dst[dstAt..]` (addresses read in place, e.g. from a captured frame). */
  private sendRst(family: Family, src: Uint8Array, srcAt: number, dst: Uint8Array, dstAt: number, srcPort: number, dstPort: number, seq: number): void {
    const transport = this.transport;
    if (!transport) return;
    const template = this.rstTemplates[family];
    const at = transport.reserve(family, template.length);
    const written = template.write(at.buf, at.offset, src, srcAt, dst, dstAt, srcPort, dstPort, seq, 0);
    this.options.onPacket?.('sent', at.buf.subarray(at.offset, at.offset + written), (performance.timeOrigin + performance.now()) * 1000);
    // Tag 0xffffffff: a lost RST is not any probe's failure.
    transport.commit(family, written, 0xffffffff, 0);
    this.counters.rstSent++;
  }

  private onSendError(error: Error, tag: number, generation: number): void {
    const t = this.table;
    // The error comes from the sender thread, later: the probe may be gone, its slot reused.
    if (tag === 0xffffffff || tag >= t.capacity || !t.isLive(tag, generation)) return;
    // The kernel refused the SYN itself: no route (ENETUNREACH), a local firewall (EPERM)... The
    // errno means what it would mean from connect(), so the one table decides.
    const { status, code } = classifyConnectErrno((error as { code?: string }).code ?? 'EIO');
    this.finish(tag, { status, code, attempts: t.attempts[tag], error }, false);
  }

  // --- timers ---------------------------------------------------------------------------------

  private scheduleNext(slot: number, now: number): void {
    const t = this.table;
    const retransmitAt = t.retriesLeft[slot] > 0 ? t.lastSentPerf[slot] + t.rtoMs[slot] : Infinity;
    this.timer.schedule(Math.max(now, Math.min(retransmitAt, t.deadline[slot])), slot, t.gen[slot]);
  }

  private onTimer(slot: number, gen: number): void {
    const t = this.table;
    if (!t.isLive(slot, gen)) return;
    const now = performance.now();
    if (now >= t.deadline[slot]) {
      // Remembered: if its SYN-ACK was only late (or lost in our capture), the server holds a
      // half-open connection on this 4-tuple; the late SYN-ACK gets one RST to clear it, so a
      // later probe reusing the tuple is not answered from that stale state.
      this.finish(slot, { status: 'timeout', code: 'ETIMEDOUT', attempts: t.attempts[slot] }, true);
      return;
    }
    if (t.retriesLeft[slot] > 0 && now >= t.lastSentPerf[slot] + t.rtoMs[slot]) {
      t.retriesLeft[slot]--;
      // RFC 6298 §5.5: back off the timer by doubling on every retransmission.
      t.rtoMs[slot] *= 2;
      this.counters.retransmits++;
      this.sendSyn(slot, now);
    }
    this.scheduleNext(slot, now);
  }

  private finish(slot: number, outcome: ProbeOutcome, remember: boolean, notify = true, now = performance.now()): void {
    const t = this.table;
    const key = t.key[slot];
    const isn = t.isn[slot];
    const captureId = t.captureId[slot];
    if (t.callbacks[slot] === undefined) return;
    const destination = t.destinationKey[slot];
    const busy = this.busyByDestination.get(destination) - 1;
    if (busy > 0) this.busyByDestination.set(destination, busy);
    else this.busyByDestination.delete(destination);
    const callback = t.release(slot)!;
    if (remember) this.recent.add(key, isn, now);
    if (!notify) this.counters.aborted++;
    else this.counters[outcome.status === 'error' ? 'errors' : outcome.status]++;
    this.captures?.release(captureId);
    if (t.size === 0 && this.waiting.size === 0) this.timer.setKeepAlive(false);
    if (notify) callback(outcome);
    if (this.waiting.size > 0) this.launchWaiting(destination);
  }

  /** Queues a probe until a source port frees up for its destination. */
  private waitForPort(target: ProbeTarget, remote: Uint8Array, route: Route, options: ProbeOptions, callback: ProbeCallback): () => void {
    const destination = tupleKey(remote, 0, remote.length, target.port, 0);
    const entry: WaitingProbe = { target, remote, route, options, callback, cancelled: false };
    let queue = this.waiting.get(destination);
    if (!queue) this.waiting.set(destination, (queue = []));
    queue.push(entry);
    this.waitingCount++;
    this.counters.waitedForPort++;
    return () => {
      if (entry.cancelled) return;
      entry.cancelled = true;
      this.counters.aborted++;
    };
  }

  /** A port of `destination` was freed: start the oldest probe waiting for one. */
  private launchWaiting(destination: number): void {
    const queue = this.waiting.get(destination);
    while (queue && queue.length > 0) {
      const entry = queue.shift()!;
      this.waitingCount--;
      if (queue.length === 0) this.waiting.delete(destination);
      if (entry.cancelled) continue;
      if (performance.now() >= entry.options.deadline) {
        this.counters.timeout++;
        entry.callback({ status: 'timeout', code: 'ETIMEDOUT', attempts: 0 });
        continue;
      }
      this.launchOrReport(entry.target, entry.remote, entry.route, entry.options, entry.callback);
      return;
    }
  }

  // --- receiving ------------------------------------------------------------------------------

  private readonly onFrame: FrameHandler = (frame, timestampUs, linkType) => {
    const view = this.replyView;
    // The common case read in place, without allocating; everything else goes the general way.
    if (!this.verifyChecksums && view.read(frame, linkType)) {
      this.options.onPacket?.('received', frame.subarray(view.ipAt), timestampUs);
      return this.onTcp(view, timestampUs);
    }
    const offset = ipOffset(frame, linkType);
    if (offset < 0) return this.malformed();
    const bytes = frame.subarray(offset);
    this.options.onPacket?.('received', bytes, timestampUs);
    const reply = decodeReply(bytes, this.verifyChecksums);
    switch (reply.kind) {
      case 'tcp':
        return this.onTcp(view.fromRepr(reply.family, reply.src, reply.dst, reply.ttl, reply.tcp), timestampUs);
      case 'icmp':
        return this.onIcmp(reply.family, reply.responder, reply.type, reply.code, reply.errno, reply.quoted, reply.ttl, timestampUs);
      case 'ignored':
        return this.ignored();
      case 'malformed':
        return this.malformed();
    }
  };

  private onTcp(reply: TcpReplyView, timestampUs: number): void {
    const { bytes, srcAt, dstAt, addrLen, family, flags } = reply;
    const key = tupleKey(bytes, srcAt, addrLen, reply.srcPort, reply.dstPort);
    const t = this.table;
    const slot = t.find(key, family, bytes, reply.srcPort, reply.dstPort, srcAt);
    const syn = (flags & TcpFlags.SYN) !== 0;
    const ack = (flags & TcpFlags.ACK) !== 0;
    const rst = (flags & TcpFlags.RST) !== 0;
    const now = performance.now();

    if (slot < 0 || !this.sameAddress(slot, bytes, dstAt, addrLen, t.localAddr)) {
      // A SYN-ACK for a probe that already finished (our RST was lost, or the server
      // retransmitted before it arrived): one more RST at most, never a second verdict.
      if (syn && ack && !rst && this.sendsRst) {
        const claim = this.recent.claimExtraRst(key, reply.ack, now);
        if (claim !== 'unknown') {
          this.counters.duplicateSynAcks++;
          if (claim === 'send') {
            if (this.rstLimiter.allow(tupleKey(bytes, srcAt, addrLen, 0, 0), now)) {
              this.sendRst(family, bytes, dstAt, bytes, srcAt, reply.dstPort, reply.srcPort, reply.ack);
            } else {
              this.counters.rstRateLimited++;
            }
          }
          return;
        }
      }
      return this.ignored();
    }

    const expectedAck = (t.isn[slot] + 1) >>> 0;
    if (syn && ack && !rst) {
      if (reply.ack !== expectedAck) return this.ignored();
      // RFC 793 §3.4: a reset for an unexpected SYN-ACK carries seq = the segment's ack.
      if (this.sendsRst) this.sendRst(family, bytes, dstAt, bytes, srcAt, reply.dstPort, reply.srcPort, reply.ack);
      this.finish(
        slot,
        {
          status: 'open',
          rttMs: this.rtt(slot, timestampUs, now),
          attempts: t.attempts[slot],
          evidence: reply.parsedOptions
            ? { flags: formatTcpFlags(flags), ttl: reply.ttl, window: reply.window, ...synOptionEvidence(reply.parsedOptions) }
            : synAckEvidence(formatTcpFlags(flags), reply.ttl, reply.window, bytes, reply.optionsAt, reply.optionsEnd),
        },
        true,
        true,
        now,
      );
      return;
    }
    if (rst) {
      // RFC 793 §3.4 (SYN-SENT): a RST is acceptable only if it acknowledges our SYN.
      if (!ack || reply.ack !== expectedAck) return this.ignored();
      this.finish(
        slot,
        {
          status: 'closed',
          code: 'ECONNREFUSED',
          rttMs: this.rtt(slot, timestampUs, now),
          attempts: t.attempts[slot],
          evidence: { flags: formatTcpFlags(flags), ttl: reply.ttl, window: reply.window },
        },
        true,
        true,
        now,
      );
      return;
    }
    this.ignored();
  }

  private onIcmp(
    family: Family,
    responder: Uint8Array,
    type: number,
    code: number,
    errno: string,
    quoted: IcmpQuote | undefined,
    ttl: number,
    timestampUs: number,
  ): void {
    if (!quoted || quoted.protocol !== 6 || quoted.srcPort === undefined || quoted.dstPort === undefined) return this.ignored();
    const key = tupleKey(quoted.dst, 0, quoted.dst.length, quoted.dstPort, quoted.srcPort);
    const t = this.table;
    const slot = t.find(key, family, quoted.dst, quoted.dstPort, quoted.srcPort);
    // The quoted header must be our SYN: our source address and our ISN.
    if (slot < 0 || !this.sameAddress(slot, quoted.src, 0, quoted.src.length, t.localAddr) || quoted.seq !== t.isn[slot]) return this.ignored();
    this.finish(
      slot,
      {
        status: 'unreachable',
        code: errno,
        rttMs: this.rtt(slot, timestampUs, performance.now()),
        attempts: t.attempts[slot],
        evidence: { icmpType: type, icmpCode: code, responder: formatAddress(responder), ttl },
      },
      true,
    );
  }

  private rtt(slot: number, timestampUs: number, now: number): number {
    const t = this.table;
    const fromCapture = (timestampUs - t.lastSentWallUs[slot]) / 1000;
    const fromClock = now - t.lastSentPerf[slot];
    // Capture timestamps are the kernel's receive time, the better number; fall back to the
    // process clock when they disagree with it (clock steps, a library without timestamps).
    const rtt = timestampUs > 0 && fromCapture >= 0 && fromCapture <= fromClock + 1 ? fromCapture : fromClock;
    return Math.round(rtt * 1000) / 1000;
  }

  private sameAddress(slot: number, addr: Uint8Array, addrAt: number, addrLen: number, column: Uint8Array): boolean {
    const base = slot * 16;
    for (let i = 0; i < addrLen; i++) if (column[base + i] !== addr[addrAt + i]) return false;
    return true;
  }

  private malformed(): void {
    this.counters.malformed++;
  }

  private ignored(): void {
    this.counters.repliesIgnored++;
  }

  // --- ports, ISNs, routes, captures -------------------------------------------------------------

  /**
   * A source port whose 4-tuple with this destination is not in flight. The cursor walks the
   * whole range before it comes back to a port, which already keeps a tuple's reuse as far apart
   * as the range allows; a reused tuple gets a new ISN (the clock term), so a late reply to its
   * predecessor cannot match it. O(1) unless nearly every port is busy with this destination.
   */
  private pickPort(remote: Uint8Array, remotePort: number): number {
    const [low, high] = this.portRange;
    const width = high - low + 1;
    for (let tries = 0; tries < width; tries++) {
      const port = this.nextPort;
      this.nextPort = port >= high ? low : port + 1;
      if (!this.table.has(tupleKey(remote, 0, remote.length, remotePort, port))) return port;
    }
    return -1;
  }

  /**
   * parseAddress remembering the last target: checks come in runs to one target (a monitor, the
   * Go tool's -n), and a sweep of distinct targets pays one comparison. The bytes are shared,
   * never written.
   */
  private targetBytes(text: string): Uint8Array | undefined {
    if (text === this.lastTarget.text) return this.lastTarget.bytes;
    const bytes = parseAddress(text);
    if (bytes) this.lastTarget = { text, bytes };
    return bytes;
  }

  /** A route's source address as bytes; there are only a few sources, each parsed once. */
  private sourceBytes(text: string): Uint8Array | undefined {
    let bytes = this.parsedSources.get(text);
    if (bytes === undefined) {
      bytes = parseAddress(text);
      if (bytes && this.parsedSources.size < 256) this.parsedSources.set(text, bytes);
    }
    return bytes;
  }

  /** The route when it needs no lookup: given in the options, or cached. */
  private knownRoute(target: ProbeTarget): Route | undefined {
    const source = this.sourceOverride[target.family];
    if (source && this.options.interface !== undefined) return { source: source.text, interface: this.options.interface };
    return this.routes.peek(target.ip);
  }
}
