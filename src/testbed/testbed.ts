// Two network namespaces, client and server, joined by a veth pair: a private two-host network
// for tests, the demo and benchmarks. Nothing is sent outside it; every address is in the
// benchmarking ranges (see addressing.ts). Needs root.
//
//   client ns "tshk-<pid>-<rand>-c"              server ns "tshk-<pid>-<rand>-s"
//   veth-client 198.18.0.1/24 2001:2::1/64  <->  veth-server 198.18.0.2/24 2001:2::2/64
//
// Both ends have fixed MAC addresses and permanent neighbour entries for each other, so there is
// no ARP or neighbour discovery on the wire, and checksum offload is off, so captures hold the
// real checksums instead of the partial ones a veth would otherwise pass along.
import { spawn } from 'node:child_process';
import type { ChildProcess, StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, TimeoutError, UnsupportedError } from '../core/errors.js';
import type { Family } from '../core/types.js';
import { ERROR_ROUTES, LINK, parseTestbedCidr } from './addressing.js';
import type { Cidr } from './addressing.js';
import { Capture } from './capture.js';
import { tcpdumpArgv } from './capture.js';
import { TestbedCommandError } from './errors.js';
import { deleteNamespaceSync, newTestbedId, sweepStaleTestbeds } from './names.js';
import { commandExists, inNamespace, missingTool, run, runSync } from './run.js';
import type { CommandResult, RunOptions } from './run.js';
import { checkPort, renderAddRules, renderServerTable } from './server-firewall.js';
import type { FamilyChoice, PortRule } from './server-firewall.js';
import { CountingServer } from './server.js';
import type { KernelClientReport, KernelConnectRequest, KernelUdpRequest } from './kernel-client.js';
import { findNft } from '../firewall/nft-command.js';
import { registerForTeardown, unregisterForTeardown } from './teardown.js';

export type Role = 'client' | 'server';

export interface TestbedOptions {
  /** Server ports where every TCP segment is dropped: probes time out ("filtered"). */
  filter?: number[];
  /** Server ports answered with ICMP / ICMPv6 "administratively prohibited". */
  prohibit?: Array<number | { port: number; family?: FamilyChoice }>;
  /** Default true: client routes to ERROR_ROUTES, whose addresses the server answers with
   *  ICMP host-unreachable / admin-prohibited, or drops (blackhole). */
  errorRoutes?: boolean;
  /**
   * Prefixes the server kernel treats as its own (`ip route add local P dev lo`), routed to it
   * by the client: every address in them answers like the server's own address. For
   * benchmarks over many targets, e.g. ['198.19.0.0/16', '2001:2:0:100::/56'].
   */
  localPrefixes?: string[];
  /** More addresses ("addr/len") on each veth end. They are never chosen as the default
   *  source address: bind to them explicitly (`localAddress`). */
  extraAddresses?: { client?: string[]; server?: string[] };
  /** veth MTU; default 1500. */
  mtu?: number;
  /** Default true: `ethtool -K <veth> tx off rx off` on both ends. */
  disableOffload?: boolean;
  /** Default true: first delete testbeds left behind by dead processes. */
  sweep?: boolean;
}

export interface NamespaceInfo {
  role: Role;
  /** The `ip netns` name. */
  name: string;
  /** The veth end inside this namespace. */
  iface: string;
  mac: string;
  ipv4: string;
  ipv6: string;
}

export interface StartServerOptions {
  /** Default 0: the kernel picks one (read it from `server.port`). */
  port?: number;
  /** Default 'both': listens on 0.0.0.0 and [::] (IPv6-only), which covers the veth
   *  addresses, extra addresses and local prefixes. */
  family?: FamilyChoice;
  /** Listen on these addresses instead. */
  hosts?: string[];
}

export interface CaptureOptions {
  /** Default 'server'. */
  ns?: Role;
  /** A pcap-filter expression, e.g. 'tcp port 80'. */
  filter?: string;
  /** Output file; default a file in the testbed's temporary directory (deleted on destroy). */
  file?: string;
  /** Default the namespace's veth end; 'any' captures on every interface (Linux cooked). */
  iface?: string;
  /** tcpdump `-y` name: 'EN10MB', 'LINUX_SLL', 'LINUX_SLL2'... */
  linkType?: string;
  /** Default 0, i.e. whole packets. */
  snapLen?: number;
  /**
   * tcpdump's kernel buffer (`-B`, KiB); default tcpdump's (2 MiB). Bursts of hundreds of
   * packets within a millisecond (a monitor's window of rounds) overflow the default: give
   * more, and a short snapLen, where a test counts every packet.
   */
  bufferKiB?: number;
}

export interface ExecNodeOptions extends RunOptions {
  /** Default 'client'. */
  ns?: Role;
  /** Extra node flags placed before the script. */
  nodeArgs?: string[];
}

/** The node that runs this module, and the tsx loader when a `.ts` script needs it. */
function nodeArgv(script: string, nodeArgs: readonly string[] = []): string[] {
  const argv = [process.execPath, ...nodeArgs];
  if (/\.[mc]?ts$/.test(script)) {
    let loader: string;
    try {
      loader = import.meta.resolve('tsx/esm');
    } catch (cause) {
      throw new UnsupportedError(`running ${script} needs the tsx loader, which is not installed`, { cause });
    }
    argv.push('--import', loader);
  }
  argv.push(script);
  return argv;
}

/** A program next to this module: `.ts` under tsx, `.js` once compiled. */
function siblingProgram(name: string): string {
  const here = fileURLToPath(import.meta.url);
  return path.join(path.dirname(here), `${name}${path.extname(here)}`);
}

/**
 * `ip netns add`, retried a few times: the first calls on a host race on mounting /run/netns
 * when several processes (test workers) start at once. "Operation not permitted" means root
 * without CAP_SYS_ADMIN (an unprivileged container): that is UnsupportedError.
 */
async function addNamespace(name: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await run(['ip', 'netns', 'add', name]);
      return;
    } catch (error) {
      const stderr = error instanceof TestbedCommandError ? error.result.stderr : '';
      if (/Operation not permitted|Permission denied/.test(stderr)) {
        throw new UnsupportedError(`cannot create network namespaces here (${stderr.trim()}): the testbed needs CAP_SYS_ADMIN`, { cause: error });
      }
      if (attempt >= 3 || !(error instanceof TestbedCommandError)) throw error;
      runSync(['ip', 'netns', 'delete', name]);
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    }
  }
}

function assertSupported(options: TestbedOptions): void {
  if (process.getuid?.() !== 0) {
    throw new UnsupportedError(
      'the testbed needs root: it creates network namespaces (CAP_SYS_ADMIN) and configures them (CAP_NET_ADMIN)',
    );
  }
  const tools = ['ip', 'sysctl'];
  if (options.disableOffload !== false) tools.push('ethtool');
  if (options.filter?.length || options.prohibit?.length) tools.push('nft');
  for (const tool of tools) if (!commandExists(tool)) throw missingTool(tool);
}

function normaliseRules(options: TestbedOptions): PortRule[] {
  const rules: PortRule[] = [];
  for (const port of options.filter ?? []) rules.push({ port: checkPort(port), action: 'filter', family: 'both' });
  for (const entry of options.prohibit ?? []) {
    const { port, family = 'both' } = typeof entry === 'number' ? { port: entry } : entry;
    rules.push({ port: checkPort(port), action: 'prohibit', family });
  }
  return rules;
}

// How long a new veth may take to report its carrier: milliseconds normally; a starved machine
// gets ample room before the testbed gives up.
const CARRIER_WAIT_MS = 10_000;

export class Testbed {
  /** `tshk-<pid>-<random>`; the namespaces are this plus "-c" and "-s". */
  readonly id: string;
  readonly client: NamespaceInfo;
  readonly server: NamespaceInfo;
  /** Addresses behind the server that draw ICMP errors or silence (when `errorRoutes` is on). */
  readonly errorRoutes = ERROR_ROUTES;
  /** A server port nothing listens on, so the server kernel answers RST-ACK. */
  readonly closedPort = 1;
  readonly options: Readonly<TestbedOptions>;

  private readonly rules: PortRule[];
  private readonly localPrefixes: Cidr[];
  private readonly extraAddresses: { client: Cidr[]; server: Cidr[] };
  private readonly children = new Set<ChildProcess>();
  private readonly servers = new Set<CountingServer>();
  private tableCreated = false;
  private tmpDir: string | undefined;
  private captureCount = 0;
  private wasDestroyed = false;
  private destroying: Promise<void> | undefined;

  private constructor(options: TestbedOptions) {
    this.options = options;
    this.rules = normaliseRules(options);
    this.localPrefixes = (options.localPrefixes ?? []).map(parseTestbedCidr);
    this.extraAddresses = {
      client: (options.extraAddresses?.client ?? []).map(parseTestbedCidr),
      server: (options.extraAddresses?.server ?? []).map(parseTestbedCidr),
    };
    if (options.mtu !== undefined && (!Number.isInteger(options.mtu) || options.mtu < 1280 || options.mtu > 65535)) {
      throw new InvalidArgumentError(`mtu must be an integer in 1280..65535 (IPv6 needs 1280), got ${options.mtu}`);
    }
    this.id = newTestbedId();
    this.client = { role: 'client', name: `${this.id}-c`, ...LINK.client };
    this.server = { role: 'server', name: `${this.id}-s`, ...LINK.server };
  }

  /**
   * Builds the two namespaces. Throws UnsupportedError when not root or a tool is missing, and
   * InvalidArgumentError for options outside the testbed address ranges. If any step fails,
   * whatever was created is removed before the error propagates.
   */
  static async create(options: TestbedOptions = {}): Promise<Testbed> {
    assertSupported(options);
    if (options.sweep !== false) sweepStaleTestbeds();
    const testbed = new Testbed(options);
    registerForTeardown(testbed);
    try {
      await testbed.setUp();
    } catch (error) {
      await testbed.destroy();
      throw error;
    }
    return testbed;
  }

  private async setUp(): Promise<void> {
    const { client, server } = this;
    await addNamespace(client.name);
    await addNamespace(server.name);

    // Before the veth exists, so it inherits the defaults: no DAD (addresses usable at once)
    // and no router solicitations cluttering captures.
    const common = [
      'net.ipv6.conf.default.accept_dad=0',
      'net.ipv6.conf.all.accept_dad=0',
      'net.ipv6.conf.default.router_solicitations=0',
      // Unlimited ICMP errors: tests and benchmarks count them.
      'net.ipv4.icmp_ratelimit=0',
      'net.ipv6.icmp.ratelimit=0',
    ];
    // The server forwards, or its kernel would drop packets for ERROR_ROUTES without an ICMP.
    const serverOnly = ['net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1'];
    await Promise.all([
      run(inNamespace(client.name, ['sysctl', '-q', '-w', ...common])),
      run(inNamespace(server.name, ['sysctl', '-q', '-w', ...common, ...serverOnly])),
    ]);

    const mtu = this.options.mtu === undefined ? [] : ['mtu', String(this.options.mtu)];
    await run([
      'ip', '-n', client.name, 'link', 'add', client.iface, 'address', client.mac, ...mtu,
      'type', 'veth', 'peer', 'name', server.iface, 'netns', server.name, 'address', server.mac, ...mtu,
    ]);

    // Offload first, while the link is down: changing features can reset a device's carrier,
    // and a carrier that flaps after the testbed is handed over drops packets in flight.
    if (this.options.disableOffload !== false) {
      await Promise.all([client, server].map((end) => run(inNamespace(end.name, ['ethtool', '-K', end.iface, 'tx', 'off', 'rx', 'off']))));
    }
    await Promise.all([
      run(['ip', '-n', client.name, '-batch', '-'], { input: this.clientBatch() }),
      run(['ip', '-n', server.name, '-batch', '-'], { input: this.serverBatch() }),
    ]);
    await Promise.all([client, server].map((end) => this.waitForCarrier(end)));
    if (this.rules.length > 0) await this.ensureTable(this.rules);
  }

  /**
   * `link set up` returns before the veth's carrier is: until both ends report operstate UP the
   * link drops what is sent on it, and node's networkInterfaces() leaves it out (libuv lists
   * only IFF_RUNNING interfaces: a test once saw nothing but `lo`).
   */
  private async waitForCarrier(end: NamespaceInfo): Promise<void> {
    const deadline = Date.now() + CARRIER_WAIT_MS;
    for (;;) {
      const { stdout } = await run(['ip', '-n', end.name, '-j', 'link', 'show', 'dev', end.iface]);
      const [link] = JSON.parse(stdout) as Array<{ operstate?: string; flags?: string[] }>;
      if (link?.operstate === 'UP' && link.flags?.includes('LOWER_UP')) return;
      if (Date.now() > deadline) {
        throw new TimeoutError(`${end.iface} in ${end.name} did not come up within ${CARRIER_WAIT_MS} ms (operstate ${link?.operstate})`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  private endBatch(self: NamespaceInfo, peer: NamespaceInfo, extra: Cidr[]): string[] {
    return [
      'link set lo up',
      `addr add ${self.ipv4}/${LINK.prefixLen4} dev ${self.iface}`,
      `addr add ${self.ipv6}/${LINK.prefixLen6} dev ${self.iface} nodad`,
      // Extra IPv6 addresses are "deprecated" (preferred_lft 0) so the kernel never picks them
      // as a default source address; IPv4 secondaries are never picked anyway. Bind to use them.
      ...extra.map((cidr) => `addr add ${cidr.text} dev ${self.iface}${cidr.family === 6 ? ' nodad preferred_lft 0' : ''}`),
      `link set ${self.iface} up`,
      `neigh replace ${peer.ipv4} lladdr ${peer.mac} dev ${self.iface} nud permanent`,
      `neigh replace ${peer.ipv6} lladdr ${peer.mac} dev ${self.iface} nud permanent`,
    ];
  }

  private clientBatch(): string {
    const { client, server } = this;
    const lines = this.endBatch(client, server, this.extraAddresses.client);
    const via = (family: Family): string => (family === 4 ? server.ipv4 : server.ipv6);
    if (this.options.errorRoutes !== false) {
      for (const route of Object.values(ERROR_ROUTES)) {
        lines.push(`route add ${route.prefix4} via ${server.ipv4} dev ${client.iface}`);
        lines.push(`route add ${route.prefix6} via ${server.ipv6} dev ${client.iface}`);
      }
    }
    for (const prefix of this.localPrefixes) {
      lines.push(`route add ${prefix.text} via ${via(prefix.family)} dev ${client.iface}`);
    }
    return `${lines.join('\n')}\n`;
  }

  private serverBatch(): string {
    const { client, server } = this;
    const lines = this.endBatch(server, client, this.extraAddresses.server);
    if (this.options.errorRoutes !== false) {
      for (const route of Object.values(ERROR_ROUTES)) {
        lines.push(`route add ${route.routeType} ${route.prefix4}`);
        lines.push(`route add ${route.routeType} ${route.prefix6}`);
      }
    }
    for (const prefix of this.localPrefixes) lines.push(`route add local ${prefix.text} dev lo`);
    return `${lines.join('\n')}\n`;
  }

  private async ensureTable(rules: readonly PortRule[]): Promise<void> {
    if (!commandExists('nft')) throw missingTool('nft');
    const script = this.tableCreated ? renderAddRules(rules) : renderServerTable(rules);
    await run(inNamespace(this.server.name, [findNft(), '-f', '-']), { input: script });
    this.tableCreated = true;
  }

  private assertAlive(): void {
    if (this.wasDestroyed || this.destroying) {
      throw new InvalidArgumentError(`testbed ${this.id} is destroyed`);
    }
  }

  /** The namespace name for a role; a full name is accepted only if it is one of ours. */
  namespace(ns: Role | string): string {
    if (ns === 'client') return this.client.name;
    if (ns === 'server') return this.server.name;
    if (ns === this.client.name || ns === this.server.name) return ns;
    throw new InvalidArgumentError(`${ns} is not a namespace of testbed ${this.id}`);
  }

  address(role: Role, family: Family): string {
    const end = role === 'client' ? this.client : this.server;
    return family === 4 ? end.ipv4 : end.ipv6;
  }

  /** Runs a command inside a namespace; by default rejects on a non-zero exit (`check: false` to inspect it). */
  exec(ns: Role | string, argv: readonly string[], options?: RunOptions): Promise<CommandResult> {
    this.assertAlive();
    return run(inNamespace(this.namespace(ns), argv), options);
  }

  /** Runs a command in the client namespace and returns its result whatever the exit status. */
  runInClient(argv: readonly string[], options?: RunOptions): Promise<CommandResult> {
    return this.exec('client', argv, { check: false, ...options });
  }

  /**
   * Runs a Node script (with the tsx loader when it is a .ts file) inside a namespace, default
   * the client, and collects stdout, stderr and the exit status (never rejects on a failure
   * status unless `check: true`).
   */
  execNode(script: string, args: readonly string[] = [], options: ExecNodeOptions = {}): Promise<CommandResult> {
    const { ns = 'client', nodeArgs, ...runOptions } = options;
    return this.exec(ns, [...nodeArgv(script, nodeArgs), ...args], { check: false, ...runOptions });
  }

  /** Starts a long-running command in a namespace; it is killed on destroy if still running. */
  spawn(ns: Role | string, argv: readonly string[], stdio: StdioOptions = 'pipe'): ChildProcess {
    this.assertAlive();
    const full = inNamespace(this.namespace(ns), argv);
    const child = spawn(full[0], full.slice(1), { stdio });
    this.children.add(child);
    child.once('close', () => this.children.delete(child));
    child.on('error', () => {}); // Reported through 'close' and the callers' own waits.
    return child;
  }

  /** A connection-counting TCP server in the server namespace (see counting-server.ts). */
  async startServer(options: StartServerOptions = {}): Promise<CountingServer> {
    const { port = 0, family = 'both' } = options;
    if (port !== 0) checkPort(port);
    const hosts = options.hosts ?? (family === 4 ? ['0.0.0.0'] : family === 6 ? ['::'] : ['0.0.0.0', '::']);
    const child = this.spawn('server', [...nodeArgv(siblingProgram('counting-server')), JSON.stringify({ port, hosts })]);
    const server = await CountingServer.start(child);
    this.servers.add(server);
    return server;
  }

  /**
   * A TCP connect by the real kernel of a namespace (default the client), e.g. to check
   * reachability or to record what a kernel sends. Resolves with what happened; rejects only
   * when the helper program itself fails.
   */
  kernelConnect(request: Omit<KernelConnectRequest, 'kind'>, options: { ns?: Role } = {}): Promise<KernelClientReport> {
    return this.runKernelClient({ kind: 'tcp', ...request }, options.ns);
  }

  /** One UDP datagram of `payloadBytes` from a namespace (default the client). */
  kernelSendUdp(request: Omit<KernelUdpRequest, 'kind'>, options: { ns?: Role } = {}): Promise<KernelClientReport> {
    return this.runKernelClient({ kind: 'udp', ...request }, options.ns);
  }

  private async runKernelClient(request: KernelConnectRequest | KernelUdpRequest, ns: Role = 'client'): Promise<KernelClientReport> {
    const timeoutMs = (request.kind === 'tcp' ? request.timeoutMs ?? 5000 : 5000) + 10_000;
    const result = await this.execNode(siblingProgram('kernel-client'), [JSON.stringify(request)], { ns, timeoutMs });
    const line = result.stdout.trim().split('\n').pop() ?? '';
    try {
      return JSON.parse(line) as KernelClientReport;
    } catch {
      throw new TestbedCommandError(result);
    }
  }

  /** Starts tcpdump in a namespace and returns once it is capturing. */
  async capture(options: CaptureOptions = {}): Promise<Capture> {
    this.assertAlive();
    if (!commandExists('tcpdump')) throw missingTool('tcpdump');
    const end = options.ns === 'client' ? this.client : this.server;
    const file = options.file ?? path.join(this.temporaryDirectory(), `capture-${++this.captureCount}.pcap`);
    const argv = tcpdumpArgv({ iface: options.iface ?? end.iface, file, filter: options.filter, snapLen: options.snapLen, linkType: options.linkType, bufferKiB: options.bufferKiB });
    return Capture.start(this.spawn(end.name, argv, ['ignore', 'ignore', 'pipe']), file);
  }

  /** Drops every TCP segment to `port` on the server from now on. */
  filterPort(port: number, family: FamilyChoice = 'both'): Promise<void> {
    this.assertAlive();
    return this.ensureTable([{ port: checkPort(port), action: 'filter', family }]);
  }

  /** Answers TCP to `port` with ICMP admin-prohibited from now on. */
  prohibitPort(port: number, family: FamilyChoice = 'both'): Promise<void> {
    this.assertAlive();
    return this.ensureTable([{ port: checkPort(port), action: 'prohibit', family }]);
  }

  private temporaryDirectory(): string {
    this.tmpDir ??= fs.mkdtempSync(path.join(os.tmpdir(), `${this.id}-`));
    return this.tmpDir;
  }

  get destroyed(): boolean {
    return this.wasDestroyed;
  }

  /**
   * Stops servers politely, kills every other child, deletes both namespaces (killing anything
   * else still inside them) and the temporary directory. Idempotent; never rejects.
   */
  destroy(): Promise<void> {
    this.destroying ??= (async () => {
      await Promise.allSettled([...this.servers].map((server) => server.stop(500)));
      for (const child of this.children) child.kill('SIGTERM');
      const deadline = Date.now() + 1000;
      while (this.children.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      this.destroySync();
    })();
    return this.destroying;
  }

  /** The synchronous teardown used from process 'exit' and signal handlers. */
  destroySync(): void {
    if (this.wasDestroyed) return;
    this.wasDestroyed = true;
    for (const child of this.children) child.kill('SIGKILL');
    deleteNamespaceSync(this.client.name);
    deleteNamespaceSync(this.server.name);
    if (this.tmpDir) fs.rmSync(this.tmpDir, { recursive: true, force: true });
    unregisterForTeardown(this);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.destroy();
  }
}
