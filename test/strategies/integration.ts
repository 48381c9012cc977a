// The privileged half of the strategy tests, shared by socket.test.ts and connect.test.ts: a
// namespace pair (netns.ts), a counting server and an nft ruleset in the server namespace, the
// driver run inside the client namespace, and a server-side tcpdump to see what went on the wire.
//
// Ports in the server namespace:
//   8080 open: server.ts listens and prints one "accept" line per connection it is handed;
//   8081 closed: nothing listens, the kernel answers RST;
//   8082 filtered: nft drops the SYN;
//   8083 prohibited: nft answers ICMP / ICMPv6 "administratively prohibited".
import test from 'ava';
import type { Implementation } from 'ava';
import type { Family } from '../../src/types.js';
import type { Report, Scenario } from './driver.js';
import { NetnsPair, addresses, sleep, type Background } from './netns.js';

export const ports = { open: 8080, closed: 8081, filtered: 8082, prohibited: 8083 } as const;

const ruleset = `
table inet strategy_test {
  chain input {
    type filter hook input priority 0;
    tcp dport ${ports.filtered} drop
    meta nfproto ipv4 tcp dport ${ports.prohibited} reject with icmp type admin-prohibited
    meta nfproto ipv6 tcp dport ${ports.prohibited} reject with icmpv6 type admin-prohibited
  }
}
`;

// Drops every capability and becomes nobody: the unprivileged path (Go tcp-shaker's promise).
const unprivileged = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all'];

/** One TCP segment from tcpdump's text output, as seen on the server's interface. */
export interface Segment {
  from: 'client' | 'server';
  /** tcpdump's flag string: "S", "S.", ".", "R.", "F."... */
  flags: string;
}

const segmentLine = /\sIP6? (\S+)\.\d+ > (\S+)\.\d+: Flags \[([^\]]+)\]/;

export function parseSegments(text: string, family: Family): Segment[] {
  const segments: Segment[] = [];
  for (const line of text.split('\n')) {
    const match = segmentLine.exec(line);
    if (match === null) continue;
    segments.push({ from: match[1] === addresses[family].client ? 'client' : 'server', flags: match[3] });
  }
  return segments;
}

export class StrategyTestbed {
  readonly #pair: NetnsPair;
  readonly #server: Background;

  private constructor(pair: NetnsPair, server: Background) {
    this.#pair = pair;
    this.#server = server;
  }

  static async create(tag: string): Promise<StrategyTestbed> {
    const pair = await NetnsPair.create(tag);
    try {
      await pair.nft(pair.server, ruleset);
      const server = pair.spawnIn(pair.server, ['node', '--import', 'tsx/esm', 'test/strategies/server.ts', String(ports.open)]);
      await server.waitFor(/listening/);
      return new StrategyTestbed(pair, server);
    } catch (error) {
      await pair.destroy();
      throw error;
    }
  }

  /** Connections the server application accepted so far. */
  get accepted(): number {
    return this.#server.stdout.split('\n').filter((line) => line.startsWith('accept ')).length;
  }

  /** Waits (up to 2 s) for the accept count to reach `count`; returns the count it saw. */
  async acceptedAtLeast(count: number): Promise<number> {
    for (let i = 0; i < 100 && this.accepted < count; i++) await sleep(20);
    return this.accepted;
  }

  /** Runs the driver in the client namespace, as root or as nobody without capabilities. */
  async drive(scenario: Scenario, options: { unprivileged?: boolean } = {}): Promise<Report> {
    const argv = [
      ...(options.unprivileged ? unprivileged : []),
      'node',
      '--import',
      'tsx/esm',
      'test/strategies/driver.ts',
      JSON.stringify(scenario),
    ];
    const result = await this.#pair.runIn(this.#pair.client, argv);
    return JSON.parse(result.stdout) as Report;
  }

  /** Runs `during` while tcpdump watches `port` on the server's veth; returns what it saw. */
  async capture<T>(port: number, family: Family, during: () => Promise<T>): Promise<{ result: T; segments: Segment[] }> {
    const tcpdump = this.#pair.spawnIn(this.#pair.server, ['tcpdump', '-i', 'vs', '-nn', '-l', '--immediate-mode', `tcp port ${port}`]);
    await tcpdump.waitFor(/listening on/);
    try {
      const result = await during();
      // Longer than the 200 ms delayed-ACK timer (TCP_DELACK_MAX): an ACK the client kernel
      // still owed would be on the wire by now.
      await sleep(400);
      await this.#pair.stopChild(tcpdump, 'SIGINT');
      return { result, segments: parseSegments(tcpdump.stdout, family) };
    } finally {
      await this.#pair.stopChild(tcpdump, 'SIGKILL');
    }
  }

  async destroy(): Promise<void> {
    await this.#pair.destroy();
  }
}

export const families = [4, 6] as const;

export function serverOf(family: Family): string {
  return addresses[family].server;
}

const isRoot = process.getuid?.() === 0;

/**
 * `test.serial` when this process may create namespaces, else `test.serial.skip`, said out loud:
 * CI runs as root, so a non-root CI run fails instead of skipping quietly.
 */
export type RegisterTest = <Args extends unknown[]>(title: string, implementation: Implementation<Args>, ...args: Args) => void;

export function privilegedTest(name: string): RegisterTest {
  if (isRoot) return test.serial;
  const reason = `${name}: network namespace tests skipped, they need root (CI runs them as root)`;
  console.warn(reason);
  if (process.env.CI === 'true') {
    test('network namespace tests need root in CI', (t) => t.fail(reason));
  } else {
    test('network namespace tests skipped (not root)', (t) => {
      t.log(reason);
      t.pass();
    });
  }
  return test.serial.skip;
}

export { isRoot };
