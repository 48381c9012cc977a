import test from 'ava';
import {
  combine,
  finish,
  fold,
  pseudoHeader,
  pseudoHeaderV4,
  pseudoHeaderV6,
  sum,
  update16,
  update32,
  verifies,
} from '../../src/wire/checksum.js';
import { hex, ip, linux, prng } from './util.js';
import { SeedRun } from '../helpers/seeds.js';

test('RFC 1071 §3 known answer: 0001 f203 f4f5 f6f7 sums to ddf2', (t) => {
  const data = hex`0001 f203 f4f5 f6f7`;
  t.is(sum(data), 0xddf2);
  t.is(finish(sum(data)), 0x220d);
});

test('RFC 1071 §2 (A): the order of the words does not matter', (t) => {
  t.is(sum(hex`f6f7 f4f5 f203 0001`), 0xddf2);
});

const partial = test.macro({
  exec(t, bytes: Uint8Array, expected: number, args: [number?, number?, number?] = []) {
    t.is(sum(bytes, ...args), expected);
  },
  title: (provided = '') => `partial sum: ${provided}`,
});

test('empty', partial, new Uint8Array(0), 0);
test('odd length pads the last byte as the high octet (RFC 1071 §4.1)', partial, hex`0001 f2`, 0xf201);
test('carry folds around', partial, hex`ffff 0001`, 0x0001);
test('initial value is added', partial, hex`0001`, 0x0003, [2]);
test('start/end select a range', partial, hex`ffff 0102 0304 ffff`, 0x0406, [0, 2, 6]);
test('all ones stays 0xffff (negative zero)', partial, hex`ffff ffff`, 0xffff);

test('a long buffer (more than one fold window) sums like its halves combined', (t) => {
  const rnd = prng(1071);
  const big = new Uint8Array(300_001);
  for (let i = 0; i < big.length; i++) big[i] = (rnd() * 256) | 0;
  const half = 150_000; // even, so word alignment is kept
  t.is(sum(big), combine(sum(big, 0, 0, half), sum(big, 0, half)));
});

test('combine and fold', (t) => {
  t.is(combine(), 0);
  t.is(combine(0xffff, 1), 1);
  t.is(combine(0x8000, 0x8000, 0x8000), 0x8001);
  t.is(fold(0x1_0000_0000), 1);
});

test('verifies: a header with its checksum in place sums to 0xffff', (t) => {
  // The IPv4 header of the captured Linux SYN-ACK; the IP header checksum is always complete.
  t.true(verifies(sum(linux.synAckV4, 0, 0, 20)));
  const broken = Uint8Array.from(linux.synAckV4);
  broken[8] = 63; // TTL changed, checksum not
  t.false(verifies(sum(broken, 0, 0, 20)));
});

test('IPv4 pseudo-header: the Linux RST-ACK (complete checksum) verifies with it', (t) => {
  // IP 127.0.0.1.47002 > 127.0.0.1.53412: Flags [R.], seq 0, ack 3091305992, win 0, length 0
  const seg = linux.rstAckV4.subarray(20);
  const src = linux.rstAckV4.subarray(12, 16);
  const dst = linux.rstAckV4.subarray(16, 20);
  t.true(verifies(sum(seg, pseudoHeaderV4(src, dst, 6, seg.length))));
  t.false(verifies(sum(seg, pseudoHeaderV4(src, dst, 17, seg.length))));
  t.is(pseudoHeader(src, dst, 6, seg.length), pseudoHeaderV4(src, dst, 6, seg.length));
});

test('IPv4 pseudo-header by hand: 127.0.0.1, 127.0.0.1, TCP, 20', (t) => {
  // 7f00 + 0001 + 7f00 + 0001 + 0006 + 0014 = 0xfe1c
  t.is(pseudoHeaderV4(ip('127.0.0.1'), ip('127.0.0.1'), 6, 20), 0xfe1c);
});

test('IPv6 pseudo-header: the ICMPv6 error Linux sent on lo verifies with it', (t) => {
  // IP6 ::1 > ::1: ICMP6, destination unreachable, unreachable address ::1, length 88 (tcpdump: "icmp6 sum ok")
  const msg = linux.icmpAddrUnreachableV6.subarray(40);
  t.true(verifies(sum(msg, pseudoHeaderV6(ip('::1'), ip('::1'), 58, msg.length))));
  t.false(verifies(sum(msg, pseudoHeaderV6(ip('::1'), ip('::2'), 58, msg.length))));
});

test('IPv6 pseudo-header counts a 32-bit length (RFC 8200 §8.1)', (t) => {
  const z = new Uint8Array(16);
  t.is(pseudoHeaderV6(z, z, 6, 0x1_0002), fold(1 + 2 + 6));
});

test('Linux on lo leaves the pseudo-header sum in the TCP checksum field (why verification is optional)', (t) => {
  // IP 127.0.0.1.54340 > 127.0.0.1.47001: Flags [S] ... cksum 0xfe30 (incorrect -> 0x5e13)
  const seg = linux.synV4.subarray(20);
  t.is((seg[16] << 8) | seg[17], pseudoHeaderV4(ip('127.0.0.1'), ip('127.0.0.1'), 6, seg.length));
  t.false(verifies(sum(seg, pseudoHeaderV4(ip('127.0.0.1'), ip('127.0.0.1'), 6, seg.length))));
});

/**
 * The checksum a full recomputation gives, as RFC 1624 eqn. 3 writes it: the two are the same
 * number except for data that sum to +0, i.e. all zero bytes, where recomputation gives 0xffff
 * and eqn. 3 the other one's-complement zero, 0x0000 (both verify alike). No IP or TCP header is
 * all zeros (the version nibble, the data offset), so only generated data meet it.
 */
function recomputed(data: Uint8Array): number {
  return data.every((b) => b === 0) ? 0x0000 : finish(sum(data));
}

test('RFC 1624 incremental update equals a full recomputation (16- and 32-bit fields)', (t) => {
  // 1352504871 (npm run fuzz): all-zero data left all zero, see below.
  const run = new SeedRun(t, [1624, 1352504871]);
  for (const seed of run) {
    const rnd = prng(seed);
    for (let round = 0; round < 2000; round++) {
      run.inputs++;
      const len = 2 * (4 + ((rnd() * 40) | 0));
      const data = new Uint8Array(len);
      // Bias towards the corner cases: all-zero and all-ones words.
      const mode = round % 4;
      for (let i = 0; i < len; i++) data[i] = mode === 0 ? 0 : mode === 1 ? 0xff : (rnd() * 256) | 0;
      const before = finish(sum(data));
      const at = 2 * ((rnd() * (len / 2 - 2)) | 0);
      if (round % 2 === 0) {
        const oldWord = (data[at] << 8) | data[at + 1];
        const newWord = (rnd() * 0x10000) | 0;
        data[at] = newWord >>> 8;
        data[at + 1] = newWord & 0xff;
        t.is(update16(before, oldWord, newWord), recomputed(data), `${run.where(seed)} round ${round}`);
      } else {
        const oldValue = ((data[at] << 24) | (data[at + 1] << 16) | (data[at + 2] << 8) | data[at + 3]) >>> 0;
        const newValue = (rnd() * 0x1_0000_0000) >>> 0;
        data[at] = newValue >>> 24;
        data[at + 1] = newValue >>> 16;
        data[at + 2] = newValue >>> 8;
        data[at + 3] = newValue;
        t.is(update32(before, oldValue, newValue), recomputed(data), `${run.where(seed)} round ${round}`);
      }
    }
  }
  run.done();
});

test('RFC 1624 §4 example: HC 0xdd2f, m 0x5555 -> 0x3285 gives 0x0000', (t) => {
  // RFC 1624 §4's numbers: HC = 0xdd2f, m = 0x5555, m' = 0x3285 gives HC' = 0x0000.
  t.is(update16(0xdd2f, 0x5555, 0x3285), 0x0000);
});
