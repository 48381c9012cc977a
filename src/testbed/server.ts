// Parent-side handle of the counting server (counting-server.ts) running in the server namespace.
import type { ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import { ShakerError } from '../core/errors.js';
import type { CountingServerEvent } from './counting-server.js';

export interface AcceptedConnection {
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
}

export class CountingServer {
  private readonly child: ChildProcess;
  /** Every connection the server application accepted, in order. */
  readonly accepts: AcceptedConnection[] = [];
  private boundPort = 0;
  private boundAddresses: string[] = [];
  private countWaiters: Array<(count: number) => void> = [];
  private exited: Promise<void>;
  private stderr = '';

  private constructor(child: ChildProcess) {
    this.child = child;
    this.exited = new Promise((resolve) => child.once('close', () => resolve()));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    // EPIPE on stdin after the child died: acceptCount() reports the death instead.
    child.stdin!.on('error', () => {});
  }

  /** Waits for the child's "listening" line; rejects with its error or exit. */
  static start(child: ChildProcess, timeoutMs = 10_000): Promise<CountingServer> {
    const server = new CountingServer(child);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => fail(`did not report listening within ${timeoutMs} ms`), timeoutMs);
      const fail = (why: string): void => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        const stderr = server.stderr.trim();
        reject(new ShakerError(`testbed server ${why}${stderr ? `:\n${stderr}` : ''}`, 'ERR_SHAKER_TESTBED_SERVER'));
      };
      const onEarlyClose = (code: number | null, signal: NodeJS.Signals | null): void =>
        fail(`exited (${signal ?? `status ${code}`}) before listening`);
      child.once('close', onEarlyClose);
      readline.createInterface({ input: child.stdout! }).on('line', (line) => {
        let event: CountingServerEvent;
        try {
          event = JSON.parse(line) as CountingServerEvent;
        } catch {
          return; // Not ours (a stray warning); ignore.
        }
        if (event.event === 'listening') {
          clearTimeout(timer);
          server.boundPort = event.port;
          server.boundAddresses = event.addresses;
          child.off('close', onEarlyClose);
          child.once('close', () => server.rejectWaiters());
          resolve(server);
        } else if (event.event === 'error') {
          fail(`failed: ${event.message}`);
        } else {
          server.handle(event);
        }
      });
    });
  }

  private handle(event: CountingServerEvent): void {
    if (event.event === 'accept') {
      const { remoteAddress, remotePort, localAddress, localPort } = event;
      this.accepts.push({ remoteAddress, remotePort, localAddress, localPort });
    } else if (event.event === 'count') {
      this.countWaiters.shift()?.(event.count);
    }
  }

  private rejectWaiters(): void {
    for (const waiter of this.countWaiters.splice(0)) waiter(Number.NaN);
  }

  get port(): number {
    return this.boundPort;
  }

  /** The addresses the server listens on ("0.0.0.0", "::" by default). */
  get addresses(): readonly string[] {
    return this.boundAddresses;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Connections accepted so far, asked from the child itself (not the local event log). */
  async acceptCount(): Promise<number> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) {
      throw new ShakerError('testbed server is not running', 'ERR_SHAKER_TESTBED_SERVER');
    }
    const count = await new Promise<number>((resolve) => {
      this.countWaiters.push(resolve);
      this.child.stdin!.write('count\n');
    });
    if (Number.isNaN(count)) throw new ShakerError('testbed server exited while asked for its count', 'ERR_SHAKER_TESTBED_SERVER');
    return count;
  }

  /** Asks the child to stop, SIGKILLs it after `graceMs`; safe to call twice. */
  async stop(graceMs = 2000): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.stdin!.end('stop\n');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
  }
}
