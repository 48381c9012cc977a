import test from 'ava';
import { classifyConnectErrno, type ErrnoVerdict } from '../../src/core/errno.js';

const classifies = test.macro({
  exec(t, code: string, status: ErrnoVerdict['status']) {
    t.deepEqual(classifyConnectErrno(code), { status, code });
  },
  title: (_provided, code: string, status: string) => `${code} → ${status}`,
});

const cases: Array<[string, ErrnoVerdict['status']]> = [
  ['ECONNREFUSED', 'closed'],
  ['ETIMEDOUT', 'timeout'],
  ['EHOSTUNREACH', 'unreachable'],
  ['ENETUNREACH', 'unreachable'],
  ['EACCES', 'unreachable'],
  ['EPERM', 'unreachable'],
  ['EHOSTDOWN', 'unreachable'],
  ['ENONET', 'unreachable'],
  ['ENOPROTOOPT', 'unreachable'],
  ['EADDRNOTAVAIL', 'error'],
  ['EMFILE', 'error'],
  ['ENOBUFS', 'error'],
  ['EAFNOSUPPORT', 'error'],
  ['ECONNRESET', 'error'],
  ['E9999', 'error'],
];

for (const [code, status] of cases) test(classifies, code, status);
