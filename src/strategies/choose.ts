// Picking a strategy. 'auto' tries the best one this host allows and says why it settled where
// it did: raw (true half-open, needs CAP_NET_RAW, CAP_NET_ADMIN for nftables, and libpcap),
// else socket (kernel half-open through SO_LINGER 0, needs nothing), else connect (a full
// handshake the server application sees; works anywhere Node does).
//
// Falling back to connect is never silent: the choice then carries a `warning` (the CLI prints
// it on stderr, doctor marks it a failure), and when the cause is the native addon (not built,
// no prebuilt binary for this platform, a missing libpcap0.8, TCP_SHAKER_NO_ADDON=1) the reason
// says so in one line with the fix a consumer of the package can apply.
import type { Strategy, StrategyName } from '../core/types.js';
import { ShakerError } from '../core/errors.js';
import { addonStatus } from '../native/addon.js';
import { RawStrategy, type RawStrategyOptions } from '../engine/raw-strategy.js';
import { SocketStrategy } from './socket.js';
import { ConnectStrategy } from './connect.js';

export type StrategyRequest = StrategyName | 'auto';

export interface StrategyChoice {
  name: StrategyName;
  requested: StrategyRequest;
  /** One line a human can read: why this strategy, and why not the better ones. */
  reason: string;
  /**
   * Set when `auto` settled on `connect`: checks are full handshakes the server application
   * sees. One line, for stderr; the same text as `reason`.
   */
  warning?: string;
}

const FULL_HANDSHAKES = 'auto fell back to connect: every check is a full handshake the server application sees';

function describe(error: unknown): string {
  if (error instanceof ShakerError || error instanceof Error) return error.message;
  return String(error);
}

async function startRaw(options: RawStrategyOptions | undefined): Promise<Strategy> {
  const raw = new RawStrategy(options);
  await raw.start();
  return raw;
}

async function startSocket(): Promise<Strategy> {
  const s = new SocketStrategy();
  await s.start();
  return s;
}

async function startConnect(): Promise<Strategy> {
  const s = new ConnectStrategy();
  await s.start();
  return s;
}

export async function chooseStrategy(
  requested: StrategyRequest,
  options: { raw?: RawStrategyOptions },
): Promise<{ strategy: Strategy; choice: StrategyChoice }> {
  const addon = addonStatus();
  switch (requested) {
    case 'raw':
      // Both need the addon: say so first, whatever else might also be missing.
      if (!addon.available) throw addon.error;
      return { strategy: await startRaw(options.raw), choice: { name: 'raw', requested, reason: 'requested' } };
    case 'socket':
      if (!addon.available) throw addon.error;
      return { strategy: await startSocket(), choice: { name: 'socket', requested, reason: 'requested' } };
    case 'connect':
      return { strategy: await startConnect(), choice: { name: 'connect', requested, reason: 'requested' } };
    case 'auto':
      break;
  }
  if (!addon.available) {
    const reason = `${FULL_HANDSHAKES} (native addon unavailable: ${addon.error.reason}; fix: ${addon.error.fix})`;
    return { strategy: await startConnect(), choice: { name: 'connect', requested, reason, warning: reason } };
  }
  let rawWhyNot: string;
  try {
    const strategy = await startRaw(options.raw);
    const warnings = (strategy as RawStrategy).warnings;
    const reason = `raw sockets, libpcap and nftables are usable${warnings.length ? ` (${warnings.join('; ')})` : ''}`;
    return { strategy, choice: { name: 'raw', requested, reason } };
  } catch (error) {
    rawWhyNot = describe(error);
  }
  try {
    const strategy = await startSocket();
    return { strategy, choice: { name: 'socket', requested, reason: `raw unavailable (${rawWhyNot})` } };
  } catch (error) {
    const strategy = await startConnect();
    const reason = `${FULL_HANDSHAKES} (raw unavailable: ${rawWhyNot}; socket unavailable: ${describe(error)})`;
    return { strategy, choice: { name: 'connect', requested, reason, warning: reason } };
  }
}
