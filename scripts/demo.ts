// `npm run demo`: tcp-checker against a built-in testbed. Two network namespaces joined by a
// veth pair; the server side runs an application that logs every connection it accepts; the
// client side runs the real `tcp-checker` binary against an open, a closed, a filtered and an
// unreachable target over IPv4 and IPv6. Then it shows the server's accept count (0) and the
// three packets of one check as the server's side of the wire saw them, and tears it all down.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERROR_ROUTES, Testbed } from '../src/testbed/index.js';
import { describePacket } from '../src/wire/index.js';
import { ipPacket } from '../src/capture/link-layer.js';

const OPEN = 80;
const CLOSED = 81;
const FILTERED = 82;

const here = path.dirname(fileURLToPath(import.meta.url));
// dist/scripts/demo.js -> dist/src/cli/tcp-checker.js; scripts/demo.ts (tsx) -> src/cli/tcp-checker.ts
const cli = path.join(here, '..', 'src', 'cli', here.includes(`${path.sep}dist${path.sep}`) ? 'tcp-checker.js' : 'tcp-checker.ts');

function heading(text: string): void {
  process.stdout.write(`\n\x1b[1m== ${text}\x1b[0m\n`);
}

if (process.getuid?.() !== 0) {
  process.stderr.write('demo: needs root (it creates network namespaces and uses raw sockets); run `sudo npm run demo`\n');
  process.exit(1);
}

const tb = await Testbed.create({ filter: [FILTERED] });
try {
  heading('Testbed');
  process.stdout.write(
    `client namespace ${tb.client.name}: ${tb.client.ipv4}, ${tb.client.ipv6}\n` +
      `server namespace ${tb.server.name}: ${tb.server.ipv4}, ${tb.server.ipv6}\n` +
      `server application listening on port ${OPEN}; port ${CLOSED} closed; port ${FILTERED} filtered (SYNs dropped);\n` +
      `${ERROR_ROUTES.hostUnreachable.ipv4} and ${ERROR_ROUTES.hostUnreachable.ipv6} routed to an ICMP "unreachable" route\n`,
  );
  const server = await tb.startServer({ port: OPEN });
  const capture = await tb.capture({ filter: `tcp port ${OPEN} and host ${tb.server.ipv4}` });

  const targets = [
    `${tb.server.ipv4}:${OPEN}`,
    `[${tb.server.ipv6}]:${OPEN}`,
    `${tb.server.ipv4}:${CLOSED}`,
    `[${tb.server.ipv6}]:${CLOSED}`,
    `${tb.server.ipv4}:${FILTERED}`,
    `[${tb.server.ipv6}]:${FILTERED}`,
    `${ERROR_ROUTES.hostUnreachable.ipv4}:${OPEN}`,
    `[${ERROR_ROUTES.hostUnreachable.ipv6}]:${OPEN}`,
  ];
  heading(`tcp-checker -v -t 1500 -c 8 ${targets.join(' ')}`);
  const run = await tb.execNode(cli, ['-v', '-t', '1500', '-c', '8', ...targets], { timeoutMs: 60_000 });
  process.stdout.write(run.stdout);
  if (run.stderr.trim()) process.stdout.write(run.stderr);
  process.stdout.write(`(exit status ${run.code}: 1 because not every target is open)\n`);

  const recorded = await capture.stop();
  heading('What the server application saw');
  const accepts = await server.acceptCount();
  process.stdout.write(`accepted connections: ${accepts}${accepts === 0 ? ' (the checks never reached it)' : ''}\n`);

  heading(`One open check on the wire (tcpdump on the server's veth, ${recorded.records.length} packets)`);
  for (const record of recorded.records.slice(0, 3)) {
    const ip = ipPacket(record.data, recorded.file.linkType);
    process.stdout.write(`  ${ip ? describePacket(ip) : 'unreadable frame'}\n`);
  }
  process.stdout.write('SYN, SYN-ACK, RST: the handshake never completes, so the kernel never hands a connection to the application.\n');
} finally {
  await tb.destroy();
  heading('Torn down');
  process.stdout.write('namespaces, server, capture and the engine\'s nftables table are gone.\n');
}
