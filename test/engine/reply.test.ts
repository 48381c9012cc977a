// decodeReply: what a captured IP packet means before any probe is looked up. Table of packets
// built with src/wire → kind (and the fields the engine reads); robustness: prefixes and random
// bytes never throw; the Reply keeps copies, not views of the capture buffer.
import test from 'ava';
import { decodeReply, type Reply } from '../../src/engine/reply.js';
import { buildIcmpError, buildSyn, buildTcpPacket, TcpFlags, type TcpPacketSpec } from '../../src/wire/index.js';
import { SeedRun } from '../helpers/seeds.js';
import { ip, prng } from '../wire/util.js';

const V4 = { a: ip('198.18.0.1'), b: ip('198.18.0.2'), router: ip('198.18.0.254') };
const V6 = { a: ip('2001:2::1'), b: ip('2001:2::2'), router: ip('2001:2::fe') };

function tcp(spec: Partial<TcpPacketSpec> & { src: Uint8Array; dst: Uint8Array }): Uint8Array {
  const buf = new Uint8Array(200);
  return buf.slice(0, buildTcpPacket(buf, 0, { srcPort: 80, dstPort: 61000, seq: 1, ack: 2, flags: TcpFlags.SYN | TcpFlags.ACK, ...spec }));
}
function syn(src: Uint8Array, dst: Uint8Array): Uint8Array {
  const buf = new Uint8Array(200);
  return buf.slice(0, buildSyn(buf, 0, { src, dst, srcPort: 61000, dstPort: 80, seq: 0xabcdef01 }));
}
function icmp(src: Uint8Array, dst: Uint8Array, type: number, code: number, original: Uint8Array): Uint8Array {
  const buf = new Uint8Array(1400);
  return buf.slice(0, buildIcmpError(buf, 0, { src, dst, type, code, original }));
}
/** A UDP-like datagram: the TCP builder's output with the protocol byte changed (checksums off). */
function otherProtocol(packet: Uint8Array, protocol: number): Uint8Array {
  const copy = packet.slice();
  if (copy[0] >> 4 === 4) copy[9] = protocol;
  else copy[6] = protocol;
  return copy;
}

interface Case {
  title: string;
  bytes: () => Uint8Array;
  expect: Partial<Reply> & { kind: Reply['kind'] };
  check?: (reply: Reply) => boolean;
}
const cases: Case[] = [
  { title: 'IPv4 SYN-ACK', bytes: () => tcp({ src: V4.b, dst: V4.a, ttl: 60 }), expect: { kind: 'tcp', family: 4, ttl: 60 } },
  { title: 'IPv6 RST-ACK', bytes: () => tcp({ src: V6.b, dst: V6.a, flags: TcpFlags.RST | TcpFlags.ACK }), expect: { kind: 'tcp', family: 6 } },
  {
    title: 'ICMPv4 port unreachable quoting a SYN',
    bytes: () => icmp(V4.router, V4.a, 3, 3, syn(V4.a, V4.b)),
    expect: { kind: 'icmp', family: 4, type: 3, code: 3, errno: 'ECONNREFUSED' },
    check: (r) => r.kind === 'icmp' && r.quoted?.seq === 0xabcdef01 && r.quoted.srcPort === 61000 && r.quoted.dstPort === 80,
  },
  { title: 'ICMPv4 time exceeded', bytes: () => icmp(V4.router, V4.a, 11, 0, syn(V4.a, V4.b)), expect: { kind: 'icmp', family: 4, errno: 'EHOSTUNREACH' } },
  { title: 'ICMPv6 administratively prohibited', bytes: () => icmp(V6.router, V6.a, 1, 1, syn(V6.a, V6.b)), expect: { kind: 'icmp', family: 6, type: 1, code: 1, errno: 'EACCES' } },
  { title: 'ICMPv6 hop limit exceeded', bytes: () => icmp(V6.router, V6.a, 3, 0, syn(V6.a, V6.b)), expect: { kind: 'icmp', family: 6, errno: 'EHOSTUNREACH' } },
  { title: 'ICMPv4 echo reply', bytes: () => icmp(V4.b, V4.a, 0, 0, new Uint8Array(8)), expect: { kind: 'ignored' } },
  { title: 'ICMPv4 redirect', bytes: () => icmp(V4.router, V4.a, 5, 1, syn(V4.a, V4.b)), expect: { kind: 'ignored' } },
  { title: 'ICMPv6 packet too big', bytes: () => icmp(V6.router, V6.a, 2, 0, syn(V6.a, V6.b)), expect: { kind: 'ignored' } },
  { title: 'UDP over IPv4', bytes: () => otherProtocol(tcp({ src: V4.b, dst: V4.a }), 17), expect: { kind: 'ignored' } },
  { title: 'protocol 1 inside IPv6 (ICMPv4 has no business there)', bytes: () => otherProtocol(tcp({ src: V6.b, dst: V6.a }), 1), expect: { kind: 'ignored' } },
  { title: 'protocol 58 inside IPv4', bytes: () => otherProtocol(tcp({ src: V4.b, dst: V4.a }), 58), expect: { kind: 'ignored' } },
  {
    title: 'IPv4 non-first fragment',
    bytes: () => {
      const b = tcp({ src: V4.b, dst: V4.a, dontFragment: false });
      b[7] = 1;
      return b;
    },
    expect: { kind: 'ignored' },
  },
  { title: 'TCP with port 0', bytes: () => tcp({ src: V4.b, dst: V4.a, srcPort: 0 }), expect: { kind: 'malformed' } },
  { title: 'SYN+RST together', bytes: () => tcp({ src: V4.b, dst: V4.a, flags: TcpFlags.SYN | TcpFlags.RST }), expect: { kind: 'malformed' } },
  { title: 'IP version 5', bytes: () => Uint8Array.of(0x50, ...new Array(39).fill(0)), expect: { kind: 'malformed' } },
  { title: 'empty', bytes: () => new Uint8Array(0), expect: { kind: 'malformed' } },
];

const decodes = test.macro({
  exec(t, c: Case) {
    const reply = decodeReply(c.bytes(), false);
    t.like(reply, c.expect);
    if (c.check) t.true(c.check(reply));
  },
  title: (_p, c: Case) => `decodeReply: ${c.title} → ${c.expect.kind}`,
});
for (const c of cases) test(decodes, c);

test('decodeReply verifies checksums only when asked', (t) => {
  const bad = tcp({ src: V4.b, dst: V4.a });
  bad[bad.length - 1] ^= 0xff; // corrupt the last option byte, not the checksum field
  t.is(decodeReply(bad, false).kind, 'tcp');
  t.is(decodeReply(bad, true).kind, 'malformed');
});

test('the Reply keeps copies: reusing the capture buffer does not change it', (t) => {
  const buffer = tcp({ src: V6.b, dst: V6.a });
  const reply = decodeReply(buffer, false);
  buffer.fill(0);
  t.is(reply.kind, 'tcp');
  if (reply.kind === 'tcp') {
    t.deepEqual([...reply.src], [...V6.b]);
    t.deepEqual([...reply.dst], [...V6.a]);
    t.is(reply.tcp.srcPort, 80);
  }
});

test('every prefix of every case, and random bytes, decode without throwing', (t) => {
  const run = new SeedRun(t, [7]);
  let decoded = 0;
  for (const c of cases) {
    const whole = c.bytes();
    for (let len = 0; len <= whole.length; len++) {
      t.notThrows(() => decodeReply(whole.subarray(0, len), true));
      decoded++;
    }
  }
  for (const seed of run) {
    const random = prng(seed);
    for (let i = 0; i < 3000; i++) {
      const junk = Uint8Array.from({ length: Math.floor(random() * 100) }, () => Math.floor(random() * 256));
      if (junk.length > 0) junk[0] = i % 2 ? 0x45 : 0x60;
      try {
        decodeReply(junk, i % 3 === 0);
      } catch (error) {
        return t.fail(`${run.where(seed)} #${i}: ${Buffer.from(junk).toString('hex')} threw ${String(error)}`);
      }
      decoded++;
      run.inputs++;
    }
  }
  run.done();
  t.true(decoded > 3000);
});

test('proper prefixes of a TCP reply are malformed, never a shorter valid packet', (t) => {
  for (const whole of [tcp({ src: V4.b, dst: V4.a }), tcp({ src: V6.b, dst: V6.a })]) {
    for (let len = 0; len < whole.length; len++) t.is(decodeReply(whole.subarray(0, len), false).kind, 'malformed', `length ${len}`);
  }
});
