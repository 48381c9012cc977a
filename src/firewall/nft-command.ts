// Running the nft binary once, and turning what it prints on failure into one of our errors.
import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RAW_PRIVILEGE_HINT, ShakerError, SystemError, UnsupportedError } from '../core/errors.js';

/** argv prefix that runs nft, e.g. ['nft'] or ['ip', 'netns', 'exec', 'lab', 'nft']. */
export type NftCommand = readonly string[];

/** findNft() answers by PATH value: a lookup touches the file system. */
const nftPathCache = new Map<string, string>();

/**
 * The nftables binary, as an absolute path. Not a bare `nft` looked up in PATH: npm scripts and
 * npx put node_modules/.bin first in PATH, and a popular package (@vercel/nft, a dependency of
 * ava among others) installs a `nft` there that is a JavaScript file tracer. So PATH entries
 * inside node_modules are skipped, and the usual sbin directories (often missing from a
 * non-root PATH) are tried after PATH. Falls back to 'nft', which then fails as "not found".
 */
export function findNft(searchPath = process.env.PATH ?? ''): string {
  const cached = nftPathCache.get(searchPath);
  if (cached !== undefined) return cached;
  const dirs = [...searchPath.split(path.delimiter), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  let found = 'nft';
  for (const dir of dirs) {
    if (!path.isAbsolute(dir) || dir.split(path.sep).includes('node_modules')) continue;
    try {
      accessSync(path.join(dir, 'nft'), fsConstants.X_OK);
      found = path.join(dir, 'nft');
      break;
    } catch {
      // not here
    }
  }
  nftPathCache.set(searchPath, found);
  return found;
}

/** ['/usr/sbin/nft'] on a usual system; see findNft(). */
export function defaultNftCommand(): NftCommand {
  return [findNft()];
}

export const DEFAULT_NFT_TIMEOUT_MS = 5000;

/**
 * nft's interactive mode saves its history in $HOME/.nft.history and libedit reads
 * $HOME/.editrc. A library must not touch the user's home: with HOME=/dev/null both paths go
 * through a character device, so the history write fails quietly (ENOTDIR) and nothing is read.
 */
export function nftEnv(): NodeJS.ProcessEnv {
  return { ...process.env, HOME: '/dev/null' };
}

export interface NftResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `nft args...` once, feeding `input` on stdin. Rejects only when nft cannot be started. */
export function runNft(command: NftCommand, args: readonly string[], input = '', timeoutMs = DEFAULT_NFT_TIMEOUT_MS): Promise<NftResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0], [...command.slice(1), ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: nftEnv(),
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    // nft may exit (e.g. on a bad option) before reading its input: EPIPE is not our failure.
    child.stdin.on('error', () => {});
    child.stdin.end(input);
    child.once('error', (error) => reject(nftSpawnError(command, error)));
    child.once('close', (exitCode, signal) => {
      if (signal === 'SIGKILL' && exitCode === null) stderr += `\nError: nft did not finish within ${timeoutMs} ms`;
      resolve({ exitCode, stdout, stderr });
    });
  });
}

/** spawn() failed: almost always nft missing from PATH. */
export function nftSpawnError(command: NftCommand, error: NodeJS.ErrnoException): ShakerError {
  if (error.code === 'ENOENT') {
    return new UnsupportedError(`${command[0]} not found: install nftables (Debian: apt-get install nftables)`, { cause: error });
  }
  return new UnsupportedError(`cannot run ${command.join(' ')}: ${error.message}`, { cause: error });
}

/** The line that says what went wrong: nft's first "Error:" line, else its first line. */
export function nftErrorLine(stderr: string): string {
  const lines = stderr.split('\n').map((line) => line.trim()).filter(Boolean);
  return lines.find((line) => line.includes('Error:')) ?? lines[0] ?? 'nft failed without a message';
}

// nft reports kernel failures with strerror() text ("Could not process rule: File exists");
// these are the ones the shim can meet, mapped back to errno names.
const STRERROR_CODES: ReadonlyArray<readonly [text: string, code: string]> = [
  ['Operation not permitted', 'EPERM'],
  ['Permission denied', 'EACCES'],
  ['Operation not supported', 'EOPNOTSUPP'],
  ['No such file or directory', 'ENOENT'],
  ['File exists', 'EEXIST'],
  ['Device or resource busy', 'EBUSY'],
  ['Invalid argument', 'EINVAL'],
  ['Protocol not supported', 'EPROTONOSUPPORT'],
  ['Address family not supported', 'EAFNOSUPPORT'],
  ['Cannot allocate memory', 'ENOMEM'],
  ['No buffer space available', 'ENOBUFS'],
];

/** The errno name hidden in nft's message, if any. */
export function nftErrorCode(stderr: string): string | undefined {
  return STRERROR_CODES.find(([text]) => stderr.includes(text))?.[1];
}

/**
 * One error for one failed nft command. `what` says what we were doing ("cannot install
 * table X"); nft's own line follows it.
 *   - permission (EPERM/EACCES): UnsupportedError, nftables needs CAP_NET_ADMIN;
 *   - a syntax error or unknown keyword: UnsupportedError, this nft is too old for the shim;
 *   - any other kernel refusal: SystemError with the errno name nft printed;
 *   - no recognisable errno: SystemError ERR_SHAKER_SYSTEM.
 */
export function nftFailure(what: string, stderr: string): ShakerError {
  const line = nftErrorLine(stderr);
  const code = nftErrorCode(stderr);
  if (code === 'EPERM' || code === 'EACCES') {
    return new UnsupportedError(`${what}: needs root or CAP_NET_ADMIN (${line}); ${RAW_PRIVILEGE_HINT}`);
  }
  if (/syntax error|unknown|unexpected/i.test(line)) {
    return new UnsupportedError(`${what}: this nft does not understand the shim ruleset, is it too old? (${line})`);
  }
  if (code) {
    const errno = (os.constants.errno as Record<string, number | undefined>)[code] ?? 0;
    return new SystemError(`${what}: ${line}`, code, -errno, 'nft');
  }
  return new SystemError(`${what}: ${line}`, 'ERR_SHAKER_SYSTEM', 0, 'nft');
}

/** A table as `nft list tables` names it. */
export interface NftTableRef {
  family: string;
  name: string;
}

/**
 * The tables in the text output of `nft list tables`: one `table <family> <name>` per line.
 * Text, not `-j` JSON: nft 1.0.6 prints table flags in JSON from memory it does not own (the
 * "flags" of an owner table come out as another table's name or the release name, and with two
 * owner tables `nft -j list tables` can abort with "corrupted double-linked list").
 */
export function parseTableList(text: string): NftTableRef[] {
  const tables: NftTableRef[] = [];
  for (const line of text.split('\n')) {
    const match = /^table (\S+) (\S+)$/.exec(line.trim());
    if (match) tables.push({ family: match[1], name: match[2] });
  }
  return tables;
}
