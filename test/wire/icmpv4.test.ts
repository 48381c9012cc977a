import test from 'ava';
import type { IcmpRepr } from '../../src/wire/icmp.js';
import { Icmpv4Type, Icmpv4Unreachable, describeIcmpv4, emitIcmpv4, parseIcmpv4 } from '../../src/wire/icmpv4.js';
import { buildIcmpError, buildSyn } from '../../src/wire/segment.js';
import type { MalformedReason } from '../../src/wire/result.js';
import { filled, hex, ip, linux, toHex } from './util.js';

const icmpOf = (packet: Uint8Array): Uint8Array => packet.subarray((packet[0] & 0x0f) * 4);

interface Case {
  name: string;
  line: string;
  packet: Uint8Array;
  repr: IcmpRepr;
}

const cases: Case[] = [
  {
    name: 'Linux host unreachable (nft reject) quoting a SYN',
    line: 'ICMP host 127.0.0.1 unreachable (quoting 127.0.0.1.41332 > 127.0.0.1.47003 tcp seq 159461271), length 68',
    packet: linux.icmpHostUnreachableV4,
    repr: {
      type: 3,
      code: 1,
      checksum: 0x0250,
      restOfHeader: 0,
      payloadLength: 60,
      quoted: { src: ip('127.0.0.1'), dst: ip('127.0.0.1'), protocol: 6, srcPort: 41332, dstPort: 47003, seq: 159461271 },
    },
  },
  {
    name: 'Linux communication administratively prohibited quoting a SYN',
    line: 'ICMP host 127.0.0.1 unreachable - admin prohibited filter (quoting 127.0.0.1.36462 > 127.0.0.1.47004 tcp seq 4039367169), length 68',
    packet: linux.icmpAdminProhibitedV4,
    repr: {
      type: 3,
      code: 13,
      checksum: 0x424d,
      restOfHeader: 0,
      payloadLength: 60,
      quoted: { src: ip('127.0.0.1'), dst: ip('127.0.0.1'), protocol: 6, srcPort: 36462, dstPort: 47004, seq: 4039367169 },
    },
  },
  {
    name: 'Linux port unreachable quoting UDP (ports, no seq)',
    line: 'ICMP 127.0.0.1 udp port 47006 unreachable (quoting 127.0.0.1.56385 > 127.0.0.1.47006 udp), length 38',
    packet: linux.icmpPortUnreachableUdpV4,
    repr: {
      type: 3,
      code: 3,
      checksum: 0x028b,
      restOfHeader: 0,
      payloadLength: 30,
      quoted: { src: ip('127.0.0.1'), dst: ip('127.0.0.1'), protocol: 17, srcPort: 56385, dstPort: 47006 },
    },
  },
];

for (const c of cases) {
  test(`parse ${c.name}`, (t) => {
    const r = parseIcmpv4(icmpOf(c.packet));
    t.true(r.ok, r.ok ? '' : r.detail);
    if (r.ok) t.deepEqual(r.value, c.repr);
  });
  test(`emit ${c.name}`, (t) => {
    const msg = icmpOf(c.packet);
    const buf = filled(msg.length + 4);
    const n = emitIcmpv4(buf, 1, c.repr, msg.subarray(8));
    t.is(n, msg.length);
    t.is(toHex(buf.subarray(1, 1 + n)), toHex(msg), 'checksum recomputed to the captured value');
    t.is(buf[0], 0xa5);
    t.true(buf.subarray(1 + n).every((b) => b === 0xa5));
  });
  test(`describe ${c.name}`, (t) => {
    t.is(describeIcmpv4(c.repr), c.line);
  });
}

// IP 198.18.0.1.40000 > 198.18.0.2.80: Flags [S], seq 1, win 64240, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0
const syn = new Uint8Array(60);
buildSyn(syn, 0, { src: ip('198.18.0.1'), dst: ip('198.18.0.2'), srcPort: 40000, dstPort: 80, seq: 1, tsVal: 1 });

function errorAbout(original: Uint8Array, type: number, code: number, quoteLength?: number, mtu?: number): Uint8Array {
  const buf = new Uint8Array(600);
  const n = buildIcmpError(buf, 0, { src: ip('10.0.0.254'), dst: ip('198.18.0.1'), type, code, original, quoteLength, mtu });
  return icmpOf(buf.subarray(0, n));
}

const quoteCut = test.macro({
  exec(t, quoteLength: number, expected: IcmpRepr['quoted']) {
    const r = parseIcmpv4(errorAbout(syn, 3, 1, quoteLength));
    t.true(r.ok, r.ok ? '' : r.detail);
    if (r.ok) t.deepEqual(r.value.quoted, expected);
  },
  title: (_p, quoteLength: number) => `a quote of ${quoteLength} bytes (${quoteLength - 20} of TCP)`,
});

const a = ip('198.18.0.1');
const b = ip('198.18.0.2');
// RFC 792's minimum, "Internet Header + 64 bits": ports and sequence number.
test(quoteCut, 28, { src: a, dst: b, protocol: 6, srcPort: 40000, dstPort: 80, seq: 1 });
test(quoteCut, 27, { src: a, dst: b, protocol: 6, srcPort: 40000, dstPort: 80 });
test(quoteCut, 24, { src: a, dst: b, protocol: 6, srcPort: 40000, dstPort: 80 });
test(quoteCut, 23, { src: a, dst: b, protocol: 6 });
test(quoteCut, 20, { src: a, dst: b, protocol: 6 });

test('fragmentation needed carries the next-hop MTU (RFC 1191)', (t) => {
  const r = parseIcmpv4(errorAbout(syn, 3, Icmpv4Unreachable.FRAG_NEEDED, undefined, 1400));
  t.true(r.ok);
  if (r.ok) {
    t.is(r.value.mtu, 1400);
    t.is(r.value.restOfHeader, 1400);
    t.is(describeIcmpv4(r.value), 'ICMP 198.18.0.2 unreachable - need to frag (mtu 1400) (quoting 198.18.0.1.40000 > 198.18.0.2.80 tcp seq 1), length 68');
  }
});

test('time exceeded quotes like an unreachable', (t) => {
  const r = parseIcmpv4(errorAbout(syn, Icmpv4Type.TIME_EXCEEDED, 0, 28));
  t.true(r.ok);
  if (r.ok) {
    t.like(r.value.quoted, { srcPort: 40000, dstPort: 80, seq: 1 });
    t.is(describeIcmpv4(r.value), 'ICMP time exceeded in-transit (quoting 198.18.0.1.40000 > 198.18.0.2.80 tcp seq 1), length 36');
  }
});

test('parameter problem gives the pointer; redirect the gateway', (t) => {
  const buf = filled(8 + 28);
  emitIcmpv4(buf, 0, { type: Icmpv4Type.PARAMETER_PROBLEM, code: 0, restOfHeader: 0x09000000 }, syn.subarray(0, 28));
  const pp = parseIcmpv4(buf);
  t.like(pp, { ok: true, value: { type: 12, pointer: 9 } });
  if (pp.ok) t.is(describeIcmpv4(pp.value), 'ICMP parameter problem - octet 9 (quoting 198.18.0.1.40000 > 198.18.0.2.80 tcp seq 1), length 36');
  emitIcmpv4(buf, 0, { type: Icmpv4Type.REDIRECT, code: 1, restOfHeader: 0x0a0000fe }, syn.subarray(0, 28));
  const rd = parseIcmpv4(buf);
  t.true(rd.ok);
  if (rd.ok) {
    t.deepEqual(rd.value.gateway, ip('10.0.0.254'));
    t.is(describeIcmpv4(rd.value), 'ICMP redirect 198.18.0.2 to 10.0.0.254 (quoting 198.18.0.1.40000 > 198.18.0.2.80 tcp seq 1), length 36');
  }
});

test('echo request and reply: identifier and sequence, no quote', (t) => {
  // IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 4660, seq 1, length 12
  const buf = filled(12);
  emitIcmpv4(buf, 0, { type: Icmpv4Type.ECHO_REQUEST, code: 0, restOfHeader: 0x12340001 }, hex`6869 6869`);
  t.is(toHex(buf), '0800' + '14f8' + '12340001' + '68696869'); // 0x0800 + 0x1234 + 0x0001 + 2 * 0x6869 = 0xeb07, complemented
  const r = parseIcmpv4(buf);
  t.true(r.ok);
  if (r.ok) {
    t.is(r.value.identifier, 0x1234);
    t.is(r.value.sequence, 1);
    t.is(r.value.quoted, undefined);
    t.is(describeIcmpv4(r.value), 'ICMP echo request, id 4660, seq 1, length 12');
  }
});

test('a quoted non-first fragment has no ports to read', (t) => {
  const frag = Uint8Array.from(syn.subarray(0, 28));
  frag[6] = 0x00;
  frag[7] = 0x10; // offset 128 bytes
  const r = parseIcmpv4(errorAbout(frag, 3, 1));
  t.true(r.ok);
  if (r.ok) t.deepEqual(r.value.quoted, { src: a, dst: b, protocol: 6 });
});

test('unknown types parse without a quote', (t) => {
  const buf = filled(8);
  emitIcmpv4(buf, 0, { type: 42, code: 7 }, 0);
  const r = parseIcmpv4(buf);
  t.like(r, { ok: true, value: { type: 42, code: 7, payloadLength: 0 } });
  if (r.ok) t.is(describeIcmpv4(r.value), 'ICMP type-#42, length 8');
});

const rejects = test.macro({
  exec(t, msg: Uint8Array, reason: MalformedReason, verifyChecksum: boolean = true) {
    const r = parseIcmpv4(msg, { verifyChecksum });
    t.false(r.ok);
    if (!r.ok) t.is(r.reason, reason, r.detail);
  },
  title: (provided = '', _m, reason: MalformedReason) => `malformed ${reason}: ${provided}`,
});

test('7 bytes', rejects, icmpOf(linux.icmpHostUnreachableV4).subarray(0, 7), 'truncated');
test('an error with 19 bytes of quote', rejects, errorAbout(syn, 3, 1, 19), 'truncated');
test('an error with no quote at all', rejects, errorAbout(syn, 3, 1, 0), 'truncated');
test(
  'bad checksum',
  rejects,
  (() => {
    const m = Uint8Array.from(icmpOf(linux.icmpHostUnreachableV4));
    m[1] = 0;
    return m;
  })(),
  'bad-checksum',
);
test('a quoted IPv6 header', rejects, errorAbout(linux.synV6, 3, 1), 'bad-version');
test(
  'a quoted IHL of 4',
  rejects,
  (() => {
    const o = Uint8Array.from(syn);
    o[0] = 0x44;
    return errorAbout(o, 3, 1);
  })(),
  'bad-header-length',
);
test(
  'a quoted IHL of 6 with 20 bytes quoted',
  rejects,
  (() => {
    const o = Uint8Array.from(syn.subarray(0, 20));
    o[0] = 0x46;
    return errorAbout(o, 3, 1);
  })(),
  'truncated',
);

test('checksum verification can be turned off', (t) => {
  const m = Uint8Array.from(icmpOf(linux.icmpHostUnreachableV4));
  m[2] ^= 0xff;
  t.true(parseIcmpv4(m, { verifyChecksum: false }).ok);
});
