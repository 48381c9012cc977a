// Listens on the given ports (dual-stack, so IPv4 and IPv6) and prints one line per connection
// the application accepts: "accept <remote address>". The test counts those lines to tell a
// half-open probe (the application never sees it) from a full connect (it does).
// Usage: node --import tsx/esm test/strategies/server.ts <port>...
import net from 'node:net';

for (const port of process.argv.slice(2).map(Number)) {
  const server = net.createServer((socket) => {
    process.stdout.write(`accept ${socket.remoteAddress}\n`);
    // The connect strategy resets at once; the reset is expected, not a server failure.
    socket.on('error', () => {});
    socket.destroy();
  });
  server.listen({ port, host: '::', ipv6Only: false }, () => process.stdout.write(`listening ${port}\n`));
}
process.on('SIGTERM', () => process.exit(0));
