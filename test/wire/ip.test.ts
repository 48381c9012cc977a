import test from 'ava';
import type { IpDatagram } from '../../src/wire/ip.js';
import { ipPayload, parseIp } from '../../src/wire/ip.js';
import { Ipv4Packet } from '../../src/wire/ipv4.js';
import { buildSyn } from '../../src/wire/segment.js';
import type { MalformedReason } from '../../src/wire/result.js';
import { parseTcp } from '../../src/wire/tcp.js';
import { hex, ip, linux } from './util.js';

const parses = test.macro({
  exec(t, bytes: Uint8Array, expected: IpDatagram, verifyChecksum: boolean = true) {
    const r = parseIp(bytes, { verifyChecksum });
    t.true(r.ok, r.ok ? '' : r.detail);
    if (r.ok) t.deepEqual(r.value, expected);
  },
  title: (provided = '') => `parseIp: ${provided}`,
});

// IP 127.0.0.1.47001 > 127.0.0.1.54340: Flags [S.], seq 2836297786, ack 3438505723, win 65483, ...
test('Linux SYN-ACK over IPv4', parses, linux.synAckV4, {
  version: 4,
  src: ip('127.0.0.1'),
  dst: ip('127.0.0.1'),
  ttl: 64,
  tos: 0,
  protocol: 6,
  payloadOffset: 20,
  payloadLength: 40,
  fragmentOffset: 0,
  moreFragments: false,
});

// IP6 ::1.47001 > ::1.36606: Flags [S.], seq 1426336960, ack 3601556748, win 65464, ...
test('Linux SYN-ACK over IPv6', parses, linux.synAckV6, {
  version: 6,
  src: ip('::1'),
  dst: ip('::1'),
  ttl: 64,
  tos: 0,
  protocol: 6,
  payloadOffset: 40,
  payloadLength: 40,
  fragmentOffset: 0,
  moreFragments: false,
});

// IP 127.0.0.1 > 127.0.0.1: ICMP host 127.0.0.1 unreachable, length 68 (tos 0xc0: Linux sends ICMP errors as network control)
test('Linux ICMP error over IPv4', parses, linux.icmpHostUnreachableV4, {
  version: 4,
  src: ip('127.0.0.1'),
  dst: ip('127.0.0.1'),
  ttl: 64,
  tos: 0xc0,
  protocol: 1,
  payloadOffset: 20,
  payloadLength: 68,
  fragmentOffset: 0,
  moreFragments: false,
});

test('IPv6 extension headers are walked to the transport', (t) => {
  const buf = new Uint8Array(200);
  const n = buildSyn(buf, 0, {
    src: ip('2001:db8::1'),
    dst: ip('2001:db8::2'),
    srcPort: 40001,
    dstPort: 22,
    seq: 5,
    tsVal: 7,
    extensionHeaders: [
      { kind: 'hop-by-hop', options: [{ type: 5, data: Uint8Array.of(0, 0) }] },
      { kind: 'destination', options: [] },
      { kind: 'routing', routingType: 0, segmentsLeft: 0, data: new Uint8Array(20) },
      { kind: 'fragment', fragmentOffset: 0, moreFragments: false, identification: 0x12345678 },
    ],
  });
  const bytes = buf.subarray(0, n);
  const r = parseIp(bytes);
  t.true(r.ok, r.ok ? '' : r.detail);
  if (!r.ok) return;
  t.like(r.value, { version: 6, protocol: 6, payloadOffset: 88, payloadLength: 40, fragmentOffset: 0 });
  const tcp = parseTcp(ipPayload(bytes, r.value), r.value);
  t.like(tcp, { ok: true, value: { srcPort: 40001, dstPort: 22, seq: 5 } });
});

test('IPv4 input longer than the total length (Ethernet padding) is cut to it', (t) => {
  const padded = Buffer.concat([linux.rstAckV4, Buffer.alloc(6)]);
  const r = parseIp(padded);
  t.like(r, { ok: true, value: { payloadLength: 20 } });
  if (r.ok) t.is(ipPayload(padded, r.value).length, 20);
});

test('IPv6 input longer than the payload length is cut to it', (t) => {
  const padded = Buffer.concat([linux.rstAckV6, Buffer.alloc(6)]);
  t.like(parseIp(padded), { ok: true, value: { payloadLength: 20 } });
});

test('IPv4 fragments: offset in bytes and MF', (t) => {
  const first = Uint8Array.from(linux.synAckV4);
  first[6] = 0x20; // MF, offset 0
  new Ipv4Packet(first).fillChecksum();
  t.like(parseIp(first), { ok: true, value: { fragmentOffset: 0, moreFragments: true } });
  const later = Uint8Array.from(linux.synAckV4);
  later[6] = 0x00;
  later[7] = 0xb9; // offset 185 * 8
  new Ipv4Packet(later).fillChecksum();
  t.like(parseIp(later), { ok: true, value: { fragmentOffset: 1480, moreFragments: false } });
});

test('verifyChecksum covers the IPv4 header and defaults to on', (t) => {
  const bad = Uint8Array.from(linux.synAckV4);
  bad[8] = 1;
  t.like(parseIp(bad), { ok: false, reason: 'bad-checksum' });
  t.like(parseIp(bad, { verifyChecksum: false }), { ok: true, value: { ttl: 1 } });
});

test('addresses are copies that outlive a reused capture buffer', (t) => {
  const capture = Buffer.from(linux.synAckV6);
  const r = parseIp(capture);
  capture.fill(0xee);
  t.like(r, { ok: true, value: { src: ip('::1'), dst: ip('::1') } });
});

const rejects = test.macro({
  exec(t, bytes: Uint8Array, reason: MalformedReason) {
    const r = parseIp(bytes);
    t.false(r.ok);
    if (!r.ok) t.is(r.reason, reason, r.detail);
  },
  title: (provided = '', _b, reason: MalformedReason) => `parseIp malformed ${reason}: ${provided}`,
});

test('empty', rejects, new Uint8Array(0), 'truncated');
test('one byte of IPv4', rejects, hex`45`, 'truncated');
test('one byte of IPv6', rejects, hex`60`, 'truncated');
test('version 5', rejects, hex`5500 0014 0000 0000 4006 0000 0a00 0001 0a00 0002`, 'bad-version');
test('version 0', rejects, new Uint8Array(40), 'bad-version');
test('IPv4 IHL 4', rejects, hex`4400 0014 0000 0000 4006 0000 0a00 0001 0a00 0002`, 'bad-header-length');
test('IPv4 total length beyond the input', rejects, linux.synAckV4.subarray(0, 59), 'truncated');
test('IPv6 payload length beyond the input', rejects, linux.synAckV6.subarray(0, 79), 'truncated');
