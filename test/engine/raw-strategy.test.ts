// The raw engine (RawStrategy) without root: a FakeTransport records the SYNs it builds, a fake
// capture feeds it replies built with src/wire, installShim: false keeps nftables out, and
// interface + source skip the route lookup. Everything here is about what the engine decides
// from which packets; no case asserts how long anything took.
import test, { type ExecutionContext } from 'ava';
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import { LinkType } from '../../src/wire/link-type.js';
import { buildCaptureFilter } from '../../src/capture/filter.js';
import { defaultProbePortRange } from '../../src/core/port-range.js';
import { InvalidArgumentError, StateError, UnsupportedError } from '../../src/core/errors.js';
import { NO_HANDLE, RawStrategy, type RawStrategyOptions } from '../../src/engine/raw-strategy.js';
import type { Family, ProbeOutcome } from '../../src/core/types.js';
import {
  buildIcmpError,
  buildTcpPacket,
  emitEthernet,
  EtherType,
  formatAddress,
  linuxSynOptions,
  parseAddress,
  TcpFlags,
  type TcpPacketSpec,
} from '../../src/wire/index.js';
import { FakeCaptures } from '../helpers/fake-capture.js';
import { FakeTransport, type SentPacket } from '../helpers/fake-transport.js';
import { FakePortTable } from '../helpers/fake-port-binder.js';
import { SeedRun } from '../helpers/seeds.js';
import { prng } from '../wire/util.js';

// Addresses from the benchmarking ranges (RFC 2544's 198.18.0.0/15, RFC 5180's 2001:2::/48):
// nothing is sent anyway, the transport is fake.
const NET = {
  4: { source: '198.18.0.1', target: '198.18.0.2', other: '198.18.0.3', router: '198.18.0.254' },
  6: { source: '2001:2::1', target: '2001:2::2', other: '2001:2::3', router: '2001:2::fe' },
} as const;

function addr(text: string): Uint8Array {
  const a = parseAddress(text);
  if (!a) throw new Error(`bad address ${text}`);
  return a;
}

interface Rig {
  raw: RawStrategy;
  transport: FakeTransport;
  captures: FakeCaptures;
  family: Family;
}

async function rig(t: ExecutionContext, family: Family = 4, options: RawStrategyOptions = {}): Promise<Rig> {
  const transport = new FakeTransport();
  const captures = new FakeCaptures();
  const raw = new RawStrategy({
    transport,
    openCapture: captures.open,
    installShim: false,
    interface: 'fake0',
    source: NET[family].source,
    captureIdleMs: 10,
    // Claims from a host of its own: tests run concurrently and must not claim each other's ports.
    portBinder: new FakePortTable().binder(),
    ...options,
  });
  // Whatever a failed test leaves behind: no timer or probe outlives its test. (Per test, not
  // afterEach over a shared list: ava runs a file's tests concurrently.)
  t.teardown(() => raw.close());
  await raw.start();
  t.deepEqual(transport.unparsable, []);
  return { raw, transport, captures, family };
}

/** Polls (macrotask turns, not a clock) until `check` holds; fails loudly instead of hanging. */
async function until(check: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await tick();
  }
}

/** Waits for the n-th SYN (1-based) and returns it. */
async function nthSyn(r: Rig, n = 1): Promise<SentPacket> {
  await until(() => r.transport.syns.length >= n, `SYN #${n}`);
  return r.transport.syns[n - 1];
}

function probe(r: Rig, opts: { port?: number; ip?: string; family?: Family; timeoutMs?: number; retries?: number; signal?: AbortSignal } = {}) {
  return r.raw.probe(
    { ip: opts.ip ?? NET[r.family].target, family: opts.family ?? r.family, port: opts.port ?? 80 },
    { deadline: performance.now() + (opts.timeoutMs ?? 10_000), retries: opts.retries ?? 0, signal: opts.signal },
  );
}

/** A TCP packet from the SYN's destination back to its source, swapped ports; fields overridable. */
function reply(syn: SentPacket, fields: Partial<TcpPacketSpec> & { flags: number }): Uint8Array {
  const buf = new Uint8Array(200);
  const len = buildTcpPacket(buf, 0, {
    src: syn.ip.dst,
    dst: syn.ip.src,
    srcPort: syn.tcp.dstPort,
    dstPort: syn.tcp.srcPort,
    seq: 0x1234_5678,
    ack: (syn.tcp.seq + 1) >>> 0,
    window: 0,
    ...fields,
  });
  return buf.subarray(0, len);
}

// What a Linux server answers: window 65160 (v4) / 64800 (v6), MSS, SACK_PERM, TS, NOP, WS 7.
const synAck = (syn: SentPacket, fields: Partial<TcpPacketSpec> = {}) =>
  reply(syn, {
    flags: TcpFlags.SYN | TcpFlags.ACK,
    window: syn.family === 4 ? 65160 : 64800,
    options: linuxSynOptions(syn.family === 4 ? 1460 : 1440, 1111, 7),
    ...fields,
  });
const rstAck = (syn: SentPacket, fields: Partial<TcpPacketSpec> = {}) => reply(syn, { flags: TcpFlags.RST | TcpFlags.ACK, seq: 0, ...fields });

function icmpError(syn: SentPacket, type: number, code: number, original: Uint8Array = syn.bytes, from?: string): Uint8Array {
  const buf = new Uint8Array(1400);
  const len = buildIcmpError(buf, 0, { src: addr(from ?? NET[syn.family].router), dst: syn.ip.src, type, code, original });
  return buf.subarray(0, len);
}

/** The SYN with its sequence number changed: what an ICMP error about someone else's SYN quotes. */
function otherSeq(syn: SentPacket): Uint8Array {
  const copy = syn.bytes.slice();
  const tcpAt = syn.ip.payloadOffset;
  copy[tcpAt + 4] ^= 0xff; // first byte of the sequence number
  return copy;
}

const ICMP_UNREACH = { 4: 3, 6: 1 } as const;
const ICMP_TIME_EXCEEDED = { 4: 11, 6: 3 } as const;

// --- the SYN -------------------------------------------------------------------------------------

const synShape = test.macro({
  async exec(t, family: Family) {
    const r = await rig(t, family);
    const pending = probe(r, { port: 8080 });
    const syn = await nthSyn(r);
    t.deepEqual(r.transport.unparsable, [], 'every packet the engine built parses with valid checksums');
    t.is(syn.family, family);
    t.is(formatAddress(syn.ip.src), NET[family].source);
    t.is(formatAddress(syn.ip.dst), NET[family].target);
    t.deepEqual([...syn.dst], [...addr(NET[family].target)], 'committed to the target');
    t.is(syn.ip.ttl, 64);
    t.is(syn.tcp.dstPort, 8080);
    const [low, high] = r.raw.portRange;
    t.true(syn.tcp.srcPort >= low && syn.tcp.srcPort <= high, `source port ${syn.tcp.srcPort} in ${low}-${high}`);
    t.is(syn.tcp.flags, TcpFlags.SYN);
    t.is(syn.tcp.ack, 0);
    t.is(syn.tcp.window, family === 4 ? 64240 : 64800);
    t.is(syn.tcp.payloadLength, 0);
    // Linux's order: MSS, SACK_PERM, TS, NOP, WS 7.
    t.deepEqual(
      syn.tcp.options.map((o) => o.kind),
      ['mss', 'sack-permitted', 'timestamps', 'nop', 'window-scale'],
    );
    t.like(syn.tcp.options[0], { kind: 'mss', mss: family === 4 ? 1460 : 1440 });
    t.like(syn.tcp.options[2], { kind: 'timestamps', tsEcr: 0 });
    t.like(syn.tcp.options[4], { kind: 'window-scale', shift: 7 });
    r.captures.push(rstAck(syn));
    await pending;
  },
  title: (_p, family: Family) => `IPv${family}: the SYN looks like Linux's and leaves from the engine's port range`,
});
test(synShape, 4);
test(synShape, 6);

test('the capture is opened on the probe interface, with the engine filter, before the first SYN', async (t) => {
  const r = await rig(t, 4);
  let sentBeforeOpen = -1;
  r.captures.onOpen = () => (sentBeforeOpen = r.transport.sent.length);
  const pending = probe(r);
  const syn = await nthSyn(r);
  t.is(sentBeforeOpen, 0);
  t.is(r.captures.opened.length, 1);
  t.is(r.captures.live.iface, 'fake0');
  t.is(r.captures.live.options.filter, buildCaptureFilter({ portRange: r.raw.portRange, families: [4, 6] }));
  r.captures.push(rstAck(syn));
  await pending;
});

test('the default source ports are the block beside the kernel ephemeral range', async (t) => {
  const r = await rig(t, 4);
  t.deepEqual(r.raw.portRange, defaultProbePortRange());
});

// --- verdicts ------------------------------------------------------------------------------------

const opens = test.macro({
  async exec(t, family: Family) {
    const r = await rig(t, family);
    const pending = probe(r);
    const syn = await nthSyn(r);
    t.true(r.captures.push(synAck(syn, { ttl: 57 })));
    const outcome = await pending;
    t.like(outcome, {
      status: 'open',
      attempts: 1,
      evidence: { flags: 'S.', ttl: 57, window: family === 4 ? 65160 : 64800, mss: family === 4 ? 1460 : 1440, windowScale: 7, sackPermitted: true, timestamps: true },
    });
    t.is(outcome.code, undefined);
    t.true(Number.isFinite(outcome.rttMs) && outcome.rttMs! >= 0);
    t.like(r.raw.stats(), { open: 1, inFlight: 0, probesStarted: 1, synsSent: 1 });
    // installShim: false only skips nftables (a test seam); the engine still answers the SYN-ACK
    // with exactly one RST whose seq is the SYN-ACK's ack (RFC 9293 §3.5.2).
    t.is(r.transport.rsts.length, 1);
    t.is(r.transport.rsts[0].tcp.seq, (syn.tcp.seq + 1) >>> 0);
    t.is(r.raw.stats().rstSent, 1);
  },
  title: (_p, family: Family) => `IPv${family}: a SYN-ACK acking ISN+1 → open, with the SYN-ACK's evidence`,
});
test(opens, 4);
test(opens, 6);

test('with rstShim: false the engine sends no RST either (the kernel answers the SYN-ACK)', async (t) => {
  const r = await rig(t, 4, { rstShim: false });
  const pending = probe(r);
  r.captures.push(synAck(await nthSyn(r)));
  t.is((await pending).status, 'open');
  t.is(r.transport.rsts.length, 0);
});

const closes = test.macro({
  async exec(t, family: Family) {
    const r = await rig(t, family);
    const pending = probe(r);
    const syn = await nthSyn(r);
    r.captures.push(rstAck(syn));
    const outcome = await pending;
    t.like(outcome, { status: 'closed', code: 'ECONNREFUSED', attempts: 1, evidence: { flags: 'R.', ttl: 64, window: 0 } });
    t.like(r.raw.stats(), { closed: 1, inFlight: 0 });
    t.is(r.transport.rsts.length, 0, 'nothing to reset');
  },
  title: (_p, family: Family) => `IPv${family}: a RST-ACK acking ISN+1 → closed, ECONNREFUSED`,
});
test(closes, 4);
test(closes, 6);

interface IcmpCase {
  family: Family;
  type: number;
  code: number;
  errno: string;
}
const unreachable = test.macro({
  async exec(t, c: IcmpCase) {
    const r = await rig(t, c.family);
    const pending = probe(r);
    const syn = await nthSyn(r);
    r.captures.push(icmpError(syn, c.type, c.code));
    const outcome = await pending;
    t.like(outcome, {
      status: 'unreachable',
      code: c.errno,
      attempts: 1,
      evidence: { icmpType: c.type, icmpCode: c.code, responder: NET[c.family].router, ttl: 64 },
    });
    t.like(r.raw.stats(), { unreachable: 1, inFlight: 0 });
  },
  title: (_p, c: IcmpCase) => `IPv${c.family}: ICMP type ${c.type} code ${c.code} quoting the SYN → unreachable ${c.errno}`,
});
for (const c of [
  { family: 4, type: 3, code: 0, errno: 'ENETUNREACH' },
  { family: 4, type: 3, code: 1, errno: 'EHOSTUNREACH' },
  { family: 4, type: 3, code: 3, errno: 'ECONNREFUSED' },
  { family: 4, type: 3, code: 13, errno: 'EHOSTUNREACH' },
  { family: 4, type: 11, code: 0, errno: 'EHOSTUNREACH' }, // TTL exceeded in transit
  { family: 6, type: 1, code: 0, errno: 'ENETUNREACH' },
  { family: 6, type: 1, code: 1, errno: 'EACCES' },
  { family: 6, type: 1, code: 3, errno: 'EHOSTUNREACH' },
  { family: 6, type: 1, code: 4, errno: 'ECONNREFUSED' },
  { family: 6, type: 3, code: 0, errno: 'EHOSTUNREACH' }, // hop limit exceeded
] as IcmpCase[]) test(unreachable, c);

test('an ICMP error quoting only the RFC 792 minimum (IP header + 8 bytes) is enough', async (t) => {
  const r = await rig(t, 4);
  const pending = probe(r);
  const syn = await nthSyn(r);
  r.captures.push(icmpError(syn, 3, 1, syn.bytes.subarray(0, 28)));
  t.like(await pending, { status: 'unreachable', code: 'EHOSTUNREACH' });
});

// --- replies that must not decide anything -------------------------------------------------------

interface IgnoredCase {
  title: string;
  family: Family;
  frames: (syn: SentPacket) => Uint8Array[];
}
const ignored = test.macro({
  async exec(t, c: IgnoredCase) {
    const r = await rig(t, c.family);
    const pending = probe(r, { timeoutMs: 150, retries: 0 });
    const syn = await nthSyn(r);
    const frames = c.frames(syn);
    for (const frame of frames) t.notThrows(() => r.captures.push(frame));
    const stats = r.raw.stats();
    t.is(stats.repliesIgnored, frames.length, 'each frame counted as ignored');
    t.is(stats.malformed, 0);
    t.is(stats.inFlight, 1, 'the probe is still waiting');
    const outcome = await pending;
    t.like(outcome, { status: 'timeout', code: 'ETIMEDOUT', attempts: 1 });
    t.is(outcome.rttMs, undefined);
    t.like(r.raw.stats(), { timeout: 1, inFlight: 0, open: 0, closed: 0, unreachable: 0 });
  },
  title: (_p, c: IgnoredCase) => `IPv${c.family}: ignored, then timeout: ${c.title}`,
});
const ignoredCases = (family: Family): IgnoredCase[] => [
  { title: 'RST-ACK acking ISN (not ISN+1)', family, frames: (s) => [rstAck(s, { ack: s.tcp.seq })] },
  { title: 'RST-ACK acking ISN+2', family, frames: (s) => [rstAck(s, { ack: (s.tcp.seq + 2) >>> 0 })] },
  { title: 'bare RST without ACK (RFC 793: unacceptable in SYN-SENT)', family, frames: (s) => [reply(s, { flags: TcpFlags.RST, seq: 0 })] },
  { title: 'SYN-ACK acking ISN', family, frames: (s) => [synAck(s, { ack: s.tcp.seq })] },
  { title: 'SYN-ACK acking ISN+1 with the high bit flipped', family, frames: (s) => [synAck(s, { ack: ((s.tcp.seq + 1) ^ 0x80000000) >>> 0 })] },
  { title: 'SYN-ACK from another source port', family, frames: (s) => [synAck(s, { srcPort: s.tcp.dstPort + 1 })] },
  { title: 'SYN-ACK to another local port', family, frames: (s) => [synAck(s, { dstPort: s.tcp.srcPort === 65535 ? 65534 : s.tcp.srcPort + 1 })] },
  { title: 'SYN-ACK from another address', family, frames: (s) => [synAck(s, { src: addr(NET[family].other) })] },
  { title: 'SYN-ACK to another local address', family, frames: (s) => [synAck(s, { dst: addr(NET[family].other) })] },
  { title: 'RST-ACK from another address', family, frames: (s) => [rstAck(s, { src: addr(NET[family].other) })] },
  { title: 'a plain ACK acking ISN+1', family, frames: (s) => [reply(s, { flags: TcpFlags.ACK })] },
  { title: 'a bare SYN from the target (simultaneous open)', family, frames: (s) => [reply(s, { flags: TcpFlags.SYN, ack: 0 })] },
  { title: 'ICMP unreachable quoting another sequence number', family, frames: (s) => [icmpError(s, ICMP_UNREACH[family], 1, otherSeq(s))] },
  { title: 'ICMP time exceeded quoting another sequence number', family, frames: (s) => [icmpError(s, ICMP_TIME_EXCEEDED[family], 0, otherSeq(s))] },
  { title: 'ICMP echo reply (not an error)', family, frames: (s) => [icmpEcho(s)] },
  { title: 'our own SYN, seen on the way out', family, frames: (s) => [s.bytes] },
  { title: 'several wrong answers in a row', family, frames: (s) => [synAck(s, { ack: 1 }), rstAck(s, { ack: 2 }), synAck(s, { srcPort: 1 })] },
];
for (const c of [...ignoredCases(4), ...ignoredCases(6)]) test(ignored, c);

/** An ICMP echo reply (type 0 / 129) from the target: not an error, must be ignored. */
function icmpEcho(syn: SentPacket): Uint8Array {
  // buildIcmpError writes any type/code; an echo reply with a "quote" is still just an echo reply.
  return icmpError(syn, syn.family === 4 ? 0 : 129, 0, syn.bytes.subarray(0, 8), NET[syn.family].target);
}

test('IPv4: a non-first fragment is ignored (it carries no TCP header)', async (t) => {
  const r = await rig(t, 4);
  const pending = probe(r, { timeoutMs: 150 });
  const syn = await nthSyn(r);
  const frame = synAck(syn).slice();
  frame[6] = 0x00; // clear DF
  frame[7] = 0x01; // fragment offset 8 bytes (checksums are not verified by default)
  r.captures.push(frame);
  t.is(r.raw.stats().repliesIgnored, 1);
  t.is((await pending).status, 'timeout');
});

test('a second SYN-ACK after the verdict gives no second verdict', async (t) => {
  const r = await rig(t, 4);
  const pending = probe(r);
  const syn = await nthSyn(r);
  r.captures.push(synAck(syn));
  r.captures.push(synAck(syn)); // the server retransmits: one more RST
  r.captures.push(synAck(syn)); // and again: no more RSTs
  r.captures.push(rstAck(syn));
  t.is((await pending).status, 'open');
  t.like(r.raw.stats(), { open: 1, closed: 0, repliesIgnored: 1, duplicateSynAcks: 2, rstSent: 2 });
  t.is(r.transport.rsts.length, 2, 'one RST for the verdict, one for the first retransmission');
});

test('a SYN-ACK after the timeout changes no verdict but gets one RST, clearing the half-open state on the server', async (t) => {
  const r = await rig(t, 4);
  const pending = probe(r, { timeoutMs: 30 });
  const syn = await nthSyn(r);
  t.is((await pending).status, 'timeout');
  r.captures.push(synAck(syn));
  r.captures.push(synAck(syn));
  r.captures.push(rstAck(syn));
  t.like(r.raw.stats(), { timeout: 1, open: 0, closed: 0, duplicateSynAcks: 2, rstSent: 1, repliesIgnored: 1 });
  t.is(r.transport.rsts.length, 1);
  t.is(r.transport.rsts[0].tcp.seq, (syn.tcp.seq + 1) >>> 0);
});

// --- malformed input -------------------------------------------------------------------------------

test('random bytes never throw; each frame is counted malformed or ignored; the probe still works', async (t) => {
  const run = new SeedRun(t, [0xbad]);
  for (const seed of run) {
    const r = await rig(t, 4);
    const pending = probe(r);
    const syn = await nthSyn(r);
    const random = prng(seed);
    const frames = 2000;
    for (let i = 0; i < frames; i++) {
      const frame = Uint8Array.from({ length: Math.floor(random() * 120) }, () => Math.floor(random() * 256));
      // Half of them look like IP at first glance, so parsing gets past the version check.
      if (frame.length > 0 && i % 2 === 0) frame[0] = i % 4 === 0 ? 0x45 : 0x60;
      try {
        r.captures.push(frame);
      } catch (error) {
        return t.fail(`${run.where(seed)} frame ${i} (${Buffer.from(frame).toString('hex')}) threw ${String(error)}`);
      }
      run.inputs++;
    }
    const stats = r.raw.stats();
    t.is(stats.malformed + stats.repliesIgnored, frames, run.where(seed));
    t.true(stats.malformed > 0);
    t.is(stats.inFlight, 1);
    r.captures.push(synAck(syn));
    t.is((await pending).status, 'open', run.where(seed));
    await r.raw.close();
  }
  run.done();
});

const truncation = test.macro({
  async exec(t, family: Family, make: (syn: SentPacket) => Uint8Array, _what: string) {
    const r = await rig(t, family);
    const pending = probe(r);
    const syn = await nthSyn(r);
    const whole = make(syn);
    for (let len = 0; len < whole.length; len++) t.notThrows(() => r.captures.push(whole.slice(0, len)), `prefix of ${len}`);
    t.is(r.raw.stats().malformed, whole.length, 'every proper prefix is malformed');
    t.is(r.raw.stats().inFlight, 1);
    r.captures.push(whole);
    t.not((await pending).status, 'timeout');
  },
  title: (_p, family: Family, _make, what: string) => `IPv${family}: every truncation of a ${what} is malformed, the whole one decides`,
});
test(truncation, 4, (s) => synAck(s), 'SYN-ACK');
test(truncation, 6, (s) => synAck(s), 'SYN-ACK');
test(truncation, 4, (s) => rstAck(s), 'RST-ACK');

test('link types: Ethernet and NULL framing are unwrapped, an unknown link type is malformed', async (t) => {
  const r = await rig(t, 4);
  const first = probe(r);
  const syn1 = await nthSyn(r);
  t.true(r.captures.push(new Uint8Array([0x45, 0, 0, 20]), undefined, 9999));
  t.is(r.raw.stats().malformed, 1);

  const ipPacket = synAck(syn1);
  const frame = new Uint8Array(14 + ipPacket.length);
  const at = emitEthernet(frame, 0, { src: new Uint8Array(6).fill(2), dst: new Uint8Array(6).fill(4), etherType: EtherType.IPV4 });
  frame.set(ipPacket, at);
  r.captures.push(frame, undefined, LinkType.ETHERNET);
  t.is((await first).status, 'open');

  const second = probe(r);
  const syn2 = await nthSyn(r, 2);
  const rst = rstAck(syn2);
  const nullFrame = new Uint8Array(4 + rst.length);
  nullFrame.set([2, 0, 0, 0]); // AF_INET, host order
  nullFrame.set(rst, 4);
  r.captures.push(nullFrame, undefined, LinkType.NULL);
  t.is((await second).status, 'closed');
});

// --- retransmission --------------------------------------------------------------------------------

test('retries 2 with initialRtoMs 50: the first repeat on the same tuple, the second (within 500 ms) from a fresh one', async (t) => {
  // The engine's own send times (its clock, as it decided): on a loaded machine the second repeat
  // can leave more than 500 ms after the first, and then the same tuple is the right choice.
  const sentAtUs: number[] = [];
  const r = await rig(t, 4, { initialRtoMs: 50, minRtoMs: 50, linearRetransmits: 0, onPacket: (d, _b, us) => void (d === 'sent' && sentAtUs.push(us)) });
  // The deadline is far away and the test waits for the SYNs, not for a clock: a machine that
  // starves this process for seconds cannot reach the deadline before the repeats.
  const controller = new AbortController();
  const outcome = probe(r, { timeoutMs: 600_000, retries: 2, signal: controller.signal });
  await nthSyn(r, 3);
  const syns = r.transport.syns;
  // A server answers the first repeated SYN of a half-open connection, then at most one per
  // 500 ms (tcp_invalid_ratelimit): the third SYN would be wasted on the first tuple.
  t.is(syns[1].tcp.seq, syns[0].tcp.seq, 'the first repeat: same ISN');
  t.is(syns[1].tcp.srcPort, syns[0].tcp.srcPort, 'the first repeat: same source port');
  const withinRateLimit = (sentAtUs[2] - sentAtUs[1]) / 1000 < 500;
  if (withinRateLimit) {
    t.not(syns[2].tcp.srcPort, syns[0].tcp.srcPort, 'the second repeat: a fresh source port');
    t.not(syns[2].tcp.seq, syns[0].tcp.seq, 'the second repeat: its own ISN');
  } else {
    t.log('the second repeat left 500 ms or more after the first (a loaded machine): same tuple is right');
    t.is(syns[2].tcp.srcPort, syns[0].tcp.srcPort);
  }
  const reason = new Error('enough SYNs seen');
  controller.abort(reason);
  t.is(await outcome.catch((error: unknown) => error), reason);
  t.like(r.raw.stats(), { synsSent: 3, retransmits: 2, freshTuples: withinRateLimit ? 1 : 0 });
});

const lateOnLeftTuple = test.macro({
  async exec(t, answer: 'SYN-ACK' | 'RST-ACK') {
    const r = await rig(t, 4, { initialRtoMs: 20, minRtoMs: 20, linearRetransmits: 0 });
    // A far deadline: the test waits for SYNs, never for a clock (see the test above).
    const pending = probe(r, { timeoutMs: 600_000, retries: 5 });
    const first = await nthSyn(r, 1);
    await nthSyn(r, 3);
    t.not(r.transport.syns[2].tcp.srcPort, first.tcp.srcPort);
    // The answer to the first SYN arrives after the probe moved on: it is still the answer.
    r.captures.push(answer === 'SYN-ACK' ? synAck(first) : rstAck(first));
    t.like(await pending, { status: answer === 'SYN-ACK' ? 'open' : 'closed' });
    t.like(r.raw.stats(), { lateAnswers: 1 });
    if (answer === 'SYN-ACK') {
      const rst = r.transport.rsts.at(-1)!;
      t.is(rst.tcp.srcPort, first.tcp.srcPort, 'the RST goes to the tuple that answered');
      t.is(rst.tcp.seq, (first.tcp.seq + 1) >>> 0);
    }
  },
  title: (_, answer: string) => `a ${answer} on a tuple the probe left for a fresh one answers the probe`,
});
test(lateOnLeftTuple, 'SYN-ACK');
test(lateOnLeftTuple, 'RST-ACK');

test('retries 0: exactly one SYN', async (t) => {
  const r = await rig(t, 4, { initialRtoMs: 10 });
  const outcome = await probe(r, { timeoutMs: 200, retries: 0 });
  t.is(r.transport.syns.length, 1);
  t.like(outcome, { status: 'timeout', attempts: 1 });
});

test('an answer to a retransmitted SYN counts every attempt', async (t) => {
  const r = await rig(t, 4, { initialRtoMs: 20 });
  const pending = probe(r, { timeoutMs: 5000, retries: 3 });
  const second = await nthSyn(r, 2);
  r.captures.push(synAck(second));
  const outcome = await pending;
  t.is(outcome.status, 'open');
  t.true(outcome.attempts >= 2);
  t.is(outcome.attempts, r.transport.syns.length);
});

test('a deadline already in the past times out after one SYN', async (t) => {
  const r = await rig(t, 4);
  const outcome = await r.raw.probe({ ip: NET[4].target, family: 4, port: 80 }, { deadline: performance.now() - 1, retries: 5 });
  t.like(outcome, { status: 'timeout', attempts: 1 });
});

// --- lifecycle ---------------------------------------------------------------------------------------

test('close() settles in-flight probes as error ERR_SHAKER_CLOSED and releases the transport and captures', async (t) => {
  const r = await rig(t, 4);
  const pending = [probe(r, { port: 1 }), probe(r, { port: 2 }), probe(r, { port: 3 })];
  await nthSyn(r, 3);
  await r.raw.close();
  const outcomes = await Promise.all(pending);
  for (const outcome of outcomes) {
    t.like(outcome, { status: 'error', code: 'ERR_SHAKER_CLOSED', attempts: 1 });
    t.true(outcome.error instanceof StateError);
  }
  t.true(r.transport.closed);
  t.true(r.captures.opened.every((c) => c.closed));
  t.is(r.raw.stats().inFlight, 0);
  await t.notThrowsAsync(r.raw.close(), 'close() is idempotent');
  await t.throwsAsync(probe(r), { instanceOf: StateError, code: 'ERR_SHAKER_CLOSED' });
});

test('probe() before start() rejects ERR_SHAKER_NOT_STARTED; start() twice rejects ERR_SHAKER_ALREADY_STARTED', async (t) => {
  const raw = new RawStrategy({ transport: new FakeTransport(), openCapture: new FakeCaptures().open, installShim: false, interface: 'fake0', source: NET[4].source, portBinder: new FakePortTable().binder() });
  t.teardown(() => raw.close());
  await t.throwsAsync(raw.probe({ ip: NET[4].target, family: 4, port: 80 }, { deadline: performance.now() + 100, retries: 0 }), {
    instanceOf: StateError,
    code: 'ERR_SHAKER_NOT_STARTED',
  });
  await raw.start();
  await t.throwsAsync(raw.start(), { instanceOf: StateError, code: 'ERR_SHAKER_ALREADY_STARTED' });
});

test('a target of the wrong family rejects; `source` takes one address per family', async (t) => {
  const r = await rig(t, 4);
  await t.throwsAsync(r.raw.probe({ ip: NET[6].target, family: 4, port: 80 }, { deadline: performance.now() + 100, retries: 0 }), {
    instanceOf: UnsupportedError,
    message: /not an IPv4 address/,
  });
  t.throws(() => new RawStrategy({ source: [NET[4].source, NET[4].source] }), { instanceOf: InvalidArgumentError, message: /one IPv4 address at most/ });
  t.throws(() => new RawStrategy({ source: 'not-an-address' }), { instanceOf: InvalidArgumentError });
  t.is(r.transport.sent.length, 0);
  t.is(r.raw.stats().inFlight, 0);
});

test('with one source per family, one engine probes IPv4 and IPv6 targets', async (t) => {
  const r = await rig(t, 4, { source: [NET[4].source, NET[6].source] });
  const v4 = probe(r);
  const v6 = probe(r, { ip: NET[6].target, family: 6 });
  r.captures.push(rstAck(await nthSyn(r, 1)));
  r.captures.push(rstAck(await nthSyn(r, 2)));
  t.deepEqual([(await v4).status, (await v6).status], ['closed', 'closed']);
  t.deepEqual(r.transport.syns.map((s) => formatAddress(s.ip.src)), [NET[4].source, NET[6].source]);
});

test('the capture closes after captureIdleMs without probes and reopens for the next one', async (t) => {
  const r = await rig(t, 4, { captureIdleMs: 5 });
  const a = probe(r);
  const b = probe(r, { port: 81 });
  const synA = await nthSyn(r, 1);
  const synB = await nthSyn(r, 2);
  t.is(r.captures.opened.length, 1, 'one capture shared by concurrent probes');
  r.captures.push(rstAck(synA));
  await a;
  await sleep(30);
  t.false(r.captures.opened[0].closed, 'still in use by the second probe');
  r.captures.push(rstAck(synB));
  await b;
  await until(() => r.captures.opened[0].closed, 'the idle capture to close');
  const c = probe(r);
  const synC = await nthSyn(r, 3);
  t.is(r.captures.opened.length, 2, 'reopened');
  r.captures.push(synAck(synC));
  t.is((await c).status, 'open');
});

test('prepare() opens the capture a target needs and sends nothing; the first check finds it open', async (t) => {
  const r = await rig(t, 4, { captureIdleMs: 60_000 });
  await r.raw.prepare([{ ip: NET[4].target, family: 4, port: 80 }]);
  t.is(r.captures.opened.length, 1);
  t.is(r.captures.live.iface, 'fake0');
  t.false(r.captures.live.closed, 'held for the idle period, for the checks that follow');
  t.is(r.transport.sent.length, 0);
  const pending = probe(r);
  r.captures.push(synAck(await nthSyn(r)));
  t.is((await pending).status, 'open');
  t.is(r.captures.opened.length, 1, 'not opened again');
});

test('prepare() without interface/source looks the route up: the first check then sends at once', async (t) => {
  const r = await rig(t, 4, { interface: undefined, source: undefined, captureIdleMs: 60_000 });
  await r.raw.prepare([{ ip: '127.0.0.2', family: 4, port: 80 }]);
  t.is(r.captures.opened.length, 1);
  t.is(r.transport.sent.length, 0);
  const pending = probe(r, { ip: '127.0.0.2' });
  t.is(r.transport.syns.length, 1, 'SYN queued synchronously: the route was known');
  r.captures.push(rstAck(r.transport.syns[0]));
  t.is((await pending).status, 'closed');
  t.is(r.captures.opened.length, 1);
});

test('prepare() leaves a capture that cannot be opened to the checks, which report it as before', async (t) => {
  let opens = 0;
  const r = await rig(t, 4, {
    openCapture: () => {
      opens++;
      throw new UnsupportedError('cannot capture on fake0: permission denied');
    },
  });
  await t.notThrowsAsync(r.raw.prepare([{ ip: NET[4].target, family: 4, port: 80 }]));
  t.is(opens, 1);
  t.like(await probe(r), { status: 'error', code: 'ERR_SHAKER_UNSUPPORTED', attempts: 0 });
  t.is(opens, 2);
});

test('prepare() skips an address of the wrong family and refuses an engine not started', async (t) => {
  const r = await rig(t, 4);
  await r.raw.prepare([{ ip: NET[6].target, family: 4, port: 80 }]);
  t.is(r.captures.opened.length, 0);
  const idle = new RawStrategy({ transport: new FakeTransport(), installShim: false, portBinder: new FakePortTable().binder() });
  await t.throwsAsync(idle.prepare([{ ip: NET[4].target, family: 4, port: 80 }]), { instanceOf: StateError, code: 'ERR_SHAKER_NOT_STARTED' });
});

// --- AbortSignal -------------------------------------------------------------------------------------

test('an already-aborted signal rejects with signal.reason and sends nothing', async (t) => {
  const r = await rig(t, 4);
  const reason = new Error('not needed any more');
  await t.throwsAsync(probe(r, { signal: AbortSignal.abort(reason) }), { is: reason });
  await tick();
  t.is(r.transport.sent.length, 0);
  t.is(r.raw.stats().probesStarted, 0);
});

test('aborting mid-flight rejects with signal.reason and frees the slot', async (t) => {
  const r = await rig(t, 4);
  const controller = new AbortController();
  const reason = new Error('stop');
  const pending = probe(r, { signal: controller.signal });
  const syn = await nthSyn(r);
  t.is(r.raw.stats().inFlight, 1);
  controller.abort(reason);
  await t.throwsAsync(pending, { is: reason });
  t.like(r.raw.stats(), { inFlight: 0, aborted: 1, errors: 0 });
  // Too late: nobody is waiting, but the server's handshake is half-open: it gets its RST, as
  // after a timeout (the aborted SYN's tuple is remembered).
  r.captures.push(synAck(syn));
  t.like(r.raw.stats(), { aborted: 1, open: 0, duplicateSynAcks: 1, rstSent: 1 });
  t.is(r.transport.rsts.length, 1);
  t.is(r.transport.rsts[0].tcp.seq, (syn.tcp.seq + 1) >>> 0);
});

test('aborting right after probe() returns frees the slot', async (t) => {
  const r = await rig(t, 4);
  const controller = new AbortController();
  const pending = probe(r, { signal: controller.signal });
  controller.abort(new Error('changed my mind')); // same tick as the call
  await t.throwsAsync(pending, { message: 'changed my mind' });
  await until(() => r.raw.stats().inFlight === 0, 'the probe to be cancelled');
  t.is(r.raw.stats().aborted, 1);
  t.is(r.raw.stats().errors, 0, 'an abort is not counted as an error');
});

test('aborting after the verdict changes nothing', async (t) => {
  const r = await rig(t, 4);
  const controller = new AbortController();
  const pending = probe(r, { signal: controller.signal });
  r.captures.push(rstAck(await nthSyn(r)));
  t.is((await pending).status, 'closed');
  controller.abort();
  t.like(r.raw.stats(), { closed: 1, errors: 0, inFlight: 0 });
});

// --- many probes -------------------------------------------------------------------------------------

test('5000 concurrent probes to distinct targets get distinct tuples and all complete when answered', async (t) => {
  const r = await rig(t, 4);
  const count = 5000;
  const targets = Array.from({ length: count }, (_, i) => `198.18.${(i >> 8) + 1}.${i & 255}`);
  const pending = targets.map((ip, i) => probe(r, { ip, port: 80 + (i % 3) }));
  await until(() => r.transport.syns.length === count, `${count} SYNs`);
  const syns = r.transport.syns;
  const tuples = new Set(syns.map((s) => `${s.tcp.srcPort}>${formatAddress(s.ip.dst)}:${s.tcp.dstPort}`));
  t.is(tuples.size, count);
  t.is(new Set(syns.map((s) => formatAddress(s.ip.dst))).size, count);
  t.is(r.raw.stats().inFlight, count);
  // Answer in reverse order, alternating open and closed.
  for (let i = count - 1; i >= 0; i--) r.captures.push(i % 2 ? synAck(syns[i]) : rstAck(syns[i]));
  const outcomes: ProbeOutcome[] = await Promise.all(pending);
  const byTarget = new Map(syns.map((s, i) => [formatAddress(s.ip.dst), i % 2 ? 'open' : 'closed']));
  t.true(outcomes.every((o, i) => o.status === byTarget.get(targets[i])), 'each probe got the answer sent to its own SYN');
  t.like(r.raw.stats(), { open: count / 2, closed: count / 2, inFlight: 0, repliesIgnored: 0, malformed: 0 });
});

test('200 concurrent probes to one target:port use 200 different source ports', async (t) => {
  const r = await rig(t, 6);
  const pending = Array.from({ length: 200 }, () => probe(r, { port: 443 }));
  await until(() => r.transport.syns.length === 200, '200 SYNs');
  const ports = r.transport.syns.map((s) => s.tcp.srcPort);
  t.is(new Set(ports).size, 200);
  for (const syn of r.transport.syns) r.captures.push(synAck(syn));
  t.true((await Promise.all(pending)).every((o) => o.status === 'open'));
});

test('source ports run out per destination: the extra probe waits for a free port, never reuses a busy tuple', async (t) => {
  const [low] = defaultProbePortRange();
  const r = await rig(t, 4, { sourcePorts: [low, low + 3] });
  const pending = Array.from({ length: 5 }, () => probe(r));
  await until(() => r.transport.syns.length === 4, '4 SYNs');
  t.is(new Set(r.transport.syns.map((s) => s.tcp.srcPort)).size, 4);
  t.like(r.raw.stats(), { inFlight: 4, waitingForPort: 1, waitedForPort: 1 });
  // Another destination still has every port.
  const other = probe(r, { ip: NET[4].other });
  const synOther = await nthSyn(r, 5);
  r.captures.push(rstAck(synOther));
  t.is((await other).status, 'closed');
  // The first answer frees a port: the fifth probe goes out on it.
  r.captures.push(rstAck(r.transport.syns[0]));
  t.is((await pending[0]).status, 'closed');
  const fifthSyn = await nthSyn(r, 6);
  t.is(fifthSyn.tcp.srcPort, r.transport.syns[0].tcp.srcPort, 'the freed port');
  t.like(r.raw.stats(), { inFlight: 4, waitingForPort: 0 });
  for (const syn of [...r.transport.syns.slice(1, 4), fifthSyn]) r.captures.push(rstAck(syn));
  t.true((await Promise.all(pending)).every((o) => o.status === 'closed'));
});

test('a probe that waited for a port and then went out is cancelled by its own canceller (an abort of a batch)', async (t) => {
  const [low] = defaultProbePortRange();
  const r = await rig(t, 4, { sourcePorts: [low, low] });
  const outcomes: ProbeOutcome[] = [];
  const target = { ip: NET[4].target, family: 4 as const, port: 80 };
  const options = { deadline: performance.now() + 10_000, retries: 0 };
  r.raw.submit(target, options, (o) => outcomes.push(o));
  const cancelSecond = r.raw.submit(target, options, (o) => outcomes.push(o));
  const first = await nthSyn(r, 1);
  t.like(r.raw.stats(), { inFlight: 1, waitingForPort: 1 });
  // The first answers: the second leaves the queue on the freed port.
  r.captures.push(rstAck(first));
  await nthSyn(r, 2);
  t.like(r.raw.stats(), { inFlight: 1, waitingForPort: 0 });
  cancelSecond();
  t.like(r.raw.stats(), { inFlight: 0, aborted: 1 }, 'the launched probe was freed, not left running for nobody');
  t.deepEqual(outcomes.map((o) => o.status), ['closed'], 'no callback for the cancelled one');
});

test('the transport is told busy above 8 probes in flight (no inline sends then), and not once they are answered', async (t) => {
  const r = await rig(t, 4);
  const pending = Array.from({ length: 8 }, (_, i) => probe(r, { port: 80 + i }));
  await until(() => r.transport.syns.length === 8, '8 SYNs');
  t.falsy(r.transport.busy, '8 in flight: a few packets may still go inline');
  const ninth = probe(r, { port: 99 });
  await until(() => r.transport.syns.length === 9, '9 SYNs');
  t.true(r.transport.busy);
  for (const syn of r.transport.syns) r.captures.push(rstAck(syn));
  await Promise.all([...pending, ninth]);
  t.false(r.transport.busy);
});

test('submitHandle/cancelHandle: a number instead of a canceller closure, for launched, waiting and answered checks', async (t) => {
  const [low] = defaultProbePortRange();
  const r = await rig(t, 4, { sourcePorts: [low, low + 1] });
  const outcomes: string[] = [];
  const target = { ip: NET[4].target, family: 4 as const, port: 80 };
  const options = { deadline: performance.now() + 10_000, retries: 0 };
  const first = r.raw.submitHandle(target, options, (o) => outcomes.push(`first ${o.status}`));
  const second = r.raw.submitHandle(target, options, (o) => outcomes.push(`second ${o.status}`));
  const third = r.raw.submitHandle(target, options, (o) => outcomes.push(`third ${o.status}`));
  t.true(first >= 0 && second >= 0 && first !== second, 'launched probes: slot and generation');
  t.true(third < NO_HANDLE, 'a check waiting for a port: a deferred handle');
  const [synFirst, synSecond] = [await nthSyn(r, 1), await nthSyn(r, 2)];
  t.like(r.raw.stats(), { inFlight: 2, waitingForPort: 1 });
  // The waiting check leaves the queue; a launched one is freed without a callback.
  r.raw.cancelHandle(third);
  t.like(r.raw.stats(), { waitingForPort: 0, aborted: 1 });
  r.raw.cancelHandle(first);
  t.like(r.raw.stats(), { inFlight: 1, aborted: 2 });
  // Cancelling twice, or a handle of nothing, is a no-op.
  r.raw.cancelHandle(first);
  r.raw.cancelHandle(third);
  r.raw.cancelHandle(NO_HANDLE);
  r.captures.push(rstAck(synSecond));
  await until(() => outcomes.length === 1, 'the second answer');
  t.deepEqual(outcomes, ['second closed']);
  r.raw.cancelHandle(second);
  t.like(r.raw.stats(), { inFlight: 0, aborted: 2, closed: 1 });
  // The cancelled probe's SYN may have opened a handshake on the server: its tuple stays out,
  // and the next probe takes the port the answered one left clean.
  const fourth = r.raw.submitHandle(target, options, (o) => outcomes.push(`fourth ${o.status}`));
  const synFourth = await nthSyn(r, 3);
  t.is(synFourth.tcp.srcPort, synSecond.tcp.srcPort);
  t.not(synFourth.tcp.srcPort, synFirst.tcp.srcPort);
  // Old handles cancel nothing, even where the slot was reused.
  r.raw.cancelHandle(first);
  r.raw.cancelHandle(second);
  t.like(r.raw.stats(), { inFlight: 1, aborted: 2 });
  r.captures.push(synAck(synFourth));
  await until(() => outcomes.length === 2, 'the fourth answer');
  t.deepEqual(outcomes, ['second closed', 'fourth open']);
  t.true(fourth >= 0);
});

test('a probe that waited for a port gets its whole timeout once its SYN leaves; close() answers waiting probes', async (t) => {
  const [low] = defaultProbePortRange();
  const r = await rig(t, 4, { sourcePorts: [low, low] });
  const first = probe(r, { timeoutMs: 10_000, retries: 0 });
  const second = probe(r, { timeoutMs: 100, retries: 0 });
  const third = probe(r, { timeoutMs: 10_000, retries: 0 });
  // The first holds the only port for longer than the second's whole timeout, then is refused
  // and frees it (a clean tuple: the server's RST ended the handshake). The second's wait was the
  // engine's: its SYN goes out now, and only then does its 100 ms run.
  const firstSyn = await nthSyn(r, 1);
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.is(r.transport.syns.length, 1, 'the others wait for the port');
  r.captures.push(rstAck(firstSyn));
  t.is((await first).status, 'closed');
  // Unanswered, it times out with its SYN sent (attempts 1), never as a check that never left.
  t.like(await second, { status: 'timeout', attempts: 1 });
  t.is(r.transport.syns.length, 2);
  // Its tuple may now be half-open on the server: the third waits rather than reuse it.
  t.like(r.raw.stats(), { waitingForPort: 1 });
  const fourth = probe(r);
  await r.raw.close();
  t.is((await third).code, 'ERR_SHAKER_CLOSED');
  t.is((await fourth).code, 'ERR_SHAKER_CLOSED');
});

test('a tuple a probe timed out on is not reused while the server may hold its handshake: the next probe waits', async (t) => {
  // The server may have answered a SYN whose SYN-ACK was lost: it then holds the handshake, and
  // a new SYN on the tuple with an ISN inside its window would get a RST (a wrong "closed").
  const [low] = defaultProbePortRange();
  const r = await rig(t, 4, { sourcePorts: [low, low] });
  t.is((await probe(r, { timeoutMs: 50, retries: 0 })).status, 'timeout');
  const controller = new AbortController();
  const next = probe(r, { timeoutMs: 10_000, retries: 0, signal: controller.signal });
  await new Promise((resolve) => setTimeout(resolve, 600));
  t.is(r.transport.syns.length, 1, 'no SYN on the possibly half-open tuple');
  t.like(r.raw.stats(), { waitingForPort: 1 });
  const reason = new Error('stop waiting');
  controller.abort(reason);
  t.is(await next.catch((error: unknown) => error), reason);
});

test('with every source port busy toward the destination, a repeat that would want a fresh tuple stays on its own', async (t) => {
  const [low] = defaultProbePortRange();
  const r = await rig(t, 4, { sourcePorts: [low, low + 1], initialRtoMs: 50, minRtoMs: 50, linearRetransmits: 0 });
  const controller = new AbortController();
  // Two probes hold both ports; a third waits. The first repeats twice (the second repeat would
  // go out from a fresh tuple if there were one): each of its SYNs stays on its own port.
  const first = probe(r, { timeoutMs: 600_000, retries: 2, signal: controller.signal });
  const second = probe(r, { timeoutMs: 600_000, signal: controller.signal });
  const third = probe(r, { timeoutMs: 600_000, signal: controller.signal });
  await nthSyn(r, 4);
  const [a, b, ...repeats] = r.transport.syns;
  t.not(a.tcp.srcPort, b.tcp.srcPort);
  t.true(repeats.every((s) => s.tcp.srcPort === a.tcp.srcPort && s.tcp.seq === a.tcp.seq), 'both repeats on the first tuple');
  t.like(r.raw.stats(), { freshTuples: 0, inFlight: 2, waitingForPort: 1 });
  controller.abort(new Error('done'));
  for (const p of [first, second, third]) await p.catch(() => undefined);
  t.like(r.raw.stats(), { inFlight: 0, waitingForPort: 0 });
});

test('a cleanly freed port goes at once to the oldest probe waiting for it; a timed-out tuple stays out', async (t) => {
  const [low] = defaultProbePortRange();
  const r = await rig(t, 4, { sourcePorts: [low, low + 1] });
  // One tuple times out (possibly half-open on the server from now on), the other is in flight.
  const timedOut = probe(r, { timeoutMs: 50, retries: 0 });
  const quarantined = (await nthSyn(r, 1)).tcp.srcPort;
  t.is((await timedOut).status, 'timeout');
  const inFlight = probe(r);
  const held = (await nthSyn(r, 2)).tcp.srcPort;
  t.not(held, quarantined);
  const third = probe(r);
  const fourth = probe(r);
  t.like(r.raw.stats(), { inFlight: 1, waitingForPort: 2 });
  // Refused: its tuple is clean, and the oldest waiter gets that port, not the quarantined one.
  r.captures.push(rstAck(r.transport.syns[1]));
  t.is((await inFlight).status, 'closed');
  t.is((await nthSyn(r, 3)).tcp.srcPort, held);
  t.like(r.raw.stats(), { inFlight: 1, waitingForPort: 1 });
  // Answered open (our RST clears it): the same port again, for the next in line.
  r.captures.push(synAck(r.transport.syns[2]));
  t.is((await third).status, 'open');
  t.is((await nthSyn(r, 4)).tcp.srcPort, held);
  r.captures.push(rstAck(r.transport.syns[3]));
  t.is((await fourth).status, 'closed');
  t.false(r.transport.syns.slice(1).some((s) => s.tcp.srcPort === quarantined), 'no SYN on the timed-out tuple');
});

test('ten times more probes to one ip:port than source ports: each starts in submission order and gets its own answer', async (t) => {
  const [low] = defaultProbePortRange();
  const r = await rig(t, 6, { sourcePorts: [low, low + 3] });
  const count = 40;
  const outcomes: Array<ProbeOutcome | undefined> = Array(count).fill(undefined);
  const target = { ip: NET[6].target, family: 6 as const, port: 443 };
  for (let i = 0; i < count; i++) r.raw.submit(target, { deadline: performance.now() + 60_000, retries: 0 }, (o) => (outcomes[i] = o));
  t.like(r.raw.stats(), { inFlight: 4, waitingForPort: count - 4 });
  // Answer every SYN as it leaves, the newest in flight first; SYN k is open when k % 3 is 0.
  for (let answered = 0; answered < count; ) {
    await until(() => r.transport.syns.length >= Math.min(count, answered + 4), 'the next SYNs');
    const live = r.transport.syns.slice(answered, answered + 4).reverse();
    const busy = new Set(live.map((s) => s.tcp.srcPort));
    t.is(busy.size, live.length, 'no two live probes share a tuple');
    for (const [j, syn] of live.entries()) {
      const k = answered + live.length - 1 - j;
      r.captures.push(k % 3 === 0 ? synAck(syn) : rstAck(syn));
    }
    answered += live.length;
  }
  await until(() => outcomes.every((o) => o !== undefined), 'every outcome');
  // Probe i's SYN is the i-th sent: the queue kept the order it was given.
  t.deepEqual(
    outcomes.map((o) => o!.status),
    Array.from({ length: count }, (_, k) => (k % 3 === 0 ? 'open' : 'closed')),
  );
  t.like(r.raw.stats(), { inFlight: 0, waitingForPort: 0, waitedForPort: count - 4, repliesIgnored: 0 });
});

test('the port cursor walks the whole range before a port comes back, then reuses it', async (t) => {
  const [low] = defaultProbePortRange();
  const r = await rig(t, 4, { sourcePorts: [low, low + 2] });
  const used: number[] = [];
  for (let i = 0; i < 4; i++) {
    const pending = probe(r);
    const syn = await nthSyn(r, i + 1);
    used.push(syn.tcp.srcPort);
    r.captures.push(rstAck(syn));
    t.is((await pending).status, 'closed');
  }
  t.is(new Set(used.slice(0, 3)).size, 3, 'three sequential probes, three ports');
  t.is(used[3], used[0], 'the fourth comes back to the first port: finished tuples may be reused');
  t.not(r.transport.syns[3].tcp.seq, r.transport.syns[0].tcp.seq, 'a reused tuple gets a new ISN (the clock term)');
});

// Without `interface` and `source` the engine asks the routing table (a UDP connect, nothing is
// sent); loopback is safe to ask about on any host.
test('without interface/source the route decides: 127.0.0.1 leaves from 127.0.0.1 and is captured on lo', async (t) => {
  const r = await rig(t, 4, { interface: undefined, source: undefined });
  const pending = probe(r, { ip: '127.0.0.1' });
  const syn = await nthSyn(r);
  t.is(formatAddress(syn.ip.src), '127.0.0.1');
  t.is(r.captures.live.iface, 'lo');
  r.captures.push(rstAck(syn));
  t.is((await pending).status, 'closed');
  // The route is cached now: the next probe to it is launched inside probe() itself.
  const again = probe(r, { ip: '127.0.0.1' });
  t.is(r.transport.syns.length, 2, 'SYN queued synchronously on a cached route');
  r.captures.push(rstAck(r.transport.syns[1]));
  t.is((await again).status, 'closed');
});

test('without interface/source, a capture that cannot be opened arrives as status error', async (t) => {
  const r = await rig(t, 4, {
    interface: undefined,
    source: undefined,
    openCapture: () => {
      throw new UnsupportedError('cannot capture on lo: permission denied');
    },
  });
  const outcome = await probe(r, { ip: '127.0.0.2' });
  t.like(outcome, { status: 'error', code: 'ERR_SHAKER_UNSUPPORTED', attempts: 0 });
  t.true(outcome.error instanceof UnsupportedError);
  t.is(r.transport.sent.length, 0);
});

test('a capture that cannot be opened resolves status error even when the route is fixed', async (t) => {
  const r = await rig(t, 4, {
    openCapture: () => {
      throw new UnsupportedError('cannot capture on fake0: permission denied');
    },
  });
  const outcome = await probe(r);
  t.like(outcome, { status: 'error', code: 'ERR_SHAKER_UNSUPPORTED' });
});

test('IPv6 end to end: open, closed, then unreachable on one engine', async (t) => {
  const r = await rig(t, 6);
  const answers: Array<[(syn: SentPacket) => Uint8Array, ProbeOutcome['status']]> = [
    [(syn) => synAck(syn), 'open'],
    [(syn) => rstAck(syn), 'closed'],
    [(syn) => icmpError(syn, 1, 3), 'unreachable'],
  ];
  for (const [i, [answer, status]] of answers.entries()) {
    const pending = probe(r);
    r.captures.push(answer(await nthSyn(r, i + 1)));
    t.is((await pending).status, status);
  }
  t.like(r.raw.stats(), { open: 1, closed: 1, unreachable: 1, inFlight: 0 });
});

// --- source-port claims (issue #13 §3) ----------------------------------------------------------

test('two engines on one host never share a source port, even toward one destination', async (t) => {
  const host = new FakePortTable();
  const a = await rig(t, 4, { portBinder: host.binder() });
  const b = await rig(t, 4, { portBinder: host.binder() });
  const n = 300; // more than either engine's first claim (256): both grow, still disjoint
  const pending = [...Array.from({ length: n }, () => probe(a, { port: 443 })), ...Array.from({ length: n }, () => probe(b, { port: 443 }))];
  await until(() => a.transport.syns.length === n && b.transport.syns.length === n, 'every SYN');
  const portsA = new Set(a.transport.syns.map((s) => s.tcp.srcPort));
  const portsB = new Set(b.transport.syns.map((s) => s.tcp.srcPort));
  t.is(portsA.size, n);
  t.is(portsB.size, n);
  t.deepEqual([...portsA].filter((p) => portsB.has(p)), []);
  for (const p of portsA) t.is(host.held.get(p) !== undefined, true);
  t.true(a.raw.stats().portsClaimed >= n && b.raw.stats().portsClaimed >= n);
  for (const r of [a, b]) for (const syn of r.transport.syns) r.captures.push(rstAck(syn));
  t.true((await Promise.all(pending)).every((o) => o.status === 'closed'));
  await a.raw.close();
  await b.raw.close();
  t.is(host.held.size, 0, 'close() releases every claim');
});

test('a port held by a listener is never a source port', async (t) => {
  const host = new FakePortTable();
  const [low] = defaultProbePortRange();
  host.hold(low + 1);
  const r = await rig(t, 4, { portBinder: host.binder(), sourcePorts: [low, low + 3] });
  const pending = Array.from({ length: 6 }, () => probe(r));
  await until(() => r.transport.syns.length === 3, '3 SYNs');
  t.deepEqual(new Set(r.transport.syns.map((s) => s.tcp.srcPort)), new Set([low, low + 2, low + 3]));
  t.like(r.raw.stats(), { portsClaimed: 3, portsHeldElsewhere: 1, inFlight: 3, waitingForPort: 3 });
  for (let i = 0; i < 6; i++) r.captures.push(rstAck(await nthSyn(r, i + 1)));
  t.true((await Promise.all(pending)).every((o) => o.status === 'closed'));
  t.false(r.transport.syns.some((s) => s.tcp.srcPort === low + 1));
});

test('start() fails with EADDRINUSE when every port of the range is held elsewhere, and holds nothing', async (t) => {
  const host = new FakePortTable();
  const [low] = defaultProbePortRange();
  for (let p = low; p <= low + 3; p++) host.hold(p);
  const raw = new RawStrategy({
    transport: new FakeTransport(),
    openCapture: new FakeCaptures().open,
    installShim: false,
    interface: 'fake0',
    source: NET[4].source,
    sourcePorts: [low, low + 3],
    portBinder: host.binder(),
  });
  await t.throwsAsync(raw.start(), { code: 'EADDRINUSE', message: /no free source port/ });
  t.is(host.held.size, 4);
  await raw.close();
});

// --- late and stale SYN-ACKs (issue #12: an overload must not poison the next run) ---------------

test('a SYN-ACK to a port this engine holds that nothing here sent gets a RST in the kernel\'s place; another engine\'s port gets none', async (t) => {
  const host = new FakePortTable();
  const [low] = defaultProbePortRange();
  const r = await rig(t, 4, { portBinder: host.binder(), sourcePorts: [low, low + 511] });
  const other = await rig(t, 4, { portBinder: host.binder(), sourcePorts: [low, low + 511] });
  const pending = probe(r);
  const syn = await nthSyn(r);
  // From an earlier run: the server still retransmits its SYN-ACK for an ISN nobody here knows.
  const strayed = synAck(syn, { ack: 0x0bad_cafe, srcPort: 8443, seq: 777 });
  r.captures.push(strayed);
  await until(() => r.transport.rsts.length === 1, 'the RST');
  const rst = r.transport.rsts[0];
  t.is(rst.tcp.seq, 0x0bad_cafe, 'seq = the SYN-ACK\'s ack (RFC 9293 §3.10.7.1)');
  t.is(rst.tcp.srcPort, syn.tcp.srcPort);
  t.is(rst.tcp.dstPort, 8443);
  t.like(r.raw.stats(), { strayedSynAcksReset: 1, open: 0, inFlight: 1 });
  // The other engine captures the same frame: not its port, not its RST to send.
  const otherPending = probe(other);
  const otherSyn = await nthSyn(other);
  other.captures.push(strayed);
  t.like(other.raw.stats(), { strayedSynAcksReset: 0, rstSent: 0, repliesIgnored: 1 });
  other.captures.push(rstAck(otherSyn));
  t.is((await otherPending).status, 'closed');
  r.captures.push(rstAck(syn));
  t.is((await pending).status, 'closed');
});

test('a stale SYN-ACK on a live probe\'s tuple (another ISN): RST, then the SYN again at once, and the right answer counts', async (t) => {
  const r = await rig(t, 4);
  const pending = probe(r, { retries: 2, timeoutMs: 30_000 });
  const syn = await nthSyn(r);
  const staleAck = (syn.tcp.seq + 12345) >>> 0;
  r.captures.push(synAck(syn, { ack: staleAck }));
  const again = await nthSyn(r, 2);
  t.is(r.transport.rsts.length, 1);
  t.is(r.transport.rsts[0].tcp.seq, staleAck);
  t.true(r.transport.sent.indexOf(r.transport.rsts[0]) < r.transport.sent.indexOf(again), 'the RST leaves before the SYN');
  t.is(again.tcp.srcPort, syn.tcp.srcPort, 'same tuple: the RST cleared it');
  t.is(again.tcp.seq, syn.tcp.seq);
  r.captures.push(synAck(again));
  t.like(await pending, { status: 'open', attempts: 2 });
});

test('with retries 0 a stale SYN-ACK on the tuple gets a RST (rate-limited) but no second SYN', async (t) => {
  const r = await rig(t, 4);
  const pending = probe(r, { retries: 0, timeoutMs: 200 });
  const syn = await nthSyn(r);
  r.captures.push(synAck(syn, { ack: 5 }));
  t.like(await pending, { status: 'timeout', attempts: 1 });
  t.is(r.transport.syns.length, 1);
  t.is(r.transport.rsts.length, 1);
});
