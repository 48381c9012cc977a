// Child program for test/testbed.test.ts: prints the interfaces and addresses this process sees,
// proving `execNode` ran it (with the tsx loader) inside the namespace.
import os from 'node:os';

const interfaces = Object.fromEntries(
  Object.entries(os.networkInterfaces()).map(([name, addresses]) => [name, (addresses ?? []).map((a) => a.address)]),
);
process.stdout.write(`${JSON.stringify({ argv: process.argv.slice(2), interfaces })}\n`);
process.exitCode = 3;
