// Helpers shared by the test/wire suites (not a test file itself: ava only runs *.test.ts).
import { parseAddress } from '../../src/wire/index.js';

/**
 * Bytes from hex text as tcpdump -x prints it ("4500 003c ..."), whitespace and comments ignored.
 * Returns a pooled Buffer on purpose: its byteOffset is not 0, so any code that builds a DataView
 * over `b.buffer` without the offset reads the wrong bytes and fails these tests.
 */
export function hex(strings: TemplateStringsArray | string, ...values: unknown[]): Buffer {
  const text = typeof strings === 'string' ? strings : String.raw({ raw: strings }, ...values);
  const clean = text.replace(/#[^\n]*/g, '').replace(/\s+/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(clean)) throw new Error(`bad hex: ${clean}`);
  return Buffer.from(clean, 'hex');
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** A buffer of 0xa5 bytes (smoltcp's test_emit): bytes an emitter forgets to write show up. */
export function filled(n: number): Uint8Array {
  return new Uint8Array(n).fill(0xa5);
}

/** An address that must parse. */
export function ip(text: string): Uint8Array {
  const a = parseAddress(text);
  if (!a) throw new Error(`bad address in test: ${text}`);
  return a;
}

/** mulberry32: tiny, seedable, good enough to drive fuzzing reproducibly. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Real Linux 6.x packets captured on `lo` (`tcpdump -i lo -w`), IP header onwards. */
export const linux = {
  // IP 127.0.0.1.54340 > 127.0.0.1.47001: Flags [S], seq 3438505722, win 65495, options [mss 65495,sackOK,TS val 3829286368 ecr 0,nop,wscale 10], length 0
  // (TCP cksum 0xfe30 is the pseudo-header sum only: on lo Linux never completes it)
  synV4: hex`
    4500 003c ae4b 4000 4006 8e6e 7f00 0001
    7f00 0001 d444 b799 ccf3 6efa 0000 0000
    a002 ffd7 fe30 0000 0204 ffd7 0402 080a
    e43e 45e0 0000 0000 0103 030a`,
  // IP 127.0.0.1.47001 > 127.0.0.1.54340: Flags [S.], seq 2836297786, ack 3438505723, win 65483, options [mss 65495,sackOK,TS val 649004797 ecr 3829286368,nop,wscale 10], length 0
  // (TCP cksum partial, as above)
  synAckV4: hex`
    4500 003c 0000 4000 4006 3cba 7f00 0001
    7f00 0001 b799 d444 a90e 783a ccf3 6efb
    a012 ffcb fe30 0000 0204 ffd7 0402 080a
    26af 06fd e43e 45e0 0103 030a`,
  // IP 127.0.0.1.47002 > 127.0.0.1.53412: Flags [R.], seq 0, ack 3091305992, win 0, length 0
  // (TCP cksum 0xdb44 correct: the reset comes from a per-netns control socket that computes it)
  rstAckV4: hex`
    4500 0028 0000 4000 4006 3cce 7f00 0001
    7f00 0001 b79a d0a4 0000 0000 b841 9608
    5014 0000 db44 0000`,
  // IP6 ::1.36606 > ::1.47001: Flags [S], seq 3601556747, win 65476, options [mss 65476,sackOK,TS val 1106208175 ecr 0,nop,wscale 10], length 0
  synV6: hex`
    600f b79e 0028 0640 0000 0000 0000 0000
    0000 0000 0000 0001 0000 0000 0000 0000
    0000 0000 0000 0001 8efe b799 d6ab 650b
    0000 0000 a002 ffc4 0030 0000 0204 ffc4
    0402 080a 41ef 65af 0000 0000 0103 030a`,
  // IP6 ::1.47001 > ::1.36606: Flags [S.], seq 1426336960, ack 3601556748, win 65464, options [mss 65476,sackOK,TS val 1463559106 ecr 1106208175,nop,wscale 10], length 0
  synAckV6: hex`
    6002 de3d 0028 0640 0000 0000 0000 0000
    0000 0000 0000 0001 0000 0000 0000 0000
    0000 0000 0000 0001 b799 8efe 5504 2cc0
    d6ab 650c a012 ffb8 0030 0000 0204 ffc4
    0402 080a 573c 23c2 41ef 65af 0103 030a`,
  // IP6 ::1.47002 > ::1.42410: Flags [R.], seq 0, ack 1621020353, win 0, length 0
  rstAckV6: hex`
    6003 bbeb 0014 0640 0000 0000 0000 0000
    0000 0000 0000 0001 0000 0000 0000 0000
    0000 0000 0000 0001 b79a a5aa 0000 0000
    609e cec1 5014 0000 001c 0000`,
  // IP 127.0.0.1 > 127.0.0.1: ICMP host 127.0.0.1 unreachable, length 68
  //   (nft "reject with icmp type host-unreachable" answering the SYN 127.0.0.1.41332 > 127.0.0.1.47003, seq 159461271)
  icmpHostUnreachableV4: hex`
    45c0 0058 347c 0000 4001 4767 7f00 0001
    7f00 0001 0301 0250 0000 0000 4500 003c
    e348 4000 4006 5971 7f00 0001 7f00 0001
    a174 b79b 0981 2f97 0000 0000 a002 ffd7
    fe30 0000 0204 ffd7 0402 080a bc1e fc66
    0000 0000 0103 030a`,
  // IP 127.0.0.1 > 127.0.0.1: ICMP host 127.0.0.1 unreachable - admin prohibited filter, length 68
  //   (quoting 127.0.0.1.36462 > 127.0.0.1.47004, seq 4039367169)
  icmpAdminProhibitedV4: hex`
    45c0 0058 347d 0000 4001 4766 7f00 0001
    7f00 0001 030d 424d 0000 0000 4500 003c
    4bdd 4000 4006 f0dc 7f00 0001 7f00 0001
    8e6e b79c f0c3 da01 0000 0000 a002 ffd7
    fe30 0000 0204 ffd7 0402 080a dda5 1c2e
    0000 0000 0103 030a`,
  // IP 127.0.0.1 > 127.0.0.1: ICMP 127.0.0.1 udp port 47006 unreachable, length 38
  icmpPortUnreachableUdpV4: hex`
    45c0 003a 347e 0000 4001 4783 7f00 0001
    7f00 0001 0303 028b 0000 0000 4500 001e
    fd2b 4000 4011 3fa1 7f00 0001 7f00 0001
    dc41 b79e 000a fe1d 6869`,
  // IP6 ::1 > ::1: ICMP6, destination unreachable, unreachable address ::1, length 88
  //   (nft "reject with icmpv6 type addr-unreachable" answering ::1.53268 > ::1.47003, seq 2339486189)
  icmpAddrUnreachableV6: hex`
    6000 309a 0058 3a40 0000 0000 0000 0000
    0000 0000 0000 0001 0000 0000 0000 0000
    0000 0000 0000 0001 0103 cf0d 0000 0000
    6005 41a5 0028 0640 0000 0000 0000 0000
    0000 0000 0000 0001 0000 0000 0000 0000
    0000 0000 0000 0001 d014 b79b 8b71 b9ed
    0000 0000 a002 ffc4 0030 0000 0204 ffc4
    0402 080a 0deb fa71 0000 0000 0103 030a`,
  // IP6 ::1 > ::1: ICMP6, destination unreachable, unreachable port, ::1 udp port 47006, length 58
  icmpPortUnreachableUdpV6: hex`
    6002 a65c 003a 3a40 0000 0000 0000 0000
    0000 0000 0000 0001 0000 0000 0000 0000
    0000 0000 0000 0001 0104 105f 0000 0000
    600f 7584 000a 1140 0000 0000 0000 0000
    0000 0000 0000 0001 0000 0000 0000 0000
    0000 0000 0000 0001 e717 b79e 000a 001d
    6869`,
} as const;
