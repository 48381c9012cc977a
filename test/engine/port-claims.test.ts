// Source-port claims (engine/port-claims.ts) against a fake kernel port table: which ports an
// engine takes, what it skips, how it grows, what release() gives back. The real kernel's side
// (bind(2) refusing a held port, kill -9 releasing) is in test/integration/two-engines.test.ts.
import test from 'ava';
import { CLAIM_BLOCK_PORTS, PortClaims } from '../../src/engine/port-claims.js';
import { FakePortTable } from '../helpers/fake-port-binder.js';

const RANGE = [61000, 65535] as const;
const first = () => 0; // start at the range's first block

test('a block at a time: the first grow() claims the first 64 ports of the starting block', (t) => {
  const host = new FakePortTable();
  const claims = new PortClaims(RANGE, host.binder(), CLAIM_BLOCK_PORTS, first);
  t.deepEqual(claims.grow(), Array.from({ length: 64 }, (_, i) => 61000 + i));
  t.is(claims.size, 64);
  t.true(claims.owns(61000) && claims.owns(61063));
  t.false(claims.owns(61064));
  t.is(host.held.size, 64);
});

test('the starting block comes from `random`; growth goes on from there and wraps', (t) => {
  const host = new FakePortTable();
  const claims = new PortClaims([1000, 1255], host.binder(), 64, () => 0.99); // 4 blocks, starts at the last
  t.is(claims.grow()[0], 1192);
  t.is(claims.grow()[0], 1000);
  t.is(claims.grow()[0], 1064);
  t.is(claims.grow()[0], 1128);
  t.true(!claims.canGrow);
  t.deepEqual(claims.grow(), []);
  t.is(claims.size, 256);
});

test('a port someone else holds (a listener, another engine) is skipped, never shared', (t) => {
  const host = new FakePortTable();
  host.hold(61005);
  const claims = new PortClaims(RANGE, host.binder(), CLAIM_BLOCK_PORTS, first);
  const added = claims.grow();
  t.is(added.length, 63);
  t.false(added.includes(61005));
  t.false(claims.owns(61005));
  t.is(claims.heldElsewhere, 1);
});

test('two engines on one host claim disjoint ports until the range runs out', (t) => {
  const host = new FakePortTable();
  const a = new PortClaims([2000, 2255], host.binder(), 64, first);
  const b = new PortClaims([2000, 2255], host.binder(), 64, first);
  a.grow();
  b.grow(); // its first block is a's: skipped whole, the next one taken
  a.grow();
  b.grow();
  t.is(a.size + b.size, 256);
  t.deepEqual(a.ports.filter((p) => b.owns(p)), []);
  t.deepEqual(a.grow(), []);
  t.deepEqual(b.grow(), []);
  a.release();
  t.is(host.held.size, 128, 'release() gives back exactly its own ports');
  t.false(a.owns(2000));
});

test('a block held entirely elsewhere is skipped; a range held entirely elsewhere claims nothing', (t) => {
  const host = new FakePortTable();
  for (let p = 3000; p <= 3127; p++) host.hold(p);
  const claims = new PortClaims([3000, 3191], host.binder(), 64, first);
  t.is(claims.grow()[0], 3128);
  t.deepEqual(claims.grow(), []);
  const none = new PortClaims([3000, 3127], host.binder(), 64, first);
  t.deepEqual(none.grow(), []);
  t.is(none.size, 0);
  t.is(none.error, undefined, 'ports in use are not an error of the engine');
});

test('an errno other than EADDRINUSE (EMFILE) stops growth and is kept; ports claimed so far stay', (t) => {
  const host = new FakePortTable();
  host.failAfter = { binds: 70, errno: -24 };
  const claims = new PortClaims(RANGE, host.binder(), CLAIM_BLOCK_PORTS, first);
  t.is(claims.grow().length, 64);
  t.is(claims.grow().length, 6, 'what the kernel gave before refusing is kept');
  t.deepEqual(claims.grow(), [], 'then growth stops');
  t.is(claims.size, 70);
  t.false(claims.canGrow);
  t.like(claims.error, { code: 'EMFILE', syscall: 'bind' });
});

test('release() is idempotent and closes every fd once', (t) => {
  const host = new FakePortTable();
  const claims = new PortClaims([4000, 4099], host.binder(), 64, first);
  claims.grow();
  claims.grow();
  claims.release();
  claims.release();
  t.is(host.held.size, 0);
  t.false(claims.canGrow);
});
