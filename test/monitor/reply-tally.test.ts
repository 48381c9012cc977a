// The reply counter behind the monitor's duplicate count: it counts received SYN-ACKs and RSTs
// per remote address and port, and nothing else.
import test from 'ava';
import { ReplyTally } from '../../src/monitor/reply-tally.js';
import { buildTcpPacket, parseAddress, TcpFlags } from '../../src/wire/index.js';

function packet(src: string, dst: string, srcPort: number, flags: number): Uint8Array {
  const buf = new Uint8Array(128);
  const n = buildTcpPacket(buf, 0, { src: parseAddress(src)!, dst: parseAddress(dst)!, srcPort, dstPort: 61000, seq: 1, ack: 2, flags });
  return buf.subarray(0, n);
}

const SYN_ACK = TcpFlags.SYN | TcpFlags.ACK;
const RST_ACK = TcpFlags.RST | TcpFlags.ACK;

interface Case {
  feed: Array<['sent' | 'received', Uint8Array]>;
  take: [string, number];
  count: number;
}
const counts = test.macro({
  exec(t, c: Case) {
    const tally = new ReplyTally();
    for (const [direction, bytes] of c.feed) tally.onPacket(direction, bytes);
    t.is(tally.take(...c.take), c.count);
    t.is(tally.take(...c.take), 0, 'take() forgets what it returned');
  },
  title: (what = '') => `reply tally: ${what}`,
});
test('SYN-ACKs and RSTs from the target count', counts, {
  feed: [
    ['received', packet('198.18.0.2', '198.18.0.1', 80, SYN_ACK)],
    ['received', packet('198.18.0.2', '198.18.0.1', 80, SYN_ACK)],
    ['received', packet('198.18.0.2', '198.18.0.1', 80, RST_ACK)],
  ],
  take: ['198.18.0.2', 80],
  count: 3,
});
test('what the engine sent does not count', counts, {
  feed: [
    ['sent', packet('198.18.0.1', '198.18.0.2', 61000, TcpFlags.SYN)],
    ['sent', packet('198.18.0.2', '198.18.0.1', 80, SYN_ACK)],
  ],
  take: ['198.18.0.2', 80],
  count: 0,
});
test('other ports and addresses do not count', counts, {
  feed: [
    ['received', packet('198.18.0.2', '198.18.0.1', 81, SYN_ACK)],
    ['received', packet('198.18.0.3', '198.18.0.1', 80, SYN_ACK)],
  ],
  take: ['198.18.0.2', 80],
  count: 0,
});
test('a bare SYN or ACK is no answer', counts, {
  feed: [
    ['received', packet('198.18.0.2', '198.18.0.1', 80, TcpFlags.SYN)],
    ['received', packet('198.18.0.2', '198.18.0.1', 80, TcpFlags.ACK)],
  ],
  take: ['198.18.0.2', 80],
  count: 0,
});
test('IPv6, whatever way the address is written', counts, {
  feed: [['received', packet('2001:2::2', '2001:2::1', 443, SYN_ACK)]],
  take: ['2001:0002:0:0::0002', 443],
  count: 1,
});
test('garbage is ignored', counts, {
  feed: [
    ['received', new Uint8Array([0x45, 0, 0])],
    ['received', new Uint8Array(0)],
  ],
  take: ['198.18.0.2', 80],
  count: 0,
});
