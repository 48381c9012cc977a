import test from 'ava';
import { EthernetFrame, describeEthernet, emitEthernet, parseEthernet } from '../../src/wire/ethernet.js';
import type { EthernetRepr, EthernetReprInput } from '../../src/wire/ethernet.js';
import type { MalformedReason } from '../../src/wire/result.js';
import { filled, hex, linux, toHex } from './util.js';

const mac1 = Uint8Array.from(hex`0200 0000 0001`);
const mac2 = Uint8Array.from(hex`0200 0000 0002`);

interface Case {
  name: string;
  frame: Uint8Array;
  repr: EthernetRepr;
  input: EthernetReprInput;
  text: string;
}

const cases: Case[] = [
  {
    // lo as libpcap sees it: DLT_EN10MB with all-zero addresses.
    // IP 127.0.0.1.47002 > 127.0.0.1.53412: Flags [R.], seq 0, ack 3091305992, win 0, length 0
    name: 'the Linux RST-ACK captured on lo (all-zero MACs)',
    frame: Buffer.concat([hex`0000 0000 0000 0000 0000 0000 0800`, linux.rstAckV4]),
    repr: { etherType: 0x0800, payloadOffset: 14, src: new Uint8Array(6), dst: new Uint8Array(6) },
    input: { etherType: 0x0800, src: new Uint8Array(6), dst: new Uint8Array(6) },
    text: '00:00:00:00:00:00 > 00:00:00:00:00:00, ethertype 0x0800',
  },
  {
    // 02:00:00:00:00:01 > 02:00:00:00:00:02, ethertype 802.1Q (0x8100), length 64: vlan 100, p 0, ethertype IPv4 (0x0800), IP ...
    name: 'one 802.1Q tag',
    frame: Buffer.concat([hex`0200 0000 0002 0200 0000 0001 8100 0064 0800`, linux.rstAckV4]),
    repr: { etherType: 0x0800, payloadOffset: 18, src: mac1, dst: mac2, vlan: 100 },
    input: { etherType: 0x0800, src: mac1, dst: mac2, vlan: 100 },
    text: '02:00:00:00:00:01 > 02:00:00:00:00:02, ethertype 0x0800, vlan 100',
  },
];

for (const c of cases) {
  test(`parse ${c.name}`, (t) => {
    const r = parseEthernet(c.frame);
    t.true(r.ok, r.ok ? '' : r.detail);
    if (r.ok) {
      t.deepEqual(r.value, c.repr);
      t.is(describeEthernet(r.value), c.text);
    }
  });
  test(`emit ${c.name}`, (t) => {
    const buf = filled(c.repr.payloadOffset + 2);
    const n = emitEthernet(buf, 0, c.input);
    t.is(n, c.repr.payloadOffset);
    t.is(toHex(buf.subarray(0, n)), toHex(c.frame.subarray(0, n)));
    t.true(buf.subarray(n).every((b) => b === 0xa5));
  });
}

test('802.1ad + 802.1Q (QinQ) tags are both skipped; the outer VLAN is reported', (t) => {
  // ethertype 802.1Q-QinQ (0x88a8): vlan 10, p 0, ethertype 802.1Q, vlan 100, p 0, ethertype IPv6
  const frame = Buffer.concat([hex`0200 0000 0002 0200 0000 0001 88a8 000a 8100 0064 86dd`, linux.rstAckV6]);
  const r = parseEthernet(frame);
  t.like(r, { ok: true, value: { etherType: 0x86dd, payloadOffset: 22, vlan: 10 } });
});

test('an 802.3 length field is returned as the EtherType (below 0x0600), not rejected', (t) => {
  t.like(parseEthernet(hex`ffff ffff ffff 0200 0000 0001 0026 4242 0300 0000`), { ok: true, value: { etherType: 0x26, payloadOffset: 14 } });
});

const rejects = test.macro({
  exec(t, frame: Uint8Array, reason: MalformedReason) {
    const r = parseEthernet(frame);
    t.false(r.ok);
    if (!r.ok) t.is(r.reason, reason, r.detail);
  },
  title: (provided = '', _f, reason: MalformedReason) => `malformed ${reason}: ${provided}`,
});

test('13 bytes', rejects, hex`0200 0000 0002 0200 0000 0001 08`, 'truncated');
test('a VLAN tag cut off', rejects, hex`0200 0000 0002 0200 0000 0001 8100 0064`, 'truncated');
test('a VLAN tag without the inner EtherType', rejects, hex`0200 0000 0002 0200 0000 0001 8100 0064 08`, 'truncated');
test('tags all the way to the end', rejects, hex`0200 0000 0002 0200 0000 0001 8100 0064 8100 0064 8100`, 'truncated');

test('addresses are copies', (t) => {
  const frame = Uint8Array.from(cases[1].frame);
  const r = parseEthernet(frame);
  frame.fill(0);
  t.like(r, { ok: true, value: { src: mac1, dst: mac2 } });
});

test('EthernetFrame view', (t) => {
  const bytes = Buffer.from(cases[1].frame);
  const checked = EthernetFrame.checked(bytes);
  t.true(checked.ok);
  if (!checked.ok) return;
  t.deepEqual(Uint8Array.from(checked.value.src), mac1);
  t.deepEqual(Uint8Array.from(checked.value.dst), mac2);
  t.is(checked.value.etherType, 0x8100);
  checked.value.etherType = 0x86dd;
  t.is(toHex(bytes.subarray(12, 14)), '86dd');
  t.is(checked.value.payload.length, bytes.length - 14);
  t.false(EthernetFrame.checked(bytes.subarray(0, 13)).ok);
});

test('emit throws RangeError on bad input', (t) => {
  t.throws(() => emitEthernet(new Uint8Array(13), 0, { src: mac1, dst: mac2, etherType: 0x800 }), { instanceOf: RangeError });
  t.throws(() => emitEthernet(new Uint8Array(14), 0, { src: mac1.subarray(0, 5), dst: mac2, etherType: 0x800 }), { instanceOf: RangeError });
  t.throws(() => emitEthernet(new Uint8Array(18), 0, { src: mac1, dst: mac2, etherType: 0x800, vlan: 4096 }), { instanceOf: RangeError });
});
