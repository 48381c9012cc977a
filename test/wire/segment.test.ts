import test from 'ava';
import { parseIcmpv4 } from '../../src/wire/icmpv4.js';
import { parseIcmpv6 } from '../../src/wire/icmpv6.js';
import { ipPayload, parseIp } from '../../src/wire/ip.js';
import { parseIpv4 } from '../../src/wire/ipv4.js';
import { parseIpv6 } from '../../src/wire/ipv6.js';
import {
  LINUX_SYN_OPTIONS_V4,
  buildIcmpError,
  buildRst,
  buildSyn,
  buildTcpPacket,
  rstLength,
  synLength,
  tcpPacketLength,
} from '../../src/wire/segment.js';
import type { SynSpec } from '../../src/wire/segment.js';
import type { TcpRepr } from '../../src/wire/tcp.js';
import { TcpFlags, parseTcp } from '../../src/wire/tcp.js';
import { filled, hex, ip, linux, toHex } from './util.js';

/** Parses a built packet all the way, checksums verified by default; fails the test on any malformation. */
function reparse(bytes: Uint8Array, verifyChecksum = true): { version: 4 | 6; ttl: number; tcp: TcpRepr } {
  const d = parseIp(bytes);
  if (!d.ok) throw new Error(`IP: ${d.detail}`);
  const tcp = parseTcp(ipPayload(bytes, d.value), d.value, { verifyChecksum });
  if (!tcp.ok) throw new Error(`TCP: ${tcp.detail}`);
  return { version: d.value.version, ttl: d.value.ttl, tcp: tcp.value };
}

interface Golden {
  name: string;
  build: (buf: Uint8Array, offset: number) => number;
  length: number;
  /** Checked with `tcpdump -nn -vv -r` on a LINKTYPE_RAW pcap: "cksum ... (correct)". */
  bytes: Uint8Array;
}

const v4 = { src: ip('198.18.0.1'), dst: ip('198.18.0.2') };
const v6 = { src: ip('fd00::1'), dst: ip('fd00::2') };

const goldens: Golden[] = [
  {
    // IP (tos 0x0, ttl 64, id 40503, offset 0, flags [DF], proto TCP (6), length 60)
    //     198.18.0.1.40000 > 198.18.0.2.80: Flags [S], cksum 0x2455 (correct), seq 1, win 64240, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0
    name: 'default IPv4 SYN',
    build: (buf, o) => buildSyn(buf, o, { ...v4, srcPort: 40000, dstPort: 80, seq: 1, tsVal: 1 }),
    length: 60,
    bytes: hex`
      4500 003c 9e37 4000 4006 105d c612 0001
      c612 0002 9c40 0050 0000 0001 0000 0000
      a002 faf0 2455 0000 0204 05b4 0402 080a
      0000 0001 0000 0000 0103 0307`,
  },
  {
    // IP6 (flowlabel 0x98dbf, hlim 64, next-header TCP (6) payload length: 40)
    //     fd00::1.40000 > fd00::2.443: Flags [S], cksum 0xe51c (correct), seq 3735928559, win 64800, options [mss 1440,sackOK,TS val 12345 ecr 0,nop,wscale 7], length 0
    name: 'default IPv6 SYN',
    build: (buf, o) => buildSyn(buf, o, { ...v6, srcPort: 40000, dstPort: 443, seq: 0xdeadbeef, tsVal: 12345 }),
    length: 80,
    bytes: hex`
      6009 8dbf 0028 0640 fd00 0000 0000 0000
      0000 0000 0000 0001 fd00 0000 0000 0000
      0000 0000 0000 0002 9c40 01bb dead beef
      0000 0000 a002 fd20 e51c 0000 0204 05a0
      0402 080a 0000 3039 0000 0000 0103 0307`,
  },
  {
    // IP (tos 0x0, ttl 64, id 0, offset 0, flags [DF], proto TCP (6), length 40)
    //     198.18.0.1.40000 > 198.18.0.2.80: Flags [R], cksum 0x8726 (correct), seq 2, win 0, length 0
    name: 'IPv4 RST',
    build: (buf, o) => buildRst(buf, o, { ...v4, srcPort: 40000, dstPort: 80, seq: 2 }),
    length: 40,
    bytes: hex`
      4500 0028 0000 4000 4006 aea8 c612 0001
      c612 0002 9c40 0050 0000 0002 0000 0000
      5004 0000 8726 0000`,
  },
  {
    // IP6 (hlim 64, next-header TCP (6) payload length: 20) fd00::1.40000 > fd00::2.80: Flags [R], cksum 0x194a (correct), seq 2, win 0, length 0
    name: 'IPv6 RST',
    build: (buf, o) => buildRst(buf, o, { ...v6, srcPort: 40000, dstPort: 80, seq: 2 }),
    length: 60,
    bytes: hex`
      6000 0000 0014 0640 fd00 0000 0000 0000
      0000 0000 0000 0001 fd00 0000 0000 0000
      0000 0000 0000 0002 9c40 0050 0000 0002
      0000 0000 5004 0000 194a 0000`,
  },
  {
    // IP6 (flowlabel 0x800f0, hlim 64, next-header Routing (43) payload length: 64) 2001:db8::1 > 2001:db8::2:
    //     RT6 (len=2, type=2, segleft=1, rsv=0x0, [0]2001:db8::99) 40001 > 22: Flags [S], cksum 0x5284 (correct), seq 5, win 64800, ...
    // tcpdump checks the checksum against the routing header's final destination (RFC 8200 §8.1).
    name: 'IPv6 SYN with a type 2 routing header (final destination in the pseudo-header)',
    build: (buf, o) =>
      buildSyn(buf, o, {
        src: ip('2001:db8::1'),
        dst: ip('2001:db8::2'),
        srcPort: 40001,
        dstPort: 22,
        seq: 5,
        tsVal: 7,
        extensionHeaders: [{ kind: 'routing', routingType: 2, segmentsLeft: 1, data: Uint8Array.from([0, 0, 0, 0, ...ip('2001:db8::99')]) }],
      }),
    length: 104,
    bytes: hex`
      6008 00f0 0040 2b40 2001 0db8 0000 0000
      0000 0000 0000 0001 2001 0db8 0000 0000
      0000 0000 0000 0002 0602 0201 0000 0000
      2001 0db8 0000 0000 0000 0000 0000 0099
      9c41 0016 0000 0005 0000 0000 a002 fd20
      5284 0000 0204 05a0 0402 080a 0000 0007
      0000 0000 0103 0307`,
  },
];

for (const g of goldens) {
  test(`${g.name}: exact bytes into a 0xa5 buffer at an offset`, (t) => {
    const buf = filled(g.length + 16);
    const n = g.build(buf, 7);
    t.is(n, g.length);
    t.is(toHex(buf.subarray(7, 7 + n)), toHex(g.bytes));
    t.true(buf.subarray(0, 7).every((b) => b === 0xa5), 'nothing written before the offset');
    t.true(buf.subarray(7 + n).every((b) => b === 0xa5), 'nothing written past the returned length');
  });
}

test('synLength and rstLength match what the builders write', (t) => {
  const specs: SynSpec[] = [
    { ...v4, srcPort: 1, dstPort: 2, seq: 3 },
    { ...v6, srcPort: 1, dstPort: 2, seq: 3 },
    { ...v4, srcPort: 1, dstPort: 2, seq: 3, options: [] },
    { ...v4, srcPort: 1, dstPort: 2, seq: 3, options: [{ kind: 'window-scale', shift: 2 }] },
    { ...v6, srcPort: 1, dstPort: 2, seq: 3, extensionHeaders: [{ kind: 'destination', options: [] }] },
  ];
  for (const spec of specs) {
    const buf = new Uint8Array(200);
    t.is(buildSyn(buf, 0, spec), synLength(spec));
  }
  t.is(synLength(specs[2]), 40);
  t.is(synLength(specs[3]), 44);
  t.is(rstLength({ ...v4, srcPort: 1, dstPort: 2, seq: 3 }), 40);
  t.is(rstLength({ ...v6, srcPort: 1, dstPort: 2, seq: 3 }), 60);
});

test('the default SYN has the shape of the one Linux sent on lo (same options in the same order, TTL, DF)', (t) => {
  // Real: IP 127.0.0.1.54340 > 127.0.0.1.47001: Flags [S], seq 3438505722, win 65495, options [mss 65495,sackOK,TS val 3829286368 ecr 0,nop,wscale 10]
  // (lo's 64 KiB MTU gives the bigger MSS, window and scale; on Ethernet Linux sends 1460, 64240, 7.)
  const real = reparse(linux.synV4, false); // partial checksum, as always on lo
  const realIp = parseIpv4(linux.synV4);
  const buf = new Uint8Array(60);
  const ours = reparse(buf.subarray(0, buildSyn(buf, 0, { src: ip('127.0.0.1'), dst: ip('127.0.0.1'), srcPort: 54340, dstPort: 47001, seq: 1 })));
  const oursIp = parseIpv4(buf);
  t.deepEqual(
    ours.tcp.options.map((o) => o.kind),
    real.tcp.options.map((o) => o.kind),
  );
  t.is(ours.tcp.flags, real.tcp.flags);
  t.is(ours.tcp.headerLen, real.tcp.headerLen);
  t.is(ours.ttl, real.ttl);
  t.true(realIp.ok && oursIp.ok && realIp.value.dontFragment === oursIp.value.dontFragment && oursIp.value.tos === realIp.value.tos);
});

test('without tsVal the default list sends a clock value, not the placeholder 0', (t) => {
  const buf = new Uint8Array(60);
  const before = Date.now() >>> 0;
  buildSyn(buf, 0, { ...v4, srcPort: 1, dstPort: 2, seq: 3 });
  const ts = reparse(buf).tcp.options.find((o) => o.kind === 'timestamps');
  t.truthy(ts);
  if (ts?.kind === 'timestamps') {
    t.true(((ts.tsVal - before) >>> 0) < 10_000);
    t.is(ts.tsEcr, 0);
  }
  t.is(LINUX_SYN_OPTIONS_V4.find((o) => o.kind === 'timestamps')?.kind, 'timestamps', 'the shared default list is untouched');
  t.true(Object.isFrozen(LINUX_SYN_OPTIONS_V4));
});

test('every SYN field can be overridden', (t) => {
  const buf = new Uint8Array(200);
  const n = buildSyn(buf, 0, {
    ...v4,
    srcPort: 65535,
    dstPort: 1,
    seq: 0xffffffff,
    ack: 42,
    window: 1024,
    ttl: 255,
    ipId: 0xbeef,
    tos: 0xb8,
    flags: TcpFlags.SYN | TcpFlags.ECE | TcpFlags.CWR,
    dontFragment: false,
    options: [{ kind: 'mss', mss: 536 }, { kind: 'timestamps', tsVal: 1, tsEcr: 2 }],
    tsVal: 99,
  });
  const p = buf.subarray(0, n);
  const ipv4 = parseIpv4(p);
  t.like(ipv4, { ok: true, value: { ttl: 255, ident: 0xbeef, tos: 0xb8, dontFragment: false } });
  const { tcp } = reparse(p);
  t.like(tcp, { srcPort: 65535, dstPort: 1, seq: 0xffffffff, ack: 42, window: 1024, flags: 0xc2 });
  t.deepEqual(tcp.options, [
    { kind: 'mss', mss: 536 },
    { kind: 'timestamps', tsVal: 99, tsEcr: 2 },
    { kind: 'eol' }, // the two bytes of zero padding read back as EOL
  ]);
});

test('IPv6 overrides: hop limit, traffic class, flow label, extension headers', (t) => {
  const buf = new Uint8Array(200);
  const n = buildSyn(buf, 0, {
    ...v6,
    srcPort: 1000,
    dstPort: 2000,
    seq: 1,
    ttl: 3,
    tos: 0x28,
    flowLabel: 0xabcde,
    extensionHeaders: [
      { kind: 'hop-by-hop', options: [] },
      { kind: 'destination', options: [{ type: 0x1e, data: Uint8Array.of(1, 2) }] },
      { kind: 'routing', routingType: 4, segmentsLeft: 0, data: new Uint8Array(20) },
      { kind: 'fragment', fragmentOffset: 0, moreFragments: false, identification: 9 },
    ],
  });
  const r = parseIpv6(buf.subarray(0, n));
  t.true(r.ok, r.ok ? '' : r.detail);
  if (!r.ok) return;
  t.like(r.value, { hopLimit: 3, trafficClass: 0x28, flowLabel: 0xabcde, protocol: 6, headerLen: 40 + 8 + 8 + 24 + 8 });
  t.deepEqual(
    r.value.extensionHeaders.map((h) => h.kind),
    ['hop-by-hop', 'destination', 'routing', 'fragment'],
  );
  t.like(reparse(buf.subarray(0, n)).tcp, { srcPort: 1000, dstPort: 2000, window: 64800 });
});

test('the default IPv4 id and IPv6 flow label vary with the flow', (t) => {
  const a = new Uint8Array(80);
  const b = new Uint8Array(80);
  buildSyn(a, 0, { ...v4, srcPort: 1, dstPort: 2, seq: 0x12345678, tsVal: 0 });
  buildSyn(b, 0, { ...v4, srcPort: 1, dstPort: 2, seq: 0x9abcdef0, tsVal: 0 });
  t.not(toHex(a.subarray(4, 6)), toHex(b.subarray(4, 6)));
  buildSyn(a, 0, { ...v6, srcPort: 1, dstPort: 2, seq: 5, tsVal: 0 });
  buildSyn(b, 0, { ...v6, srcPort: 3, dstPort: 2, seq: 5, tsVal: 0 });
  const label = (x: Uint8Array): number => ((x[1] & 0x0f) << 16) | (x[2] << 8) | x[3];
  t.not(label(a), 0);
  t.not(label(a), label(b));
});

test('buildRst: flags R only, ack 0, window 0, no options (what Linux sends for an unexpected SYN-ACK)', (t) => {
  const buf = new Uint8Array(60);
  const n = buildRst(buf, 0, { ...v6, srcPort: 40000, dstPort: 443, seq: 0xdeadbef0, ttl: 9 });
  const { tcp, ttl } = reparse(buf.subarray(0, n));
  t.is(ttl, 9);
  t.deepEqual(tcp, {
    srcPort: 40000,
    dstPort: 443,
    seq: 0xdeadbef0,
    ack: 0,
    flags: TcpFlags.RST,
    window: 0,
    urgent: 0,
    options: [],
    headerLen: 20,
    payloadLength: 0,
    checksum: tcp.checksum,
  });
});

test('buildTcpPacket: a SYN-ACK with payload and any flags, for fakes', (t) => {
  const spec = {
    ...v4,
    srcPort: 80,
    dstPort: 40000,
    seq: 777,
    ack: 2,
    flags: TcpFlags.SYN | TcpFlags.ACK,
    window: 65160,
    options: [{ kind: 'mss', mss: 1460 } as const],
    payload: Uint8Array.of(1, 2, 3),
  };
  const buf = new Uint8Array(100);
  const n = buildTcpPacket(buf, 0, spec);
  t.is(n, tcpPacketLength(spec));
  t.is(n, 20 + 24 + 3);
  t.like(reparse(buf.subarray(0, n)).tcp, { flags: 0x12, ack: 2, payloadLength: 3, window: 65160 });
  buildTcpPacket(buf, 0, spec, { computeChecksums: false });
  t.like(parseTcp(buf.subarray(20, n), v4), { ok: false, reason: 'bad-checksum' });
});

test('buildIcmpError: the quote names the probe (IPv4 and IPv6)', (t) => {
  const syn = new Uint8Array(80);
  const synLen = buildSyn(syn, 0, { ...v4, srcPort: 40000, dstPort: 80, seq: 1234 });
  const buf = new Uint8Array(600);
  const n = buildIcmpError(buf, 0, { src: ip('10.0.0.1'), dst: v4.src, type: 3, code: 13, original: syn.subarray(0, synLen) });
  const d = parseIp(buf.subarray(0, n));
  t.true(d.ok);
  if (!d.ok) return;
  t.like(d.value, { protocol: 1, payloadLength: 8 + 60 });
  t.like(parseIcmpv4(ipPayload(buf, d.value)), {
    ok: true,
    value: { type: 3, code: 13, quoted: { src: v4.src, dst: v4.dst, protocol: 6, srcPort: 40000, dstPort: 80, seq: 1234 } },
  });

  const syn6Len = buildSyn(syn, 0, { ...v6, srcPort: 40000, dstPort: 80, seq: 1234 });
  const n6 = buildIcmpError(buf, 0, { src: ip('fd00::fe'), dst: v6.src, type: 2, code: 0, mtu: 1280, original: syn.subarray(0, syn6Len), quoteLength: 48 });
  const d6 = parseIp(buf.subarray(0, n6));
  t.true(d6.ok);
  if (!d6.ok) return;
  t.like(parseIcmpv6(ipPayload(buf, d6.value), d6.value), {
    ok: true,
    value: { type: 2, mtu: 1280, payloadLength: 48, quoted: { srcPort: 40000, dstPort: 80, seq: 1234 } },
  });
});

test('builders throw RangeError on programmer errors', (t) => {
  const spec = { ...v4, srcPort: 1, dstPort: 2, seq: 3 };
  t.throws(() => buildSyn(new Uint8Array(59), 0, spec), { instanceOf: RangeError });
  t.throws(() => buildSyn(new Uint8Array(100), 50, spec), { instanceOf: RangeError });
  t.throws(() => buildSyn(new Uint8Array(100), 0, { ...spec, dst: v6.dst }), { instanceOf: RangeError });
  t.throws(() => buildSyn(new Uint8Array(100), 0, { ...spec, extensionHeaders: [{ kind: 'destination', options: [] }] }), { instanceOf: RangeError });
  t.throws(() => buildSyn(new Uint8Array(100), 0, { ...spec, srcPort: 65536 }), { instanceOf: RangeError });
  t.throws(() => buildRst(new Uint8Array(39), 0, spec), { instanceOf: RangeError });
  t.throws(() => synLength({ ...spec, src: new Uint8Array(5) }), { instanceOf: RangeError });
});
