// What a kernel connect() reports for each ICMP error, so the raw engine gives the same `code`
// as the socket strategy would (Linux net/ipv4/icmp.c icmp_err_convert[] and
// net/ipv6/icmp.c icmpv6_err_convert()). The engine reports every destination-unreachable at
// once as 'unreachable', where a kernel socket in SYN-SENT treats most of them as soft errors
// and waits for its timeout.

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
