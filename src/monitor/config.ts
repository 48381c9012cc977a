// The monitor's config file, JSON or YAML:
//
//   defaults:            # any setting of settings.ts, plus port
//     inter: 2s
//     rise: 2
//     fall: 3
//   targets:
//     - 198.18.0.2:80                  # a target as on the command line
//     - target: db.example             # or a mapping: target plus per-target overrides
//       port: 5432                     # probe this port (replaces one in `target`)
//       name: primary-db               # label in logs and metrics (default: the target)
//       fall: 5
//
// Everything is checked before the monitor starts; a mistake is a ConfigError whose one-line
// message names the file and the path to the bad value ("monitor.yaml: targets[2].rise must...").
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { ShakerError } from '../core/errors.js';
import { checkCount, checkName, checkSettings, show, type HealthCheckSettings } from './settings.js';

export interface MonitorTargetConfig extends HealthCheckSettings {
  /** What to probe: "host:port", or a host when `port` is set (the CLI also takes blocks and port lists). */
  target: string;
  /** Probe this port instead of the one in `target` (HAProxy's `port`). */
  port?: number;
  /** Label for logs, events and metrics; default: the target text. */
  name?: string;
}

export interface MonitorDefaultsConfig extends HealthCheckSettings {
  port?: number;
}

export interface MonitorConfig {
  defaults: MonitorDefaultsConfig;
  targets: MonitorTargetConfig[];
}

export class ConfigError extends ShakerError {
  declare readonly code: 'ERR_SHAKER_CONFIG';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'ERR_SHAKER_CONFIG', options);
  }
  override get name(): string {
    return 'ConfigError';
  }
}

const SETTING_KEYS = ['inter', 'fastinter', 'downinter', 'rise', 'fall', 'timeout', 'burst', 'retries'] as const;
const ROOT_KEYS = ['defaults', 'targets'];
const DEFAULTS_KEYS = [...SETTING_KEYS, 'port'];
const TARGET_KEYS = ['target', 'name', 'port', ...SETTING_KEYS];

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Levenshtein distance, for "did you mean" on misspelled keys. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

function checkKeys(value: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(value)) {
    if (allowed.includes(key)) continue;
    const near = allowed.find((k) => distance(k, key) <= 2);
    const hint = near ? ` (did you mean "${near}"?)` : ` (known: ${allowed.join(', ')})`;
    throw new Error(`${where ? `${where}.` : ''}${key}: unknown key${hint}`);
  }
}

function settingsOf(value: Record<string, unknown>, where: string): HealthCheckSettings {
  const raw: Record<string, unknown> = {};
  for (const key of SETTING_KEYS) if (value[key] !== undefined && value[key] !== null) raw[key] = value[key];
  return checkSettings(raw as HealthCheckSettings, where);
}

function portOf(value: unknown, where: string): number | undefined {
  return value === undefined || value === null ? undefined : checkCount(value, `${where}.port`, 1, 65535);
}

function targetOf(entry: unknown, where: string): MonitorTargetConfig {
  if (typeof entry === 'string') {
    if (entry.trim() === '') throw new Error(`${where}: empty target`);
    return { target: entry.trim() };
  }
  if (!isMapping(entry)) throw new Error(`${where} must be a target text or a mapping with "target", got ${show(entry)}`);
  checkKeys(entry, TARGET_KEYS, where);
  if (typeof entry.target !== 'string' || entry.target.trim() === '') {
    throw new Error(`${where}.target is required: the host (and port) to check`);
  }
  if (entry.name !== undefined && (typeof entry.name !== 'string' || entry.name.trim() === '')) {
    throw new Error(`${where}.name must be a non-empty text, got ${show(entry.name)}`);
  }
  const out: MonitorTargetConfig = { target: entry.target.trim(), ...settingsOf(entry, where) };
  const port = portOf(entry.port, where);
  if (port !== undefined) out.port = port;
  if (typeof entry.name === 'string') out.name = checkName(entry.name.trim(), `${where}.name`);
  return out;
}

/** Validates an already-parsed document; throws plain Errors with the path to the bad value. */
function configOf(document: unknown): MonitorConfig {
  if (document === null || document === undefined) return { defaults: {}, targets: [] };
  if (!isMapping(document)) throw new Error(`the top level must be a mapping with "defaults" and "targets", got ${show(document)}`);
  checkKeys(document, ROOT_KEYS, '');
  let defaults: MonitorDefaultsConfig = {};
  if (document.defaults !== undefined && document.defaults !== null) {
    if (!isMapping(document.defaults)) throw new Error(`defaults must be a mapping, got ${show(document.defaults)}`);
    checkKeys(document.defaults, DEFAULTS_KEYS, 'defaults');
    defaults = settingsOf(document.defaults, 'defaults');
    const port = portOf(document.defaults.port, 'defaults');
    if (port !== undefined) defaults.port = port;
  }
  const list = document.targets ?? [];
  if (!Array.isArray(list)) throw new Error(`targets must be a list, got ${show(list)}`);
  return { defaults, targets: list.map((entry, i) => targetOf(entry, `targets[${i}]`)) };
}

/**
 * YAML without the library's console output: a warning (an unknown tag such as `!!js/function`,
 * which YAML would print over six lines to stderr and then read as a plain string) is an error
 * here, reported in one line like any other.
 */
function parseYaml(text: string): unknown {
  const doc = YAML.parseDocument(text, { logLevel: 'silent' });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) throw problem;
  return doc.toJS({ maxAliasCount: 100 });
}

/** Parses config text. `source` names the file in messages; a ".json" name is parsed as JSON, anything else as YAML. */
export function parseMonitorConfig(text: string, source: string): MonitorConfig {
  let document: unknown;
  try {
    document = path.extname(source).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    const message = (error as Error).message.split('\n')[0].replace(/:$/, '');
    throw new ConfigError(`${source}: not valid ${path.extname(source).toLowerCase() === '.json' ? 'JSON' : 'YAML'}: ${message}`, { cause: error });
  }
  try {
    return configOf(document);
  } catch (error) {
    throw new ConfigError(`${source}: ${(error as Error).message}`, { cause: error });
  }
}

export async function loadMonitorConfig(file: string): Promise<MonitorConfig> {
  let text: string;
  try {
    text = await fs.promises.readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read config file "${file}": ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
      cause: error,
    });
  }
  return parseMonitorConfig(text, file);
}
