// Runs a Checker inside a testbed namespace (the test process itself stays in the root
// namespace) and reports on stdout, one JSON object per line:
//   {"ready": {...strategy}}                      once started
//   {"result": {...CheckResult}}                  per check
//   {"stats": {...}, "afterClose": {...}}         at the end
// The spec comes as one JSON argument: { strategy, targets, timeout, retries, family, raw,
// abortAfterMs, holdMs, parallel, afterMs, checkers }. With `checkers` > 1, that many Checkers run
// side by side in this process, each over every target; their lines carry "checker": index.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { findNft } from '../../src/firewall/nft-command.js';
import { Checker, type CheckerOptions } from '../../src/index.js';

interface Spec {
  strategy?: CheckerOptions['strategy'];
  targets: string[];
  timeout?: number;
  retries?: number;
  family?: CheckerOptions['family'];
  raw?: CheckerOptions['raw'];
  /** Abort every check this long after it starts. */
  abortAfterMs?: number;
  /** Stay alive this long after starting (for SIGTERM/SIGKILL tests), printing "holding". */
  holdMs?: number;
  /** Run the targets concurrently instead of one after another. */
  parallel?: boolean;
  /** Stay alive this long after the checks (to watch late replies) before printing stats. */
  afterMs?: number;
  /** Checkers side by side in this one process (default 1). */
  checkers?: number;
}

function emit(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, (_k, v) => (v instanceof Error ? { name: v.name, code: (v as { code?: string }).code, message: v.message } : v))}\n`);
}

function nftTables(): string[] {
  try {
    return execFileSync(findNft(), ['list', 'tables'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

function openSockets(): { raw: number; packet: number; total: number } {
  let raw = 0;
  let packet = 0;
  let total = 0;
  const inodes = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    total++;
    try {
      const link = readlinkSync(`/proc/self/fd/${fd}`);
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m) inodes.add(m[1]);
    } catch {
      // fd closed meanwhile
    }
  }
  const count = (file: string): number => {
    try {
      return readFileSync(file, 'utf8')
        .split('\n')
        .slice(1)
        .filter((line) => line.trim() && line.trim().split(/\s+/).some((field) => inodes.has(field))).length;
    } catch {
      return 0;
    }
  };
  raw = count('/proc/self/net/raw') + count('/proc/self/net/raw6');
  packet = count('/proc/self/net/packet');
  return { raw, packet, total };
}

const spec = JSON.parse(process.argv[2] ?? '{}') as Spec;
const copies = spec.checkers ?? 1;
/** Tags a line with its checker's index when there is more than one. */
const tag = (index: number): { checker?: number } => (copies > 1 ? { checker: index } : {});
const checkers = Array.from(
  { length: copies },
  () =>
    new Checker({
      strategy: spec.strategy ?? 'raw',
      timeout: spec.timeout ?? 1000,
      ...(spec.retries !== undefined ? { retries: spec.retries } : {}),
      ...(spec.family !== undefined ? { family: spec.family } : {}),
      ...(spec.raw ? { raw: spec.raw } : {}),
    }),
);
try {
  for (const [index, checker] of checkers.entries()) {
    await checker.start();
    emit({ ready: checker.strategy, tables: nftTables(), ...tag(index) });
  }
  if (spec.holdMs) {
    emit({ holding: true, sockets: openSockets() });
    await new Promise((resolve) => setTimeout(resolve, spec.holdMs));
  }
  const run = async (checker: Checker, index: number): Promise<void> => {
    const one = async (target: string): Promise<void> => {
      const signal = spec.abortAfterMs !== undefined ? AbortSignal.timeout(spec.abortAfterMs) : undefined;
      try {
        emit({ result: await checker.check(target, signal ? { signal } : {}), ...tag(index) });
      } catch (error) {
        emit({ rejected: error, target, ...tag(index) });
      }
    };
    if (spec.parallel) await Promise.all(spec.targets.map(one));
    else for (const target of spec.targets) await one(target);
  };
  await Promise.all(checkers.map(run));
  if (spec.afterMs) await new Promise((resolve) => setTimeout(resolve, spec.afterMs));
  for (const [index, checker] of checkers.entries()) emit({ stats: checker.stats(), sockets: openSockets(), ...tag(index) });
} catch (error) {
  emit({ startFailed: error });
} finally {
  for (const checker of checkers) await checker.close();
  emit({ afterClose: { tables: nftTables(), sockets: openSockets(), handles: process.getActiveResourcesInfo() } });
}
