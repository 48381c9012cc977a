// The Linux capabilities this process holds and how it got them, for doctor. The raw strategy
// needs CAP_NET_RAW (raw sockets, capture) and CAP_NET_ADMIN (the nftables table); how they were
// granted matters because the common shortcut, `setcap` on the shared `node` binary, hands them
// to every Node program on the host (README "Privileges").
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Capability bit numbers from linux/capability.h. */
export const CAP_NET_ADMIN = 12;
export const CAP_NET_RAW = 13;

/** The five capability sets of /proc/PID/status (capabilities(7)), as bit masks. */
export interface CapabilitySets {
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
  ambient: bigint;
  bounding: bigint;
}

/** How a held capability was granted, most telling first. */
export type CapabilitySource = 'root' | 'ambient' | 'file' | 'inherited' | 'missing';

const fields: Record<keyof CapabilitySets, string> = {
  effective: 'CapEff',
  permitted: 'CapPrm',
  inheritable: 'CapInh',
  ambient: 'CapAmb',
  bounding: 'CapBnd',
};

function readStatus(): string {
  try {
    return readFileSync('/proc/self/status', 'utf8');
  } catch {
    return ''; // not Linux, or no /proc: nothing held as far as we can tell
  }
}

/** Parses the Cap* lines of /proc/self/status (a missing line reads as an empty set). */
export function capabilitySets(status = readStatus()): CapabilitySets {
  const sets = {} as CapabilitySets;
  for (const [key, field] of Object.entries(fields) as Array<[keyof CapabilitySets, string]>) {
    const m = new RegExp(`^${field}:\\s*([0-9a-f]+)$`, 'im').exec(status);
    sets[key] = m ? BigInt(`0x${m[1]}`) : 0n;
  }
  return sets;
}

export function hasCapability(set: bigint, bit: number): boolean {
  return (set & (1n << BigInt(bit))) !== 0n;
}

/**
 * The file capabilities set on a binary (`getcap` output, e.g. "cap_net_admin,cap_net_raw=ep"),
 * or undefined when it has none or getcap is not installed.
 */
export function fileCapabilities(binary: string): string | undefined {
  try {
    const out = execFileSync('getcap', [binary], { encoding: 'utf8', timeout: 2000, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    // "/usr/bin/node cap_net_admin,cap_net_raw=ep" (libcap 2.4x) or "/usr/bin/node = cap_..." (older)
    const caps = out.slice(binary.length).replace(/^\s*=?\s*/, '').trim();
    return caps || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Where an effective capability came from. Root is root; a capability in the ambient set was
 * given to this unprivileged process on purpose (systemd AmbientCapabilities=, setpriv, capsh);
 * one named in the node binary's file capabilities came from `setcap`; anything else was
 * inherited some other way (a container runtime's effective set for a non-root user, say).
 */
export function capabilitySource(
  sets: CapabilitySets,
  bit: number,
  uid: number,
  nodeFileCaps: string | undefined,
  name: string,
): CapabilitySource {
  if (!hasCapability(sets.effective, bit)) return 'missing';
  if (uid === 0) return 'root';
  if (hasCapability(sets.ambient, bit)) return 'ambient';
  if (nodeFileCaps?.includes(name.toLowerCase())) return 'file';
  return 'inherited';
}
