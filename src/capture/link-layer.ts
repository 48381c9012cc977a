// Where the IP header starts in a captured frame, for every link type the engine can capture
// on (Ethernet on a NIC or veth, Linux cooked v1/v2 on `any`, bare IP on tunnels).
import { LinkType } from '../wire/link-type.js';
import { parseEthernet, parseSll, parseSll2 } from '../wire/index.js';

/** Offset of the IP header in `frame`, or -1 when the link header is malformed or unknown. */
export function ipOffset(frame: Uint8Array, linkType: number): number {
  switch (linkType) {
    case LinkType.ETHERNET: {
      const eth = parseEthernet(frame);
      return eth.ok ? eth.value.payloadOffset : -1;
    }
    case LinkType.LINUX_SLL: {
      const sll = parseSll(frame);
      return sll.ok ? sll.value.payloadOffset : -1;
    }
    case LinkType.LINUX_SLL2: {
      const sll = parseSll2(frame);
      return sll.ok ? sll.value.payloadOffset : -1;
    }
    case LinkType.RAW:
    case LinkType.IPV4:
    case LinkType.IPV6:
      return 0;
    case LinkType.NULL:
      // BSD loopback: a 4-byte address family in host byte order.
      return frame.length >= 4 ? 4 : -1;
    default:
      return -1;
  }
}

/** The IP packet inside a captured frame, or undefined. A view: valid as long as `frame`. */
export function ipPacket(frame: Uint8Array, linkType: number): Uint8Array | undefined {
  const offset = ipOffset(frame, linkType);
  return offset < 0 ? undefined : frame.subarray(offset);
}
