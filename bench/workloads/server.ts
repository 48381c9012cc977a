// The benchmark's server application, run inside the server namespace: one process listening on
// a block of ports (the sweeps spread targets over addresses x ports), with a deep accept queue,
// counting what it accepts and dropping it at once. The half-open strategies must leave the
// count at zero; `connect` completes every handshake, so its checks land here.
//
// argv[2]: JSON { port, ports }. stdout, one JSON line each: {"listening":[ports]} once ready,
// {"accepted":N} in reply to the stdin line "count". stdin closing (the parent died) exits.
import net from 'node:net';
import readline from 'node:readline';

interface ServerSpec {
  port: number;
  ports: number;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as ServerSpec;
let accepted = 0;
const servers: net.Server[] = [];

function onConnection(socket: net.Socket): void {
  accepted++;
  socket.on('error', () => {});
  socket.destroy();
}

function listen(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer(onConnection);
    server.once('error', reject);
    // The backlog is capped by net.core.somaxconn, which the orchestrator raises in this
    // namespace; a short accept queue would drop the connect strategy's handshakes.
    server.listen({ host: '0.0.0.0', port, backlog: 65535 }, () => resolve(server));
  });
}

try {
  for (let i = 0; i < spec.ports; i++) servers.push(await listen(spec.port + i));
  process.stdout.write(`${JSON.stringify({ listening: servers.map((s) => (s.address() as net.AddressInfo).port) })}\n`);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ error: String(error) })}\n`);
  process.exit(1);
}

const lines = readline.createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim() === 'count') process.stdout.write(`${JSON.stringify({ accepted })}\n`);
});
lines.on('close', () => {
  for (const server of servers) server.close();
  process.exit(0);
});
