// ICMP destination-unreachable codes to the errno a kernel connect() would report (Linux
// icmp_err_convert[] for ICMPv4, icmpv6_err_convert() for ICMPv6), so the raw engine and the
// socket strategy give the same `code` for the same answer.
import test from 'ava';
import {
  ICMPV4_DEST_UNREACHABLE,
  ICMPV4_TIME_EXCEEDED,
  ICMPV6_DEST_UNREACHABLE,
  ICMPV6_TIME_EXCEEDED,
  icmpv4UnreachableErrno,
  icmpv6UnreachableErrno,
} from '../../src/core/errno.js';

const maps = test.macro({
  exec(t, fn: (code: number) => string, code: number, errno: string, _meaning: string) {
    t.is(fn(code), errno);
  },
  title: (_p, fn: (code: number) => string, code: number, errno: string, meaning: string) =>
    `${fn === icmpv4UnreachableErrno ? 'ICMPv4' : 'ICMPv6'} unreachable code ${code} (${meaning}) → ${errno}`,
});

const v4: Array<[number, string, string]> = [
  [0, 'ENETUNREACH', 'net unreachable'],
  [1, 'EHOSTUNREACH', 'host unreachable'],
  [2, 'ENOPROTOOPT', 'protocol unreachable'],
  [3, 'ECONNREFUSED', 'port unreachable'],
  [4, 'EMSGSIZE', 'fragmentation needed'],
  [5, 'EOPNOTSUPP', 'source route failed'],
  [6, 'ENETUNREACH', 'destination network unknown'],
  [7, 'EHOSTDOWN', 'destination host unknown'],
  [8, 'ENONET', 'source host isolated'],
  [9, 'ENETUNREACH', 'network administratively prohibited'],
  [10, 'EHOSTUNREACH', 'host administratively prohibited'],
  [11, 'ENETUNREACH', 'network unreachable for ToS'],
  [12, 'EHOSTUNREACH', 'host unreachable for ToS'],
  [13, 'EHOSTUNREACH', 'communication administratively prohibited'],
  [14, 'EHOSTUNREACH', 'host precedence violation'],
  [15, 'EHOSTUNREACH', 'precedence cutoff'],
  [16, 'EHOSTUNREACH', 'unassigned: the default'],
  [255, 'EHOSTUNREACH', 'unassigned: the default'],
];
for (const [code, errno, meaning] of v4) test(maps, icmpv4UnreachableErrno, code, errno, meaning);

const v6: Array<[number, string, string]> = [
  [0, 'ENETUNREACH', 'no route to destination'],
  [1, 'EACCES', 'administratively prohibited'],
  [2, 'EHOSTUNREACH', 'beyond scope of source address'],
  [3, 'EHOSTUNREACH', 'address unreachable'],
  [4, 'ECONNREFUSED', 'port unreachable'],
  [5, 'EACCES', 'source address failed ingress/egress policy'],
  [6, 'EACCES', 'reject route to destination'],
  [7, 'EHOSTUNREACH', 'error in source routing header: the default'],
  [200, 'EHOSTUNREACH', 'unassigned: the default'],
];
for (const [code, errno, meaning] of v6) test(maps, icmpv6UnreachableErrno, code, errno, meaning);

test('ICMP type numbers (RFC 792, RFC 4443)', (t) => {
  t.deepEqual([ICMPV4_DEST_UNREACHABLE, ICMPV4_TIME_EXCEEDED, ICMPV6_DEST_UNREACHABLE, ICMPV6_TIME_EXCEEDED], [3, 11, 1, 3]);
});
