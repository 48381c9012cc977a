import test from 'ava';
import { describePacket } from '../../src/wire/describe.js';
import { emitIpv4 } from '../../src/wire/ipv4.js';
import { buildIcmpError, buildSyn } from '../../src/wire/segment.js';
import { hex, ip, linux } from './util.js';

const describes = test.macro({
  exec(t, bytes: Uint8Array, line: string) {
    t.is(describePacket(bytes), line);
  },
  title: (provided = '') => `describePacket: ${provided}`,
});

// The expected lines are `tcpdump -nn -S` output without the timestamp and the "IP "/"IP6 " prefix.
test('Linux SYN', describes, linux.synV4, '127.0.0.1.54340 > 127.0.0.1.47001: Flags [S], seq 3438505722, win 65495, options [mss 65495,sackOK,TS val 3829286368 ecr 0,nop,wscale 10], length 0');
test('Linux SYN-ACK', describes, linux.synAckV4, '127.0.0.1.47001 > 127.0.0.1.54340: Flags [S.], seq 2836297786, ack 3438505723, win 65483, options [mss 65495,sackOK,TS val 649004797 ecr 3829286368,nop,wscale 10], length 0');
test('Linux RST-ACK', describes, linux.rstAckV4, '127.0.0.1.47002 > 127.0.0.1.53412: Flags [R.], seq 0, ack 3091305992, win 0, length 0');
test('Linux SYN-ACK over IPv6', describes, linux.synAckV6, '::1.47001 > ::1.36606: Flags [S.], seq 1426336960, ack 3601556748, win 65464, options [mss 65476,sackOK,TS val 1463559106 ecr 1106208175,nop,wscale 10], length 0');
test('Linux RST-ACK over IPv6', describes, linux.rstAckV6, '::1.47002 > ::1.42410: Flags [R.], seq 0, ack 1621020353, win 0, length 0');
test(
  'Linux ICMP host unreachable (tcpdump stops before the quote)',
  describes,
  linux.icmpHostUnreachableV4,
  '127.0.0.1 > 127.0.0.1: ICMP host 127.0.0.1 unreachable (quoting 127.0.0.1.41332 > 127.0.0.1.47003 tcp seq 159461271), length 68',
);
test(
  'Linux ICMPv6 port unreachable',
  describes,
  linux.icmpPortUnreachableUdpV6,
  '::1 > ::1: ICMP6, destination unreachable, unreachable port, ::1 udp port 47006 (quoting ::1.59159 > ::1.47006 udp), length 58',
);
// The UDP datagram quoted whole inside the ICMP port unreachable above.
test('UDP', describes, linux.icmpPortUnreachableUdpV4.subarray(28), '127.0.0.1.56385 > 127.0.0.1.47006: UDP, length 2');

test('a probe built by buildSyn', (t) => {
  const buf = new Uint8Array(60);
  buildSyn(buf, 0, { src: ip('198.18.0.1'), dst: ip('198.18.0.2'), srcPort: 40000, dstPort: 80, seq: 1, tsVal: 1 });
  t.is(describePacket(buf, { verifyChecksum: true }), '198.18.0.1.40000 > 198.18.0.2.80: Flags [S], seq 1, win 64240, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0');
});

test('an ICMPv4 error about a probe', (t) => {
  const syn = new Uint8Array(60);
  buildSyn(syn, 0, { src: ip('198.18.0.1'), dst: ip('198.18.0.2'), srcPort: 40000, dstPort: 80, seq: 1, tsVal: 1 });
  const buf = new Uint8Array(100);
  const n = buildIcmpError(buf, 0, { src: ip('10.0.0.254'), dst: ip('198.18.0.1'), type: 3, code: 1, original: syn, quoteLength: 28 });
  // tcpdump: IP 10.0.0.254 > 198.18.0.1: ICMP host 198.18.0.2 unreachable, length 36
  t.is(describePacket(buf.subarray(0, n)), '10.0.0.254 > 198.18.0.1: ICMP host 198.18.0.2 unreachable (quoting 198.18.0.1.40000 > 198.18.0.2.80 tcp seq 1), length 36');
});

test('fragments and other protocols', (t) => {
  const buf = new Uint8Array(40);
  emitIpv4(buf, 0, { src: ip('10.0.0.1'), dst: ip('10.0.0.2'), protocol: 6, fragmentOffset: 1480, moreFragments: true, payloadLength: 20 });
  t.is(describePacket(buf), '10.0.0.1 > 10.0.0.2: tcp fragment @1480+, length 20');
  emitIpv4(buf, 0, { src: ip('10.0.0.1'), dst: ip('10.0.0.2'), protocol: 47, payloadLength: 4 });
  t.is(describePacket(buf.subarray(0, 24)), '10.0.0.1 > 10.0.0.2: ip-proto-47, length 4');
  emitIpv4(buf, 0, { src: ip('10.0.0.1'), dst: ip('10.0.0.2'), protocol: 17, payloadLength: 4 });
  t.is(describePacket(buf.subarray(0, 24)), '10.0.0.1 > 10.0.0.2: UDP, bad length 4');
});

test('malformed input says why, without throwing', (t) => {
  t.is(describePacket(new Uint8Array(0)), 'malformed: truncated (empty IP datagram)');
  t.is(describePacket(hex`7000`), 'malformed: bad-version (IP version field is 7)');
  t.regex(describePacket(linux.synV4.subarray(0, 30)), /^malformed: truncated \(/);
  t.regex(describePacket(linux.synV4, { verifyChecksum: true }), /^malformed: bad-checksum \(TCP checksum 0xfe30/);
  const cut = Uint8Array.from(linux.synV4);
  cut[2] = 0;
  cut[3] = 30; // total length 30: a TCP header of 10 bytes
  t.regex(describePacket(cut), /^malformed: truncated \(TCP header needs 20 bytes, have 10\)/);
});
