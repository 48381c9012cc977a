// Runs host commands (ip, nft, ethtool, tcpdump, node) for the testbed, async for normal use and
// sync for teardown from a process 'exit' handler, where nothing asynchronous runs any more.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { UnsupportedError } from '../core/errors.js';
import { TestbedCommandError } from './errors.js';

export interface CommandResult {
  argv: readonly string[];
  /** Exit status, or null when the command was killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface RunOptions {
  /** Written to the command's stdin, which is then closed. */
  input?: string;
  /** Kill (SIGKILL) after this long; default 30 s. The result then has `signal: 'SIGKILL'`. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Default true: a non-zero exit or a signal rejects with TestbedCommandError. */
  check?: boolean;
}

/** Debian package that provides each tool, for the "not installed" message. */
const packageOf: Record<string, string> = {
  ip: 'iproute2',
  nft: 'nftables',
  tcpdump: 'tcpdump',
  ethtool: 'ethtool',
  sysctl: 'procps',
};

export function missingTool(tool: string, cause?: unknown): UnsupportedError {
  const pkg = packageOf[tool];
  const hint = pkg ? ` (Debian: apt-get install ${pkg})` : '';
  return new UnsupportedError(`the testbed needs \`${tool}\`, which is not installed${hint}`, { cause });
}

export function run(argv: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
  const { input, timeoutMs = 30_000, env, cwd, check = true } = options;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env,
      cwd,
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'ENOENT' ? missingTool(argv[0], error) : error);
    });
    child.on('close', (code, signal) => {
      const result = { argv, code, signal, stdout, stderr, durationMs: performance.now() - started };
      if (check && code !== 0) reject(new TestbedCommandError(result));
      else resolve(result);
    });
    if (input !== undefined) {
      // EPIPE when the command exits without reading: its exit status tells the real story.
      child.stdin!.on('error', () => {});
      child.stdin!.end(input);
    }
  });
}

/** Synchronous twin of `run` for teardown paths; never throws, the caller inspects the result. */
export function runSync(argv: readonly string[], options: { timeoutMs?: number } = {}): CommandResult {
  const started = performance.now();
  const out = spawnSync(argv[0], argv.slice(1), {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: options.timeoutMs ?? 10_000,
    killSignal: 'SIGKILL',
  });
  return {
    argv,
    code: out.error ? null : out.status,
    signal: out.signal,
    stdout: out.stdout ?? '',
    stderr: out.stderr ?? (out.error ? String(out.error) : ''),
    durationMs: performance.now() - started,
  };
}

/** `ip netns exec NS argv...`: ip execs the command, so a spawned child's pid is the command's. */
export function inNamespace(ns: string, argv: readonly string[]): string[] {
  return ['ip', 'netns', 'exec', ns, ...argv];
}

/** True when `tool` is an executable file somewhere on PATH (or the sbin dirs root normally has). */
export function commandExists(tool: string): boolean {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).concat(['/usr/sbin', '/sbin', '/usr/bin', '/bin']);
  return dirs.some((dir) => {
    try {
      fs.accessSync(path.join(dir, tool), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
