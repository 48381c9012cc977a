// Child program for test/testbed.test.ts: creates a testbed (plus a server and a capture, so
// there are children to clean up too), prints its namespace names as one JSON line, then does
// what argv[2] says: "hold" (wait to be signalled), "throw" (an uncaught exception).
import { Testbed } from '../../src/testbed/index.js';

const tb = await Testbed.create();
const server = await tb.startServer({ port: 80 });
await tb.capture({ filter: 'tcp' });
process.stdout.write(`${JSON.stringify({ id: tb.id, client: tb.client.name, server: tb.server.name, serverPid: server.pid })}\n`);
if (process.argv[2] === 'throw') {
  setTimeout(() => {
    throw new Error('deliberate uncaught exception from testbed-holder');
  }, 10);
} else {
  setInterval(() => {}, 1000);
}
