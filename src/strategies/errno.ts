// How a kernel connect() failure reads as a check result, shared by the `socket` and `connect`
// strategies. Both hand over the errno *name* (util.getSystemErrorName for the addon's -errno,
// err.code for node:net), so the whole table is the one switch below, as in tcp-shaker's
// socket_linux.go connect().
import type { CheckStatus } from '../types.js';

export interface ErrnoVerdict {
  status: Exclude<CheckStatus, 'open'>;
  code: string;
}

/** Classifies the errno name a failed (or settled-with-error) connect() reported. */
export function classifyConnectErrno(code: string): ErrnoVerdict {
  switch (code) {
    // The target's kernel answered the SYN with a RST: nothing listens there. (An ICMP port
    // unreachable, IPv4 code 3 or ICMPv6 code 4, gives the same errno and means the same.)
    case 'ECONNREFUSED':
      return { status: 'closed', code };

    // The kernel ran out of SYN retransmissions (TCP_SYNCNT or net.ipv4.tcp_syn_retries) before
    // our own deadline: the same "no answer" as when our deadline fires first.
    case 'ETIMEDOUT':
      return { status: 'timeout', code };

    // Someone on the path said no. ICMP destination unreachable in SYN_SENT ends the connect at
    // once on Linux (tcp_v4_err/tcp_v6_err), and the code picks the errno (icmp_err_convert and
    // icmpv6_err_convert): IPv4 net unreachable/unknown/prohibited (0, 6, 9, 11) give ENETUNREACH;
    // host unreachable, host prohibited and "communication administratively prohibited" (1, 10,
    // 12, 13, 14, 15) give EHOSTUNREACH. IPv6 "administratively prohibited", policy failure and
    // reject route (1, 5, 6) give EACCES; no route (0) ENETUNREACH; address unreachable (3)
    // EHOSTUNREACH. ENETUNREACH also comes synchronously when the local table has no route, and
    // EHOSTUNREACH when ARP/neighbour discovery for the next hop fails.
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
    case 'EACCES':
    // IPv4 ICMP "host unknown" (7) and "host isolated" (8); ICMP protocol unreachable (2) says the
    // host does not speak TCP at all.
    case 'EHOSTDOWN':
    case 'ENONET':
    case 'ENOPROTOOPT':
    // A local netfilter rule refused to let our SYN out (an OUTPUT reject or a drop verdict seen
    // by the sending socket): unreachable from here, which is what the user needs to know.
    case 'EPERM':
      return { status: 'unreachable', code };

    // Everything else is our own side failing: no free ephemeral port (EADDRNOTAVAIL), out of
    // fds or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM), no IPv6 in this kernel (EAFNOSUPPORT),
    // a reset after the handshake (ECONNRESET, a connect strategy race), or an errno we never
    // expected. The check says nothing about the target.
    default:
      return { status: 'error', code };
  }
}
