// Monitor targets: what to probe (a "host:port" text, with HAProxy's `port` override applied),
// under which label, with which settings.
import net from 'node:net';
import { InvalidArgumentError } from '../core/errors.js';
import { parseTarget } from '../core/target.js';
import { checkCount, checkName, checkSettings, resolveSettings, type HealthCheckSettings, type ResolvedSettings } from './settings.js';

export interface MonitorTarget extends HealthCheckSettings {
  /** "host:port"; or a bare host when `port` (or the defaults' port) is set. */
  target: string;
  /** Probe this port instead of the one in `target`. */
  port?: number;
  /** Label in events and metrics; default: the probed "host:port". */
  name?: string;
}

export interface MonitorDefaults extends HealthCheckSettings {
  /** Port for targets written without one. */
  port?: number;
}

export interface ResolvedTarget {
  name: string;
  /** What the checker is given: "host:port". */
  probe: string;
  settings: ResolvedSettings;
}

/** True when a target text has no ":port" ("db.example", "198.18.0.2", "[2001:2::2]", "2001:2::2"). */
export function lacksPort(text: string): boolean {
  const t = text.trim();
  if (t.startsWith('[')) return !t.includes(']:');
  return net.isIPv6(t) || !t.includes(':');
}

/** The target text with its port replaced by (or completed with) `port`. */
export function withPort(text: string, port: number | undefined): string {
  const t = text.trim();
  if (port === undefined) return t;
  if (t.startsWith('[')) {
    const close = t.indexOf(']');
    return close < 0 ? t : `${t.slice(0, close + 1)}:${port}`;
  }
  if (net.isIPv6(t)) return `[${t}]:${port}`;
  const colon = t.lastIndexOf(':');
  return colon < 0 ? `${t}:${port}` : `${t.slice(0, colon)}:${port}`;
}

/**
 * Applies defaults and checks everything: the target parses, the settings are in range, no
 * label is used twice. Throws InvalidArgumentError naming the target.
 */
export function resolveTargets(targets: ReadonlyArray<string | MonitorTarget>, defaults: MonitorDefaults = {}): ResolvedTarget[] {
  const base = checkSettings(defaults, 'defaults');
  if (defaults.port !== undefined) checkCount(defaults.port, 'defaults.port', 1, 65535);
  const seen = new Set<string>();
  return targets.map((entry, i) => {
    const spec: MonitorTarget = typeof entry === 'string' ? { target: entry } : entry;
    const where = `targets[${i}]`;
    if (typeof spec.target !== 'string') throw new InvalidArgumentError(`${where}.target must be a "host:port" text`);
    if (spec.port !== undefined) checkCount(spec.port, `${where}.port`, 1, 65535);
    const port = spec.port ?? (lacksPort(spec.target) ? defaults.port : undefined);
    const probe = parseTarget(withPort(spec.target, port)).text;
    const name = spec.name === undefined ? probe : checkName(spec.name, `${where}.name`);
    if (seen.has(name)) throw new InvalidArgumentError(`${where}: "${name}" is monitored twice (give one of them another name)`);
    seen.add(name);
    return { name, probe, settings: resolveSettings(base, checkSettings(spec, where)) };
  });
}
