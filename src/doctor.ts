// A preflight that says, in plain lines, what this host allows and why: the native addon (and
// where it was loaded from), the capabilities held and how they were granted, nftables,
// libpcap, the strategy `auto` would pick, conntrack pressure, rp_filter, IPv6, checksum
// offload on the default route's interface, and a self-test against a loopback listener that
// proves the engine's check is half-open and that no kernel RST leaks out next to the engine's.
import { readFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { nftAvailable } from './firewall/nftables.js';
import { listenersInRange } from './engine/port-claims.js';
import { defaultProbePortRange } from './core/port-range.js';
import { openLiveCapture } from './capture/pcap.js';
import { ipPacket } from './capture/link-layer.js';
import { chooseStrategy } from './strategies/choose.js';
import { Checker } from './checker.js';
import { formatTcpFlags, parseIp, parseTcp } from './wire/index.js';
import type { StrategyName } from './core/types.js';
import { addonStatus } from './native/addon.js';
import {
  CAP_NET_ADMIN,
  CAP_NET_RAW,
  capabilitySets,
  capabilitySource,
  fileCapabilities,
  type CapabilitySource,
} from './core/capabilities.js';

const run = promisify(execFile);

export type DoctorLevel = 'ok' | 'warn' | 'fail' | 'info';

export interface DoctorFinding {
  level: DoctorLevel;
  item: string;
  detail: string;
}

export interface DoctorReport {
  findings: DoctorFinding[];
  /** What `strategy: 'auto'` picks on this host. */
  autoStrategy: StrategyName | undefined;
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The effective capability set of this process, from /proc/self/status. */
export function effectiveCapabilities(status = readText('/proc/self/status') ?? ''): bigint {
  return capabilitySets(status).effective;
}

const sourceText: Record<CapabilitySource, string> = {
  root: 'present (running as root: least privilege is a non-root user holding just the two capabilities, README "Privileges")',
  ambient: 'present, as an ambient capability of a non-root user (systemd AmbientCapabilities=, setpriv or capsh): least privilege',
  file: `present, from file capabilities on ${process.execPath} (setcap): every program this node binary runs gets it; prefer ambient capabilities (README "Privileges")`,
  inherited: 'present, in the effective set handed over by the parent (not ambient, not from setcap on node)',
  missing: 'missing',
};

/** One finding per capability the raw strategy needs: held or not, and how it was granted. */
function capabilityFindings(): DoctorFinding[] {
  const sets = capabilitySets(readText('/proc/self/status') ?? '');
  const uid = process.getuid?.() ?? -1;
  let nodeCaps: string | undefined | null = null; // looked up only when it could matter
  const wanted: Array<[string, number, string]> = [
    ['CAP_NET_RAW', CAP_NET_RAW, 'the raw strategy is unavailable (raw sockets, capture)'],
    ['CAP_NET_ADMIN', CAP_NET_ADMIN, 'the kernel-RST shim (nftables) is unavailable'],
  ];
  return wanted.map(([name, bit, without]) => {
    if (nodeCaps === null && uid !== 0) nodeCaps = fileCapabilities(process.execPath);
    const source = capabilitySource(sets, bit, uid, nodeCaps ?? undefined, name);
    const level: DoctorLevel = source === 'missing' || source === 'file' ? 'warn' : 'ok';
    return { level, item: name, detail: source === 'missing' ? `missing: ${without}` : sourceText[source] };
  });
}

async function defaultRouteInterface(): Promise<string | undefined> {
  try {
    const { stdout } = await run('ip', ['-j', 'route', 'show', 'default'], { timeout: 2000 });
    const routes = JSON.parse(stdout) as Array<{ dev?: string }>;
    return routes.find((r) => r.dev)?.dev;
  } catch {
    return undefined;
  }
}

async function checksumOffload(iface: string): Promise<string | undefined> {
  try {
    const { stdout } = await run('ethtool', ['-k', iface], { timeout: 2000 });
    const tx = /^tx-checksumming:\s*(\S+)/m.exec(stdout)?.[1];
    const rx = /^rx-checksumming:\s*(\S+)/m.exec(stdout)?.[1];
    return `tx ${tx ?? '?'}, rx ${rx ?? '?'}`;
  } catch {
    return undefined;
  }
}

/**
 * Probes a listener on 127.0.0.1 with the given strategy while capturing on loopback, and says
 * whether the wire showed SYN, SYN-ACK and exactly one RST with no ACK from the client, and
 * whether the listener accepted anything.
 */
export async function selfTest(strategy: StrategyName): Promise<DoctorFinding> {
  const item = `self-test (${strategy}, 127.0.0.1)`;
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const seen: string[] = [];
  let capture: ReturnType<typeof openLiveCapture> | undefined;
  let captureProblem: string | undefined;
  try {
    capture = openLiveCapture({ iface: 'lo', filter: `tcp and port ${port}` }, (frame, _ts, linkType) => {
      const bytes = ipPacket(frame, linkType);
      if (!bytes) return;
      // Loopback hands over kernel segments with partial (offloaded) checksums: don't verify.
      const ip = parseIp(bytes, { verifyChecksum: false });
      if (!ip.ok || ip.value.protocol !== 6) return;
      const segment = bytes.subarray(ip.value.payloadOffset, ip.value.payloadOffset + ip.value.payloadLength);
      const tcp = parseTcp(segment, ip.value, { verifyChecksum: false });
      if (tcp.ok) seen.push(`${tcp.value.srcPort === port ? 'server' : 'client'}:${formatTcpFlags(tcp.value.flags)}`);
    });
  } catch (error) {
    // Unprivileged: the wire cannot be watched, but the listener's accept count still tells.
    captureProblem = (error as Error).message;
  }
  const checker = new Checker({ strategy, timeout: 2000 });
  try {
    await checker.start();
    const result = await checker.check(`127.0.0.1:${port}`);
    await sleep(200); // late packets (a kernel RST would follow the SYN-ACK within microseconds)
    if (captureProblem !== undefined) {
      const ok = result.status === 'open' && (accepted === 0 || strategy === 'connect');
      return {
        level: ok ? 'ok' : 'fail',
        item,
        detail: `${result.status}; accepted by the listener: ${accepted}; wire not watched (${captureProblem})`,
      };
    }
    const wire = seen.join(' ');
    const clientRsts = seen.filter((s) => s.startsWith('client:R')).length;
    const clientAcks = seen.filter((s) => s === 'client:.' || s === 'client:P.').length;
    const good = result.status === 'open' && clientRsts === 1 && clientAcks === 0 && accepted === 0;
    const halfOpen = strategy !== 'connect';
    if (good || !halfOpen) {
      return {
        level: halfOpen ? 'ok' : 'warn',
        item,
        detail: `${result.status}; wire: ${wire}; accepted by the listener: ${accepted}${halfOpen ? '' : ' (connect completes the handshake)'}`,
      };
    }
    return {
      level: 'fail',
      item,
      detail:
        `${result.status}; wire: ${wire}; client RSTs ${clientRsts} (want 1), client ACKs ${clientAcks} (want 0), ` +
        `accepted ${accepted} (want 0)${clientRsts > 1 ? ': a kernel RST leaked next to the engine\'s' : ''}`,
    };
  } catch (error) {
    return { level: 'fail', item, detail: (error as Error).message };
  } finally {
    await checker.close();
    capture?.close();
    server.close();
  }
}

export async function doctor(options: { selfTest?: boolean } = {}): Promise<DoctorReport> {
  const findings: DoctorFinding[] = [];
  const add = (level: DoctorLevel, item: string, detail: string): void => {
    findings.push({ level, item, detail });
  };

  const addon = addonStatus();
  if (addon.available) {
    add('ok', 'native addon', `${addon.origin === 'prebuilt' ? 'prebuilt binary' : 'built from source'}: ${addon.file}`);
  } else {
    add('fail', 'native addon', `${addon.error.reason}; fix: ${addon.error.fix}`);
  }
  const uid = process.getuid?.();
  add('info', 'user', uid === undefined ? 'no uid on this platform' : `uid ${uid}${uid === 0 ? ' (root)' : ''}`);
  findings.push(...capabilityFindings());

  const nft = await nftAvailable();
  add(
    nft.ok ? (nft.ownerFlag ? 'ok' : 'warn') : 'warn',
    'nftables',
    nft.ok
      ? `${nft.version ?? 'nft'} usable${nft.ownerFlag ? ', owner tables supported (the table dies with the process)' : `; no owner tables (${nft.reason ?? 'kernel < 5.12'}): a crashed engine's table stays until the next start sweeps it`}`
      : `unusable: ${nft.reason ?? 'unknown reason'}`,
  );

  try {
    const capture = openLiveCapture({ iface: 'lo', filter: 'tcp and port 9 and port 10' }, () => {});
    capture.close();
    add('ok', 'libpcap', 'opened a capture on lo');
  } catch (error) {
    add('warn', 'libpcap', (error as Error).message);
  }

  let autoStrategy: StrategyName | undefined;
  try {
    const { strategy, choice } = await chooseStrategy('auto', {});
    autoStrategy = choice.name;
    await strategy.close();
    // connect means every check is a full handshake the server application sees: a problem.
    add(choice.name === 'raw' ? 'ok' : choice.name === 'socket' ? 'info' : 'fail', 'auto strategy', `${choice.name}: ${choice.reason}`);
  } catch (error) {
    add('fail', 'auto strategy', `none works: ${(error as Error).message}`);
  }

  add('info', 'source ports', sourcePortsDetail());

  const count = readText('/proc/sys/net/netfilter/nf_conntrack_count');
  const max = readText('/proc/sys/net/netfilter/nf_conntrack_max');
  if (count !== undefined && max !== undefined) {
    const share = Number(count) / Number(max);
    add(share > 0.8 ? 'warn' : 'ok', 'conntrack', `${count} of ${max} entries in use (${(share * 100).toFixed(1)}%); raw probes are marked notrack`);
  } else {
    add('info', 'conntrack', 'not loaded in this network namespace (nothing to fill)');
  }

  const rpAll = readText('/proc/sys/net/ipv4/conf/all/rp_filter');
  const rpDefault = readText('/proc/sys/net/ipv4/conf/default/rp_filter');
  add(
    rpAll === '1' ? 'warn' : 'info',
    'rp_filter',
    `all=${rpAll ?? '?'} default=${rpDefault ?? '?'}${rpAll === '1' ? ': strict reverse-path filtering drops replies that arrive on another interface than the route back' : ''}`,
  );

  const v6disabled = readText('/proc/sys/net/ipv6/conf/all/disable_ipv6');
  add(v6disabled === '0' ? 'ok' : 'warn', 'IPv6', v6disabled === undefined ? 'not available in this kernel' : v6disabled === '0' ? 'enabled' : 'disabled (disable_ipv6=1)');

  const iface = await defaultRouteInterface();
  if (iface) {
    const offload = await checksumOffload(iface);
    add('info', 'checksum offload', `${iface} (default route): ${offload ?? 'ethtool unavailable'}; captured outgoing checksums may read as wrong when tx is on`);
  } else {
    add('info', 'checksum offload', 'no default route');
  }

  if (options.selfTest !== false && autoStrategy) findings.push(await selfTest(autoStrategy));
  return { findings, autoStrategy };
}

/** The raw engine's port range, how engines share it, and the listeners inside it. */
export function sourcePortsDetail(
  procNetTcp: readonly string[] = ['/proc/net/tcp', '/proc/net/tcp6'].map((f) => readText(f) ?? ''),
): string {
  let range: readonly [number, number];
  try {
    range = defaultProbePortRange();
  } catch (error) {
    return (error as Error).message;
  }
  const listeners = listenersInRange(procNetTcp, range);
  return (
    `${range[0]}-${range[1]}: each raw engine claims its ports from the kernel (a bound socket per port) and ` +
    'its nftables shim drops only SYN-ACKs to them; ' +
    (listeners.length === 0
      ? 'no listener in the range'
      : `listener${listeners.length === 1 ? '' : 's'} on ${listeners.join(', ')}: skipped by the claims, reachable while engines run`)
  );
}

export function formatDoctor(report: DoctorReport): string {
  const width = Math.max(...report.findings.map((f) => f.item.length));
  return `${report.findings.map((f) => `${f.level.toUpperCase().padEnd(4)}  ${f.item.padEnd(width)}  ${f.detail}`).join('\n')}\n`;
}
