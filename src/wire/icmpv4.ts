// ICMPv4 (RFC 792): the messages a SYN can provoke instead of a SYN-ACK or RST, chiefly
// destination unreachable and time exceeded, whose quoted datagram names the probe they answer.
// Layout and shared code: icmp.ts.
import { copyBytes, u16 } from './bytes.js';
import { formatAddress } from './address.js';
import type { IcmpFlavour, IcmpRepr, IcmpReprInput } from './icmp.js';
import { describeQuote, emitIcmp, icmpField, parseIcmp } from './icmp.js';
import { protocolName } from './protocol.js';
import type { Parsed, SerializeOptions, VerifyOptions } from './result.js';

export const Icmpv4Type = {
  ECHO_REPLY: 0,
  DEST_UNREACHABLE: 3,
  SOURCE_QUENCH: 4,
  REDIRECT: 5,
  ECHO_REQUEST: 8,
  TIME_EXCEEDED: 11,
  PARAMETER_PROBLEM: 12,
} as const;

/** Destination unreachable codes (RFC 792, RFC 1122 §3.2.2.1, RFC 1812 §5.2.7.1). */
export const Icmpv4Unreachable = {
  NET: 0,
  HOST: 1,
  PROTOCOL: 2,
  PORT: 3,
  FRAG_NEEDED: 4,
  SOURCE_ROUTE_FAILED: 5,
  NET_UNKNOWN: 6,
  HOST_UNKNOWN: 7,
  HOST_ISOLATED: 8,
  NET_PROHIBITED: 9,
  HOST_PROHIBITED: 10,
  NET_TOS: 11,
  HOST_TOS: 12,
  COMM_PROHIBITED: 13,
  HOST_PRECEDENCE: 14,
  PRECEDENCE_CUTOFF: 15,
} as const;

const v4: IcmpFlavour = {
  version: 4,
  name: 'ICMPv4',
  isError(type: number): boolean {
    return (
      type === Icmpv4Type.DEST_UNREACHABLE ||
      type === Icmpv4Type.SOURCE_QUENCH ||
      type === Icmpv4Type.REDIRECT ||
      type === Icmpv4Type.TIME_EXCEEDED ||
      type === Icmpv4Type.PARAMETER_PROBLEM
    );
  },
  decodeRest(repr: IcmpRepr, msg: Uint8Array): void {
    switch (repr.type) {
      case Icmpv4Type.DEST_UNREACHABLE:
        // RFC 1191 §4: the next-hop MTU sits in the low 16 bits of the unused word.
        if (repr.code === Icmpv4Unreachable.FRAG_NEEDED) repr.mtu = u16(msg, icmpField.REST + 2);
        break;
      case Icmpv4Type.PARAMETER_PROBLEM:
        repr.pointer = msg[icmpField.REST];
        break;
      case Icmpv4Type.REDIRECT:
        repr.gateway = copyBytes(msg, icmpField.REST, icmpField.REST + 4);
        break;
      case Icmpv4Type.ECHO_REQUEST:
      case Icmpv4Type.ECHO_REPLY:
        repr.identifier = u16(msg, icmpField.REST);
        repr.sequence = u16(msg, icmpField.REST + 2);
        break;
    }
  },
};

/** Parses an ICMPv4 message (the IP payload). The checksum covers the message alone. Never throws. */
export function parseIcmpv4(msg: Uint8Array, opts?: VerifyOptions): Parsed<IcmpRepr> {
  return parseIcmp(msg, v4, 0, opts?.verifyChecksum ?? true);
}

/** Writes an ICMPv4 message and returns its length; see emitIcmp in icmp.ts for `payload`. */
export function emitIcmpv4(
  buf: Uint8Array,
  offset: number,
  repr: IcmpReprInput,
  payload: Uint8Array | number,
  opts?: SerializeOptions,
): number {
  return emitIcmp(buf, offset, repr, payload, undefined, opts);
}

/** tcpdump's wording (print-icmp.c unreach2str), `%s` standing for the unreachable address. */
const unreachableText: Record<number, string> = {
  [Icmpv4Unreachable.NET]: 'net %s unreachable',
  [Icmpv4Unreachable.HOST]: 'host %s unreachable',
  [Icmpv4Unreachable.SOURCE_ROUTE_FAILED]: '%s unreachable - source route failed',
  [Icmpv4Unreachable.NET_UNKNOWN]: 'net %s unreachable - unknown',
  [Icmpv4Unreachable.HOST_UNKNOWN]: 'host %s unreachable - unknown',
  [Icmpv4Unreachable.HOST_ISOLATED]: '%s unreachable - source host isolated',
  [Icmpv4Unreachable.NET_PROHIBITED]: 'net %s unreachable - admin prohibited',
  [Icmpv4Unreachable.HOST_PROHIBITED]: 'host %s unreachable - admin prohibited',
  [Icmpv4Unreachable.NET_TOS]: 'net %s unreachable - tos prohibited',
  [Icmpv4Unreachable.HOST_TOS]: 'host %s unreachable - tos prohibited',
  [Icmpv4Unreachable.COMM_PROHIBITED]: 'host %s unreachable - admin prohibited filter',
  [Icmpv4Unreachable.HOST_PRECEDENCE]: 'host %s unreachable - host precedence violation',
  [Icmpv4Unreachable.PRECEDENCE_CUTOFF]: 'host %s unreachable - precedence cutoff',
};

/** tcpdump-like text after "src > dst: ", e.g. "ICMP 198.18.0.2 tcp port 80 unreachable (quoting ...), length 48". */
export function describeIcmpv4(repr: IcmpRepr): string {
  const q = repr.quoted;
  const target = q ? formatAddress(q.dst) : '?';
  let s: string;
  switch (repr.type) {
    case Icmpv4Type.ECHO_REPLY:
    case Icmpv4Type.ECHO_REQUEST:
      s = `ICMP echo ${repr.type === Icmpv4Type.ECHO_REPLY ? 'reply' : 'request'}, id ${repr.identifier}, seq ${repr.sequence}`;
      break;
    case Icmpv4Type.DEST_UNREACHABLE:
      if (repr.code === Icmpv4Unreachable.PORT) {
        s = `ICMP ${target} ${q ? protocolName(q.protocol) : '?'} port ${q?.dstPort ?? '?'} unreachable`;
      } else if (repr.code === Icmpv4Unreachable.PROTOCOL) {
        s = `ICMP ${target} protocol ${q?.protocol ?? '?'} unreachable`;
      } else if (repr.code === Icmpv4Unreachable.FRAG_NEEDED) {
        s = `ICMP ${target} unreachable - need to frag (mtu ${repr.mtu})`;
      } else {
        s = `ICMP ${(unreachableText[repr.code] ?? '%s unreachable - #' + repr.code).replace('%s', target)}`;
      }
      break;
    case Icmpv4Type.TIME_EXCEEDED:
      s = repr.code === 1 ? 'ICMP ip reassembly time exceeded' : 'ICMP time exceeded in-transit';
      break;
    case Icmpv4Type.PARAMETER_PROBLEM:
      s = `ICMP parameter problem - octet ${repr.pointer}`;
      break;
    case Icmpv4Type.REDIRECT:
      s = `ICMP redirect ${target} to ${repr.gateway ? formatAddress(repr.gateway) : '?'}`;
      break;
    case Icmpv4Type.SOURCE_QUENCH:
      s = 'ICMP source quench';
      break;
    default:
      s = `ICMP type-#${repr.type}`;
  }
  return `${s}${describeQuote(q)}, length ${repr.payloadLength + 8}`;
}
