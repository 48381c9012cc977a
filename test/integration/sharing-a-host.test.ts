// Raw engines sharing a host (issue #13 §3, §4), on the real kernel of a testbed namespace:
// - each engine holds its source ports with bound TCP sockets (engine/port-claims.ts), so two
//   engines, in two processes or in one, never put two SYNs on one 4-tuple: every check of an
//   open port reads open, nothing is accepted;
// - the kernel enforces the claim against another process and frees it when the holder is
//   killed with SIGKILL;
// - a listener on a port inside the range is skipped by the claims and stays reachable while an
//   engine runs (the shim drops only SYN-ACKs to claimed ports).
// Correctness only; no timing is asserted.
import type { ExecutionContext } from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { privilegedTest, withTestbed } from '../helpers/testbed.js';
import type { Testbed } from '../../src/testbed/index.js';
import { DRIVER, parseDriverOutput, runDriver, type DriverReport } from './harness.js';

const OPEN = 80;
/**
 * Eight claim blocks: each engine claims four at start (256 ports), so two engines split the
 * range, and 200 checks at once from each would, without claims, walk into each other's ports.
 */
const RANGE = [62000, 62511] as const;
const CHECKS = 200;

function tally(report: DriverReport, checker?: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of report.results) if (checker === undefined || r.checker === checker) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return counts;
}

/** Starts a driver that claims its ports and holds them; resolves once it is holding. */
async function holdingDriver(tb: Testbed, raw: Record<string, unknown>) {
  const child = tb.spawn('client', [process.execPath, '--import', 'tsx/esm', DRIVER, JSON.stringify({ strategy: 'raw', raw, holdMs: 60_000, targets: [] })]);
  let stdout = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  for (let i = 0; i < 1500 && !stdout.includes('"holding"') && !stdout.includes('"startFailed"'); i++) await sleep(20);
  return { child, exited, report: () => parseDriverOutput(stdout, '', null) };
}

/** Tries to bind `port` in the client namespace the way any program would. */
async function bindFromAnotherProgram(tb: Testbed, port: number): Promise<string> {
  const script = `const s = require('net').createServer(); s.on('error', (e) => { console.log(e.code); process.exit(0); }); s.listen(${port}, () => { console.log('bound'); s.close(); });`;
  return (await tb.exec('client', [process.execPath, '-e', script])).stdout.trim();
}

privilegedTest('a claim is the kernel\'s: another process cannot take the ports, and SIGKILL of the holder frees them', async (t) => {
  const tb = await withTestbed(t);
  const narrow = [62000, 62063]; // one block: the first engine holds all of it
  const holder = await holdingDriver(tb, { sourcePorts: narrow });
  t.is(holder.report().startFailed, undefined);
  t.is(await bindFromAnotherProgram(tb, 62010), 'EADDRINUSE', 'a port of the claim cannot be bound by anyone else');
  const refused = await runDriver(tb, { strategy: 'raw', raw: { sourcePorts: narrow }, targets: [] });
  t.like(refused.startFailed, { code: 'EADDRINUSE' });
  t.regex(refused.startFailed?.message ?? '', /no free source port in 62000-62063/);
  holder.child.kill('SIGKILL');
  await holder.exited;
  t.is(await bindFromAnotherProgram(tb, 62010), 'bound', 'the kernel released the claim with the killed process');
  const after = await runDriver(tb, { strategy: 'raw', raw: { sourcePorts: narrow }, targets: [`${tb.address('server', 4)}:${OPEN}`] });
  t.is(after.startFailed, undefined);
  t.is(after.results[0]?.status, 'closed', 'nothing listens on the server: a clean RST');
});

const twoEngines = async (t: ExecutionContext, how: 'two processes' | 'two Checkers in one process'): Promise<void> => {
  const tb = await withTestbed(t);
  const server = await tb.startServer({ port: OPEN });
  const targets = Array<string>(CHECKS).fill(`${tb.address('server', 4)}:${OPEN}`);
  // retries 0: one SYN per check, so a 4-tuple stolen by the other engine shows as a timeout (a
  // repeat could hide it). The timeout is long on purpose: a stolen tuple never answers however
  // long it waits, while a short one would also fail checks on a machine that starves us.
  const spec = { strategy: 'raw' as const, raw: { sourcePorts: RANGE }, timeout: 5000, retries: 0, targets, parallel: true };
  const reports =
    how === 'two processes'
      ? await Promise.all([runDriver(tb, spec, 120_000), runDriver(tb, spec, 120_000)])
      : [await runDriver(tb, { ...spec, checkers: 2 }, 120_000)];
  const counts = how === 'two processes' ? reports.map((r) => tally(r)) : [tally(reports[0], 0), tally(reports[0], 1)];
  const stats = how === 'two processes' ? reports.map((r) => r.stats) : reports[0].statsByChecker;
  t.log(`${how}: ${counts.map((c) => JSON.stringify(c)).join(' | ')}; ports claimed ${stats.map((s) => s?.portsClaimed).join(' + ')}`);
  for (const r of reports) t.is(r.startFailed, undefined, r.stderr);
  for (const c of counts) t.deepEqual(c, { open: CHECKS });
  // Disjoint claims: between them the two engines hold no more than the range.
  t.true(stats.every((s) => (s?.portsClaimed ?? 0) >= CHECKS));
  t.true((stats[0]?.portsClaimed ?? 0) + (stats[1]?.portsClaimed ?? 0) <= RANGE[1] - RANGE[0] + 1);
  t.is(await server.acceptCount(), 0);
};

privilegedTest('two processes checking one open port at once: every check open, nothing accepted', twoEngines, 'two processes');
privilegedTest('two Checkers in one process checking one open port at once: every check open, nothing accepted', twoEngines, 'two Checkers in one process');

privilegedTest('a listener on a port inside the range is skipped and stays reachable while an engine runs', async (t) => {
  const tb = await withTestbed(t);
  const port = 62000;
  const listener = tb.spawn('client', [process.execPath, '-e', `require('net').createServer((s) => s.end()).listen(${port}, () => console.log('listening'))`]);
  let out = '';
  listener.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  for (let i = 0; i < 500 && !out.includes('listening'); i++) await sleep(20);
  t.true(out.includes('listening'));
  const client = tb.address('client', 4);
  t.is((await tb.kernelConnect({ host: client, port }, { ns: 'server' })).outcome, 'connected', 'reachable before');
  // One block holding the listener's port: the engine must claim around it.
  const engine = await holdingDriver(tb, { sourcePorts: [61990, 62053] });
  const held = engine.report();
  t.is(held.startFailed, undefined);
  t.is(held.tables.length, 1, 'the shim is installed');
  t.is((await tb.kernelConnect({ host: client, port }, { ns: 'server' })).outcome, 'connected', 'reachable while the engine runs');
  engine.child.kill('SIGTERM');
  await engine.exited;
  // And the engine itself: the listener's port is never a source port.
  const report = await runDriver(tb, {
    strategy: 'raw',
    raw: { sourcePorts: [61990, 62053] },
    targets: Array<string>(63).fill(`${tb.address('server', 4)}:${OPEN}`),
    parallel: true,
  });
  t.like(report.stats, { portsClaimed: 63, portsHeldElsewhere: 1 });
  t.deepEqual(tally(report), { closed: 63 });
  t.is((await tb.kernelConnect({ host: client, port }, { ns: 'server' })).outcome, 'connected', 'reachable after');
  listener.kill();
});
