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
import { watchAbort, unwatchAbort } from '../core/abort-watch.js';
import { AbortError, InvalidArgumentError, StateError, SystemError, UnsupportedError } from '../core/errors.js';
import type { Family, ProbeOptions, ProbeOutcome, ProbeTarget, Strategy } from '../core/types.js';
import { NativeRawTransport, type PacketSlot, type RawTransport } from '../native/sender.js';
import { openLiveCapture, type FrameHandler } from '../capture/pcap.js';
import { CapturePool, type CaptureOpener } from './capture-pool.js';
import { IsnGenerator } from './isn.js';
import { buildCaptureFilter } from '../capture/filter.js';
import { NftShim, sweepStaleTables } from '../firewall/nftables.js';
import { DeadlineTimer } from '../core/deadline-heap.js';
import { DEFAULT_RETRANSMIT_POLICY, RttEstimator, budgetedRtoMs, retransmitDelayMs, unmeasuredRtoMs, type RetransmitPolicy } from './rto.js';
import { ProbeTable, RecentProbes, type ProbeCallback } from './probe-table.js';
import { RstLimiter } from './rst-limiter.js';
import { tupleKey } from './tuple-key.js';
import { NumberIndex } from './number-index.js';
import { defaultProbePortRange, checkPortRange, type PortRange } from '../core/port-range.js';
import { classifyConnectErrno } from '../core/errno.js';
import { RouteCache, type Route } from './route.js';
import { PortClaims, kernelPortBinder, type PortBinder } from './port-claims.js';
import { PortWaitQueue, type PortWaiter } from './port-wait-queue.js';
import { matchReply, newReplyMatch, type IcmpFields } from './reply-match.js';
import type { TcpReplyView } from './tcp-reply-view.js';
import {
  buildSyn,
  PacketTemplate,
  synLength,
  parseAddress,
  formatAddress,
  formatTcpFlags,
  type SynSpec,
} from '../wire/index.js';
import { synAckEvidence, synOptionEvidence } from './evidence.js';

/** net.ipv4.tcp_invalid_ratelimit's default: how often a server answers a repeated SYN. */
const SERVER_REPEAT_INTERVAL_MS = 500;

/**
 * Blocks of source ports claimed at start (port-claims.ts): 256 ports, 256 fds. More are
 * claimed when every one is busy or possibly half-open toward one destination; the number
 * trades fds held by an idle engine against how soon a finished tuple is reused.
 */
const INITIAL_CLAIM_BLOCKS = 4;

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
  /**
   * RTO before a destination has answered; default a third of the timeout, 100-1000 ms. Once it
   * has answered, the RTO comes from its measured round trips (RFC 6298, engine/rto.ts).
   */
  initialRtoMs?: number;
  /** Floor of any RTO (default 100 ms; engine/rto.ts says why not Linux's 200). */
  minRtoMs?: number;
  /** Retransmissions one RTO apart before the RTO doubles (default 4, Linux's tcp_syn_linear_timeouts). */
  linearRetransmits?: number;
  /** Verify TCP/ICMP checksums of replies (off by default: offloaded checksums on lo/veth). */
  verifyChecksums?: boolean;
  /** Overrides for the SYN (ttl, window, options...). */
  syn?: Partial<Omit<SynSpec, 'src' | 'dst' | 'srcPort' | 'dstPort' | 'seq'>>;
  /** Close a capture after this long with no probe on its interface (default 2000 ms). */
  captureIdleMs?: number;
  /**
   * Bytes of each capture's kernel ring (default 64 MiB, some 110k replies). The kernel zeroes
   * and pins all of it when the capture opens; a caller that knows how many checks it keeps in
   * flight can size it for them (see ringBytesFor), since each check has at most a reply or two
   * waiting to be read.
   */
  captureBufferBytes?: number;
  /**
   * Called with every IP packet the engine sends and every reply it captures (before matching),
   * e.g. to record them in a pcap file (LINKTYPE_RAW). `bytes` is only valid during the call.
   */
  onPacket?: (direction: 'sent' | 'received', bytes: Uint8Array, timestampUs: number) => void;
  /** Told once, when something goes wrong mid-run that `warnings` then lists (the shim was lost). */
  onWarning?: (message: string) => void;
  /** Test seams. */
  transport?: RawTransport;
  /** How source ports are claimed from the kernel (default: bound TCP sockets, port-claims.ts). */
  portBinder?: PortBinder;
  openCapture?: CaptureOpener;
  installShim?: boolean;
}

/**
 * A probe in the port-wait queue (port-wait-queue.ts): what launch() needs, copied in (the target
 * too: it is the ProbeTarget launch() gets), so the caller's objects for the check need not live
 * as long as it waits (at -c 20000, long enough to be promoted and collected late).
 */
class WaitingProbe implements PortWaiter, ProbeTarget {
  queued = false;
  cancelled = false;
  /** Once launched from the queue: its probe's slot and generation (no closure per waiter). */
  slot = -1;
  generation = 0;
  readonly ip: string;
  readonly family: Family;
  readonly port: number;

  constructor(
    target: ProbeTarget,
    readonly remote: Uint8Array,
    readonly route: Route,
    readonly deadline: number,
    readonly retries: number,
    readonly callback: ProbeCallback,
    /** performance.now() when it started waiting: the wait is the engine's, not the target's. */
    readonly queuedAt: number,
  ) {
    this.ip = target.ip;
    this.family = target.family;
    this.port = target.port;
  }
}

function noop(): void {}

/**
 * submitHandle()'s handles. A launched probe's is its slot and the low bits of its generation, one
 * number (2^26 slots x 2^27 generations < 2^53): what checkMany keeps per check instead of a
 * canceller closure. A check still waiting (for a route, or for a source port) gets a negative
 * handle naming its canceller (see defer). NO_HANDLE: already answered.
 */
export const NO_HANDLE = -1;
/** What cancels a deferred check: its port-wait entry, or a closure (a route lookup under way). */
type Deferred = WaitingProbe | (() => void);
const SLOT_SPACE = 2 ** 26;
const HANDLE_GENERATIONS = 2 ** 27;

/** launch(): no clean source port for the destination now; launchOrReport(): failed, and the callback was told. */
const NO_PORT = -1;
/**
 * Above this many probes in flight the sender thread sends everything (RawTransport.busy): a few
 * packets sent on the event loop save a thread wake-up at -c 1 or a trickle, but under load they
 * put the target's kernel work on the loop's core (the CLI sweeping a /17 spent 3 µs a check so).
 */
const INLINE_MAX_IN_FLIGHT = 8;
const REPORTED = -2;

export class RawStrategy implements Strategy {
  readonly name = 'raw' as const;
  readonly portRange: PortRange;
  private readonly table = new ProbeTable();
  private readonly recent = new RecentProbes();
  /**
   * RSTs in the kernel's place for SYN-ACKs nothing here sent (onStrayedSynAck): the kernel
   * sends these unlimited on every port the shim leaves it, so a limit far above the one for
   * finished probes; 1000/s per server clears an overload's leftovers (a few thousand
   * handshakes, each SYN-ACK retransmitted at 1, 3, 7... s) within seconds, and a flood of
   * forged SYN-ACKs still gets at most that many small RSTs back.
   */
  private readonly strayRstLimiter = new RstLimiter(1000, 1000);
  private readonly routes = new RouteCache();
  /** The route when `source` and `interface` are both given: one object, not one per check. */
  private readonly fixedRoutes: { [F in Family]?: Route } = {};
  private readonly parsedSources = new Map<string, Uint8Array>();
  private lastTarget: { text: string; bytes: Uint8Array } = { text: '', bytes: new Uint8Array(0) };
  /** One match result reused for every captured frame (see reply-match.ts). */
  private readonly match = newReplyMatch();
  private readonly verifyChecksums: boolean;
  private readonly timer: DeadlineTimer;
  private readonly isns = new IsnGenerator();
  private readonly retransmitPolicy: RetransmitPolicy;
  /** Round trips per destination address, for the RTO. */
  private readonly rtts: RttEstimator;
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
  /** The source ports this engine holds (claimed at start, grown on demand); undefined before start. */
  private claims: PortClaims | undefined;
  /** Index into claims.ports of the next port to try. */
  private nextPort = 0;
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
    freshTuples: 0,
    lateAnswers: 0,
    strayedSynAcksReset: 0,
  };
  /** Probes waiting for a clean source port, by destination (tuple key with local port 0). */
  private readonly waiting = new PortWaitQueue<WaitingProbe>((entry, port) => this.launchWaiter(entry, port));
  /** Cancellers of checks not on the wire yet (waiting for a route or a port): submitHandle()'s negative handles (see defer). */
  private deferredCancel: Array<Deferred | undefined> = [];
  private deferredGen: number[] = [];
  private freeDeferred: number[] = [];
  /** In-flight probes per destination (tuple key with local port 0): all ports busy is O(1). */
  private readonly busyByDestination = new NumberIndex();

  constructor(private readonly options: RawStrategyOptions = {}) {
    this.portRange = options.sourcePorts ? checkPortRange(options.sourcePorts) : defaultProbePortRange();
    this.timer = new DeadlineTimer(
      () => performance.now(),
      (slot, gen) => this.onTimer(slot, gen),
      (slot, gen) => this.table.isLive(slot, gen),
    );
    for (const text of options.source === undefined ? [] : typeof options.source === 'string' ? [options.source] : options.source) {
      const bytes = parseAddress(text);
      if (!bytes) throw new InvalidArgumentError(`source ${JSON.stringify(text)} is not an IP address`);
      const family: Family = bytes.length === 4 ? 4 : 6;
      if (this.sourceOverride[family]) throw new InvalidArgumentError(`source: one IPv${family} address at most, got two`);
      this.sourceOverride[family] = { text, bytes };
    }
    this.sendsRst = options.rstShim !== false;
    this.retransmitPolicy = {
      ...DEFAULT_RETRANSMIT_POLICY,
      ...(options.initialRtoMs !== undefined ? { initialRtoMs: options.initialRtoMs } : {}),
      ...(options.minRtoMs !== undefined ? { minRtoMs: options.minRtoMs } : {}),
      ...(options.linearRetransmits !== undefined ? { linearRetransmits: options.linearRetransmits } : {}),
    };
    this.rtts = new RttEstimator(this.retransmitPolicy);
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
      this.options.captureBufferBytes,
    );
    const transport =
      this.options.transport ?? new NativeRawTransport((error, tag, generation) => this.onSendError(error, tag, generation));
    let claims: PortClaims | undefined;
    try {
      claims = new PortClaims(this.portRange, this.options.portBinder ?? kernelPortBinder());
      for (let i = 0; i < INITIAL_CLAIM_BLOCKS && claims.canGrow; i++) claims.grow();
      if (claims.size === 0) {
        throw (
          claims.error ??
          new SystemError(
            `no free source port in ${this.portRange[0]}-${this.portRange[1]}: other engines or listeners hold all of them`,
            'EADDRINUSE',
            -98,
            'bind',
          )
        );
      }
      this.claims = claims;
      if (transport instanceof NativeRawTransport) transport.open(4);
      this.transport = transport;
      // Read alongside the shim's install, so the first probes do not wait for `ip`. (Only for
      // the native transport: the unit tests' fake engine never asks for a route.)
      const routesRead = transport instanceof NativeRawTransport ? this.routes.prefetch() : Promise.resolve();
      if (this.options.rstShim !== false && this.options.installShim !== false) {
        await sweepStaleTables().catch(() => undefined);
        this.shim = await NftShim.install({
          portRange: this.portRange,
          ports: claims.ports,
          onLost: (error) => {
            this.counters.shimLost++;
            const message = `the nftables shim was lost (${error.message}): the local kernel now answers SYN-ACKs with its own RST`;
            this.warnings.push(message);
            this.options.onWarning?.(message);
          },
        });
        if (this.shim.warning) this.warnings.push(this.shim.warning);
      }
      await routesRead;
    } catch (error) {
      transport.close();
      this.transport = undefined;
      claims?.release();
      this.claims = undefined;
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
      // One listener on the signal however many probes share it (core/abort-watch.ts).
      const onAbort = (): void => {
        if (settled) return;
        settled = true;
        cancel();
        reject(signal!.reason ?? new AbortError());
      };
      const done: ProbeCallback = (outcome) => {
        if (settled) return;
        settled = true;
        if (signal) unwatchAbort(signal, onAbort);
        resolve(outcome);
      };
      let cancel: () => void;
      try {
        cancel = this.submit(target, options, done);
      } catch (error) {
        reject(error);
        return;
      }
      if (signal && !settled) watchAbort(signal, onAbort);
    });
  }

  /**
   * Gets the engine ready for checks to these targets without sending anything: each one's route
   * is looked up and the capture it needs is opened now (libpcap and its ring take 10-25 ms),
   * so the first checks wait for neither. The CLI calls it before its clock starts: a sweep of
   * a /17 lasts a few tenths of a second, and on the first probe these took a tenth of that.
   * What fails here (no route, no capture) is not reported: the checks meet it again and say so.
   */
  async prepare(targets: readonly ProbeTarget[]): Promise<void> {
    if (this.closed) throw new StateError('the raw engine is closed', 'ERR_SHAKER_CLOSED');
    if (!this.started || !this.transport) throw new StateError('the raw engine is not started', 'ERR_SHAKER_NOT_STARTED');
    for (const target of targets) {
      const remote = target.address ?? this.targetBytes(target.ip);
      if (!remote || (remote.length === 4) !== (target.family === 4)) continue;
      let route: Route;
      try {
        route = this.knownRoute(target, remote) ?? (await this.routes.lookup(target.ip, target.family, remote));
      } catch {
        continue;
      }
      if (this.closed) return;
      try {
        // Released at once: the capture stays open for captureIdleMs, long enough for the run
        // that follows to take it.
        this.captures!.release(this.captures!.acquire(this.options.interface ?? route.interface));
      } catch {
        // The first check to this interface tries again and reports the failure.
      }
    }
  }

  /**
   * The callback form of probe(), for callers that run many checks: no promise per probe inside
   * the engine, and no await when the route to the target is known. `callback` gets exactly one
   * outcome (never for a cancelled probe). Throws for misuse (not started, closed, an address of
   * the wrong family); what goes wrong later (no route, no capture) arrives as status 'error'.
   * Returns a canceller.
   */
  submit(target: ProbeTarget, options: ProbeOptions, callback: ProbeCallback): () => void {
    const handle = this.submitHandle(target, options, callback);
    return handle === NO_HANDLE ? noop : () => this.cancelHandle(handle);
  }

  /**
   * submit() with a number to cancelHandle() by instead of a closure: a caller holding many checks
   * (checkMany) keeps a number per check, and nothing is allocated for the canceller. Throws as
   * submit() does. Cancel a handle only while its check is in flight (before its callback).
   */
  submitHandle(target: ProbeTarget, options: ProbeOptions, callback: ProbeCallback): number {
    // Closed first: close() also drops the transport, and a closed engine must say so.
    if (this.closed) throw new StateError('the raw engine is closed', 'ERR_SHAKER_CLOSED');
    if (!this.started || !this.transport) throw new StateError('the raw engine is not started', 'ERR_SHAKER_NOT_STARTED');
    const remote = target.address ?? this.targetBytes(target.ip);
    if (!remote || (remote.length === 4) !== (target.family === 4)) {
      throw new UnsupportedError(`not an IPv${target.family} address: ${target.ip}`);
    }
    const route = this.knownRoute(target, remote);
    if (route) return this.launchOrWait(target, remote, route, options, callback);

    // First probe to this address: ask the kernel's routing table, then go on.
    let cancelled = false;
    let launched = NO_HANDLE;
    const handle = this.defer(() => {
      cancelled = true;
      if (launched !== NO_HANDLE) this.cancelHandle(launched);
    });
    const done: ProbeCallback = (outcome) => {
      this.undefer(handle);
      callback(outcome);
    };
    this.routes.lookup(target.ip, target.family, remote).then(
      (found) => {
        if (cancelled) return;
        if (this.closed) return done(this.closedOutcome(0));
        launched = this.launchOrWait(target, remote, found, options, done);
      },
      (error: Error) => {
        if (!cancelled) done({ status: 'error', code: (error as { code?: string }).code ?? 'ENETUNREACH', attempts: 0, error });
      },
    );
    return handle;
  }

  /** Cancels a check submitHandle() began: freed without a callback. A no-op once it has answered. */
  cancelHandle(handle: number): void {
    if (handle >= 0) {
      const slot = handle % SLOT_SPACE;
      const gen = (handle - slot) / SLOT_SPACE;
      const t = this.table;
      if (slot < t.gen.length && t.gen[slot] % HANDLE_GENERATIONS === gen) this.cancelProbe(slot, t.gen[slot]);
      return;
    }
    const canceller = this.undefer(handle);
    if (canceller instanceof WaitingProbe) this.cancelWaiting(canceller);
    else canceller?.();
  }

  /** A launched probe's handle (see NO_HANDLE). */
  private handleOf(slot: number): number {
    if (slot >= SLOT_SPACE) throw new UnsupportedError(`more than ${SLOT_SPACE} probes in flight`);
    return (this.table.gen[slot] % HANDLE_GENERATIONS) * SLOT_SPACE + slot;
  }

  /**
   * Registers the canceller of a check that is not on the wire yet and returns its (negative)
   * handle: a place in an array, reused through a free list, and the place's generation, so a
   * stale handle never reaches the place's next check. No hashing per check.
   */
  private defer(canceller: Deferred): number {
    let id: number;
    if (this.freeDeferred.length > 0) {
      id = this.freeDeferred.pop()!;
      this.deferredCancel[id] = canceller;
    } else {
      id = this.deferredCancel.length;
      if (id >= SLOT_SPACE) throw new UnsupportedError(`more than ${SLOT_SPACE} checks waiting`);
      this.deferredCancel.push(canceller);
      this.deferredGen.push(0);
    }
    return -2 - (id + (this.deferredGen[id] % HANDLE_GENERATIONS) * SLOT_SPACE);
  }

  /** The canceller behind a deferred handle, taken out (undefined when it is stale or gone). */
  private undefer(handle: number): Deferred | undefined {
    const code = -2 - handle;
    const id = code % SLOT_SPACE;
    const canceller = this.deferredCancel[id];
    if (canceller === undefined || this.deferredGen[id] % HANDLE_GENERATIONS !== (code - id) / SLOT_SPACE) return undefined;
    this.deferredCancel[id] = undefined;
    this.deferredGen[id]++;
    this.freeDeferred.push(id);
    return canceller;
  }

  /**
   * launch(), or the port-wait queue when no clean source port is free for the destination
   * (more checks in flight to one ip:port than the engine has ports, or the rest possibly
   * half-open): the probe waits there, inside its deadline, as a kernel connect() would wait
   * for a free ephemeral port... except it would fail.
   */
  private launchOrWait(target: ProbeTarget, remote: Uint8Array, route: Route, options: ProbeOptions, callback: ProbeCallback): number {
    // Behind the probes already waiting for this destination: a newcomer must not take the port
    // that the oldest of them is owed (order kept, nobody starves).
    if (this.waiting.size === 0 || !this.waiting.has(tupleKey(remote, 0, remote.length, target.port, 0))) {
      const slot = this.launchOrReport(target, remote, route, options.deadline, options.retries, callback, -1);
      if (slot >= 0) return this.handleOf(slot);
      if (slot === REPORTED) return NO_HANDLE;
    }
    let handle = NO_HANDLE;
    const done: ProbeCallback = (outcome) => {
      this.undefer(handle);
      callback(outcome);
    };
    const entry = new WaitingProbe(target, remote, route, options.deadline, options.retries, done, performance.now());
    this.waiting.add(tupleKey(remote, 0, remote.length, target.port, 0), entry);
    this.counters.waitedForPort++;
    // The entry is its own canceller (cancelWaiting): no closure per waiting check.
    handle = this.defer(entry);
    return handle;
  }

  /** Tells the transport whether many probes are in flight (see INLINE_MAX_IN_FLIGHT). */
  private noteLoad(): void {
    if (this.transport) this.transport.busy = this.table.size > INLINE_MAX_IN_FLIGHT;
  }

  /** A check cancelled while it waited for a port, or after it left the queue. */
  private cancelWaiting(entry: WaitingProbe): void {
    if (entry.cancelled) return;
    if (entry.queued) {
      this.waiting.cancel(entry);
      this.counters.aborted++;
      if (this.table.size === 0 && this.waiting.size === 0) this.timer.setKeepAlive(false);
      return;
    }
    // Launched since it was queued: cancel the probe itself, or it would run on unowned.
    entry.cancelled = true;
    if (entry.slot >= 0) this.cancelProbe(entry.slot, entry.generation);
  }

  /**
   * A probe cancelled by its caller (an abort): freed without a callback, the caller has its
   * answer. Its SYN may have reached the server, whose handshake is then half-open as after a
   * timeout: the tuple is remembered unsettled, so no new SYN meets that handshake (an
   * "embryonic reset" would read as closed) and a late SYN-ACK still gets its RST.
   */
  private cancelProbe(slot: number, gen: number): void {
    const t = this.table;
    if (!t.isLive(slot, gen)) return;
    const sent = t.attempts[slot] > 0;
    this.finish(slot, { status: 'error', code: 'ABORT_ERR', attempts: t.attempts[slot] }, sent, false, performance.now(), false);
  }

  /**
   * The queue's launch (port-wait-queue.ts): starts a waiting probe on `port` (freed cleanly for
   * its destination) or on any clean port (-1). False when there is none yet.
   */
  private launchWaiter(entry: WaitingProbe, port: number): boolean {
    // Its deadline starts when its SYN leaves (issue #12): a check that only waited for one of
    // this engine's source ports must not read as a dead target. Abort still ends the wait.
    const deadline = entry.deadline + (performance.now() - entry.queuedAt);
    const slot = this.launchOrReport(entry, entry.remote, entry.route, deadline, entry.retries, entry.callback, port);
    if (slot === NO_PORT) return false;
    if (slot >= 0) {
      entry.slot = slot;
      entry.generation = this.table.gen[slot];
      // Its caller gave up while it launched (a callback that ran inside cancelled it).
      if (entry.cancelled) this.cancelProbe(slot, entry.generation);
    }
    return true;
  }

  /** launch(), with a failure (no source address, no capture) reported as status 'error' (REPORTED). */
  private launchOrReport(
    target: ProbeTarget,
    remote: Uint8Array,
    route: Route,
    deadline: number,
    retries: number,
    callback: ProbeCallback,
    port: number,
  ): number {
    try {
      return this.launch(target, remote, route, deadline, retries, callback, port);
    } catch (error) {
      callback({ status: 'error', code: (error as { code?: string }).code ?? 'ERR_SHAKER_SYSTEM', attempts: 0, error: error as Error });
      return REPORTED;
    }
  }

  /**
   * Allocates the probe, sends its SYN and arms its timer; returns its slot, or NO_PORT (nothing
   * done) when no clean source port is free for its destination. `port`: one just freed cleanly
   * toward this destination (the port-wait queue's hand-over), or -1 to pick one.
   */
  private launch(
    target: ProbeTarget,
    remote: Uint8Array,
    route: Route,
    deadline: number,
    retries: number,
    callback: ProbeCallback,
    port: number,
  ): number {
    const local = this.sourceOverride[target.family]?.bytes ?? this.sourceBytes(route.source);
    if (!local || local.length !== remote.length) {
      throw new UnsupportedError(`no IPv${target.family} source address to reach ${target.ip}`);
    }
    const destination = tupleKey(remote, 0, remote.length, target.port, 0);
    const busy = Math.max(0, this.busyByDestination.get(destination));
    if (busy >= this.claims!.size && this.claimMorePorts().length === 0) return NO_PORT;
    const now = performance.now();
    const localPort = port >= 0 && this.isClean(remote, target.port, port, now) ? port : this.pickPort(remote, target.port, now);
    if (localPort < 0) return NO_PORT;
    const captureId = this.captures!.acquire(this.options.interface ?? route.interface);
    const t = this.table;
    const key = tupleKey(remote, 0, remote.length, target.port, localPort);
    const slot = t.allocate(key, callback);
    this.noteLoad();
    this.busyByDestination.set(destination, busy + 1);
    t.destinationKey[slot] = destination;
    t.family[slot] = target.family;
    t.localPort[slot] = localPort;
    t.remotePort[slot] = target.port;
    t.remoteAddr.set(remote, slot * 16);
    t.localAddr.set(local, slot * 16);
    t.isn[slot] = this.isns.next(local, remote, localPort, target.port, now);
    t.deadline[slot] = deadline;
    const measured = this.rtts.rtoMs(tupleKey(remote, 0, remote.length, 0, 0));
    const timeoutMs = deadline - now;
    t.rtoMs[slot] = budgetedRtoMs(measured ?? unmeasuredRtoMs(timeoutMs, this.retransmitPolicy), timeoutMs, this.retransmitPolicy);
    t.rtoMeasured[slot] = measured === undefined ? 0 : 1;
    t.attempts[slot] = 0;
    t.repeatedPerf[slot] = 0;
    t.retriesLeft[slot] = Math.max(0, Math.min(255, retries));
    t.captureId[slot] = captureId;
    this.counters.probesStarted++;
    this.timer.setKeepAlive(true);
    this.sendSyn(slot, now);
    this.scheduleNext(slot, now);
    return slot;
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
    this.waiting.close((entry) => entry.callback(this.closedOutcome(0)));
    for (const slot of this.table.liveSlots()) this.finish(slot, this.closedOutcome(this.table.attempts[slot]), false);
    this.timer.stop();
    this.captures?.closeAll();
    // RSTs of the last verdicts may still sit in the send queue: close() sends them first, or the
    // servers would keep those handshakes half-open and retransmit their SYN-ACKs for a minute.
    this.transport?.close();
    this.transport = undefined;
    this.recent.clear();
    // Checks still waiting for a route lookup were answered above or are answered when it ends
    // (closed); their cancellers are of no use now.
    this.deferredCancel = [];
    this.deferredGen = [];
    this.freeDeferred = [];
    const shim = this.shim;
    this.shim = undefined;
    try {
      await shim?.remove();
    } finally {
      // Last: once released, another engine may take these ports.
      this.claims?.release();
    }
  }

  stats(): Record<string, number> {
    const captureDrops = this.captures?.drops() ?? 0;
    return {
      ...this.counters,
      ...(this.transport?.stats() ?? {}),
      inFlight: this.table.size,
      portsClaimed: this.claims?.size ?? 0,
      portsHeldElsewhere: this.claims?.heldElsewhere ?? 0,
      waitingForPort: this.waiting.size,
      routeTableReads: this.routes.stats.tableReads,
      routesResolved: this.routes.stats.routesResolved,
      routeKernelLookups: this.routes.stats.kernelLookups,
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
    let retransmitAt = Infinity;
    if (t.retriesLeft[slot] > 0) {
      retransmitAt = t.lastSentPerf[slot] + retransmitDelayMs(t.rtoMs[slot], t.attempts[slot], this.retransmitPolicy);
      // A guessed RTO is looked at again after the floor: by then another probe to the same
      // destination may have measured it (300 checks launched at once all start unmeasured).
      if (t.rtoMeasured[slot] === 0) retransmitAt = Math.min(retransmitAt, t.lastSentPerf[slot] + this.retransmitPolicy.minRtoMs);
    }
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
    if (t.retriesLeft[slot] > 0) {
      if (t.rtoMeasured[slot] === 0) {
        const measured = this.rtts.rtoMs(tupleKey(t.remoteAddr, slot * 16, t.family[slot] === 4 ? 4 : 16, 0, 0));
        if (measured !== undefined) {
          t.rtoMs[slot] = Math.min(t.rtoMs[slot], measured);
          t.rtoMeasured[slot] = 1;
        }
      }
      if (now >= t.lastSentPerf[slot] + retransmitDelayMs(t.rtoMs[slot], t.attempts[slot], this.retransmitPolicy)) {
        t.retriesLeft[slot]--;
        this.counters.retransmits++;
        // A server holding our SYN half-open answers its first repeat, then at most one repeat
        // per 500 ms (Linux's tcp_invalid_ratelimit); sooner than that, a repeat on the same
        // tuple is wasted, so it goes out on a fresh tuple, which gets an answer of its own.
        if (t.repeatedPerf[slot] === 0 || now - t.repeatedPerf[slot] >= SERVER_REPEAT_INTERVAL_MS) {
          t.repeatedPerf[slot] = now;
        } else {
          this.moveToFreshTuple(slot, now);
        }
        this.sendSyn(slot, now);
      }
    }
    this.scheduleNext(slot, now);
  }

  /**
   * Moves a live probe to another source port (new tuple, new ISN) for its next SYN. The tuple it
   * leaves is remembered with the probe as its owner: a late answer there still answers the
   * probe, and the tuple is not reused until a RST has cleared it on the server.
   */
  private moveToFreshTuple(slot: number, now: number): void {
    const t = this.table;
    const len = t.family[slot] === 4 ? 4 : 16;
    const base = slot * 16;
    // Every claimed port busy with this destination and none left to claim (more in flight to it
    // than the engine has ports, e.g. -c 20000 at one target): no fresh tuple exists, and looking
    // for one would walk every port on each retransmission.
    if (this.busyByDestination.get(t.destinationKey[slot]) >= this.claims!.size && !this.claims!.canGrow) return;
    const remote = t.remoteAddr.subarray(base, base + len);
    const port = this.pickPort(remote, t.remotePort[slot], now);
    if (port < 0) return;
    this.recent.add(t.key[slot], t.isn[slot], now, false, slot, t.gen[slot]);
    t.rekey(slot, tupleKey(remote, 0, len, t.remotePort[slot], port));
    t.localPort[slot] = port;
    t.isn[slot] = this.isns.next(t.localAddr.subarray(base, base + len), remote, port, t.remotePort[slot], now);
    t.repeatedPerf[slot] = 0;
    this.counters.freshTuples++;
  }

  /** `settled`: the server holds nothing on the probe's current tuple (see RecentProbes). */
  private finish(
    slot: number,
    outcome: ProbeOutcome,
    remember: boolean,
    notify = true,
    now = performance.now(),
    settled = outcome.status !== 'timeout',
  ): void {
    const t = this.table;
    const key = t.key[slot];
    const isn = t.isn[slot];
    const captureId = t.captureId[slot];
    const localPort = t.localPort[slot];
    if (t.callbacks[slot] === undefined) return;
    const destination = t.destinationKey[slot];
    const busy = this.busyByDestination.get(destination) - 1;
    if (busy > 0) this.busyByDestination.set(destination, busy);
    else this.busyByDestination.delete(destination);
    const callback = t.release(slot)!;
    this.noteLoad();
    if (remember) this.recent.add(key, isn, now, settled);
    if (!notify) this.counters.aborted++;
    else this.counters[outcome.status === 'error' ? 'errors' : outcome.status]++;
    this.captures?.release(captureId);
    if (t.size === 0 && this.waiting.size === 0) this.timer.setKeepAlive(false);
    if (notify) callback(outcome);
    // The port goes straight to the oldest probe waiting for this destination, unless its tuple
    // may still be half-open on the server (remembered unsettled: a timeout), which the
    // queue's periodic wake leaves to expire.
    if (this.waiting.size > 0 && !(remember && !settled)) this.waiting.portFreed(destination, localPort);
  }

  /** Neither in flight nor possibly half-open: a new SYN on this tuple meets no old handshake. */
  private isClean(remote: Uint8Array, remotePort: number, localPort: number, now: number): boolean {
    const key = tupleKey(remote, 0, remote.length, remotePort, localPort);
    return !this.table.has(key) && !this.recent.unsettled(key, now);
  }

  // --- receiving ------------------------------------------------------------------------------

  private readonly onFrame: FrameHandler = (frame, timestampUs, linkType) => {
    const match = matchReply(this.table, frame, linkType, this.verifyChecksums, this.match);
    if (match.ipAt >= 0) this.options.onPacket?.('received', match.ip, timestampUs);
    switch (match.verdict) {
      case 'open':
        return this.onOpen(match.slot, match.tcp, timestampUs);
      case 'closed':
        return this.onClosed(match.slot, match.tcp, timestampUs);
      case 'unreachable':
        return this.onUnreachable(match.slot, match.icmp!, timestampUs);
      case 'late-syn-ack':
        return this.onLateSynAck(match.tcp, match.tcpKey, timestampUs);
      case 'late-rst':
        return this.onLateRst(match.tcp, match.tcpKey, timestampUs);
      case 'ignored':
        return this.ignored();
      case 'malformed':
        return this.malformed();
    }
  };

  /** `onCurrentTuple` false: the answer came on a tuple the probe left (its current one may still be half-open). */
  private onOpen(slot: number, reply: TcpReplyView, timestampUs: number, onCurrentTuple = true): void {
    const t = this.table;
    const { bytes, srcAt, dstAt, family, flags } = reply;
    const now = performance.now();
    // RFC 793 §3.4: a reset for an unexpected SYN-ACK carries seq = the segment's ack.
    if (this.sendsRst) this.sendRst(family, bytes, dstAt, bytes, srcAt, reply.dstPort, reply.srcPort, reply.ack);
    const rttMs = this.rtt(slot, timestampUs, now);
    this.sampleRtt(slot, rttMs);
    this.finish(
      slot,
      {
        status: 'open',
        rttMs,
        attempts: t.attempts[slot],
        evidence: reply.parsedOptions
          ? { flags: formatTcpFlags(flags), ttl: reply.ttl, window: reply.window, ...synOptionEvidence(reply.parsedOptions) }
          : synAckEvidence(formatTcpFlags(flags), reply.ttl, reply.window, bytes, reply.optionsAt, reply.optionsEnd),
      },
      true,
      true,
      now,
      onCurrentTuple,
    );
  }

  private onClosed(slot: number, reply: TcpReplyView, timestampUs: number, onCurrentTuple = true): void {
    const t = this.table;
    const now = performance.now();
    const rttMs = this.rtt(slot, timestampUs, now);
    this.sampleRtt(slot, rttMs);
    this.finish(
      slot,
      {
        status: 'closed',
        code: 'ECONNREFUSED',
        rttMs,
        attempts: t.attempts[slot],
        evidence: { flags: formatTcpFlags(reply.flags), ttl: reply.ttl, window: reply.window },
      },
      true,
      true,
      now,
      onCurrentTuple,
    );
  }

  /**
   * A SYN-ACK on a tuple no live probe uses now, or that acknowledges another ISN than the live
   * probe's. If a live probe left that tuple for a fresh one, it is that probe's answer (open).
   * If it answers a probe that already finished (our RST was lost, or the server retransmitted
   * before it arrived): one more RST at most, never a second verdict. Otherwise nothing here sent
   * the SYN it answers, but it came to a port this engine holds: the shim keeps the kernel from
   * answering it, so the engine answers in the kernel's place (RFC 9293 §3.10.7.1, a RST with
   * seq = the segment's ack). That clears a handshake an earlier run (or engine, or a probe
   * forgotten under overload) left half-open on the server, which would otherwise answer later
   * SYNs on that tuple for its old ISN (issue #12: an overload poisoned the next run).
   */
  private onLateSynAck(reply: TcpReplyView, key: number, timestampUs: number): void {
    const { bytes, srcAt, dstAt, addrLen, family } = reply;
    const now = performance.now();
    const owner = this.liveOwner(key, reply.ack, now);
    if (owner >= 0) {
      this.counters.lateAnswers++;
      return this.onOpen(owner, reply, timestampUs, false);
    }
    if (!this.sendsRst) return this.ignored();
    const claim = this.recent.claimExtraRst(key, reply.ack, now);
    if (claim === 'unknown') return this.onStrayedSynAck(reply, key, now);
    this.counters.duplicateSynAcks++;
    if (claim !== 'send') return;
    // The limit of RSTs in the kernel's place: this one clears a handshake our own probe left.
    if (this.strayRstLimiter.allow(tupleKey(bytes, srcAt, addrLen, 0, 0), now)) {
      this.sendRst(family, bytes, dstAt, bytes, srcAt, reply.dstPort, reply.srcPort, reply.ack);
    } else {
      // Not sent, so the server still holds the handshake: the tuple stays out of reuse.
      this.recent.rstNotSent(key, reply.ack, now);
      this.counters.rstRateLimited++;
    }
  }

  /** A SYN-ACK to our port that answers no SYN the engine remembers (see onLateSynAck). */
  private onStrayedSynAck(reply: TcpReplyView, key: number, now: number): void {
    const { bytes, srcAt, dstAt, addrLen, family } = reply;
    this.ignored();
    // Another engine's port (its owner answers), or no one's (the kernel does: the shim leaves it).
    if (!this.claims?.owns(reply.dstPort)) return;
    const t = this.table;
    const slot = t.find(key, family, bytes, reply.srcPort, reply.dstPort, srcAt);
    // A live probe's SYN met a stale handshake on its tuple: after our RST the server holds
    // nothing there, so the probe's next SYN goes at once instead of after its RTO. Only a probe
    // with a retry left (--retries 0 stays one SYN), and that retry pays for the RST, so a flood
    // of forged SYN-ACKs gets no more out of us than the retries allow.
    const resend = slot >= 0 && t.retriesLeft[slot] > 0;
    if (resend || this.strayRstLimiter.allow(tupleKey(bytes, srcAt, addrLen, 0, 0), now)) {
      this.sendRst(family, bytes, dstAt, bytes, srcAt, reply.dstPort, reply.srcPort, reply.ack);
      this.counters.strayedSynAcksReset++;
    } else {
      this.counters.rstRateLimited++;
    }
    if (!resend) return;
    t.retriesLeft[slot]--;
    this.counters.retransmits++;
    t.repeatedPerf[slot] = now;
    // Queued after the RST, on the same path: the server sees them in this order.
    this.sendSyn(slot, now);
    this.scheduleNext(slot, now);
  }

  /** A RST-ACK on a tuple a live probe left: that probe's answer (closed). Else ignored. */
  private onLateRst(reply: TcpReplyView, key: number, timestampUs: number): void {
    const now = performance.now();
    const owner = this.liveOwner(key, reply.ack, now);
    if (owner < 0) return this.ignored();
    this.counters.lateAnswers++;
    this.onClosed(owner, reply, timestampUs, false);
  }

  /** The live probe that left tuple `key` whose SYN `ack` acknowledges, or -1 (settles the tuple). */
  private liveOwner(key: number, ack: number, now: number): number {
    const i = this.recent.find(key, ack, now);
    if (i < 0) return -1;
    const slot = this.recent.ownerSlot(i);
    if (slot < 0 || !this.table.isLive(slot, this.recent.ownerGeneration(i))) return -1;
    // Answered: a RST-ACK leaves the server nothing, a SYN-ACK gets our RST in onOpen.
    this.recent.settle(i);
    return slot;
  }

  private onUnreachable(slot: number, icmp: IcmpFields, timestampUs: number): void {
    this.finish(
      slot,
      {
        status: 'unreachable',
        code: icmp.errno,
        rttMs: this.rtt(slot, timestampUs, performance.now()),
        attempts: this.table.attempts[slot],
        evidence: { icmpType: icmp.type, icmpCode: icmp.code, responder: formatAddress(icmp.responder), ttl: icmp.ttl },
      },
      true,
    );
  }

  /**
   * Feeds the destination's RTO estimate. Karn's rule (RFC 6298 §3): a reply after a
   * retransmission may answer either SYN (they carry the same ISN), so it measures nothing.
   */
  private sampleRtt(slot: number, rttMs: number): void {
    const t = this.table;
    if (t.attempts[slot] !== 1) return;
    this.rtts.sample(tupleKey(t.remoteAddr, slot * 16, t.family[slot] === 4 ? 4 : 16, 0, 0), rttMs);
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

  private malformed(): void {
    this.counters.malformed++;
  }

  private ignored(): void {
    this.counters.repliesIgnored++;
  }

  // --- ports, ISNs, routes, captures -------------------------------------------------------------

  /**
   * A source port whose 4-tuple with this destination is neither in flight nor possibly still
   * half-open on the server (a recent tuple that timed out or was left for a fresh one, until
   * our RST clears it): a new SYN on such a tuple meets the server's old connection, which
   * answers for the old ISN (issue #12: an overload poisoned the next run). Only ports this
   * engine claimed (port-claims.ts), so no other engine on the host shares a tuple with it. The
   * cursor walks every claimed port before it comes back to one, which keeps a tuple's reuse as
   * far apart as the claim allows; when none is clean, another block is claimed. A reused tuple
   * gets a new ISN (the clock term), so a late reply to its predecessor cannot match it. O(1)
   * unless nearly every port is busy with this destination.
   */
  private pickPort(remote: Uint8Array, remotePort: number, now: number): number {
    const ports = this.claims!.ports;
    let width = ports.length;
    for (let tries = 0; tries < width; tries++) {
      const port = this.nextClaimedPort(ports);
      const key = tupleKey(remote, 0, remote.length, remotePort, port);
      if (!this.table.has(key) && !this.recent.unsettled(key, now)) return port;
      // Every claimed port tried and none clean: claim more and go on from the first new one.
      if (tries === width - 1) {
        const added = this.claimMorePorts().length;
        if (added > 0) this.nextPort = ports.length - added;
        width += added;
      }
    }
    // Every clean tuple is taken and the range is exhausted. A tuple that is only possibly
    // half-open is not an option: a new SYN whose ISN falls inside the server's window for the
    // old handshake gets a RST (tcp_check_req's embryonic reset), which would read as a closed
    // port, and our ISNs for one tuple a few hundred ms apart are that close. The probe waits
    // (port-wait-queue.ts), and looks again as records expire.
    return -1;
  }

  private nextClaimedPort(ports: readonly number[]): number {
    if (this.nextPort >= ports.length) this.nextPort = 0;
    return ports[this.nextPort++];
  }

  /**
   * Claims another block of source ports and adds them to the shim's set; returns the ports
   * added (none once the range is exhausted). The first SYN-ACKs to them may meet the kernel
   * before nft has added them: it then sends the RST the engine sends anyway.
   */
  private claimMorePorts(): number[] {
    const claims = this.claims!;
    if (!claims.canGrow) return [];
    const added = claims.grow();
    if (added.length > 0) {
      this.shim?.addPorts(added).catch((error: Error) => {
        this.warnings.push(`cannot add source ports to the nftables shim (${error.message}): the kernel may answer SYN-ACKs to them with its own RST`);
      });
    } else if (claims.error) {
      this.warnings.push(`no more source ports claimed: ${claims.error.message}`);
    }
    return added;
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
  private knownRoute(target: ProbeTarget, remote: Uint8Array): Route | undefined {
    const source = this.sourceOverride[target.family];
    if (source && this.options.interface !== undefined) {
      return (this.fixedRoutes[target.family] ??= { source: source.text, interface: this.options.interface });
    }
    return this.routes.peek(target.ip, remote);
  }
}
