// Reply matching, on its own: captured frame bytes plus the probe table in, the probe's slot and
// the verdict out. No clock, no sending, no counters: the engine (raw-strategy.ts) acts on the
// result, and the tests drive this straight from the recorded fixtures (fixtures/ipv4, ipv6).
//
// The rules, all from RFC 9293 §3.10.7.3 (SYN-SENT) seen from the prober's side:
//   - a SYN-ACK is an answer only if it acknowledges our ISN exactly (ack = ISN + 1);
//   - a RST is an answer only if it carries ACK and acknowledges our SYN the same way;
//   - an ICMP error is an answer only if it quotes our SYN: our address, our ports, our ISN;
//   - the reply's destination must be the probe's source address (a probe from 198.18.0.1 is
//     not answered by a segment to 198.18.0.9 that happens to hit the same ports).
// A SYN-ACK or RST-ACK to our ports that matches no live probe's current tuple is 'late-syn-ack'
// or 'late-rst': the engine decides from what it remembers of recent tuples (engine/probe-table.ts
// RecentProbes) whether it answers a probe that moved to a fresh tuple, or deserves a RST.
import { ipOffset } from '../capture/link-layer.js';
import type { Family } from '../core/types.js';
import { TcpFlags, type IcmpQuote } from '../wire/index.js';
import type { ProbeTable } from './probe-table.js';
import { decodeReply } from './reply.js';
import { TcpReplyView } from './tcp-reply-view.js';
import { tupleKey } from './tuple-key.js';

export type MatchVerdict = 'open' | 'closed' | 'unreachable' | 'late-syn-ack' | 'late-rst' | 'ignored' | 'malformed';

export interface IcmpFields {
  family: Family;
  responder: Uint8Array;
  type: number;
  code: number;
  /** What a kernel connect() would have reported for this error. */
  errno: string;
  ttl: number;
}

/** Reused between calls when passed back in (see matchReply): valid until the next match. */
export interface ReplyMatch {
  verdict: MatchVerdict;
  /** The live probe answered (open, closed, unreachable); -1 otherwise. */
  slot: number;
  /** Where the IP packet starts in the frame; -1 when the link layer did not parse. */
  ipAt: number;
  /** The IP packet (frame from ipAt on); empty when ipAt is -1. */
  ip: Uint8Array;
  /** Filled for TCP replies (open, closed, late-syn-ack, and TCP that was ignored). */
  tcp: TcpReplyView;
  /** tupleKey of the TCP reply's (source address, source port, destination port). */
  tcpKey: number;
  /** Filled for 'unreachable'. */
  icmp: IcmpFields | undefined;
}

export function newReplyMatch(): ReplyMatch {
  return { verdict: 'ignored', slot: -1, ipAt: -1, ip: new Uint8Array(0), tcp: new TcpReplyView(), tcpKey: 0, icmp: undefined };
}

/**
 * What `frame` (of `linkType`, as captured) answers in `table`. Never throws. Pass `into` to
 * reuse one result (and its TcpReplyView) across calls, as the engine does per frame.
 */
export function matchReply(table: ProbeTable, frame: Uint8Array, linkType: number, verifyChecksums: boolean, into = newReplyMatch()): ReplyMatch {
  into.slot = -1;
  into.icmp = undefined;
  const view = into.tcp;
  // The common case read in place, without allocating; everything else goes the general way.
  if (!verifyChecksums && view.read(frame, linkType)) {
    into.ipAt = view.ipAt;
    into.ip = frame.subarray(view.ipAt);
    return matchTcp(table, into);
  }
  const offset = ipOffset(frame, linkType);
  into.ipAt = offset;
  if (offset < 0) {
    into.ip = new Uint8Array(0);
    return verdict(into, 'malformed');
  }
  const bytes = frame.subarray(offset);
  into.ip = bytes;
  const reply = decodeReply(bytes, verifyChecksums);
  switch (reply.kind) {
    case 'tcp':
      view.fromRepr(reply.family, reply.src, reply.dst, reply.ttl, reply.tcp);
      return matchTcp(table, into);
    case 'icmp':
      into.slot = matchIcmpQuote(table, reply.family, reply.quoted);
      if (into.slot < 0) return verdict(into, 'ignored');
      into.icmp = { family: reply.family, responder: reply.responder, type: reply.type, code: reply.code, errno: reply.errno, ttl: reply.ttl };
      return verdict(into, 'unreachable');
    case 'ignored':
      return verdict(into, 'ignored');
    case 'malformed':
      return verdict(into, 'malformed');
  }
}

/** The TCP half of matchReply, on a filled view (into.tcp). */
export function matchTcp(table: ProbeTable, into: ReplyMatch): ReplyMatch {
  const reply = into.tcp;
  const { bytes, srcAt, dstAt, addrLen, family, flags } = reply;
  const key = tupleKey(bytes, srcAt, addrLen, reply.srcPort, reply.dstPort);
  into.tcpKey = key;
  const syn = (flags & TcpFlags.SYN) !== 0;
  const ack = (flags & TcpFlags.ACK) !== 0;
  const rst = (flags & TcpFlags.RST) !== 0;
  const slot = table.find(key, family, bytes, reply.srcPort, reply.dstPort, srcAt);
  if (slot < 0 || !sameAddress(table.localAddr, slot, bytes, dstAt, addrLen)) {
    into.slot = -1;
    return verdict(into, late(syn, ack, rst));
  }
  const expectedAck = (table.isn[slot] + 1) >>> 0;
  into.slot = slot;
  if (syn && ack && !rst && reply.ack === expectedAck) return verdict(into, 'open');
  if (rst && ack && reply.ack === expectedAck) return verdict(into, 'closed');
  into.slot = -1;
  // A SYN-ACK for an earlier probe on a reused tuple lands here too: late, not ours to judge.
  return verdict(into, late(syn, ack, rst));
}

function late(syn: boolean, ack: boolean, rst: boolean): MatchVerdict {
  if (syn && ack && !rst) return 'late-syn-ack';
  return rst && ack && !syn ? 'late-rst' : 'ignored';
}

/** The live probe whose SYN an ICMP error quotes (addresses, ports and ISN), or -1. */
export function matchIcmpQuote(table: ProbeTable, family: Family, quoted: IcmpQuote | undefined): number {
  if (!quoted || quoted.protocol !== 6 || quoted.srcPort === undefined || quoted.dstPort === undefined) return -1;
  const key = tupleKey(quoted.dst, 0, quoted.dst.length, quoted.dstPort, quoted.srcPort);
  const slot = table.find(key, family, quoted.dst, quoted.dstPort, quoted.srcPort);
  if (slot < 0 || !sameAddress(table.localAddr, slot, quoted.src, 0, quoted.src.length) || quoted.seq !== table.isn[slot]) return -1;
  return slot;
}

function verdict(into: ReplyMatch, v: MatchVerdict): ReplyMatch {
  into.verdict = v;
  return into;
}

function sameAddress(column: Uint8Array, slot: number, addr: Uint8Array, addrAt: number, addrLen: number): boolean {
  const base = slot * 16;
  for (let i = 0; i < addrLen; i++) if (column[base + i] !== addr[addrAt + i]) return false;
  return true;
}
