// A stand-in for the kernel's port table (engine/port-claims.ts PortBinder): binding a port
// someone holds answers -EADDRINUSE, as bind(2) does. Engines given binders of one FakePortTable
// share a "host"; `hold` plays a listener.
import type { PortBinder } from '../../src/engine/port-claims.js';

const EADDRINUSE = -98;

export class FakePortTable {
  /** port -> fd of whoever holds it */
  readonly held = new Map<number, number>();
  private nextFd = 1000;
  /** Fails every bind from the n-th one on with this errno (e.g. -24, EMFILE). */
  failAfter: { binds: number; errno: number } | undefined;
  binds = 0;

  binder(): PortBinder {
    return {
      bind: (port) => {
        this.binds++;
        if (this.failAfter && this.binds > this.failAfter.binds) return this.failAfter.errno;
        if (this.held.has(port)) return EADDRINUSE;
        const fd = this.nextFd++;
        this.held.set(port, fd);
        return fd;
      },
      close: (fd) => {
        for (const [port, holder] of this.held) if (holder === fd) this.held.delete(port);
      },
    };
  }

  /** A socket outside any engine (a listener) holds `port`. */
  hold(port: number): void {
    this.held.set(port, this.nextFd++);
  }
}
