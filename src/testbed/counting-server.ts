// The server application of the testbed: a TCP listener that counts accepted connections.
// It runs as its own process inside the server namespace (`ip netns exec NS node this-file`),
// started by `Testbed.startServer`; a half-open check must leave its count at zero.
//
// Protocol: argv[2] is JSON `{ port, hosts }`. Every event is one JSON line on stdout:
//   {"event":"listening","port":80,"addresses":[...]}  once, after every host listens
//   {"event":"accept","count":1,"remoteAddress":...,"remotePort":...,"localAddress":...,"localPort":...}
//   {"event":"count","count":N}                          reply to the stdin line "count"
//   {"event":"error","message":...,"code":...}           then exit status 1
// The stdin line "stop", or stdin closing (the parent died), closes the listeners and exits.
import net from 'node:net';
import readline from 'node:readline';

export interface CountingServerConfig {
  port: number;
  /** Addresses to listen on; "::" listens IPv6-only so "0.0.0.0" can take IPv4. */
  hosts: string[];
}

export type CountingServerEvent =
  | { event: 'listening'; port: number; addresses: string[] }
  | {
      event: 'accept';
      count: number;
      remoteAddress: string;
      remotePort: number;
      localAddress: string;
      localPort: number;
    }
  | { event: 'count'; count: number }
  | { event: 'error'; message: string; code?: string };

function emit(event: CountingServerEvent): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

function listen(host: string, port: number, onConnection: (socket: net.Socket) => void): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer(onConnection);
    server.once('error', reject);
    server.listen({ host, port, ipv6Only: host.includes(':') }, () => resolve(server));
  });
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as CountingServerConfig;
  let count = 0;
  const servers: net.Server[] = [];
  const sockets = new Set<net.Socket>();

  const onConnection = (socket: net.Socket): void => {
    count++;
    sockets.add(socket);
    emit({
      event: 'accept',
      count,
      remoteAddress: socket.remoteAddress ?? '',
      remotePort: socket.remotePort ?? 0,
      localAddress: socket.localAddress ?? '',
      localPort: socket.localPort ?? 0,
    });
    // Clients of the tests reset or close at once; none of that is the server's problem.
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    socket.on('end', () => socket.end());
    socket.resume();
  };

  const stop = (): void => {
    for (const socket of sockets) socket.destroy();
    for (const server of servers) server.close();
    process.exit(0);
  };

  try {
    // Port 0 on the first host picks a port; the others then share it.
    let port = config.port;
    for (const host of config.hosts) {
      const server = await listen(host, port, onConnection);
      servers.push(server);
      port = (server.address() as net.AddressInfo).port;
    }
    emit({ event: 'listening', port, addresses: servers.map((s) => (s.address() as net.AddressInfo).address) });
  } catch (error) {
    const err = error as NodeJS.ErrnoException;
    emit({ event: 'error', message: err.message, code: err.code });
    process.exit(1);
  }

  const lines = readline.createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const command = line.trim();
    if (command === 'count') emit({ event: 'count', count });
    else if (command === 'stop') stop();
  });
  lines.on('close', stop);
}

void main();
