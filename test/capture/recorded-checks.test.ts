// Recordings read back as checks: every fixture gives the verdict its recipe provoked, and
// built sequences cover the matching rules (retransmissions, a reused tuple with a new ISN,
// replies that acknowledge the wrong number, ICMP quoting another SYN, stray packets, a SYN
// never answered).
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { parseCapture, type CapturedPacket } from '../../src/capture/capture-file.js';
import { recordedChecks, type RecordedCheck } from '../../src/capture/recorded-checks.js';
import { LinkType } from '../../src/capture/pcap-file.js';
import { buildIcmpError, buildSyn, buildTcpPacket, parseAddress, TcpFlags } from '../../src/wire/index.js';

const fixtures = fileURLToPath(new URL('../../fixtures/', import.meta.url));

type Expected = Partial<RecordedCheck>;
const fixture = test.macro({
  exec(t, name: string, expected: Expected[], unmatched: number) {
    const { checks, unmatched: stray } = recordedChecks(parseCapture(fs.readFileSync(`${fixtures}${name}`)));
    t.is(checks.length, expected.length, JSON.stringify(checks));
    checks.forEach((check, i) => t.like(check, expected[i]));
    t.is(stray.length, unmatched, JSON.stringify(stray));
    for (const check of checks) {
      if (check.status !== 'timeout') t.true(check.rttMs! >= 0, 'an RTT for every answered check');
    }
  },
  title: (_p, name: string) => `reads the checks of ${name}`,
});

const open4 = { target: '198.18.0.2:80', ip: '198.18.0.2', port: 80, status: 'open', attempts: 1, source: '198.18.0.1:40001' } as const;
const synAck4 = { flags: 'S.', ttl: 64, window: 65160, mss: 1460, windowScale: 10, sackPermitted: true, timestamps: true };
test(fixture, 'ipv4/open.pcap', [{ ...open4, evidence: synAck4, packets: [0, 1, 2] }], 0);
test(fixture, 'ipv4/open-sll.pcap', [{ ...open4, evidence: synAck4 }], 0);
test(fixture, 'ipv4/open-sll2.pcap', [{ ...open4, evidence: synAck4 }], 0);
test(fixture, 'ipv4/open-connect-reset.pcap', [{ target: '198.18.0.2:80', status: 'open', packets: [0, 1, 2, 3] }], 0);
test(fixture, 'ipv4/closed.pcap', [{ target: '198.18.0.2:1', status: 'closed', code: 'ECONNREFUSED', evidence: { flags: 'R.', ttl: 64, window: 0 } }], 0);
test(
  fixture,
  'ipv4/unreachable.pcap',
  [
    { target: '198.18.0.2:82', status: 'unreachable', code: 'EHOSTUNREACH', evidence: { icmpType: 3, icmpCode: 13, responder: '198.18.0.2', ttl: 64 } },
    { target: '198.18.1.1:80', status: 'unreachable', code: 'EHOSTUNREACH', evidence: { icmpType: 3, icmpCode: 1 } },
    { target: '198.18.2.1:80', status: 'unreachable', evidence: { icmpType: 3, icmpCode: 13 } },
  ],
  0,
);
test(fixture, 'ipv6/open.pcap', [{ target: '[2001:2::2]:80', ip: '2001:2::2', status: 'open', source: '[2001:2::1]:40001' }], 0);
test(fixture, 'ipv6/open-connect-reset.pcap', [{ target: '[2001:2::2]:80', status: 'open' }], 0);
test(fixture, 'ipv6/closed.pcap', [{ target: '[2001:2::2]:1', status: 'closed', code: 'ECONNREFUSED' }], 0);
test(
  fixture,
  'ipv6/unreachable.pcap',
  [
    { target: '[2001:2::2]:82', status: 'unreachable', code: 'EACCES', evidence: { icmpType: 1, icmpCode: 1 } },
    { target: '[2001:2:0:1::1]:80', status: 'unreachable', code: 'ENETUNREACH', evidence: { icmpType: 1, icmpCode: 0 } },
    { target: '[2001:2:0:2::1]:80', status: 'unreachable', code: 'EACCES' },
  ],
  0,
);
// The segment routing header addresses each packet to the next segment; the check is of the last.
test(fixture, 'ipv6/extension-header.pcap', [{ target: '[2001:2:0:4::1]:80', status: 'open', source: '[2001:2::11]:40007', packets: [0, 1, 2, 3] }], 0);
test(fixture, 'ipv6/fragment.pcap', [], 2); // UDP: no check, both packets unmatched
test(fixture, 'pcapng/ipv4-open.pcapng', [{ ...open4, evidence: synAck4 }], 0);
test(fixture, 'pcapng/ipv6-closed.pcapng', [{ target: '[2001:2::2]:1', status: 'closed' }], 0);
// The same exchange three times over (three link types): one check whose SYN was "sent" 3 times.
test(fixture, 'pcapng/mixed-link-types.pcapng', [{ ...open4, attempts: 3 }], 0);

// --- built sequences ------------------------------------------------------------------------------

const client = parseAddress('198.18.0.1')!;
const server = parseAddress('198.18.0.2')!;
const router = parseAddress('198.18.0.254')!;

function packet(timeMs: number, bytes: Uint8Array): CapturedPacket {
  const sec = Math.floor(timeMs / 1000);
  return { linkType: LinkType.RAW, tsSec: sec, tsNsec: Math.round((timeMs - sec * 1000) * 1e6), capturedLength: bytes.length, originalLength: bytes.length, data: bytes };
}
function syn(srcPort: number, dstPort: number, seq: number): Uint8Array {
  const buf = new Uint8Array(128);
  return buf.subarray(0, buildSyn(buf, 0, { src: client, dst: server, srcPort, dstPort, seq }));
}
function segment(from: 'client' | 'server', srcPort: number, dstPort: number, flags: number, seq: number, ack: number): Uint8Array {
  const buf = new Uint8Array(128);
  const [src, dst] = from === 'client' ? [client, server] : [server, client];
  return buf.subarray(0, buildTcpPacket(buf, 0, { src, dst, srcPort, dstPort, flags, seq, ack, window: 100 }));
}
function icmpAbout(original: Uint8Array): Uint8Array {
  const buf = new Uint8Array(600);
  return buf.subarray(0, buildIcmpError(buf, 0, { src: router, dst: client, type: 3, code: 1, original }));
}
const SA = TcpFlags.SYN | TcpFlags.ACK;
const RA = TcpFlags.RST | TcpFlags.ACK;

test('retransmitted SYNs count as attempts; the RTT runs from the last one', (t) => {
  const { checks } = recordedChecks({
    packets: [packet(1000, syn(61000, 80, 5)), packet(1200, syn(61000, 80, 5)), packet(1200.25, segment('server', 80, 61000, SA, 9, 6))],
  });
  t.like(checks[0], { status: 'open', attempts: 2, rttMs: 0.25, packets: [0, 1, 2] });
});

test('a reused tuple with a new ISN is a new check; a stale answer to the old one is not its verdict', (t) => {
  const { checks, unmatched } = recordedChecks({
    packets: [
      packet(1000, syn(61000, 80, 5)),
      packet(1001, segment('server', 80, 61000, RA, 0, 6)), // closed
      packet(2000, syn(61000, 80, 77)),
      packet(2001, segment('server', 80, 61000, SA, 9, 6)), // acknowledges the old ISN: not this check's
      packet(2002, segment('server', 80, 61000, SA, 9, 78)),
    ],
  });
  t.is(checks.length, 2);
  t.like(checks[0], { status: 'closed', code: 'ECONNREFUSED', packets: [0, 1] });
  t.like(checks[1], { status: 'open', rttMs: 2, packets: [2, 4] });
  t.deepEqual(unmatched.map((u) => u.index), [3]);
});

test('a SYN with no answer is a timeout; wrong acks, a RST without ACK and strays are unmatched', (t) => {
  const first = syn(61001, 81, 1000);
  const { checks, unmatched } = recordedChecks({
    packets: [
      packet(0, first),
      packet(1, segment('server', 81, 61001, RA, 0, 5)), // wrong ack
      packet(2, segment('server', 81, 61001, TcpFlags.RST, 1001, 0)), // no ACK: RFC 9293 ignores it in SYN-SENT
      packet(3, segment('server', 9, 9, SA, 1, 1)), // no such check
      packet(4, icmpAbout(syn(61001, 81, 4242))), // quotes another ISN
      packet(5, Uint8Array.of(0x45, 0, 0)), // not even an IP header
    ],
  });
  t.is(checks.length, 1);
  t.like(checks[0], { target: '198.18.0.2:81', status: 'timeout', code: 'ETIMEDOUT', attempts: 1, packets: [0] });
  t.is(checks[0].rttMs, undefined);
  t.deepEqual(unmatched.map((u) => u.index), [1, 2, 3, 4, 5]);
  t.regex(unmatched[4].summary, /malformed/);
});

test('an ICMP error quoting the SYN is unreachable; later packets on the tuple belong to the check', (t) => {
  const first = syn(61002, 82, 31337);
  const { checks, unmatched } = recordedChecks({
    packets: [packet(10, first), packet(10.5, icmpAbout(first)), packet(11, segment('server', 82, 61002, SA, 1, 31338)), packet(11.1, segment('client', 61002, 82, TcpFlags.RST, 31338, 0))],
  });
  t.like(checks[0], { status: 'unreachable', code: 'EHOSTUNREACH', rttMs: 0.5, evidence: { icmpType: 3, icmpCode: 1, responder: '198.18.0.254' }, packets: [0, 1, 2, 3] });
  t.deepEqual(unmatched, []);
});
