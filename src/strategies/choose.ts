// Picking a strategy. 'auto' tries the best one this host allows and says why it settled where
// it did: raw (true half-open, needs CAP_NET_RAW, CAP_NET_ADMIN for nftables, and libpcap),
// else socket (kernel half-open through SO_LINGER 0, needs nothing), else connect (a full
// handshake the server application sees; works anywhere Node does).
import type { Strategy, StrategyName } from '../core/types.js';
import { ShakerError } from '../core/errors.js';
import { RawStrategy, type RawStrategyOptions } from '../engine/raw-strategy.js';
import { SocketStrategy } from './socket.js';
import { ConnectStrategy } from './connect.js';

export type StrategyRequest = StrategyName | 'auto';

export interface StrategyChoice {
  name: StrategyName;
  requested: StrategyRequest;
  /** One line a human can read: why this strategy, and why not the better ones. */
  reason: string;
}

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
  switch (requested) {
    case 'raw':
      return { strategy: await startRaw(options.raw), choice: { name: 'raw', requested, reason: 'requested' } };
    case 'socket':
      return { strategy: await startSocket(), choice: { name: 'socket', requested, reason: 'requested' } };
    case 'connect':
      return { strategy: await startConnect(), choice: { name: 'connect', requested, reason: 'requested' } };
    case 'auto':
      break;
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
    return {
      strategy,
      choice: {
        name: 'connect',
        requested,
        reason: `raw unavailable (${rawWhyNot}); socket unavailable (${describe(error)}): full handshakes, the server application sees them`,
      },
    };
  }
}
