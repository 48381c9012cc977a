// Per-target health-check settings, their defaults and their validation. The names and meaning
// are HAProxy's server options (inter, fastinter, downinter, rise, fall), so a HAProxy user
// reads a config without a manual; durations are milliseconds, or text with a unit.
import { InvalidArgumentError } from '../core/errors.js';

export interface HealthCheckSettings {
  /** Between two rounds while the state is settled UP (default 2000 ms). */
  inter?: number;
  /** While a change is in progress: UP with failures, DOWN with successes, or UNKNOWN (default: inter). */
  fastinter?: number;
  /** While settled DOWN (default: inter). */
  downinter?: number;
  /** Consecutive successful rounds to become UP (default 2). */
  rise?: number;
  /** Consecutive failed rounds to become DOWN (default 3). */
  fall?: number;
  /** Per probe, DNS included (default: the checker's). */
  timeout?: number;
  /** Probes per round; the round succeeds when at least one is open (default 1). */
  burst?: number;
  /** SYN retransmissions inside the timeout (default: the checker's). */
  retries?: number;
}

export type ResolvedSettings = Required<Omit<HealthCheckSettings, 'timeout' | 'retries'>> &
  Pick<HealthCheckSettings, 'timeout' | 'retries'>;

export const SETTING_DEFAULTS = { inter: 2000, rise: 2, fall: 3, burst: 1 } as const;

const MAX_DURATION_MS = 24 * 3600 * 1000;
const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A duration in milliseconds from a number (already ms) or text: "500", "500ms", "2s", "1.5s",
 * "1m", "250us" (HAProxy's units, d excepted). From 1 ms to 24 h.
 */
export function parseDuration(value: unknown, name: string): number {
  let ms: number;
  if (typeof value === 'number') ms = value;
  else if (typeof value === 'string') {
    const m = /^(\d+(?:\.\d+)?)(us|ms|s|m|h)?$/.exec(value.trim());
    ms = m ? Number(m[1]) * UNIT_MS[m[2] ?? 'ms'] : Number.NaN;
  } else ms = Number.NaN;
  if (!Number.isFinite(ms) || ms < 1 || ms > MAX_DURATION_MS) {
    throw new InvalidArgumentError(
      `${name} must be a duration from 1ms to 24h (a number of milliseconds, or e.g. "500ms", "2s"), got ${show(value)}`,
    );
  }
  return ms;
}

/**
 * A target's name goes into log lines, events and metric labels as it is: a control character
 * (a newline above all) or a Unicode line separator would let it forge log lines, so a name has
 * none. Returns the name.
 */
export function checkName(value: string, name: string): string {
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(value)) {
    throw new InvalidArgumentError(`${name} must be one line of printable text, got ${show(value)}`);
  }
  return value;
}

export function checkCount(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}, got ${show(value)}`);
  }
  return value;
}

/** Validates one settings object; `where` prefixes messages ("targets[2]"). Returns a clean copy. */
export function checkSettings(settings: HealthCheckSettings, where: string): HealthCheckSettings {
  const out: HealthCheckSettings = {};
  const at = (key: string): string => (where ? `${where}.${key}` : key);
  if (settings.inter !== undefined) out.inter = parseDuration(settings.inter, at('inter'));
  if (settings.fastinter !== undefined) out.fastinter = parseDuration(settings.fastinter, at('fastinter'));
  if (settings.downinter !== undefined) out.downinter = parseDuration(settings.downinter, at('downinter'));
  if (settings.timeout !== undefined) out.timeout = parseDuration(settings.timeout, at('timeout'));
  if (settings.rise !== undefined) out.rise = checkCount(settings.rise, at('rise'), 1, 1000);
  if (settings.fall !== undefined) out.fall = checkCount(settings.fall, at('fall'), 1, 1000);
  if (settings.burst !== undefined) out.burst = checkCount(settings.burst, at('burst'), 1, 1000);
  if (settings.retries !== undefined) out.retries = checkCount(settings.retries, at('retries'), 0, 255);
  return out;
}

/** Target over defaults over SETTING_DEFAULTS; fastinter and downinter default to inter, as in HAProxy. */
export function resolveSettings(...layers: HealthCheckSettings[]): ResolvedSettings {
  const merged: HealthCheckSettings = {};
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer)) {
      if (value !== undefined) (merged as Record<string, unknown>)[key] = value;
    }
  }
  const inter = merged.inter ?? SETTING_DEFAULTS.inter;
  return {
    inter,
    fastinter: merged.fastinter ?? inter,
    downinter: merged.downinter ?? inter,
    rise: merged.rise ?? SETTING_DEFAULTS.rise,
    fall: merged.fall ?? SETTING_DEFAULTS.fall,
    burst: merged.burst ?? SETTING_DEFAULTS.burst,
    timeout: merged.timeout,
    retries: merged.retries,
  };
}

export function show(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return typeof value;
  }
}
