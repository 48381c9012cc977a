// The server namespace during a bench: the listening application (server.ts) and the kernel
// counters that explain a run (listen-queue drops, SYN cookies, SYN-ACK retransmissions, and
// half-open connections the client left behind).
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Testbed } from '../../src/testbed/index.js';

const SERVER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'server.ts');

export class BenchServer {
  private readonly waiters: Array<(value: Record<string, unknown>) => void> = [];

  private constructor(private readonly child: ChildProcess) {
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      let value: Record<string, unknown>;
      try {
        value = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      this.waiters.shift()?.(value);
    });
  }

  /** Listens on [port, port + ports) on every address of the server namespace. */
  static async start(tb: Testbed, port: number, ports: number): Promise<BenchServer> {
    // A deep accept queue and SYN backlog: the connect strategy completes every handshake.
    await tb.exec('server', ['sysctl', '-q', '-w', 'net.core.somaxconn=65535', 'net.ipv4.tcp_max_syn_backlog=65535']);
    const child = tb.spawn('server', [process.execPath, '--import', import.meta.resolve('tsx/esm'), SERVER, JSON.stringify({ port, ports })]);
    const server = new BenchServer(child);
    const ready = await server.next(20_000);
    if (!Array.isArray(ready.listening)) throw new Error(`the bench server did not start: ${JSON.stringify(ready)}`);
    return server;
  }

  private next(timeoutMs: number): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the bench server did not answer')), timeoutMs);
      this.waiters.push((value) => {
        clearTimeout(timer);
        resolve(value);
      });
    });
  }

  /** Connections the application has accepted so far. */
  async accepted(): Promise<number> {
    const reply = this.next(10_000);
    this.child.stdin!.write('count\n');
    return Number((await reply).accepted);
  }

  stop(): void {
    this.child.stdin!.end();
  }
}

/** TCP counters of a namespace worth a look after a run (from /proc/net/netstat and snmp). */
const COUNTERS = [
  'TcpExt.ListenOverflows',
  'TcpExt.ListenDrops',
  'TcpExt.TCPReqQFullDrop',
  'TcpExt.SyncookiesSent',
  'TcpExt.TCPSynRetrans',
  'TcpExt.TCPChallengeACK',
  'Tcp.InSegs',
  'Tcp.OutSegs',
  'Tcp.OutRsts',
  'Tcp.AttemptFails',
] as const;

export type Counters = Record<string, number>;

export async function tcpCounters(tb: Testbed, ns: 'client' | 'server'): Promise<Counters> {
  const r = await tb.exec(ns, ['cat', '/proc/net/netstat', '/proc/net/snmp'], { check: false });
  const all: Counters = {};
  const lines = r.stdout.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    const [head, ...names] = lines[i].trim().split(/\s+/);
    const [head2, ...values] = lines[i + 1].trim().split(/\s+/);
    if (!head?.endsWith(':') || head !== head2 || names.some((n) => /^-?\d+$/.test(n))) continue;
    const group = head.slice(0, -1);
    names.forEach((name, k) => (all[`${group}.${name}`] = Number(values[k])));
    i++;
  }
  const picked: Counters = {};
  for (const key of COUNTERS) picked[key] = all[key] ?? 0;
  return picked;
}

export function counterDelta(before: Counters, after: Counters): Counters {
  const delta: Counters = {};
  for (const key of Object.keys(after)) {
    const d = after[key] - (before[key] ?? 0);
    if (d !== 0) delta[key] = d;
  }
  return delta;
}

/**
 * Server-side connections still in SYN-RECV, among those matching an `ss` filter (e.g.
 * `src 198.18.128.7` or `sport >= :20001 and sport <= :20016`): handshakes whose SYN-ACK the
 * client neither reset nor acknowledged.
 */
export async function halfOpenOnServer(tb: Testbed, filter: string[]): Promise<number> {
  const r = await tb.exec('server', ['ss', '-tanH', 'state', 'syn-recv', ...filter], { check: false });
  return r.stdout.split('\n').filter((line) => line.trim()).length;
}
