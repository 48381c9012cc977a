import test from 'ava';
import type { MalformedReason } from '../../src/wire/result.js';
import type { SllRepr, SllReprInput } from '../../src/wire/sll.js';
import { Sll2Header, SllHeader, SllPacketType, emitSll, emitSll2, parseSll, parseSll2, sllDirection } from '../../src/wire/sll.js';
import { filled, hex, linux, toHex } from './util.js';

// `tcpdump -i any -y LINUX_SLL`, inside a network namespace:
// lo In IP 127.0.0.1 > 127.0.0.1: ICMP host 127.0.0.1 unreachable, length 68
const sllV1 = Buffer.concat([hex`0000 0304 0006 0000 0000 0000 0000 0800`, linux.icmpHostUnreachableV4]);
const sllV1Repr: SllRepr = {
  protocol: 0x0800,
  payloadOffset: 16,
  packetType: SllPacketType.HOST,
  arphrdType: 772, // ARPHRD_LOOPBACK
  address: new Uint8Array(6),
};

// `tcpdump -i any` (LINUX_SLL2, the default since libpcap 1.10):
// lo In IP 127.0.0.1.47001 > 127.0.0.1.54340: Flags [S.], seq 2836297786, ack 3438505723, win 65483, options [mss 65495,sackOK,TS val 649004797 ecr 3829286368,nop,wscale 10], length 0
const sllV2 = Buffer.concat([hex`0800 0000 0000 0001 0304 0006 0000 0000 0000 0000`, linux.synAckV4]);
const sllV2Repr: SllRepr = {
  protocol: 0x0800,
  payloadOffset: 20,
  packetType: SllPacketType.HOST,
  arphrdType: 772,
  address: new Uint8Array(6),
  ifindex: 1,
};

test('parse SLL v1 (DLT 113) captured by Linux', (t) => {
  const r = parseSll(sllV1);
  t.true(r.ok, r.ok ? '' : r.detail);
  if (r.ok) t.deepEqual(r.value, sllV1Repr);
});

test('parse SLL v2 (DLT 276) captured by Linux', (t) => {
  const r = parseSll2(sllV2);
  t.true(r.ok, r.ok ? '' : r.detail);
  if (r.ok) t.deepEqual(r.value, sllV2Repr);
});

const emits = test.macro({
  exec(t, emit: typeof emitSll, frame: Uint8Array, input: SllReprInput, len: number) {
    const buf = filled(len + 3);
    t.is(emit(buf, 0, input), len);
    t.is(toHex(buf.subarray(0, len)), toHex(frame.subarray(0, len)));
    t.true(buf.subarray(len).every((b) => b === 0xa5));
  },
  title: (provided = '') => `emit ${provided}`,
});

test('SLL v1', emits, emitSll, sllV1, sllV1Repr, 16);
test('SLL v2', emits, emitSll2, sllV2, sllV2Repr, 20);

test('an outgoing packet on "any" is marked PACKET_OUTGOING (4): the engine must skip its own SYNs', (t) => {
  // eth0 Out IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [S] ... (SLL v1 header, Ethernet source address)
  const frame = hex`0004 0001 0006 0242 ac11 0002 0000 0800`;
  t.like(parseSll(frame), { ok: true, value: { packetType: 4, arphrdType: 1, address: Uint8Array.from(hex`0242 ac11 0002`) } });
  t.is(sllDirection(4), 'Out');
  t.is(sllDirection(0), 'In');
  t.is(sllDirection(9), 'type-9');
});

test('SLL v1 with a VLAN tag re-inserted by libpcap (set_vlan_offset: SLL_HDR_LEN - 2)', (t) => {
  // eth0.100 In: vlan 100, p 0, ethertype IPv6
  const frame = Buffer.concat([hex`0000 0001 0006 0242 ac11 0002 0000 8100 0064 86dd`, linux.rstAckV6]);
  t.like(parseSll(frame), { ok: true, value: { protocol: 0x86dd, payloadOffset: 20 } });
  t.like(parseSll(frame.subarray(0, 19)), { ok: false, reason: 'truncated' });
});

test('an address length above 8 (InfiniBand: 20) is clamped to the 8 bytes the header holds', (t) => {
  const v1 = hex`0000 0020 0014 0102 0304 0506 0708 0800`;
  t.like(parseSll(v1), { ok: true, value: { address: Uint8Array.from(hex`0102 0304 0506 0708`) } });
  const v2 = hex`0800 0000 0000 0003 0020 0014 0102 0304 0506 0708`;
  t.like(parseSll2(v2), { ok: true, value: { address: Uint8Array.from(hex`0102 0304 0506 0708`), ifindex: 3 } });
});

const rejects = test.macro({
  exec(t, parse: typeof parseSll, frame: Uint8Array, reason: MalformedReason) {
    const r = parse(frame);
    t.false(r.ok);
    if (!r.ok) t.is(r.reason, reason, r.detail);
  },
  title: (provided = '', _p, _f, reason: MalformedReason) => `malformed ${reason}: ${provided}`,
});

test('SLL v1 of 15 bytes', rejects, parseSll, sllV1.subarray(0, 15), 'truncated');
test('SLL v2 of 19 bytes', rejects, parseSll2, sllV2.subarray(0, 19), 'truncated');
test('SLL v1, empty', rejects, parseSll, new Uint8Array(0), 'truncated');
test('SLL v2, empty', rejects, parseSll2, new Uint8Array(0), 'truncated');

test('header views', (t) => {
  const v1 = new SllHeader(Buffer.from(sllV1));
  t.is(v1.packetType, 0);
  t.is(v1.arphrdType, 772);
  t.is(v1.addressLength, 6);
  t.is(v1.protocol, 0x0800);
  const v2 = new Sll2Header(Buffer.from(sllV2));
  t.is(v2.protocol, 0x0800);
  t.is(v2.ifindex, 1);
  t.is(v2.arphrdType, 772);
  t.is(v2.packetType, 0);
  t.is(v2.addressLength, 6);
});

test('emit throws RangeError on bad input', (t) => {
  t.throws(() => emitSll(new Uint8Array(15), 0, sllV1Repr), { instanceOf: RangeError });
  t.throws(() => emitSll2(new Uint8Array(19), 0, sllV2Repr), { instanceOf: RangeError });
  t.throws(() => emitSll(new Uint8Array(16), 0, { ...sllV1Repr, address: new Uint8Array(9) }), { instanceOf: RangeError });
  t.throws(() => emitSll2(new Uint8Array(20), 0, { ...sllV2Repr, packetType: 256 }), { instanceOf: RangeError });
});
