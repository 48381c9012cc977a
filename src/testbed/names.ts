// Namespace names carry their owner's pid ("tshk-<pid>-<random>-c"), so a later run can tell a
// testbed left behind by a SIGKILLed process (pid dead: sweep it) from one in use right now.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runSync } from './run.js';

export const NAMESPACE_PREFIX = 'tshk-';

const ownedName = /^tshk-(\d+)-([0-9a-f]+)-[a-z]+$/;

/** A fresh id for one testbed: `tshk-<pid>-<6 hex digits>`. */
export function newTestbedId(pid = process.pid): string {
  return `${NAMESPACE_PREFIX}${pid}-${randomBytes(3).toString('hex')}`;
}

/** The pid encoded in a testbed namespace name, or undefined for any other name. */
export function ownerPid(namespace: string): number | undefined {
  const match = ownedName.exec(namespace);
  return match ? Number(match[1]) : undefined;
}

/** True when `pid` runs. A zombie counts as dead: in containers whose init never reaps,
 *  orphans of a killed process stay zombies forever. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to someone else, so it is alive.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 3, after the parenthesised command name (which may itself contain ") ").
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false; // Gone between the two checks.
  }
}

/** Every network namespace name `ip netns list` shows (its output may add " (id: N)"). */
export function listNamespaces(): string[] {
  const result = runSync(['ip', 'netns', 'list']);
  if (result.code !== 0) return [];
  return result.stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0])
    .filter((name): name is string => Boolean(name));
}

/** SIGKILLs every process that still lives in the namespace, so deleting it really frees it. */
export function killNamespaceProcesses(namespace: string): void {
  const result = runSync(['ip', 'netns', 'pids', namespace]);
  for (const word of result.stdout.split(/\s+/)) {
    const pid = Number(word);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/** Kills what runs inside, then deletes; true when the name is gone afterwards. */
export function deleteNamespaceSync(namespace: string): boolean {
  killNamespaceProcesses(namespace);
  const result = runSync(['ip', 'netns', 'delete', namespace]);
  return result.code === 0 || !listNamespaces().includes(namespace);
}

/**
 * Deletes `tshk-*` namespaces whose owning process is dead (left by a SIGKILL or a crash that
 * skipped the exit hooks). Namespaces of live processes, including other test workers running
 * at the same time, are left alone. Returns the names deleted.
 */
export function sweepStaleTestbeds(): string[] {
  const deleted: string[] = [];
  for (const name of listNamespaces()) {
    const pid = ownerPid(name);
    if (pid === undefined || processAlive(pid)) continue;
    if (deleteNamespaceSync(name)) deleted.push(name);
  }
  sweepStaleTemporaryDirectories();
  return deleted;
}

/** Capture directories (`$TMPDIR/tshk-<pid>-<hex>-XXXXXX`) of dead owners. */
function sweepStaleTemporaryDirectories(): void {
  let entries: string[];
  try {
    entries = fs.readdirSync(os.tmpdir());
  } catch {
    return;
  }
  for (const entry of entries) {
    const match = /^tshk-(\d+)-[0-9a-f]+-[A-Za-z0-9]{6}$/.exec(entry);
    if (!match || processAlive(Number(match[1]))) continue;
    fs.rmSync(path.join(os.tmpdir(), entry), { recursive: true, force: true });
  }
}
