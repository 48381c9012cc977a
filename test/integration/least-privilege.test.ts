// The raw strategy as README "Privileges" recommends running it: a non-root user holding only
// CAP_NET_RAW and CAP_NET_ADMIN as ambient capabilities (here through setpriv, as systemd's
// AmbientCapabilities= does). Open and closed verdicts, and the server application accepts
// nothing. The same user without the capabilities gets the documented UnsupportedError.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { privilegedTest, withTestbed } from '../helpers/testbed.js';
import type { Testbed } from '../../src/testbed/index.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'privilege-child.ts');
const OPEN = 80;
const CLOSED = 79;
const NOBODY = 65534;

interface ChildReport {
  uid: number;
  caps: Record<string, string>;
  strategy?: string;
  results?: Array<{ target: string; status: string; code?: string; strategy: string }>;
  startError?: { name: string; code: string; message: string };
}

async function runAs(tb: Testbed, setpriv: string[], targets: string[]): Promise<ChildReport> {
  const argv = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', ...setpriv, process.execPath];
  const r = await tb.exec('client', [...argv, '--import', import.meta.resolve('tsx/esm'), CHILD, 'raw', ...targets], {
    check: false,
    timeoutMs: 60_000,
    // tsx keeps a cache per uid under the temp dir; nobody's HOME does not exist.
    env: { ...process.env, HOME: '/tmp' },
  });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.code !== 0 || !line.startsWith('{')) throw new Error(`child failed (${r.code}): ${r.stderr}\n${r.stdout}`);
  return JSON.parse(line) as ChildReport;
}

privilegedTest('raw strategy as a non-root user with ambient CAP_NET_RAW + CAP_NET_ADMIN: open, closed, 0 accepts', async (t) => {
  const tb = await withTestbed(t);
  const server = await tb.startServer({ port: OPEN });
  const targets = [4, 6].flatMap((family) => {
    const ip = tb.address('server', family as 4 | 6);
    const host = family === 6 ? `[${ip}]` : ip;
    return [`${host}:${OPEN}`, `${host}:${CLOSED}`];
  });
  const report = await runAs(tb, ['--inh-caps=-all,+net_raw,+net_admin', '--ambient-caps=+net_raw,+net_admin', '--bounding-set=-all,+net_raw,+net_admin'], targets);
  t.is(report.uid, NOBODY);
  t.is(BigInt(`0x${report.caps.CapEff}`), 0x3000n, 'exactly CAP_NET_ADMIN and CAP_NET_RAW are effective');
  t.is(BigInt(`0x${report.caps.CapAmb}`), 0x3000n, 'held as ambient capabilities');
  t.is(report.startError, undefined, JSON.stringify(report.startError));
  t.is(report.strategy, 'raw');
  t.deepEqual(
    report.results?.map((r) => `${r.target} ${r.status}${r.code ? ` ${r.code}` : ''}`),
    [`${targets[0]} open`, `${targets[1]} closed ECONNREFUSED`, `${targets[2]} open`, `${targets[3]} closed ECONNREFUSED`],
  );
  t.is(await server.acceptCount(), 0, 'the server application accepted nothing');
});

privilegedTest('raw strategy as a non-root user without capabilities: UnsupportedError naming both capabilities', async (t) => {
  const tb = await withTestbed(t);
  const report = await runAs(tb, ['--inh-caps=-all', '--bounding-set=-all'], [`${tb.address('server', 4)}:${OPEN}`]);
  t.is(report.uid, NOBODY);
  t.is(BigInt(`0x${report.caps.CapEff}`), 0n);
  t.is(report.startError?.name, 'UnsupportedError', JSON.stringify(report.startError));
  t.is(report.startError?.code, 'ERR_SHAKER_UNSUPPORTED');
  t.regex(report.startError?.message ?? '', /CAP_NET_RAW and CAP_NET_ADMIN/);
  t.regex(report.startError?.message ?? '', /AmbientCapabilities=/);
  t.notRegex(report.startError?.message ?? '', /setcap/, 'no advice to setcap the shared node binary');
});
