// Protocol numbers shared by several files. Plain `as const` maps (not enums): parsers return the
// number found on the wire whether or not it has a name here (smoltcp's `enum_with_unknown!`).

/** IANA "Assigned Internet Protocol Numbers": IPv4 protocol / IPv6 next header. */
export const IpProtocol = {
  HOP_BY_HOP: 0,
  ICMP: 1,
  TCP: 6,
  UDP: 17,
  IPV6_ROUTING: 43,
  IPV6_FRAGMENT: 44,
  ESP: 50,
  AH: 51,
  ICMPV6: 58,
  IPV6_NO_NEXT: 59,
  IPV6_DEST_OPTS: 60,
  MOBILITY: 135,
  HIP: 139,
  SHIM6: 140,
  EXPERIMENT_1: 253,
  EXPERIMENT_2: 254,
} as const;

/** IEEE EtherTypes the link-layer parsers care about. */
export const EtherType = {
  IPV4: 0x0800,
  ARP: 0x0806,
  /** 802.1Q customer VLAN tag. */
  VLAN: 0x8100,
  IPV6: 0x86dd,
  /** 802.1ad service VLAN tag (the outer tag of QinQ). */
  QINQ: 0x88a8,
  /** Pre-standard QinQ outer tag some switches still send. */
  QINQ_LEGACY: 0x9100,
} as const;

/** Short names for describe(), tcpdump style; unknown numbers print as "ip-proto-N". */
export function protocolName(p: number): string {
  switch (p) {
    case IpProtocol.ICMP:
      return 'ICMP';
    case IpProtocol.TCP:
      return 'tcp';
    case IpProtocol.UDP:
      return 'udp';
    case IpProtocol.ICMPV6:
      return 'ICMP6';
    case IpProtocol.ESP:
      return 'ESP';
    case IpProtocol.AH:
      return 'AH';
    default:
      return `ip-proto-${p}`;
  }
}
