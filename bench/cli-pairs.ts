// Before/after for the CLI rows on a shared machine: rounds of the C baseline followed by one
// `tcp-checker --json >/dev/null` run of each checkout, interleaved, so that each checkout's
// rate can be divided by the other's in the same round (a load burst from other work hits both).
// `npm run bench` runs its repeats back to back per row; with 2 cores shared, load moved one
// side's median by tens of percent where these paired ratios stayed within a few.
//
//   node --import tsx/esm bench/cli-pairs.ts ROUNDS DIR[@FLAGS] DIR[@FLAGS]... [--one N] [--prefix LEN]
//
// DIR is a checkout with its dist/ built (`npm run build:ts`): its own bench/workloads/cli-driver.ts
// runs its own dist/ CLI. `@FLAGS` starts that checkout's CLI with Node/V8 flags ('--a --b').
// Default workload: the bench's CLI sweep (a /17 of 198.19.0.0/16, one port, -c 2000); --prefix 16
// sweeps a /16; --one N checks one target N times instead. Run as root (the testbed).
import fs from 'node:fs';
import path from 'node:path';
import { Testbed } from '../src/testbed/index.js';
import { findNft } from '../src/firewall/nft-command.js';
import { buildBaseline, runBaseline } from './workloads/baseline.js';
import { BenchServer } from './workloads/server-side.js';
import type { DriverLine } from './workloads/spec.js';

const PORT_BASE = 20000;
const TIMEOUT_MS = 3000;
const CONCURRENCY = 2000;

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const at = args.indexOf(name);
  if (at < 0) return undefined;
  const [, value] = args.splice(at, 2);
  return value;
};
const oneN = option('--one');
const prefixLen = Number(option('--prefix') ?? 17);
const [roundsText, ...labels] = args;
const rounds = Number(roundsText);
if (!Number.isInteger(rounds) || rounds < 1 || labels.length === 0 || !(prefixLen >= 16 && prefixLen <= 30)) {
  process.stderr.write('usage: node --import tsx/esm bench/cli-pairs.ts ROUNDS DIR[@FLAGS]... [--one N] [--prefix 16-30]\n');
  process.exit(2);
}
const addresses = 2 ** (32 - prefixLen) - 2;
const n = oneN !== undefined ? Number(oneN) : addresses;

const built = buildBaseline();
if (!built.ok) throw new Error(`the C baseline did not build: ${built.reason}`);
process.once('exit', () => fs.rmSync(built.dir, { recursive: true, force: true }));
const nft = findNft();
const tb = await Testbed.create({ localPrefixes: ['198.19.0.0/16', '198.18.128.0/17'] });
// Every run gets a port (sweep) or an address (one target) no earlier run used: the server keeps
// half-open state for a minute, which would answer a reused 4-tuple (see bench/run.ts).
let nextPort = PORT_BASE + 1;
let nextHost = 1;
const oneTarget = (): string => `198.18.128.${nextHost++}:${PORT_BASE}`;
const runs = new Map<string, Array<{ rate: number; ratio: number; cpuUs: number }>>();
const server = await BenchServer.start(tb, PORT_BASE, rounds * (labels.length + 1) + 2);
try {
  for (let round = 0; round < rounds; round++) {
    const port = nextPort++;
    const base = await runBaseline(tb, built.binary, nft, {
      iface: tb.client.iface,
      source: tb.client.ipv4,
      ...(oneN !== undefined ? { base: '198.18.200.1', addresses: 1, port: PORT_BASE } : { base: '198.19.0.1', addresses, port }),
      ports: 1,
      n,
      window: CONCURRENCY,
      timeoutMs: TIMEOUT_MS,
      maxSeconds: 60,
    });
    process.stdout.write(`round ${round + 1}: baseline (C) ${base.checksPerSec}/s\n`);
    for (const label of labels) {
      const [dir, flags] = label.split('@');
      const target = oneN !== undefined ? oneTarget() : `198.19.0.0/${prefixLen}:${nextPort++}`;
      const common = ['-t', String(TIMEOUT_MS), '--json', '-q', '-c', String(CONCURRENCY)];
      const spec = {
        args: ['-a', target, ...common, '-n', oneN ?? '1'],
        startupArgs: ['-a', oneTarget(), ...common, '-n', '1'],
        output: 'devnull',
        n,
        timeoutS: 120,
      };
      const driver = path.resolve(dir, 'bench', 'workloads', 'cli-driver.ts');
      const env = { ...process.env, ...(flags ? { TSHK_BENCH_CLI_NODE_FLAGS: flags } : {}) };
      const r = await tb.exec('client', [process.execPath, '--import', 'tsx/esm', driver, JSON.stringify(spec)], { check: false, timeoutMs: 200_000, cwd: dir, env });
      let line: DriverLine;
      try {
        line = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as DriverLine;
      } catch {
        throw new Error(`${label}: the CLI driver printed no result: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
      }
      if ('failed' in line) throw new Error(`${label}: ${line.failed.message}`);
      const { checksPerSec, cpuSPer1000, statuses, completed } = line.result;
      const run = { rate: checksPerSec, ratio: checksPerSec / base.checksPerSec, cpuUs: cpuSPer1000 * 1000 };
      runs.set(label, [...(runs.get(label) ?? []), run]);
      process.stdout.write(`  ${label}: ${checksPerSec}/s, ${run.ratio.toFixed(3)}x, ${run.cpuUs.toFixed(1)} µs CPU a check, ${statuses.open ?? 0}/${completed} open\n`);
    }
  }
} finally {
  server.stop();
  await tb.destroy();
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const [first] = labels;
for (const [label, rs] of runs) {
  process.stdout.write(
    `${label}: median ${median(rs.map((r) => r.rate))}/s, ${median(rs.map((r) => r.ratio)).toFixed(3)}x the C baseline, ` +
      `${median(rs.map((r) => r.cpuUs)).toFixed(1)} µs CPU a check; runs ${rs.map((r) => r.ratio.toFixed(3)).join(' ')}\n`,
  );
  if (label === first) continue;
  const paired = rs.map((r, i) => r.rate / (runs.get(first)![i]?.rate ?? Number.NaN));
  process.stdout.write(`  against ${first}, round by round: median ${median(paired).toFixed(3)}; ${paired.map((p) => p.toFixed(3)).join(' ')}\n`);
}
