// The source ports one raw engine owns (issue #13 §3). Every engine on a host draws from the same
// range (61000-65535 by default); two engines that pick the same port toward the same
// destination put two SYNs with different ISNs on one 4-tuple, and one of them is never
// answered. So each engine claims its ports from the kernel: one TCP socket bound to the port
// and never listened on (native/addon.cc bindTcpPort). The kernel refuses a second bind to a
// port, whoever asks (another process, another engine in this process, a service starting up),
// refuses ours where a socket already holds the port (a listener in the range is skipped, never
// cut off), and releases the claim when the fd closes, also after kill -9.
//
// Ports are claimed a block at a time, on demand: an engine checking a few targets holds one
// block's worth of fds, one pushing tens of thousands of checks to a single ip:port grows to
// as much of the range as is free. Claims are kept until release(): a released port may still
// have a half-open handshake on some server, and the next owner would meet it.
import { errnoName, native } from '../native/addon.js';
import { SystemError } from '../core/errors.js';
import type { PortRange } from '../core/port-range.js';

/** How a claim reaches the kernel; a fake in unprivileged tests. */
export interface PortBinder {
  /** An fd that holds `port`, or -errno (-EADDRINUSE when something else holds it). */
  bind(port: number): number;
  close(fd: number): void;
}

export function kernelPortBinder(): PortBinder {
  const addon = native();
  return { bind: (port) => addon.bindTcpPort(port), close: (fd) => void addon.close(fd) };
}

/** 64 ports: the smallest range the engine accepts, and 64 fds per step of growth. */
export const CLAIM_BLOCK_PORTS = 64;

const EADDRINUSE = -98;

export class PortClaims {
  /** Claimed ports, in the order they were claimed (the engine's port cursor walks this list). */
  readonly ports: number[] = [];
  /** Ports of the range some other socket held when we asked: another engine's, or a listener's. */
  heldElsewhere = 0;
  private readonly fds: number[] = [];
  private readonly owned = new Uint8Array(65536);
  private readonly blockCount: number;
  /** Index of the next block to try; blocks are tried once each, starting at a random one. */
  private nextBlock: number;
  private blocksTried = 0;
  /** Set when the kernel refused a claim for a reason other than the port being in use (EMFILE...). */
  private failure: SystemError | undefined;
  private released = false;

  constructor(
    readonly range: PortRange,
    private readonly binder: PortBinder,
    private readonly blockPorts = CLAIM_BLOCK_PORTS,
    random: () => number = Math.random,
  ) {
    this.blockCount = Math.ceil((range[1] - range[0] + 1) / blockPorts);
    // Engines starting together begin in different places, so they rarely race for one block
    // (a race costs nothing but EADDRINUSE: the kernel decides every port).
    this.nextBlock = Math.floor(random() * this.blockCount);
  }

  get size(): number {
    return this.ports.length;
  }

  /** True while this engine holds `port`. */
  owns(port: number): boolean {
    return this.owned[port] === 1;
  }

  /** False once every block was tried (or the kernel refused fds): grow() adds nothing more. */
  get canGrow(): boolean {
    return !this.released && this.failure === undefined && this.blocksTried < this.blockCount;
  }

  /**
   * Claims the free ports of the next block that has any. Returns the ports it added (in
   * order; empty when the range is exhausted or the kernel refused, see `failure`).
   */
  grow(): number[] {
    while (this.canGrow) {
      const block = this.nextBlock;
      this.nextBlock = (this.nextBlock + 1) % this.blockCount;
      this.blocksTried++;
      const low = this.range[0] + block * this.blockPorts;
      const high = Math.min(this.range[1], low + this.blockPorts - 1);
      const added: number[] = [];
      for (let port = low; port <= high; port++) {
        const fd = this.binder.bind(port);
        if (fd >= 0) {
          this.fds.push(fd);
          this.ports.push(port);
          this.owned[port] = 1;
          added.push(port);
        } else if (fd === EADDRINUSE) {
          this.heldElsewhere++;
        } else {
          // EMFILE, ENOBUFS...: the ports claimed so far still serve; stop asking for more.
          this.failure = new SystemError(`cannot claim source port ${port}: ${errnoName(fd)}`, errnoName(fd), fd, 'bind');
          break;
        }
      }
      if (added.length > 0) return added;
    }
    return [];
  }

  /** Why the range could not grow, if the kernel refused something other than a port in use. */
  get error(): SystemError | undefined {
    return this.failure;
  }

  /** Closes every claim; the kernel frees the ports at once. Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    for (const fd of this.fds) this.binder.close(fd);
    for (const port of this.ports) this.owned[port] = 0;
    this.fds.length = 0;
  }
}

const TCP_LISTEN = '0A';

/**
 * Ports inside `range` with a TCP listener, from /proc/net/tcp and /proc/net/tcp6 text (local
 * address `ADDR:PORT` in hex, state 0A). Such ports are never claimed, and stay reachable while
 * an engine runs; `doctor` lists them. Sorted, each once.
 */
export function listenersInRange(procNetTcp: readonly string[], range: PortRange): number[] {
  const ports = new Set<number>();
  for (const text of procNetTcp) {
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 4 || fields[3] !== TCP_LISTEN) continue;
      const port = Number.parseInt(fields[1].slice(fields[1].lastIndexOf(':') + 1), 16);
      if (port >= range[0] && port <= range[1]) ports.add(port);
    }
  }
  return [...ports].sort((a, b) => a - b);
}
