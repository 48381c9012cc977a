// The link layer a captured or recorded frame starts with: the LINKTYPE_* number that pcap files
// and libpcap's pcap_datalink() carry, one table for the capture, the pcap reader and writer.

/** LINKTYPE_* values (https://www.tcpdump.org/linktypes.html) this project writes or reads. */
export const LinkType = {
  /** BSD loopback: a 4-byte host-order address family, then the packet. */
  NULL: 0,
  ETHERNET: 1,
  /** Bare IPv4 or IPv6 packet, no link header: what a raw-socket engine sends and receives. */
  RAW: 101,
  /** Linux "cooked" v1 header (16 bytes), what `tcpdump -i any -y LINUX_SLL` writes. */
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  /** Linux "cooked" v2 header (20 bytes), tcpdump's default for `-i any` since libpcap 1.10. */
  LINUX_SLL2: 276,
} as const;
