// Which source ports the raw engine uses. They must lie outside the kernel's ephemeral range
// (net.ipv4.ip_local_port_range) so no kernel socket ever shares a 4-tuple with a probe, and
// because the kernel-RST shim drops every inbound TCP segment to them.
import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from './errors.js';

export type PortRange = readonly [low: number, high: number];

const LOCAL_RANGE_FILE = '/proc/sys/net/ipv4/ip_local_port_range';

/** The kernel's ephemeral range; Linux's default when /proc cannot be read. */
export function kernelEphemeralRange(file = LOCAL_RANGE_FILE): PortRange {
  try {
    const [low, high] = readFileSync(file, 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high) && low > 0 && high >= low && high <= 65535) {
      return [low, high];
    }
  } catch {
    // Not Linux, or /proc not mounted: fall through to the default.
  }
  return [32768, 60999];
}

/**
 * The widest block above the ephemeral range (Linux's default leaves 61000-65535 free for
 * exactly this), else the widest block below it but above 1024. At least 64 ports.
 */
export function defaultProbePortRange(ephemeral: PortRange = kernelEphemeralRange()): PortRange {
  const above: PortRange = [ephemeral[1] + 1, 65535];
  const below: PortRange = [Math.max(1025, ephemeral[0] - 4536), ephemeral[0] - 1];
  const width = (r: PortRange): number => r[1] - r[0] + 1;
  const best = width(above) >= width(below) ? above : below;
  if (width(best) < 64) {
    throw new InvalidArgumentError(
      `no room for probe source ports outside the kernel's ephemeral range ${ephemeral[0]}-${ephemeral[1]}: ` +
        'pass sourcePorts explicitly',
    );
  }
  return best;
}

/**
 * The one shape check of a port range: throws InvalidArgumentError, naming the option, unless
 * `range` is [low, high] with 1 <= low <= high <= 65535.
 */
export function parsePortRange(range: unknown, optionName: string): PortRange {
  if (
    !Array.isArray(range) ||
    range.length !== 2 ||
    !range.every((p) => Number.isInteger(p) && p >= 1 && p <= 65535) ||
    range[0] > range[1]
  ) {
    throw new InvalidArgumentError(`${optionName} must be [low, high] with 1 <= low <= high <= 65535, got ${JSON.stringify(range)}`);
  }
  return [range[0], range[1]];
}

/** Validates a user-given source port range: well formed, and clear of the ephemeral range. */
export function checkPortRange(range: unknown, ephemeral: PortRange = kernelEphemeralRange()): PortRange {
  parsePortRange(range, 'sourcePorts');
  const r = range as PortRange;
  if (r[0] <= ephemeral[1] && r[1] >= ephemeral[0]) {
    throw new InvalidArgumentError(
      `sourcePorts ${r[0]}-${r[1]} overlap the kernel's ephemeral range ${ephemeral[0]}-${ephemeral[1]} ` +
        '(net.ipv4.ip_local_port_range): kernel sockets could collide with probes',
    );
  }
  return [r[0], r[1]];
}
