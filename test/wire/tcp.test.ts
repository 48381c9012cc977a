import test from 'ava';
import type { MalformedReason } from '../../src/wire/result.js';
import type { TcpOption, TcpRepr } from '../../src/wire/tcp.js';
import {
  TcpFlags,
  TcpPacket,
  describeTcp,
  effectiveWindowScale,
  emitTcp,
  formatTcpFlags,
  formatTcpOption,
  linuxSynOptions,
  parseTcp,
  seqAdd,
  seqDiff,
  seqLessThan,
  summarizeTcpOptions,
  tcpHeaderLen,
  tcpOptionsLen,
} from '../../src/wire/tcp.js';
import { filled, hex, ip, linux, toHex } from './util.js';

const lo4 = { src: ip('127.0.0.1'), dst: ip('127.0.0.1') };
const lo6 = { src: ip('::1'), dst: ip('::1') };
const u8 = (h: string): Uint8Array => Uint8Array.from(hex(h));

interface Case {
  name: string;
  /** The tcpdump line of the packet. */
  line: string;
  ip: Uint8Array;
  ipHeaderLen: number;
  addrs: { src: Uint8Array; dst: Uint8Array };
  repr: TcpRepr;
  /** What tcpdump -vv says the checksum should be ("incorrect -> 0x...") or is. */
  correctChecksum: number;
}

const cases: Case[] = [
  {
    name: 'Linux SYN (IPv4)',
    line: '127.0.0.1.54340 > 127.0.0.1.47001: Flags [S], seq 3438505722, win 65495, options [mss 65495,sackOK,TS val 3829286368 ecr 0,nop,wscale 10], length 0',
    ip: linux.synV4,
    ipHeaderLen: 20,
    addrs: lo4,
    repr: {
      srcPort: 54340,
      dstPort: 47001,
      seq: 3438505722,
      ack: 0,
      flags: TcpFlags.SYN,
      window: 65495,
      urgent: 0,
      options: linuxSynOptions(65495, 3829286368, 10),
      headerLen: 40,
      payloadLength: 0,
      checksum: 0xfe30,
    },
    correctChecksum: 0x5e13,
  },
  {
    name: 'Linux SYN-ACK (IPv4)',
    line: '127.0.0.1.47001 > 127.0.0.1.54340: Flags [S.], seq 2836297786, ack 3438505723, win 65483, options [mss 65495,sackOK,TS val 649004797 ecr 3829286368,nop,wscale 10], length 0',
    ip: linux.synAckV4,
    ipHeaderLen: 20,
    addrs: lo4,
    repr: {
      srcPort: 47001,
      dstPort: 54340,
      seq: 2836297786,
      ack: 3438505723,
      flags: TcpFlags.SYN | TcpFlags.ACK,
      window: 65483,
      urgent: 0,
      options: [
        { kind: 'mss', mss: 65495 },
        { kind: 'sack-permitted' },
        { kind: 'timestamps', tsVal: 649004797, tsEcr: 3829286368 },
        { kind: 'nop' },
        { kind: 'window-scale', shift: 10 },
      ],
      headerLen: 40,
      payloadLength: 0,
      checksum: 0xfe30,
    },
    correctChecksum: 0x0f19,
  },
  {
    name: 'Linux RST-ACK to a closed port (IPv4)',
    line: '127.0.0.1.47002 > 127.0.0.1.53412: Flags [R.], seq 0, ack 3091305992, win 0, length 0',
    ip: linux.rstAckV4,
    ipHeaderLen: 20,
    addrs: lo4,
    repr: {
      srcPort: 47002,
      dstPort: 53412,
      seq: 0,
      ack: 3091305992,
      flags: TcpFlags.RST | TcpFlags.ACK,
      window: 0,
      urgent: 0,
      options: [],
      headerLen: 20,
      payloadLength: 0,
      checksum: 0xdb44,
    },
    correctChecksum: 0xdb44,
  },
  {
    name: 'Linux SYN (IPv6)',
    line: '::1.36606 > ::1.47001: Flags [S], seq 3601556747, win 65476, options [mss 65476,sackOK,TS val 1106208175 ecr 0,nop,wscale 10], length 0',
    ip: linux.synV6,
    ipHeaderLen: 40,
    addrs: lo6,
    repr: {
      srcPort: 36606,
      dstPort: 47001,
      seq: 3601556747,
      ack: 0,
      flags: TcpFlags.SYN,
      window: 65476,
      urgent: 0,
      options: linuxSynOptions(65476, 1106208175, 10),
      headerLen: 40,
      payloadLength: 0,
      checksum: 0x0030,
    },
    correctChecksum: 0x2438,
  },
  {
    name: 'Linux SYN-ACK (IPv6)',
    line: '::1.47001 > ::1.36606: Flags [S.], seq 1426336960, ack 3601556748, win 65464, options [mss 65476,sackOK,TS val 1463559106 ecr 1106208175,nop,wscale 10], length 0',
    ip: linux.synAckV6,
    ipHeaderLen: 40,
    addrs: lo6,
    repr: {
      srcPort: 47001,
      dstPort: 36606,
      seq: 1426336960,
      ack: 3601556748,
      flags: TcpFlags.SYN | TcpFlags.ACK,
      window: 65464,
      urgent: 0,
      options: [
        { kind: 'mss', mss: 65476 },
        { kind: 'sack-permitted' },
        { kind: 'timestamps', tsVal: 1463559106, tsEcr: 1106208175 },
        { kind: 'nop' },
        { kind: 'window-scale', shift: 10 },
      ],
      headerLen: 40,
      payloadLength: 0,
      checksum: 0x0030,
    },
    correctChecksum: 0x2770,
  },
  {
    name: 'Linux RST-ACK to a closed port (IPv6)',
    line: '::1.47002 > ::1.42410: Flags [R.], seq 0, ack 1621020353, win 0, length 0',
    ip: linux.rstAckV6,
    ipHeaderLen: 40,
    addrs: lo6,
    repr: {
      srcPort: 47002,
      dstPort: 42410,
      seq: 0,
      ack: 1621020353,
      flags: TcpFlags.RST | TcpFlags.ACK,
      window: 0,
      urgent: 0,
      options: [],
      headerLen: 20,
      payloadLength: 0,
      checksum: 0x001c,
    },
    correctChecksum: 0x232a,
  },
];

const parses = test.macro({
  exec(t, c: Case) {
    const r = parseTcp(c.ip.subarray(c.ipHeaderLen), c.addrs, { verifyChecksum: false });
    t.true(r.ok, r.ok ? '' : r.detail);
    if (r.ok) t.deepEqual(r.value, c.repr);
  },
  title: (_p, c: Case) => `parse ${c.name}`,
});

const emitsAsCaptured = test.macro({
  exec(t, c: Case) {
    // The captured checksum is kept as found (computeChecksums off), so Linux's bytes, option
    // order and partial checksum included, come back exactly.
    const seg = c.ip.subarray(c.ipHeaderLen);
    const buf = filled(seg.length + 6);
    const n = emitTcp(buf, 2, c.repr, c.addrs, { computeChecksums: false });
    t.is(n, seg.length);
    t.is(toHex(buf.subarray(2, 2 + n)), toHex(seg));
    t.true(buf.subarray(0, 2).every((b) => b === 0xa5));
    t.true(buf.subarray(2 + n).every((b) => b === 0xa5));
  },
  title: (_p, c: Case) => `emit ${c.name} byte for byte`,
});

const checksums = test.macro({
  exec(t, c: Case) {
    const seg = c.ip.subarray(c.ipHeaderLen);
    const buf = filled(seg.length);
    emitTcp(buf, 0, c.repr, c.addrs);
    t.is((buf[16] << 8) | buf[17], c.correctChecksum);
    t.true(parseTcp(buf, c.addrs).ok, 'the recomputed segment verifies');
    const asCaptured = parseTcp(seg, c.addrs);
    if (c.correctChecksum === c.repr.checksum) t.true(asCaptured.ok);
    else t.like(asCaptured, { ok: false, reason: 'bad-checksum' });
  },
  title: (_p, c: Case) => `checksum of ${c.name} is the one tcpdump computes`,
});

const describes = test.macro({
  exec(t, c: Case) {
    t.is(describeTcp(c.repr, c.addrs.src, c.addrs.dst), c.line);
  },
  title: (_p, c: Case) => `describe ${c.name} as tcpdump does`,
});

for (const c of cases) {
  test(parses, c);
  test(emitsAsCaptured, c);
  test(checksums, c);
  test(describes, c);
}

interface OptionCase {
  name: string;
  options: TcpOption[];
  /** The option bytes, padding included. */
  wire: string;
  text: string;
  /** What parsing the bytes gives back, when the padding shows up in it. */
  parsed?: TcpOption[];
}

const optionCases: OptionCase[] = [
  {
    name: "Linux's SYN list",
    options: linuxSynOptions(1460, 1, 7),
    wire: '0204 05b4 0402 080a 0000 0001 0000 0000 0103 0307',
    text: 'mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7',
  },
  {
    name: 'timestamps after two NOPs (Linux data segments)',
    options: [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'timestamps', tsVal: 0xfffffffe, tsEcr: 0x80000000 }],
    wire: '0101 080a ffff fffe 8000 0000',
    text: 'nop,nop,TS val 4294967294 ecr 2147483648',
  },
  {
    name: 'SACK with three blocks (RFC 2018)',
    options: [
      { kind: 'nop' },
      { kind: 'nop' },
      { kind: 'sack', blocks: [{ left: 1, right: 2 }, { left: 3, right: 4 }, { left: 0xffffffff, right: 5 }] },
    ],
    wire: '0101 051a 0000 0001 0000 0002 0000 0003 0000 0004 ffff ffff 0000 0005',
    text: 'nop,nop,sack 3 {1:2}{3:4}{4294967295:5}',
  },
  {
    name: 'unknown kinds kept raw, in order (TFO cookie 34, MD5 19 head, experimental 254 empty)',
    options: [
      { kind: 'unknown', type: 34, data: u8('0102 0304 0506 0708') },
      { kind: 'unknown', type: 254, data: new Uint8Array(0) },
      { kind: 'mss', mss: 536 },
    ],
    wire: '220a 0102 0304 0506 0708 fe02 0204 0218',
    text: 'unknown-34 0x0102030405060708,unknown-254,mss 536',
  },
  {
    name: 'EOL ends the list; zero padding after it',
    options: [{ kind: 'mss', mss: 1400 }, { kind: 'eol' }],
    wire: '0204 0578 0000 0000',
    text: 'mss 1400,eol',
  },
  {
    // Padding is zero, which reads back as EOL: kept, so the bytes (not the list) round-trip.
    name: 'a window scale of 14 (RFC 7323 maximum), padded with one zero byte',
    options: [{ kind: 'window-scale', shift: 14 }],
    wire: '0303 0e00',
    text: 'wscale 14,eol',
    parsed: [{ kind: 'window-scale', shift: 14 }, { kind: 'eol' }],
  },
];

const optionRoundTrip = test.macro({
  exec(t, c: OptionCase) {
    const repr = { srcPort: 1, dstPort: 2, seq: 3, ack: 4, flags: TcpFlags.ACK, window: 5, options: c.options };
    const headerLen = tcpHeaderLen(repr);
    t.is(headerLen, 20 + hex(c.wire).length);
    const buf = filled(headerLen + 4);
    const n = emitTcp(buf, 0, repr, lo4);
    t.is(n, headerLen);
    t.is(toHex(buf.subarray(20, n)), toHex(hex(c.wire)));
    t.is(buf[n], 0xa5);
    const r = parseTcp(buf.subarray(0, n), lo4);
    t.true(r.ok, r.ok ? '' : r.detail);
    if (r.ok) {
      t.deepEqual(r.value.options, c.parsed ?? c.options);
      t.is(r.value.options.map(formatTcpOption).join(','), c.text);
    }
  },
  title: (_p, c: OptionCase) => `options: ${c.name}`,
});

for (const c of optionCases) test(optionRoundTrip, c);

/** A 20-byte header (ports 1 > 2, flags as given) plus `opts` hex, data offset set to fit. */
function seg(optsHex = '', flags: number = TcpFlags.ACK, fix?: (b: Uint8Array) => void): Uint8Array {
  const o = hex(optsHex);
  const b = new Uint8Array(20 + o.length);
  b.set(hex`0001 0002 0000 0003 0000 0004`, 0);
  b[12] = ((20 + o.length) / 4) << 4;
  b[13] = flags;
  b[15] = 0xff;
  b.set(o, 20);
  fix?.(b);
  return b;
}

const rejects = test.macro({
  exec(t, bytes: Uint8Array, reason: MalformedReason) {
    const r = parseTcp(bytes, lo4, { verifyChecksum: reason === 'bad-checksum' });
    t.false(r.ok);
    if (!r.ok) {
      t.is(r.reason, reason, r.detail);
      t.true(r.detail.length > 0);
    }
  },
  title: (provided = '', _b, reason: MalformedReason) => `malformed ${reason}: ${provided}`,
});

test('19 bytes', rejects, seg().subarray(0, 19), 'truncated');
test('data offset 4 (gopacket: "data offset < 5")', rejects, seg('', TcpFlags.ACK, (b) => (b[12] = 0x40)), 'bad-header-length');
test('data offset 0', rejects, seg('', TcpFlags.ACK, (b) => (b[12] = 0x00)), 'bad-header-length');
test('data offset beyond the segment', rejects, seg('', TcpFlags.ACK, (b) => (b[12] = 0x60)), 'truncated');
test('option length 1 (gopacket: "option length < 2")', rejects, seg('0201 0000'), 'bad-option');
test('option length 0', rejects, seg('0800 0000'), 'bad-option');
test('option overruns the header', rejects, seg('0101 0205'), 'bad-option');
test('option kind with no length byte', rejects, seg('0101 0102'), 'bad-option');
test('MSS of length 3', rejects, seg('0203 0500'), 'bad-option');
test('window scale of length 4', rejects, seg('0304 0700'), 'bad-option');
test('SACK-permitted of length 3', rejects, seg('0403 0000'), 'bad-option');
test('timestamps of length 8', rejects, seg('0808 0000 0000 0000'), 'bad-option');
test('SACK with no block', rejects, seg('0101 0502'), 'bad-option');
test('SACK of length 14 (not 2 + 8n)', rejects, seg('0101 050e 0000 0000 0000 0000 0000 0000'), 'bad-option');
test('bad checksum', rejects, seg(), 'bad-checksum');
test('source port 0', rejects, seg('', TcpFlags.ACK, (b) => (b[1] = 0)), 'bad-port');
test('destination port 0', rejects, seg('', TcpFlags.ACK, (b) => (b[3] = 0)), 'bad-port');
test('SYN with RST', rejects, seg('', TcpFlags.SYN | TcpFlags.RST), 'bad-flags');
test('SYN with FIN', rejects, seg('', TcpFlags.SYN | TcpFlags.FIN | TcpFlags.ACK), 'bad-flags');

test('a checksum error is reported against the right pseudo-header family', (t) => {
  const buf = filled(20);
  emitTcp(buf, 0, { srcPort: 1, dstPort: 2, seq: 0, flags: TcpFlags.RST }, lo6);
  t.true(parseTcp(buf, lo6).ok);
  t.like(parseTcp(buf, lo4), { ok: false, reason: 'bad-checksum' });
});

test('parseOptions false skips the options (neither checked nor returned)', (t) => {
  const r = parseTcp(seg('0201 0000'), lo4, { verifyChecksum: false, parseOptions: false });
  t.true(r.ok);
  if (r.ok) {
    t.deepEqual(r.value.options, []);
    t.is(r.value.headerLen, 24);
  }
});

test('payload is counted, and covered by the checksum', (t) => {
  const buf = filled(40);
  const n = emitTcp(buf, 0, { srcPort: 80, dstPort: 40000, seq: 100, ack: 2, flags: TcpFlags.PSH | TcpFlags.ACK, window: 502 }, lo4, undefined, u8('6865 6c6c 6f'));
  t.is(n, 25);
  const r = parseTcp(buf.subarray(0, n), lo4);
  t.true(r.ok);
  if (r.ok) {
    t.is(r.value.payloadLength, 5);
    t.is(describeTcp(r.value, lo4.src, lo4.dst), '127.0.0.1.80 > 127.0.0.1.40000: Flags [P.], seq 100:105, ack 2, win 502, length 5');
  }
  buf[24] ^= 1;
  t.like(parseTcp(buf.subarray(0, n), lo4), { ok: false, reason: 'bad-checksum' });
});

test('emit with fixLengths false: data offset from the Repr, options not padded', (t) => {
  const buf = filled(30);
  const n = emitTcp(
    buf,
    0,
    { srcPort: 1, dstPort: 2, seq: 0, flags: TcpFlags.SYN, options: [{ kind: 'window-scale', shift: 7 }], headerLen: 16, checksum: 0x1234 },
    lo4,
    { fixLengths: false, computeChecksums: false },
  );
  t.is(n, 23);
  t.is(buf[12] >> 4, 4);
  t.is(toHex(buf.subarray(16, 18)), '1234');
  t.is(buf[23], 0xa5);
  t.like(parseTcp(buf.subarray(0, n), lo4, { verifyChecksum: false }), { ok: false, reason: 'bad-header-length' });
});

test('emit throws RangeError on programmer errors', (t) => {
  const big: TcpOption[] = [{ kind: 'unknown', type: 99, data: new Uint8Array(39) }];
  t.is(tcpOptionsLen(big), 41);
  t.throws(() => emitTcp(new Uint8Array(100), 0, { srcPort: 1, dstPort: 2, seq: 0, flags: 0, options: big }, lo4), { instanceOf: RangeError });
  t.throws(() => emitTcp(new Uint8Array(19), 0, { srcPort: 1, dstPort: 2, seq: 0, flags: 0 }, lo4), { instanceOf: RangeError });
  t.throws(() => emitTcp(new Uint8Array(20), 0, { srcPort: 70000, dstPort: 2, seq: 0, flags: 0 }, lo4), { instanceOf: RangeError });
  t.throws(() => emitTcp(new Uint8Array(40), 0, { srcPort: 1, dstPort: 2, seq: 0, flags: 0, options: [{ kind: 'mss', mss: -1 }] }, lo4), { instanceOf: RangeError });
});

const flagText = test.macro({
  exec(t, flags: number, text: string) {
    t.is(formatTcpFlags(flags), text);
  },
  title: (_p, flags: number, text: string) => `formatTcpFlags(0x${flags.toString(16)}) is "${text}"`,
});

test(flagText, TcpFlags.SYN, 'S');
test(flagText, TcpFlags.SYN | TcpFlags.ACK, 'S.');
test(flagText, TcpFlags.RST, 'R');
test(flagText, TcpFlags.RST | TcpFlags.ACK, 'R.');
test(flagText, TcpFlags.PSH | TcpFlags.ACK, 'P.');
test(flagText, TcpFlags.FIN | TcpFlags.ACK, 'F.');
test(flagText, TcpFlags.ACK, '.');
test(flagText, 0, 'none');
test(flagText, TcpFlags.SYN | TcpFlags.ECE | TcpFlags.CWR, 'SEW');
test(flagText, TcpFlags.FIN | TcpFlags.SYN | TcpFlags.RST | TcpFlags.PSH | TcpFlags.ACK | TcpFlags.URG | TcpFlags.ECE | TcpFlags.CWR | TcpFlags.AE, 'FSRP.UEWe');

test('reserved bits and AE survive a round trip', (t) => {
  const buf = filled(20);
  emitTcp(buf, 0, { srcPort: 1, dstPort: 2, seq: 0, flags: 0xe00 | TcpFlags.AE | TcpFlags.ACK }, lo4);
  t.is(toHex(buf.subarray(12, 14)), '5f10');
  const r = parseTcp(buf, lo4);
  t.true(r.ok);
  if (r.ok) t.is(r.value.flags, 0xf10);
});

test('summarizeTcpOptions picks MSS, window scale, SACK-permitted and timestamps', (t) => {
  t.deepEqual(summarizeTcpOptions(cases[1].repr.options), { mss: 65495, windowScale: 10, sackPermitted: true, tsVal: 649004797, tsEcr: 3829286368 });
  t.deepEqual(summarizeTcpOptions([]), { sackPermitted: false });
  t.is(effectiveWindowScale(15), 14);
  t.is(effectiveWindowScale(7), 7);
});

test('sequence arithmetic wraps mod 2^32 (RFC 9293 §3.4)', (t) => {
  t.is(seqAdd(0xffffffff, 1), 0);
  t.is(seqAdd(0xfffffff0, 0x20), 0x10);
  t.is(seqDiff(0x10, 0xfffffff0), 0x20);
  t.is(seqDiff(0xfffffff0, 0x10), -0x20);
  t.true(seqLessThan(0xfffffff0, 0x10));
  t.false(seqLessThan(0x10, 0xfffffff0));
});

test('TcpPacket view over a pooled Buffer', (t) => {
  const bytes = Buffer.from(linux.synAckV4.subarray(20));
  const checked = TcpPacket.checked(bytes);
  t.true(checked.ok);
  if (!checked.ok) return;
  const p = checked.value;
  t.is(p.srcPort, 47001);
  t.is(p.dstPort, 54340);
  t.is(p.seqNumber, 2836297786);
  t.is(p.ackNumber, 3438505723);
  t.is(p.headerLen, 40);
  t.true(p.syn);
  t.true(p.ackFlag);
  t.false(p.rst);
  t.false(p.fin);
  t.false(p.psh);
  t.false(p.urg);
  t.false(p.ece);
  t.false(p.cwr);
  t.is(p.windowLen, 65483);
  t.is(p.urgentPointer, 0);
  t.is(p.options.length, 20);
  t.is(p.payload.length, 0);
  t.false(p.verifyChecksum(lo4.src, lo4.dst), 'partial checksum as captured');
  p.fillChecksum(lo4.src, lo4.dst);
  t.is(p.checksum, 0x0f19);
  t.true(p.verifyChecksum(lo4.src, lo4.dst));
  p.flags = TcpFlags.RST;
  p.seqNumber = 0xffffffff;
  p.windowLen = 0;
  p.srcPort = 1;
  p.dstPort = 2;
  p.ackNumber = 5;
  p.urgentPointer = 9;
  p.headerLen = 20;
  t.is(p.flags, TcpFlags.RST);
  t.is(p.headerLen, 20);
  t.is(toHex(bytes.subarray(0, 20)), '00010002' + 'ffffffff' + '00000005' + '5004' + '0000' + '0f19' + '0009');
  t.like(TcpPacket.checked(bytes.subarray(0, 19)), { ok: false, reason: 'truncated' });
  t.like(TcpPacket.checked(Buffer.from(seg('', 0, (b) => (b[12] = 0x30)))), { ok: false, reason: 'bad-header-length' });
  t.like(TcpPacket.checked(Buffer.from(seg('', 0, (b) => (b[12] = 0x60)))), { ok: false, reason: 'truncated' });
});
