// Verdicts at high concurrency and after an overload (issue #12), on a testbed, correctness only:
// - far more checks of one open ip:port in flight than the engine has source ports: every check
//   is open (a check waiting for a port is never a timeout of the target), nothing is accepted;
// - an overload that leaves the server holding half-open handshakes on the engine's tuples
//   (its SYN-ACKs dropped on the way out, the checks given up) does not poison the next run,
//   made by a new process that remembers nothing: its SYNs meet those stale handshakes, and the
//   RST it sends in the kernel's place clears them.
// The ranges are narrow (a few claim blocks) so the scaled-down runs hit the same limits as
// -n 50000 -c 20000 over the full 4536-port range.
import { privilegedTest, withTestbed } from '../helpers/testbed.js';
import { findNft } from '../../src/firewall/nft-command.js';
import { runDriver, type DriverReport } from './harness.js';

const OPEN = 80;
const FILTERED = 81;

function tally(report: DriverReport): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of report.results) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return counts;
}

privilegedTest('3000 checks of one open port at once over 256 source ports: every check open, none accepted', async (t) => {
  const tb = await withTestbed(t);
  const server = await tb.startServer({ port: OPEN });
  const checks = 3000;
  const report = await runDriver(
    tb,
    { strategy: 'raw', raw: { sourcePorts: [62000, 62255] }, timeout: 1000, targets: Array<string>(checks).fill(`${tb.address('server', 4)}:${OPEN}`), parallel: true },
    180_000,
  );
  t.log(JSON.stringify(tally(report)), `waitedForPort ${report.stats?.waitedForPort}`);
  t.is(report.startFailed, undefined, report.stderr);
  t.deepEqual(tally(report), { open: checks });
  t.true((report.stats?.waitedForPort ?? 0) > 0, 'the source ports ran out: checks waited');
  t.is(await server.acceptCount(), 0);
});

privilegedTest('after an overload that left half-open handshakes on every tuple, the next run is clean', async (t) => {
  const tb = await withTestbed(t, { filter: [FILTERED] });
  const server = await tb.startServer({ port: OPEN });
  const target = `${tb.address('server', 4)}:${OPEN}`;
  const range = [62000, 62255] as const; // 256 ports: the overload touches every tuple of the next run
  // The overload: the server answers, but its SYN-ACKs never leave, so it holds each handshake
  // half-open (and retransmits into the drop) while the checks give up.
  const drop = `table inet tshk_overload { chain output { type filter hook output priority filter; policy accept; tcp sport ${OPEN} tcp flags & (syn | ack) == syn | ack drop; }; }`;
  t.is((await tb.exec('server', [findNft(), drop])).code, 0);
  const overload = await runDriver(tb, { strategy: 'raw', raw: { sourcePorts: range }, timeout: 300, retries: 0, targets: Array<string>(256).fill(target), parallel: true }, 60_000);
  t.deepEqual(tally(overload), { timeout: 256 });
  const halfOpen = (await tb.exec('server', ['ss', '-Htn', 'state', 'syn-recv', `sport = :${OPEN}`])).stdout.trim().split('\n').filter(Boolean).length;
  t.log(`half-open on the server after the overload: ${halfOpen}`);
  t.true(halfOpen > 200, `the overload left half-open handshakes (${halfOpen})`);
  t.is((await tb.exec('server', [findNft(), 'delete', 'table', 'inet', 'tshk_overload'])).code, 0);
  // The next run: a new process that remembers nothing, on the same ports, checking other ports
  // of the server, one of them filtered so the run (and its capture) lasts 9 s: the server's
  // retransmitted SYN-ACKs of the overload (1, 3, 7 s after the first) reach ports it holds, and
  // it resets them in the kernel's place.
  const closedTarget = `${tb.address('server', 4)}:${OPEN - 1}`;
  const next = await runDriver(
    tb,
    {
      strategy: 'raw',
      raw: { sourcePorts: range },
      timeout: 9000,
      targets: [...Array<string>(255).fill(closedTarget), `${tb.address('server', 4)}:${FILTERED}`],
      parallel: true,
    },
    60_000,
  );
  t.log(JSON.stringify(tally(next)), `stray SYN-ACKs reset: ${next.stats?.strayedSynAcksReset}, rate-limited: ${next.stats?.rstRateLimited}`);
  t.deepEqual(tally(next), { closed: 255, timeout: 1 });
  const left = (await tb.exec('server', ['ss', '-Htn', 'state', 'syn-recv', `sport = :${OPEN}`])).stdout.trim().split('\n').filter(Boolean).length;
  t.log(`half-open on the server after the next run: ${left}`);
  // And the open port reads open on every tuple again.
  const last = await runDriver(tb, { strategy: 'raw', raw: { sourcePorts: range }, timeout: 1000, targets: Array<string>(1000).fill(target), parallel: true }, 60_000);
  t.deepEqual(tally(last), { open: 1000 });
  t.is(await server.acceptCount(), 0);
});
