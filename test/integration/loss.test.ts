// Retransmission under loss (issue #13 §2): the server namespace drops 20% of what it sends
// (nftables `numgen random mod 100 < 20 drop` on its output hook; this kernel has no netem), and
// the raw engine checks one open and one closed port 300 times each, all in flight at once.
// Correctness thresholds only: >= 99% right at a 3000 ms timeout, >= 98% at 500 ms. No timing
// is asserted. The loss is random (the kernel's prandom); the counts are logged, so a failure
// shows how far from the threshold a run was.
import type { ExecutionContext } from 'ava';
import { privilegedTest, withTestbed } from '../helpers/testbed.js';
import { findNft } from '../../src/firewall/nft-command.js';
import type { Testbed } from '../../src/testbed/index.js';
import { runDriver } from './harness.js';

const OPEN = 80;
const CLOSED = 79;
const CHECKS = 300;
const LOSS_PERCENT = 20;
const LOSS_TABLE = 'tshk_loss';

/** Drops LOSS_PERCENT% of the server's TCP replies (SYN-ACKs and RSTs) on its way out. */
async function dropServerReplies(tb: Testbed): Promise<void> {
  // A table of its own in the server namespace: it goes when the namespace goes.
  const script =
    `table inet ${LOSS_TABLE} {\n` +
    `  chain output {\n` +
    `    type filter hook output priority filter; policy accept;\n` +
    `    tcp sport { ${OPEN}, ${CLOSED} } numgen random mod 100 < ${LOSS_PERCENT} counter drop\n` +
    `  }\n` +
    `}\n`;
  const result = await tb.exec('server', [findNft(), '-f', '-'], { input: script });
  if (result.code !== 0) throw new Error(`nft: ${result.stderr}`);
}

async function lossyRun(t: ExecutionContext, timeout: number, minRightPercent: number): Promise<void> {
  const tb = await withTestbed(t);
  const server = await tb.startServer({ port: OPEN });
  await dropServerReplies(tb);
  const ip = tb.address('server', 4);
  const targets = [...Array<string>(CHECKS).fill(`${ip}:${OPEN}`), ...Array<string>(CHECKS).fill(`${ip}:${CLOSED}`)];
  const report = await runDriver(tb, { strategy: 'raw', timeout, targets, parallel: true }, 120_000);
  t.is(report.startFailed, undefined, report.stderr);
  const count = (port: number, status: string): number => report.results.filter((r) => r.port === port && r.status === status).length;
  const open = count(OPEN, 'open');
  const closed = count(CLOSED, 'closed');
  const drops = await tb.exec('server', [findNft(), 'list', 'chain', 'inet', LOSS_TABLE, 'output']);
  t.log(`timeout ${timeout} ms, ${LOSS_PERCENT}% of server replies dropped: open ${open}/${CHECKS}, closed ${closed}/${CHECKS}`);
  t.log(`server drop rule: ${/counter packets \d+/.exec(drops.stdout)?.[0] ?? '?'}; engine: ${JSON.stringify({ synsSent: report.stats?.synsSent, retransmits: report.stats?.retransmits })}`);
  t.is(report.results.length, 2 * CHECKS);
  // Wrong is wrong: an open port never reads closed and the reverse.
  t.is(count(OPEN, 'closed'), 0);
  t.is(count(CLOSED, 'open'), 0);
  const need = Math.ceil((CHECKS * minRightPercent) / 100);
  t.true(open >= need, `open: ${open} of ${CHECKS} right, need ${need}`);
  t.true(closed >= need, `closed: ${closed} of ${CHECKS} right, need ${need}`);
  // Half-open only: the application never accepted a connection.
  t.is(await server.acceptCount(), 0);
}

privilegedTest('20% of server replies lost, 300 open + 300 closed checks at 3000 ms: >= 99% right', async (t) => {
  await lossyRun(t, 3000, 99);
});

privilegedTest('20% of server replies lost, 300 open + 300 closed checks at 500 ms: >= 98% right', async (t) => {
  await lossyRun(t, 500, 98);
});
