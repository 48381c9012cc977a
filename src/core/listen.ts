// Starting an HTTP server, shared by the monitor's /metrics and `serve`'s /probe: one place that
// turns "listening or EADDRINUSE" into a promise and names the address it really got (port 0
// picks one; IPv6 in brackets).
import type http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Listening {
  /** "http://127.0.0.1:9116", "http://[::1]:9116": no path. */
  origin: string;
  port: number;
}

/** Listens; resolves once listening, rejects with the listen error (EADDRINUSE...). */
export function listenHttp(server: http.Server, listen: { host?: string; port: number }): Promise<Listening> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      resolve({ origin: `http://${host}:${address.port}`, port: address.port });
    });
  });
}
