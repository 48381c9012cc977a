// ICMPv6 (RFC 4443): destination unreachable, packet too big, time exceeded and parameter problem
// quote the invoking packet "as much as possible without the ICMPv6 packet exceeding the minimum
// IPv6 MTU" (§2.4 (c)), which always covers our 40-byte IPv6 header and the TCP ports and seq.
// Unlike ICMPv4, the checksum covers the IPv6 pseudo-header (§2.3). Layout: icmp.ts.
import { u16, u32 } from './bytes.js';
import { formatAddress } from './address.js';
import { pseudoHeaderV6 } from './checksum.js';
import type { IcmpFlavour, IcmpRepr, IcmpReprInput } from './icmp.js';
import { describeQuote, emitIcmp, icmpField, parseIcmp } from './icmp.js';
import { IpProtocol, protocolName } from './protocol.js';
import type { Parsed, SerializeOptions, VerifyOptions } from './result.js';

export const Icmpv6Type = {
  DEST_UNREACHABLE: 1,
  PACKET_TOO_BIG: 2,
  TIME_EXCEEDED: 3,
  PARAMETER_PROBLEM: 4,
  ECHO_REQUEST: 128,
  ECHO_REPLY: 129,
  ROUTER_SOLICITATION: 133,
  ROUTER_ADVERTISEMENT: 134,
  NEIGHBOR_SOLICITATION: 135,
  NEIGHBOR_ADVERTISEMENT: 136,
  REDIRECT: 137,
} as const;

/** Destination unreachable codes (RFC 4443 §3.1, RFC 8754 §4.4 for 7). */
export const Icmpv6Unreachable = {
  NO_ROUTE: 0,
  ADMIN_PROHIBITED: 1,
  BEYOND_SCOPE: 2,
  ADDRESS: 3,
  PORT: 4,
  SOURCE_POLICY: 5,
  REJECT_ROUTE: 6,
  SOURCE_ROUTING_HEADER: 7,
} as const;

const v6: IcmpFlavour = {
  version: 6,
  name: 'ICMPv6',
  // RFC 4443 §2.1: error messages have types 0-127, informational 128-255.
  isError(type: number): boolean {
    return type < 128;
  },
  decodeRest(repr: IcmpRepr, msg: Uint8Array): void {
    switch (repr.type) {
      case Icmpv6Type.PACKET_TOO_BIG:
        repr.mtu = u32(msg, icmpField.REST);
        break;
      case Icmpv6Type.PARAMETER_PROBLEM:
        repr.pointer = u32(msg, icmpField.REST);
        break;
      case Icmpv6Type.ECHO_REQUEST:
      case Icmpv6Type.ECHO_REPLY:
        repr.identifier = u16(msg, icmpField.REST);
        repr.sequence = u16(msg, icmpField.REST + 2);
        break;
    }
  },
};

/**
 * Parses an ICMPv6 message (the payload after the extension headers). `ip` gives the
 * pseudo-header addresses for the checksum. Never throws.
 */
export function parseIcmpv6(msg: Uint8Array, ip: { src: Uint8Array; dst: Uint8Array }, opts?: VerifyOptions): Parsed<IcmpRepr> {
  const verify = opts?.verifyChecksum ?? true;
  const pseudo = verify ? pseudoHeaderV6(ip.src, ip.dst, IpProtocol.ICMPV6, msg.length) : 0;
  return parseIcmp(msg, v6, pseudo, verify);
}

/** Writes an ICMPv6 message and returns its length; see emitIcmp in icmp.ts for `payload`. */
export function emitIcmpv6(
  buf: Uint8Array,
  offset: number,
  repr: IcmpReprInput,
  payload: Uint8Array | number,
  ip: { src: Uint8Array; dst: Uint8Array },
  opts?: SerializeOptions,
): number {
  return emitIcmp(buf, offset, repr, payload, ip, opts);
}

const unreachableText: Record<number, string> = {
  [Icmpv6Unreachable.NO_ROUTE]: 'no route to',
  [Icmpv6Unreachable.ADMIN_PROHIBITED]: 'unreachable prohibited',
  [Icmpv6Unreachable.BEYOND_SCOPE]: 'beyond scope of',
  [Icmpv6Unreachable.ADDRESS]: 'unreachable address',
  [Icmpv6Unreachable.PORT]: 'unreachable port',
  [Icmpv6Unreachable.SOURCE_POLICY]: 'failed ingress/egress policy',
  [Icmpv6Unreachable.REJECT_ROUTE]: 'reject route to',
  [Icmpv6Unreachable.SOURCE_ROUTING_HEADER]: 'error in source routing header',
};

/** tcpdump-like text after "src > dst: ", e.g. "ICMP6, destination unreachable, unreachable port, 2001:db8::2 tcp port 80, length 88". */
export function describeIcmpv6(repr: IcmpRepr): string {
  const q = repr.quoted;
  let s: string;
  switch (repr.type) {
    case Icmpv6Type.DEST_UNREACHABLE: {
      const what = unreachableText[repr.code] ?? `code ${repr.code}`;
      const port =
        repr.code === Icmpv6Unreachable.PORT && q?.dstPort !== undefined ? ` ${protocolName(q.protocol)} port ${q.dstPort}` : '';
      s = `ICMP6, destination unreachable, ${what}, ${q ? formatAddress(q.dst) : '?'}${port}`;
      break;
    }
    case Icmpv6Type.PACKET_TOO_BIG:
      s = `ICMP6, packet too big, mtu ${repr.mtu}`;
      break;
    case Icmpv6Type.TIME_EXCEEDED:
      s = repr.code === 1 ? 'ICMP6, time exceeded reassembly' : 'ICMP6, time exceeded in-transit';
      break;
    case Icmpv6Type.PARAMETER_PROBLEM:
      s = `ICMP6, parameter problem, code ${repr.code}, pointer ${repr.pointer}`;
      break;
    case Icmpv6Type.ECHO_REQUEST:
    case Icmpv6Type.ECHO_REPLY:
      s = `ICMP6, echo ${repr.type === Icmpv6Type.ECHO_REPLY ? 'reply' : 'request'}, id ${repr.identifier}, seq ${repr.sequence}`;
      break;
    case Icmpv6Type.NEIGHBOR_SOLICITATION:
      s = 'ICMP6, neighbor solicitation';
      break;
    case Icmpv6Type.NEIGHBOR_ADVERTISEMENT:
      s = 'ICMP6, neighbor advertisement';
      break;
    case Icmpv6Type.ROUTER_SOLICITATION:
      s = 'ICMP6, router solicitation';
      break;
    case Icmpv6Type.ROUTER_ADVERTISEMENT:
      s = 'ICMP6, router advertisement';
      break;
    default:
      s = `ICMP6, type-#${repr.type}`;
  }
  return `${s}${describeQuote(q)}, length ${repr.payloadLength + 8}`;
}
