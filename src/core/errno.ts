// The one errno table: how a kernel connect() failure, a refused send and an ICMP error read
// as a check result, shared by the raw engine and the `socket` and `connect` strategies. Both hand over the errno *name* (util.getSystemErrorName for the addon's -errno,
// err.code for node:net), so the whole table is the one switch below, as in tcp-shaker's
// socket_linux.go connect().
import type { CheckStatus } from './types.js';

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

// --- ICMP errors → errno --------------------------------------------------------------------
// What a kernel connect() reports for each ICMP error, so the raw engine gives the same `code`
// as the socket strategy would (Linux net/ipv4/icmp.c icmp_err_convert[] and
// net/ipv6/icmp.c icmpv6_err_convert()); classifyConnectErrno above then reads that code. The
// engine reports every destination-unreachable at once as 'unreachable', where a kernel socket
// in SYN-SENT treats most of them as soft errors and waits for its timeout.

/** ICMPv4 type 3 (destination unreachable), RFC 792 / RFC 1812 codes. */
export function icmpv4UnreachableErrno(code: number): string {
  switch (code) {
    case 0: // net unreachable
    case 6: // destination network unknown
    case 9: // network administratively prohibited (RFC 1122)
    case 11: // network unreachable for ToS
      return 'ENETUNREACH';
    case 2: // protocol unreachable
      return 'ENOPROTOOPT';
    case 3: // port unreachable: for TCP a refusal, as a RST would be
      return 'ECONNREFUSED';
    case 4: // fragmentation needed and DF set
      return 'EMSGSIZE';
    case 5: // source route failed
      return 'EOPNOTSUPP';
    case 7: // destination host unknown
      return 'EHOSTDOWN';
    case 8: // source host isolated
      return 'ENONET';
    case 1: // host unreachable
    case 10: // host administratively prohibited
    case 12: // host unreachable for ToS
    case 13: // communication administratively prohibited (RFC 1812): Linux says EHOSTUNREACH
    case 14: // host precedence violation
    case 15: // precedence cutoff
    default:
      return 'EHOSTUNREACH';
  }
}

/** ICMPv6 type 1 (destination unreachable), RFC 4443 §3.1 codes. */
export function icmpv6UnreachableErrno(code: number): string {
  switch (code) {
    case 0: // no route to destination
      return 'ENETUNREACH';
    case 1: // communication administratively prohibited
    case 5: // source address failed ingress/egress policy
    case 6: // reject route to destination
      return 'EACCES';
    case 4: // port unreachable
      return 'ECONNREFUSED';
    case 2: // beyond scope of source address
    case 3: // address unreachable
    default:
      return 'EHOSTUNREACH';
  }
}

export const ICMPV4_DEST_UNREACHABLE = 3;
export const ICMPV4_TIME_EXCEEDED = 11;
export const ICMPV6_DEST_UNREACHABLE = 1;
export const ICMPV6_TIME_EXCEEDED = 3;
