// What a /probe request asks for, checked before anything is sent: a single HOST:PORT target, a
// known module, a sane scrape-timeout header. Every mistake is a ProbeRequestError, answered
// with HTTP 400 and its one-line message (blackbox answers a missing target the same way).
import { ShakerError } from '../core/errors.js';
import { parseTarget } from '../core/target.js';
import { DEFAULT_MODULE, type ProbeModule, type ProbeModules } from './modules.js';

export class ProbeRequestError extends ShakerError {
  declare readonly code: 'ERR_SHAKER_INVALID_PROBE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'ERR_SHAKER_INVALID_PROBE', options);
  }
  override get name(): string {
    return 'ProbeRequestError';
  }
}

export interface ProbeRequest {
  target: string;
  moduleName: string;
  module: ProbeModule;
}

/** From the query string of GET /probe?target=HOST:PORT[&module=NAME]. */
export function parseProbeRequest(query: URLSearchParams, modules: ProbeModules): ProbeRequest {
  const targets = query.getAll('target');
  if (targets.length === 0 || targets[0] === '') throw new ProbeRequestError('target parameter is missing (GET /probe?target=HOST:PORT)');
  if (targets.length > 1) throw new ProbeRequestError('give one target parameter per probe');
  const target = targets[0].trim();
  try {
    parseTarget(target);
  } catch (error) {
    throw new ProbeRequestError((error as Error).message, { cause: error });
  }
  const moduleName = query.get('module') ?? DEFAULT_MODULE;
  const module = modules.get(moduleName);
  if (!module) {
    const known = [...modules.keys()].join(', ');
    throw new ProbeRequestError(`unknown module "${moduleName.slice(0, 100)}" (known: ${known})`);
  }
  return { target, moduleName, module };
}
