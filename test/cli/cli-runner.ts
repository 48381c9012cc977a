// Running the real tcp-checker binary from tests: in the root namespace for parse-only cases,
// inside a testbed's client namespace for anything that may send, and as a long-running child
// whose output lines a test can wait for.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Testbed } from '../../src/testbed/index.js';
import { findNft } from '../../src/firewall/nft-command.js';

export const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'tcp-checker.ts');
export const TSX_LOADER = import.meta.resolve('tsx/esm');

export interface Output {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** In this (root) namespace: only for inputs rejected before anything could be sent. */
export function cliHere(args: string[]): Output {
  const r = spawnSync(process.execPath, ['--import', 'tsx/esm', CLI, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A running tcp-checker in the client namespace, with its output so far. */
export class RunningCli {
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (this.stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => child.once('close', (code) => resolve(code)));
  }

  static start(tb: Testbed, args: string[]): RunningCli {
    return new RunningCli(tb.spawn('client', [process.execPath, '--import', TSX_LOADER, CLI, ...args]));
  }

  /** Resolves with the match once stdout + stderr match `pattern`; rejects after `timeoutMs` or on exit. */
  async waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    const deadline = performance.now() + timeoutMs;
    let exited = false;
    void this.exited.then(() => (exited = true));
    for (;;) {
      const m = (this.stdout + this.stderr).match(pattern);
      if (m) return m;
      if (exited || performance.now() > deadline) {
        throw new Error(`no ${pattern} in tcp-checker's output (${exited ? 'it exited' : 'timed out'}):\n${this.stdout}\n${this.stderr}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** Kills the `nft -i` child that holds the engine's shim table, as an OOM killer or a stray kill would. */
export function killShim(run: RunningCli): void {
  const nft = descendants(run.child.pid!).filter((pid) => processName(pid) === 'nft');
  if (nft.length !== 1) throw new Error(`expected one nft child of tcp-checker, found ${nft.length}`);
  process.kill(nft[0], 'SIGKILL');
}

function processName(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Every process below `pid` (ip netns exec may fork on the way), from /proc. */
function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ")".
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (parent: number): void => {
    for (const [child, ppid] of parentOf) {
      if (ppid === parent) {
        out.push(child);
        walk(child);
      }
    }
  };
  walk(pid);
  return out;
}

/** nftables tables in the client namespace, with the real nft (not node_modules/.bin's). */
export function clientTables(tb: Testbed): string[] {
  return execFileSync('ip', ['netns', 'exec', tb.client.name, findNft(), 'list', 'tables'], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean);
}
