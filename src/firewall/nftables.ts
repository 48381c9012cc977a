// The kernel-RST shim, applied: an nftables table owned by this process that keeps the kernel
// from answering the SYN-ACKs our raw SYNs provoke. The rules themselves are pure text from
// ruleset.ts; this file runs nft. It installs no signal handlers: cleanup on a crash is the
// kernel's job (`flags owner`) or, where the kernel cannot, the next start's sweepStaleTables().
//
// The drop rule takes SYN-ACKs to the ports the engine claimed (a set it grows with addPorts()),
// and nothing else: a claimed port is bound by the engine, so no listener can be on it, and a
// listener elsewhere in the range stays reachable. Prerouting also sees traffic this host
// forwards or un-NATs, so on a router or container host a masqueraded connection remapped onto a
// claimed port would lose the SYN-ACKs of its handshake while the shim is up.
import os from 'node:os';
import { InvalidArgumentError, SystemError, UnsupportedError } from '../core/errors.js';
import {
  DEFAULT_NFT_TIMEOUT_MS,
  defaultNftCommand,
  nftErrorCode,
  nftErrorLine,
  nftFailure,
  parseTableList,
  runNft,
  type NftCommand,
} from './nft-command.js';
import { NftCliUnavailableError, NftSession } from './nft-session.js';
import {
  checkShimPortRange,
  checkTableName,
  renderAddPorts,
  renderShimRuleset,
  shimTableName,
  shimTablePid,
  toInteractiveLine,
  type PortRange,
} from './ruleset.js';

export { renderShimRuleset, shimTableName, shimTablePid, toInteractiveLine, TABLE_PREFIX } from './ruleset.js';
export type { PortRange, ShimRulesetOptions } from './ruleset.js';
export { findNft } from './nft-command.js';
export type { NftCommand } from './nft-command.js';

export interface NftAvailability {
  /** nft runs and may change the ruleset (root or CAP_NET_ADMIN). */
  ok: boolean;
  /** Why not ok; or, when ok, why ownerFlag is false. */
  reason?: string;
  /** Both nft and the kernel (>= 5.12) accept `flags owner` on a table. */
  ownerFlag: boolean;
  /** `nft --version` output, e.g. "nftables v1.0.6 (Lester Gooch #5)". */
  version?: string;
}

export interface NftOptions {
  /**
   * argv that runs nft; default [findNft()], an absolute path. Tests use
   * ['ip', 'netns', 'exec', NAME, findNft()] to work inside a namespace.
   */
  nftCommand?: NftCommand;
  /** Upper bound for each nft round trip; default 5000 ms. */
  timeoutMs?: number;
}

/**
 * Can this process use nftables, and does it support owner tables? Checks with `nft -c`,
 * which sends a whole transaction to the kernel and aborts it: the kernel validates the owner
 * flag (EOPNOTSUPP before 5.12) and permissions, and nothing is created. Never throws.
 */
export async function nftAvailable(options: NftOptions = {}): Promise<NftAvailability> {
  const command = options.nftCommand ?? defaultNftCommand();
  const timeoutMs = options.timeoutMs ?? DEFAULT_NFT_TIMEOUT_MS;
  let version: string | undefined;
  try {
    const result = await runNft(command, ['--version'], '', timeoutMs);
    version = result.stdout.trim() || undefined;
  } catch (error) {
    return { ok: false, reason: (error as Error).message, ownerFlag: false };
  }
  const probe = (owner: boolean): string => `add table inet ${shimTableName(process.pid, 'probe')}${owner ? ' { flags owner; }' : ''}\n`;
  const withOwner = await runNft(command, ['-c', '-f', '-'], probe(true), timeoutMs);
  if (withOwner.exitCode === 0) return { ok: true, ownerFlag: true, version };
  const code = nftErrorCode(withOwner.stderr);
  if (code === 'EPERM' || code === 'EACCES') {
    return { ok: false, reason: nftFailure('cannot use nftables', withOwner.stderr).message, ownerFlag: false, version };
  }
  const plain = await runNft(command, ['-c', '-f', '-'], probe(false), timeoutMs);
  if (plain.exitCode !== 0) {
    return { ok: false, reason: nftFailure('cannot use nftables', plain.stderr).message, ownerFlag: false, version };
  }
  return {
    ok: true,
    ownerFlag: false,
    reason:
      'tables with "flags owner" are not supported here (needs Linux >= 5.12 and an nft that knows the flag): ' +
      nftErrorLine(withOwner.stderr),
    version,
  };
}

export interface NftShimOptions extends NftOptions {
  /** The engine's source port range. */
  portRange: PortRange;
  /** The ports claimed so far, inside portRange (default: all of it); addPorts() adds more. */
  ports?: readonly number[];
  /** Use `flags owner`: true, false, or 'auto' (default) for whatever nftAvailable() finds. */
  owner?: boolean | 'auto';
  /** Default: shimTableName(), i.e. tcp_shaker_<pid>_<random>. */
  tableName?: string;
  /**
   * Called once if nft exits while the shim is installed (killed by someone else). With an
   * owner table the rules are gone from then on and the kernel answers SYN-ACKs with RSTs.
   */
  onLost?: (error: Error) => void;
}

export class NftShim {
  readonly tableName: string;
  /** True when the kernel removes the table by itself if this process dies. */
  readonly owner: boolean;
  readonly portRange: PortRange;
  /** Set when the table is not an owner table: after a crash it stays until sweepStaleTables(). */
  readonly warning: string | undefined;
  /** The `nft -i` child holding the table; undefined when nft has no interactive CLI. */
  private readonly session: NftSession | undefined;
  private readonly command: NftCommand;
  private readonly timeoutMs: number;
  private removal: Promise<void> | undefined;

  private constructor(
    session: NftSession | undefined,
    init: { tableName: string; owner: boolean; portRange: PortRange; warning?: string; command: NftCommand; timeoutMs: number },
  ) {
    this.session = session;
    this.tableName = init.tableName;
    this.owner = init.owner;
    this.portRange = init.portRange;
    this.warning = init.warning;
    this.command = init.command;
    this.timeoutMs = init.timeoutMs;
  }

  /**
   * Starts the nft child and applies the ruleset in one transaction. Rejects with
   * UnsupportedError (no nft, no permission, nft too old) or SystemError (kernel refusal,
   * EEXIST for a table name in use).
   */
  static async install(options: NftShimOptions): Promise<NftShim> {
    const portRange = checkShimPortRange(options.portRange);
    const command = options.nftCommand ?? defaultNftCommand();
    const timeoutMs = options.timeoutMs ?? DEFAULT_NFT_TIMEOUT_MS;
    if (!Array.isArray(command) || command.length === 0) throw new InvalidArgumentError('nftCommand must be a non-empty argv array');
    const tableName = checkTableName(options.tableName ?? shimTableName());
    let owner: boolean;
    let warning: string | undefined;
    if (typeof options.owner === 'boolean') {
      owner = options.owner;
    } else {
      const availability = await nftAvailable({ nftCommand: command, timeoutMs });
      if (!availability.ok) throw new UnsupportedError(`kernel-RST shim: ${availability.reason}`);
      owner = availability.ownerFlag;
      if (!owner) warning = `${availability.reason}; ${plainTableCaveat(tableName)}`;
    }
    const init = { tableName, portRange, command, timeoutMs };
    const script = (owner: boolean): string => renderShimRuleset({ tableName, portRange, ports: options.ports, owner });
    let session: NftSession;
    try {
      session = await NftSession.open(command, timeoutMs, options.onLost);
    } catch (error) {
      // Without `nft -i` nothing can hold an owner table open: a plain table, applied once.
      if (!(error instanceof NftCliUnavailableError) || options.owner === true) throw error;
      await NftShim.applyOnce(tableName, script(false), command, timeoutMs);
      warning = `${error.message}; ${plainTableCaveat(tableName)}`;
      return new NftShim(undefined, { ...init, owner: false, warning });
    }
    try {
      // Checked first: the `table` command would merge into an existing plain table, and an
      // existing owner table answers EPERM, which reads like a missing capability.
      if (session.initialTables.some((t) => t.family === 'inet' && t.name === tableName)) throw tableExists(tableName);
      const reply = await session.run(toInteractiveLine(script(owner)), timeoutMs);
      if (!reply.tables.some((t) => t.family === 'inet' && t.name === tableName)) {
        throw nftFailure(`cannot install nftables table inet ${tableName}`, reply.stderr);
      }
    } catch (error) {
      await session.close(timeoutMs);
      throw error;
    }
    return new NftShim(session, { ...init, owner, warning });
  }

  private static async applyOnce(tableName: string, script: string, command: NftCommand, timeoutMs: number): Promise<void> {
    const listing = await runNft(command, ['list', 'tables', 'inet'], '', timeoutMs);
    if (listing.exitCode !== 0) throw nftFailure('cannot list nftables tables', listing.stderr);
    if (parseTableList(listing.stdout).some((t) => t.name === tableName)) throw tableExists(tableName);
    const result = await runNft(command, ['-f', '-'], script, timeoutMs);
    if (result.exitCode !== 0) throw nftFailure(`cannot install nftables table inet ${tableName}`, result.stderr);
  }

  /**
   * Adds newly claimed ports to the drop set. Until it resolves, a SYN-ACK to them may still
   * reach the kernel, which then sends the same RST the engine does (seq = the SYN-ACK's ack):
   * the server's state is cleared either way and the verdict comes from the capture.
   */
  async addPorts(ports: readonly number[]): Promise<void> {
    if (ports.length === 0 || !this.active) return;
    const line = renderAddPorts(this.tableName, ports);
    if (this.session) {
      const reply = await this.session.run(line, this.timeoutMs);
      if (/Error:/.test(reply.stderr)) throw nftFailure(`cannot add ports to nftables table inet ${this.tableName}`, reply.stderr);
      return;
    }
    const result = await runNft(this.command, ['-f', '-'], `${line}\n`, this.timeoutMs);
    if (result.exitCode !== 0) throw nftFailure(`cannot add ports to nftables table inet ${this.tableName}`, result.stderr);
  }

  /** False once remove() has started, or when the nft child holding an owner table died under us. */
  get active(): boolean {
    return this.removal === undefined && (this.session?.alive ?? true);
  }

  /**
   * Deletes the table at once, then lets nft exit. Idempotent. If the nft child is already
   * gone, an owner table went with it; a plain one is deleted by a one-off `nft delete`.
   */
  remove(): Promise<void> {
    this.removal ??= this.removeNow();
    return this.removal;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.remove();
  }

  private async removeNow(): Promise<void> {
    const what = `cannot remove nftables table inet ${this.tableName}`;
    let deleted = false;
    let failure: Error | undefined;
    if (this.session?.alive) {
      try {
        const reply = await this.session.run(`delete table inet ${this.tableName}`, this.timeoutMs);
        deleted = !reply.tables.some((t) => t.family === 'inet' && t.name === this.tableName);
        if (!deleted) failure = nftFailure(what, reply.stderr);
      } catch (error) {
        failure = error as Error;
      }
    }
    await this.session?.close(this.timeoutMs);
    // Whatever happened above, an owner table cannot outlive the closed session.
    if (deleted || this.owner) return;
    const result = await runNft(this.command, ['delete', 'table', 'inet', this.tableName], '', this.timeoutMs);
    if (result.exitCode === 0 || /No such file or directory/.test(result.stderr)) return;
    throw failure ?? nftFailure(what, result.stderr);
  }
}

function plainTableCaveat(tableName: string): string {
  return `table ${tableName} is a plain table: it relies on remove() and, after a crash, on the next sweepStaleTables()`;
}

function tableExists(tableName: string): SystemError {
  return new SystemError(`cannot install nftables table inet ${tableName}: it already exists`, 'EEXIST', -os.constants.errno.EEXIST, 'nft');
}

/** Alive as far as signals can tell: kill(pid, 0) fails with ESRCH only when nothing has that pid. */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

export interface SweepOptions extends NftOptions {
  /** Default: kill(pid, 0). */
  isAlive?: (pid: number) => boolean;
}

/**
 * Deletes shim tables left by processes that died without removing them (only possible
 * without owner support). Run before installing. Returns the names it deleted.
 *
 * Skipped quietly: tables another sweeper deleted first (ENOENT), and owner tables (EPERM:
 * only their creator may touch them; the kernel removes them anyway). Limitation: the pid is
 * read in our pid namespace, so a live engine in another pid namespace sharing this network
 * namespace can look dead here; owner tables are safe from that, plain ones are not.
 */
export async function sweepStaleTables(options: SweepOptions = {}): Promise<string[]> {
  const command = options.nftCommand ?? defaultNftCommand();
  const timeoutMs = options.timeoutMs ?? DEFAULT_NFT_TIMEOUT_MS;
  const isAlive = options.isAlive ?? pidAlive;
  const listing = await runNft(command, ['list', 'tables', 'inet'], '', timeoutMs);
  if (listing.exitCode !== 0) throw nftFailure('cannot list nftables tables', listing.stderr);
  const stale = parseTableList(listing.stdout)
    .map((t) => ({ name: t.name, pid: t.family === 'inet' ? shimTablePid(t.name) : undefined }))
    .filter((t): t is { name: string; pid: number } => t.pid !== undefined && t.pid !== process.pid && !isAlive(t.pid));
  const removed: string[] = [];
  for (const { name } of stale) {
    const result = await runNft(command, ['delete', 'table', 'inet', name], '', timeoutMs);
    if (result.exitCode === 0) removed.push(name);
    else if (!/No such file or directory|Operation not permitted/.test(result.stderr)) {
      throw nftFailure(`cannot delete stale nftables table inet ${name}`, result.stderr);
    }
  }
  return removed;
}
