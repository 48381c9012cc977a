// One long-lived `nft -i` child, fed one command per line through its stdin pipe.
//
// Why a child that stays: a table with `flags owner` lives exactly as long as the netlink
// socket that created it. `nft -i` keeps one socket open while it reads commands, also from a
// pipe (it prints no prompt then), and exits at end of input. So the table dies with the
// child, and the child dies with us: when this process exits in any way, even SIGKILL, the
// kernel closes the pipe's write end, nft reads EOF and exits, and the kernel drops the table.
//
// Framing: nft prints nothing when a command succeeds and its errors on stderr. After each
// command we send `list tables` (the state we check against; text, because nft 1.0.6 corrupts
// memory printing table flags as JSON, see parseTableList) and `describe tcp dport`, which needs
// no kernel access and always prints one known line on stdout: the end of the reply. (`list
// tables` alone cannot end a reply: with no tables it prints nothing.)
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { SystemError, UnsupportedError } from '../core/errors.js';
import { nftEnv, nftErrorLine, nftFailure, nftSpawnError, parseTableList, type NftCommand, type NftTableRef } from './nft-command.js';

const STATE = 'list tables';
const END_MARKER = 'describe tcp dport';
/** What END_MARKER prints: "payload expression, datatype inet_service (internet network service) ...". */
const END_LINE = /^payload expression, datatype inet_service\b/;

export interface NftReply {
  /** Every table in the namespace right after the command ran. */
  tables: NftTableRef[];
  /** What nft wrote on stderr while running the command and the listing; empty when both worked. */
  stderr: string;
}

/**
 * `nft -i` exited before answering: nft can be built without its interactive CLI ("Error:
 * interactive CLI not supported in this build"). Owner tables then cannot be held open.
 */
export class NftCliUnavailableError extends UnsupportedError {
  override get name(): string {
    return 'NftCliUnavailableError';
  }
}

interface Pending {
  resolve(reply: NftReply): void;
  reject(error: Error): void;
}

export class NftSession {
  private readonly child: ChildProcessWithoutNullStreams;
  private stdoutBuffer = '';
  /** stdout lines of the reply being read, before END_LINE. */
  private replyLines: string[] = [];
  private stderrBuffer = '';
  private pending: Pending | undefined;
  /** Serialises commands: replies are matched to commands by order. */
  private queue: Promise<unknown> = Promise.resolve();
  private exit: Promise<void>;
  private exited = false;
  private closing = false;
  /** Set after a command timed out: a late reply could no longer be matched to its command. */
  private broken = false;
  private onLost: ((error: Error) => void) | undefined;
  /** The tables that existed when the session started. */
  initialTables: NftTableRef[] = [];

  private constructor(child: ChildProcessWithoutNullStreams) {
    this.child = child;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => this.onStdout(chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (this.stderrBuffer += chunk));
    // Writing to a child that just died raises EPIPE here; the exit handler reports it.
    child.stdin.on('error', () => {});
    this.exit = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exited = true;
        const detail = this.stderrBuffer ? `: ${nftErrorLine(this.stderrBuffer)}` : '';
        const error = new SystemError(`nft exited (${signal ?? `code ${code}`})${detail}`, 'ERR_SHAKER_SYSTEM', 0, 'nft');
        this.takePending()?.reject(error);
        if (!this.closing) this.onLost?.(error);
        resolve();
      });
    });
  }

  /**
   * Starts the child and checks it can talk to the kernel (one `list tables`).
   *
   * `detached: true` puts nft in its own session and process group. A Ctrl-C in a terminal
   * signals the whole foreground group; without this, nft would die with the first SIGINT and
   * the table with it, while the application may still be finishing probes in its own SIGINT
   * handler. Detaching does not let nft outlive us: it exits on EOF, and the pipe closes when
   * we die. Its handles are unref'd so it never keeps the event loop alive; a pending command
   * holds the loop through its timeout timer instead.
   */
  static async open(command: NftCommand, timeoutMs: number, onLost?: (error: Error) => void): Promise<NftSession> {
    const child = spawn(command[0], [...command.slice(1), '-i'], {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      env: nftEnv(),
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (error) => reject(nftSpawnError(command, error)));
    });
    child.unref();
    for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as { unref(): void }).unref();
    const session = new NftSession(child);
    try {
      // Listing tables fails only when nft cannot reach the kernel at all: no CAP_NET_ADMIN
      // prints "cache initialization failed: Operation not permitted".
      const { tables, stderr } = await session.runQueued(undefined, timeoutMs);
      if (stderr) throw nftFailure(`cannot use nftables through ${command.join(' ')}`, stderr);
      session.initialTables = tables;
    } catch (error) {
      const exitedEarly = session.exited;
      await session.close(timeoutMs);
      if (exitedEarly && !(error instanceof UnsupportedError)) {
        const detail = (error as Error).message;
        throw new NftCliUnavailableError(`${command.join(' ')} -i exited at once, is nft built without its interactive CLI? (${detail})`);
      }
      throw error;
    }
    session.onLost = onLost;
    return session;
  }

  get alive(): boolean {
    return !this.exited;
  }

  /** Runs one nft command (one line, one transaction) and reports the tables afterwards. */
  run(commandLine: string, timeoutMs: number): Promise<NftReply> {
    if (commandLine.includes('\n') || commandLine.trim() === '') {
      throw new TypeError('NftSession.run takes exactly one non-empty line');
    }
    return this.runQueued(commandLine, timeoutMs);
  }

  private runQueued(commandLine: string | undefined, timeoutMs: number): Promise<NftReply> {
    const next = this.queue.then(() => this.send(commandLine, timeoutMs));
    this.queue = next.catch(() => {});
    return next;
  }

  private send(commandLine: string | undefined, timeoutMs: number): Promise<NftReply> {
    if (this.exited || this.broken) {
      return Promise.reject(new SystemError('nft is no longer usable (it exited or stopped answering)', 'ERR_SHAKER_SYSTEM', 0, 'nft'));
    }
    this.stderrBuffer = '';
    this.replyLines = [];
    return new Promise<NftReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        this.broken = true;
        const detail = this.stderrBuffer ? `: ${nftErrorLine(this.stderrBuffer)}` : '';
        reject(new SystemError(`nft did not answer within ${timeoutMs} ms${detail}`, 'ETIMEDOUT', -110, 'nft'));
      }, timeoutMs);
      this.pending = {
        resolve: (reply) => (clearTimeout(timer), resolve(reply)),
        reject: (error) => (clearTimeout(timer), reject(error)),
      };
      const lines = commandLine === undefined ? [STATE, END_MARKER] : [commandLine, STATE, END_MARKER];
      this.child.stdin.write(`${lines.join('\n')}\n`);
    });
  }

  /** Hands the pending command to the caller, so nothing else can settle it. */
  private takePending(): Pending | undefined {
    const pending = this.pending;
    this.pending = undefined;
    return pending;
  }

  private onStdout(chunk: string): void {
    this.stdoutBuffer += chunk;
    let newline: number;
    while ((newline = this.stdoutBuffer.indexOf('\n')) >= 0) {
      const line = this.stdoutBuffer.slice(0, newline);
      this.stdoutBuffer = this.stdoutBuffer.slice(newline + 1);
      if (!END_LINE.test(line)) {
        this.replyLines.push(line);
        continue;
      }
      const pending = this.takePending();
      const tables = parseTableList(this.replyLines.join('\n'));
      this.replyLines = [];
      // nft wrote any error before the end line, but on another pipe: give that pipe one turn
      // of the event loop to deliver. Success is judged on `tables`, never on stderr alone.
      if (pending) setImmediate(() => pending.resolve({ tables, stderr: this.stderrBuffer }));
    }
  }

  /**
   * Ends stdin so nft exits on its own; SIGKILLs it when it has not after `timeoutMs`.
   * With `flags owner`, this alone deletes the table.
   */
  async close(timeoutMs: number): Promise<void> {
    this.closing = true;
    if (this.exited) return;
    this.child.stdin.end();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.exit.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut && !this.exited) {
      this.child.kill('SIGKILL');
      await this.exit;
    }
  }
}
