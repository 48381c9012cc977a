import test from 'ava';
import type { IcmpRepr } from '../../src/wire/icmp.js';
import { Icmpv6Type, Icmpv6Unreachable, describeIcmpv6, emitIcmpv6, parseIcmpv6 } from '../../src/wire/icmpv6.js';
import { buildIcmpError, buildSyn } from '../../src/wire/segment.js';
import type { MalformedReason } from '../../src/wire/result.js';
import { filled, ip, linux, toHex } from './util.js';

const lo6 = { src: ip('::1'), dst: ip('::1') };

interface Case {
  name: string;
  line: string;
  packet: Uint8Array;
  repr: IcmpRepr;
}

const cases: Case[] = [
  {
    name: 'Linux address unreachable (nft reject) quoting a SYN',
    line: 'ICMP6, destination unreachable, unreachable address, ::1 (quoting ::1.53268 > ::1.47003 tcp seq 2339486189), length 88',
    packet: linux.icmpAddrUnreachableV6,
    repr: {
      type: 1,
      code: 3,
      checksum: 0xcf0d,
      restOfHeader: 0,
      payloadLength: 80,
      quoted: { src: ip('::1'), dst: ip('::1'), protocol: 6, srcPort: 53268, dstPort: 47003, seq: 2339486189 },
    },
  },
  {
    name: 'Linux port unreachable quoting UDP',
    line: 'ICMP6, destination unreachable, unreachable port, ::1 udp port 47006 (quoting ::1.59159 > ::1.47006 udp), length 58',
    packet: linux.icmpPortUnreachableUdpV6,
    repr: {
      type: 1,
      code: 4,
      checksum: 0x105f,
      restOfHeader: 0,
      payloadLength: 50,
      quoted: { src: ip('::1'), dst: ip('::1'), protocol: 17, srcPort: 59159, dstPort: 47006 },
    },
  },
];

for (const c of cases) {
  test(`parse ${c.name}`, (t) => {
    const r = parseIcmpv6(c.packet.subarray(40), lo6);
    t.true(r.ok, r.ok ? '' : r.detail);
    if (r.ok) t.deepEqual(r.value, c.repr);
  });
  test(`emit ${c.name}`, (t) => {
    const msg = c.packet.subarray(40);
    const buf = filled(msg.length + 2);
    const n = emitIcmpv6(buf, 0, c.repr, msg.subarray(8), lo6);
    t.is(n, msg.length);
    t.is(toHex(buf.subarray(0, n)), toHex(msg), 'checksum (with the pseudo-header) recomputed to the captured value');
    t.true(buf.subarray(n).every((b) => b === 0xa5));
  });
  test(`describe ${c.name}`, (t) => {
    t.is(describeIcmpv6(c.repr), c.line);
  });
}

test('the checksum covers the pseudo-header (RFC 4443 §2.3): other addresses fail it', (t) => {
  const msg = linux.icmpAddrUnreachableV6.subarray(40);
  t.like(parseIcmpv6(msg, { src: ip('::1'), dst: ip('::2') }), { ok: false, reason: 'bad-checksum' });
  t.like(parseIcmpv6(msg, { src: ip('::2'), dst: ip('::1') }), { ok: false, reason: 'bad-checksum' });
  t.true(parseIcmpv6(msg, { src: ip('::2'), dst: ip('::1') }, { verifyChecksum: false }).ok);
});

const src = ip('2001:db8::1');
const dst = ip('2001:db8::2');
const router = ip('2001:db8:ffff::1');
// IP6 2001:db8::1.40000 > 2001:db8::2.443: Flags [S], seq 7, win 64800, options [mss 1440,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0
const syn = new Uint8Array(80);
buildSyn(syn, 0, { src, dst, srcPort: 40000, dstPort: 443, seq: 7, tsVal: 1 });

function errorAbout(original: Uint8Array, type: number, code: number, quoteLength?: number, mtu?: number): Uint8Array {
  const buf = new Uint8Array(1280);
  const n = buildIcmpError(buf, 0, { src: router, dst: src, type, code, original, quoteLength, mtu });
  return buf.subarray(40, n);
}
const fromRouter = { src: router, dst: src };

test('packet too big carries a 32-bit MTU', (t) => {
  const r = parseIcmpv6(errorAbout(syn, Icmpv6Type.PACKET_TOO_BIG, 0, undefined, 1280), fromRouter);
  t.true(r.ok, r.ok ? '' : r.detail);
  if (r.ok) {
    t.is(r.value.mtu, 1280);
    t.like(r.value.quoted, { srcPort: 40000, dstPort: 443, seq: 7 });
    t.is(describeIcmpv6(r.value), 'ICMP6, packet too big, mtu 1280 (quoting 2001:db8::1.40000 > 2001:db8::2.443 tcp seq 7), length 88');
  }
});

test('time exceeded and parameter problem', (t) => {
  const te = parseIcmpv6(errorAbout(syn, Icmpv6Type.TIME_EXCEEDED, 0), fromRouter);
  t.true(te.ok);
  if (te.ok) t.is(describeIcmpv6(te.value), 'ICMP6, time exceeded in-transit (quoting 2001:db8::1.40000 > 2001:db8::2.443 tcp seq 7), length 88');
  const buf = filled(8 + 48);
  emitIcmpv6(buf, 0, { type: Icmpv6Type.PARAMETER_PROBLEM, code: 1, restOfHeader: 40 }, syn.subarray(0, 48), fromRouter);
  const pp = parseIcmpv6(buf, fromRouter);
  t.true(pp.ok);
  if (pp.ok) {
    t.is(pp.value.pointer, 40);
    t.is(describeIcmpv6(pp.value), 'ICMP6, parameter problem, code 1, pointer 40 (quoting 2001:db8::1.40000 > 2001:db8::2.443 tcp seq 7), length 56');
  }
});

test('echo request: informational, no quote', (t) => {
  const buf = filled(8);
  emitIcmpv6(buf, 0, { type: Icmpv6Type.ECHO_REQUEST, code: 0, restOfHeader: 0x00010002 }, 0, fromRouter);
  const r = parseIcmpv6(buf, fromRouter);
  t.like(r, { ok: true, value: { type: 128, identifier: 1, sequence: 2 } });
  if (r.ok) {
    t.is(r.value.quoted, undefined);
    t.is(describeIcmpv6(r.value), 'ICMP6, echo request, id 1, seq 2, length 8');
  }
});

test('a quoted packet with extension headers is walked to the TCP ports', (t) => {
  const withExt = new Uint8Array(200);
  const n = buildSyn(withExt, 0, {
    src,
    dst,
    srcPort: 40000,
    dstPort: 443,
    seq: 7,
    tsVal: 1,
    extensionHeaders: [
      { kind: 'hop-by-hop', options: [] },
      { kind: 'destination', options: [] },
    ],
  });
  const r = parseIcmpv6(errorAbout(withExt.subarray(0, n), Icmpv6Type.DEST_UNREACHABLE, Icmpv6Unreachable.ADMIN_PROHIBITED), fromRouter);
  t.true(r.ok, r.ok ? '' : r.detail);
  if (r.ok) t.deepEqual(r.value.quoted, { src, dst, protocol: 6, srcPort: 40000, dstPort: 443, seq: 7 });
  // Cut inside the second extension header: the walk stops there, no ports.
  const cut = parseIcmpv6(errorAbout(withExt.subarray(0, n), 1, 1, 52), fromRouter);
  t.true(cut.ok, cut.ok ? '' : cut.detail);
  if (cut.ok) t.deepEqual(cut.value.quoted, { src, dst, protocol: 60 });
});

test('a quote cut after the TCP ports gives ports without seq', (t) => {
  const r = parseIcmpv6(errorAbout(syn, 1, 4, 44), fromRouter);
  t.true(r.ok);
  if (r.ok) t.deepEqual(r.value.quoted, { src, dst, protocol: 6, srcPort: 40000, dstPort: 443 });
});

test('a quoted non-first fragment has no ports', (t) => {
  const frag = new Uint8Array(56);
  frag.set(syn.subarray(0, 40));
  frag[6] = 44; // next header: fragment
  frag.set([6, 0, 0x05, 0xa8, 0, 0, 0, 1], 40); // offset 1448, next TCP
  const r = parseIcmpv6(errorAbout(frag, 1, 3), fromRouter);
  t.true(r.ok, r.ok ? '' : r.detail);
  if (r.ok) t.deepEqual(r.value.quoted, { src, dst, protocol: 6 });
});

const rejects = test.macro({
  exec(t, msg: Uint8Array, reason: MalformedReason) {
    const r = parseIcmpv6(msg, fromRouter);
    t.false(r.ok);
    if (!r.ok) t.is(r.reason, reason, r.detail);
  },
  title: (provided = '', _m, reason: MalformedReason) => `malformed ${reason}: ${provided}`,
});

test('7 bytes', rejects, errorAbout(syn, 1, 4).subarray(0, 7), 'truncated');
test('an error quoting 39 bytes', rejects, errorAbout(syn, 1, 4, 39), 'truncated');
test('an error quoting IPv4', rejects, errorAbout(linux.synV4, 1, 4), 'bad-version');
test(
  'an error quoting hop-by-hop in second place',
  rejects,
  (() => {
    const o = new Uint8Array(60);
    o.set(syn.subarray(0, 40));
    o[6] = 60;
    o.set([0, 0, 1, 4, 0, 0, 0, 0, 6, 0, 1, 4, 0, 0, 0, 0], 40);
    return errorAbout(o, 1, 4);
  })(),
  'bad-extension-header',
);
test(
  'bad checksum',
  rejects,
  (() => {
    const m = Uint8Array.from(errorAbout(syn, 1, 4));
    m[9] ^= 1;
    return m;
  })(),
  'bad-checksum',
);
