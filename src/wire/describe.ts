// One line per packet for logs, the demo and test failure messages, in tcpdump's words (as
// `tcpdump -nn -S` prints them, without the leading "IP "/"IP6 "). Never throws: anything the
// parsers reject comes out as "malformed: <reason> (<detail>)".
import { u16 } from './bytes.js';
import { formatAddress } from './address.js';
import { describeIcmpv4, parseIcmpv4 } from './icmpv4.js';
import { describeIcmpv6, parseIcmpv6 } from './icmpv6.js';
import { parseIp } from './ip.js';
import { IpProtocol, protocolName } from './protocol.js';
import type { Malformed, VerifyOptions } from './result.js';
import { describeTcp, parseTcp } from './tcp.js';

function bad(m: Malformed): string {
  return `malformed: ${m.reason} (${m.detail})`;
}

/**
 * "198.18.0.1.40000 > 198.18.0.2.80: Flags [S], seq 1, win 64240, options [mss 1460,sackOK,TS
 * val 1 ecr 0,nop,wscale 7], length 0" for the IP datagram `ipBytes` (no link layer).
 * Checksums are not verified unless asked (packets captured on `lo` or leaving this host carry
 * partial ones, see VerifyOptions).
 */
export function describePacket(ipBytes: Uint8Array, opts?: VerifyOptions): string {
  const verifyChecksum = opts?.verifyChecksum ?? false;
  const parsed = parseIp(ipBytes, { verifyChecksum });
  if (!parsed.ok) return bad(parsed);
  const ip = parsed.value;
  const src = formatAddress(ip.src);
  const dst = formatAddress(ip.dst);
  const payload = ipBytes.subarray(ip.payloadOffset, ip.payloadOffset + ip.payloadLength);
  if (ip.fragmentOffset !== 0) {
    const more = ip.moreFragments ? '+' : '';
    return `${src} > ${dst}: ${protocolName(ip.protocol)} fragment @${ip.fragmentOffset}${more}, length ${ip.payloadLength}`;
  }
  switch (ip.protocol) {
    case IpProtocol.TCP: {
      const tcp = parseTcp(payload, ip, { verifyChecksum });
      return tcp.ok ? describeTcp(tcp.value, ip.src, ip.dst) : bad(tcp);
    }
    case IpProtocol.ICMP: {
      if (ip.version !== 4) break;
      const icmp = parseIcmpv4(payload, { verifyChecksum });
      return icmp.ok ? `${src} > ${dst}: ${describeIcmpv4(icmp.value)}` : bad(icmp);
    }
    case IpProtocol.ICMPV6: {
      if (ip.version !== 6) break;
      const icmp = parseIcmpv6(payload, ip, { verifyChecksum });
      return icmp.ok ? `${src} > ${dst}: ${describeIcmpv6(icmp.value)}` : bad(icmp);
    }
    case IpProtocol.UDP:
      if (payload.length < 8) return `${src} > ${dst}: UDP, bad length ${payload.length}`;
      return `${src}.${u16(payload, 0)} > ${dst}.${u16(payload, 2)}: UDP, length ${payload.length - 8}`;
  }
  const frag = ip.moreFragments ? ' (first fragment)' : '';
  return `${src} > ${dst}: ${protocolName(ip.protocol)}${frag}, length ${ip.payloadLength}`;
}
