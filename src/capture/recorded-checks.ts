// A recording read back as checks: every SYN in a capture is paired with what answered it, and
// each check comes out as the live run reported it (target, status, errno code, RTT, SYNs sent,
// evidence), plus the packets that belong to no check.
//
// The matching rules are the raw engine's (engine/raw-strategy.ts), applied to a file instead of
// a live capture:
// - a check starts with a SYN (no ACK) from A:a to B:b; a SYN on the same 4-tuple with the same
//   sequence number is a retransmission (one more attempt), with another sequence number a new
//   check (the engine reuses a tuple only with a new ISN);
// - a SYN-ACK from B:b to A:a acknowledging ISN+1 says open (RTT from the last SYN sent before
//   it, as the engine measures); a RST acknowledging ISN+1 says closed (ECONNREFUSED), RFC 9293
//   §3.10.7.3; an ICMP error quoting the SYN (its addresses, ports and ISN) says unreachable,
//   with the errno a kernel connect() would have reported;
// - a SYN without a verdict by the end of the file is a timeout;
// - packets after the verdict on the same tuple (the engine's RST, a kernel's ACK and RST,
//   retransmitted SYN-ACKs) belong to that check; everything else is unmatched.
// Checksums are not verified: recordings made on lo or a veth carry offloaded, partial ones.
import type { CheckResult } from '../checker.js';
import type { ProbeEvidence } from '../core/types.js';
import { decodeReply } from '../engine/reply.js';
import { synOptionEvidence } from '../engine/evidence.js';
import { describePacket, formatAddress, formatTcpFlags, ipv6FinalDestination, parseIpv6, TcpFlags } from '../wire/index.js';
import { ipPacket } from './link-layer.js';
import type { CaptureFile, CapturedPacket } from './capture-file.js';

/** A check as the live run would have printed it, plus where it sits in the file. */
export interface RecordedCheck extends Omit<CheckResult, 'error'> {
  /** "198.18.0.1:61000": the address and port the SYN came from. */
  source: string;
  /** Capture time of the first SYN, in microseconds since the epoch. */
  startedUs: number;
  /** Indexes (0-based) of every packet in the file that belongs to this check. */
  packets: number[];
}

export interface UnmatchedPacket {
  index: number;
  timeUs: number;
  /** tcpdump-style one-line summary (or why the packet could not be read). */
  summary: string;
}

export interface RecordedChecks {
  checks: RecordedCheck[];
  unmatched: UnmatchedPacket[];
  packetCount: number;
}

interface OpenCheck {
  check: RecordedCheck;
  isn: number;
  lastSentUs: number;
  decided: boolean;
}

function endpoint(address: Uint8Array, port: number): string {
  const text = formatAddress(address);
  return address.length === 16 ? `[${text}]:${port}` : `${text}:${port}`;
}

function timeUs(packet: CapturedPacket): number {
  return packet.tsSec * 1e6 + Math.floor(packet.tsNsec / 1000);
}

/** The engine's rounding: milliseconds with three decimals. */
function rttMs(fromUs: number, toUs: number): number {
  return Math.round(toUs - fromUs) / 1000;
}

function finalDestination(ip: Uint8Array, dst: Uint8Array): Uint8Array {
  const parsed = parseIpv6(ip);
  return parsed.ok ? ipv6FinalDestination(dst, parsed.value.extensionHeaders) : dst;
}

/** Pairs the SYNs of a capture with their answers. Never throws for any packet bytes. */
export function recordedChecks(file: Pick<CaptureFile, 'packets'>): RecordedChecks {
  const checks: RecordedCheck[] = [];
  const unmatched: UnmatchedPacket[] = [];
  /** By "client endpoint > server endpoint": the latest check on that tuple. */
  const byTuple = new Map<string, OpenCheck>();

  file.packets.forEach((packet, index) => {
    const at = timeUs(packet);
    const ip = ipPacket(packet.data, packet.linkType);
    const miss = (summary?: string): void => {
      unmatched.push({ index, timeUs: at, summary: summary ?? (ip ? describePacket(ip) : `link type ${packet.linkType}: no IP packet found`) });
    };
    if (!ip) return miss();
    const reply = decodeReply(ip, false);
    if (reply.kind === 'tcp') {
      const { tcp } = reply;
      // With a routing header the packet is addressed to the next segment; the peer is the last.
      const destination = reply.family === 6 ? finalDestination(ip, reply.dst) : reply.dst;
      const from = endpoint(reply.src, tcp.srcPort);
      const to = endpoint(destination, tcp.dstPort);
      const syn = (tcp.flags & TcpFlags.SYN) !== 0;
      const ack = (tcp.flags & TcpFlags.ACK) !== 0;
      const rst = (tcp.flags & TcpFlags.RST) !== 0;
      if (syn && !ack && !rst) {
        const key = `${from} > ${to}`;
        const known = byTuple.get(key);
        if (known && known.isn === tcp.seq) {
          known.check.attempts++;
          known.check.packets.push(index);
          if (!known.decided) known.lastSentUs = at;
          return;
        }
        const check: RecordedCheck = {
          target: to,
          ip: formatAddress(destination),
          port: tcp.dstPort,
          status: 'timeout',
          code: 'ETIMEDOUT',
          strategy: 'raw',
          attempts: 1,
          source: from,
          startedUs: at,
          packets: [index],
        };
        checks.push(check);
        byTuple.set(key, { check, isn: tcp.seq, lastSentUs: at, decided: false });
        return;
      }
      // A reply travels server > client; anything else on a known tuple travels client > server.
      const answered = byTuple.get(`${to} > ${from}`);
      if (answered && ack && tcp.ack === ((answered.isn + 1) >>> 0) && (syn || rst)) {
        answered.check.packets.push(index);
        if (answered.decided) return;
        answered.decided = true;
        const evidence: ProbeEvidence = { flags: formatTcpFlags(tcp.flags), ttl: reply.ttl, window: tcp.window };
        Object.assign(answered.check, {
          status: syn && !rst ? 'open' : 'closed',
          code: syn && !rst ? undefined : 'ECONNREFUSED',
          rttMs: rttMs(answered.lastSentUs, at),
          evidence: syn && !rst ? { ...evidence, ...synOptionEvidence(tcp.options) } : evidence,
        });
        if (answered.check.code === undefined) delete answered.check.code;
        return;
      }
      const own = byTuple.get(`${from} > ${to}`);
      if (own?.decided) {
        own.check.packets.push(index);
        return;
      }
      return miss();
    }
    if (reply.kind === 'icmp') {
      const q = reply.quoted;
      if (q && q.protocol === 6 && q.srcPort !== undefined && q.dstPort !== undefined) {
        const known = byTuple.get(`${endpoint(q.src, q.srcPort)} > ${endpoint(q.dst, q.dstPort)}`);
        if (known && q.seq === known.isn) {
          known.check.packets.push(index);
          if (known.decided) return;
          known.decided = true;
          Object.assign(known.check, {
            status: 'unreachable',
            code: reply.errno,
            rttMs: rttMs(known.lastSentUs, at),
            evidence: { icmpType: reply.type, icmpCode: reply.code, responder: formatAddress(reply.responder), ttl: reply.ttl },
          });
          return;
        }
      }
    }
    miss();
  });
  return { checks, unmatched, packetCount: file.packets.length };
}
