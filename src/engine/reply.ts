// What a captured IP packet means to the engine, decided before any probe is looked up: a TCP
// segment (SYN-ACK, RST or other), an ICMP error about a TCP packet (with the errno a kernel
// connect() would have reported), something to ignore, or bytes that do not parse.
import {
  parseIp,
  parseTcp,
  parseIcmpv4,
  parseIcmpv6,
  type IcmpQuote,
  type TcpRepr,
} from '../wire/index.js';
import type { Family } from '../core/types.js';
import {
  ICMPV4_DEST_UNREACHABLE,
  ICMPV4_TIME_EXCEEDED,
  ICMPV6_DEST_UNREACHABLE,
  ICMPV6_TIME_EXCEEDED,
  icmpv4UnreachableErrno,
  icmpv6UnreachableErrno,
} from '../core/errno.js';

export type Reply =
  | { kind: 'tcp'; family: Family; src: Uint8Array; dst: Uint8Array; ttl: number; tcp: TcpRepr }
  | {
      kind: 'icmp';
      family: Family;
      responder: Uint8Array;
      ttl: number;
      type: number;
      code: number;
      errno: string;
      quoted: IcmpQuote | undefined;
    }
  | { kind: 'ignored' }
  | { kind: 'malformed' };

const IGNORED: Reply = { kind: 'ignored' };
const MALFORMED: Reply = { kind: 'malformed' };

/** Never throws. The Reply holds copies of addresses, never views of `bytes`. */
export function decodeReply(bytes: Uint8Array, verifyChecksum: boolean): Reply {
  const ip = parseIp(bytes, { verifyChecksum });
  if (!ip.ok) return MALFORMED;
  const d = ip.value;
  // A non-first fragment has no transport header; replies to a SYN are never fragmented.
  if (d.fragmentOffset !== 0) return IGNORED;
  const payload = bytes.subarray(d.payloadOffset, d.payloadOffset + d.payloadLength);
  if (d.protocol === 6) {
    const tcp = parseTcp(payload, d, { verifyChecksum });
    return tcp.ok ? { kind: 'tcp', family: d.version, src: d.src, dst: d.dst, ttl: d.ttl, tcp: tcp.value } : MALFORMED;
  }
  if (d.protocol === 1 && d.version === 4) {
    const icmp = parseIcmpv4(payload, { verifyChecksum });
    if (!icmp.ok) return MALFORMED;
    const { type, code, quoted } = icmp.value;
    if (type !== ICMPV4_DEST_UNREACHABLE && type !== ICMPV4_TIME_EXCEEDED) return IGNORED;
    const errno = type === ICMPV4_TIME_EXCEEDED ? 'EHOSTUNREACH' : icmpv4UnreachableErrno(code);
    return { kind: 'icmp', family: 4, responder: d.src, ttl: d.ttl, type, code, errno, quoted };
  }
  if (d.protocol === 58 && d.version === 6) {
    const icmp = parseIcmpv6(payload, d, { verifyChecksum });
    if (!icmp.ok) return MALFORMED;
    const { type, code, quoted } = icmp.value;
    if (type !== ICMPV6_DEST_UNREACHABLE && type !== ICMPV6_TIME_EXCEEDED) return IGNORED;
    const errno = type === ICMPV6_TIME_EXCEEDED ? 'EHOSTUNREACH' : icmpv6UnreachableErrno(code);
    return { kind: 'icmp', family: 6, responder: d.src, ttl: d.ttl, type, code, errno, quoted };
  }
  return IGNORED;
}
