// `tcp-checker serve --config FILE`: named settings blocks that a scrape picks with `module=`,
// as blackbox_exporter's modules. JSON or YAML:
//
//   modules:
//     default:            # used when the scrape names no module
//       timeout: 2s       # capped by the scrape's own timeout (see probe-timeout.ts)
//     tcp_half_open:
//       retries: 1        # SYN retransmissions inside the timeout
//       family: prefer4   # 4 | 6 | both | prefer4 | prefer6, for host names
//       burst: 3          # probes per scrape; success when one is open
//
// Mistakes are ConfigErrors naming the file and the path to the bad value, before anything runs.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { FamilyPreference } from '../checker.js';
import { ConfigError } from '../monitor/config.js';
import { checkCount, parseDuration, show } from '../monitor/settings.js';

export interface ProbeModule {
  /** Per probe, ms; undefined: the scrape timeout decides (as blackbox's unset module timeout). */
  timeout?: number;
  retries?: number;
  family?: FamilyPreference;
  /** Probes per scrape (default 1); the scrape succeeds when at least one is open. */
  burst: number;
}

export type ProbeModules = ReadonlyMap<string, ProbeModule>;

export const DEFAULT_MODULE = 'default';
const MODULE_KEYS = ['timeout', 'retries', 'family', 'burst'];
const FAMILIES: Record<string, FamilyPreference> = { '4': 4, '6': 6, both: 'both', prefer4: 'prefer4', prefer6: 'prefer6' };

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function moduleOf(value: unknown, where: string): ProbeModule {
  if (value === null || value === undefined) return { burst: 1 };
  if (!isMapping(value)) throw new Error(`${where} must be a mapping of settings, got ${show(value)}`);
  for (const key of Object.keys(value)) {
    if (!MODULE_KEYS.includes(key)) throw new Error(`${where}.${key}: unknown key (known: ${MODULE_KEYS.join(', ')})`);
  }
  const module: ProbeModule = { burst: value.burst === undefined ? 1 : checkCount(value.burst, `${where}.burst`, 1, 100) };
  if (value.timeout !== undefined) module.timeout = parseDuration(value.timeout, `${where}.timeout`);
  if (value.retries !== undefined) module.retries = checkCount(value.retries, `${where}.retries`, 0, 255);
  if (value.family !== undefined) {
    const family = FAMILIES[String(value.family)];
    if (family === undefined) throw new Error(`${where}.family must be 4, 6, both, prefer4 or prefer6, got ${show(value.family)}`);
    module.family = family;
  }
  return module;
}

/** The modules of a parsed document, plus `default` (empty settings) unless it defines one. */
function modulesOf(document: unknown): Map<string, ProbeModule> {
  const modules = new Map<string, ProbeModule>([[DEFAULT_MODULE, { burst: 1 }]]);
  if (document === null || document === undefined) return modules;
  if (!isMapping(document)) throw new Error(`the top level must be a mapping with "modules", got ${show(document)}`);
  for (const key of Object.keys(document)) if (key !== 'modules') throw new Error(`${key}: unknown key (known: modules)`);
  const list = document.modules ?? {};
  if (!isMapping(list)) throw new Error(`modules must be a mapping from name to settings, got ${show(list)}`);
  for (const [name, value] of Object.entries(list)) {
    if (!/^[\w.-]+$/.test(name)) throw new Error(`modules: "${name}" is not a module name (letters, digits, _ . -)`);
    modules.set(name, moduleOf(value, `modules.${name}`));
  }
  return modules;
}

/** Parses config text; a ".json" `source` is JSON, anything else YAML. */
export function parseServeConfig(text: string, source: string): Map<string, ProbeModule> {
  const json = path.extname(source).toLowerCase() === '.json';
  let document: unknown;
  try {
    document = json ? JSON.parse(text) : YAML.parse(text);
  } catch (error) {
    const message = (error as Error).message.split('\n')[0].replace(/:$/, '');
    throw new ConfigError(`${source}: not valid ${json ? 'JSON' : 'YAML'}: ${message}`, { cause: error });
  }
  try {
    return modulesOf(document);
  } catch (error) {
    throw new ConfigError(`${source}: ${(error as Error).message}`, { cause: error });
  }
}

export async function loadServeConfig(file: string | undefined): Promise<Map<string, ProbeModule>> {
  if (file === undefined) return modulesOf(undefined);
  let text: string;
  try {
    text = await fs.promises.readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read config file "${file}": ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
  }
  return parseServeConfig(text, file);
}
