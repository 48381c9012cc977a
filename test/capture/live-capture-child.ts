// Programs for live-capture.test.ts that must run in a process (or namespace) of their own:
// how a capture behaves when its process or worker ends, and what a capture inside a testbed
// namespace sees. `node --import tsx/esm live-capture-child.ts MODE [ARGS]`; each mode prints
// JSON lines on stdout and sends packets to 127.0.0.1 only.
import dgram from 'node:dgram';
import readline from 'node:readline';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { openLiveCapture } from '../../src/capture/pcap.js';
import { describeFrame } from '../../src/testbed/index.js';
import { ownPacketSockets } from './packet-sockets.js';

const say = (line: object): void => {
  process.stdout.write(`${JSON.stringify(line)}\n`);
};

/** A loopback UDP stream a capture can watch: `send(n)` sends n datagrams to `port`. */
async function loopbackStream(): Promise<{ port: number; send(n: number): Promise<void>; close(): void }> {
  const rx = dgram.createSocket('udp4');
  rx.on('message', () => {});
  await new Promise<void>((resolve) => rx.bind(0, '127.0.0.1', resolve));
  const tx = dgram.createSocket('udp4');
  const port = rx.address().port;
  return {
    port,
    send: (n) =>
      Promise.all(
        Array.from({ length: n }, () => new Promise<void>((resolve) => tx.send(Buffer.alloc(8), port, '127.0.0.1', () => resolve()))),
      ).then(() => undefined),
    close() {
      rx.close();
      tx.close();
    },
  };
}

/** The worker's messages in order; rejects on a worker error or an early exit. */
async function* readWorker(worker: Worker): AsyncGenerator<unknown, never> {
  const queue: unknown[] = [];
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  worker.on('message', (m) => (queue.push(m), wake?.()));
  worker.on('error', (e) => ((failure = e), wake?.()));
  worker.on('exit', (code) => ((failure ??= new Error(`the worker exited with ${code}`)), wake?.()));
  for (;;) {
    while (queue.length === 0 && !failure) await new Promise<void>((resolve) => (wake = resolve));
    if (queue.length > 0) yield queue.shift();
    else throw failure!;
  }
}

const modes: Record<string, (args: string[]) => Promise<void>> = {
  /** Opens, sees traffic, closes twice, releases its sockets: the process must then end by itself. */
  async 'close-then-exit'() {
    const stream = await loopbackStream();
    let frames = 0;
    const capture = openLiveCapture({ iface: 'lo', filter: `udp and dst port ${stream.port}` }, () => frames++);
    await stream.send(50);
    while (frames < 50) await new Promise((resolve) => setTimeout(resolve, 5));
    capture.close();
    capture.close();
    stream.close();
    say({ closed: true, frames, stats: capture.stats() });
  },

  /** process.exit() with a capture open and packets flowing: the exit must be clean. */
  async 'exit-while-open'() {
    const stream = await loopbackStream();
    openLiveCapture({ iface: 'lo', filter: `udp and dst port ${stream.port}` }, () => {});
    await stream.send(100);
    void stream.send(1000);
    say({ exiting: true });
    process.exit(0);
  },

  /**
   * A worker holding open captures is terminated while packets flow: the main thread must live on.
   * The UDP traffic comes from this (main) thread and is received here too: a dgram socket that
   * receives inside a worker being terminated can abort Node itself (UDPWrap::OnRecv, "FromJust
   * Maybe value is Nothing"), a Node bug that has nothing to do with the capture.
   */
  async 'worker-terminate'() {
    const stream = await loopbackStream();
    // Workers do not inherit the tsx loader: the worker registers it, then loads this file.
    const body = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => tsx.tsImport(${JSON.stringify(import.meta.url)}, ${JSON.stringify(import.meta.url)}))`;
    const worker = new Worker(body, { eval: true, workerData: ['worker-body', String(stream.port)] });
    const messages = readWorker(worker);
    await messages.next(); // its captures are open
    await stream.send(100);
    const counted = await messages.next();
    // Terminate with packets still arriving at the open capture.
    const flowing = stream.send(1000);
    const code = await worker.terminate();
    await flowing;
    stream.close();
    say({ worker: counted.value, terminated: code, packetSocketsLeft: ownPacketSockets() });
  },

  /** Inside the worker of 'worker-terminate': two captures of the main thread's traffic to PORT,
   *  one closed, one left open (and its socket held) when the worker is terminated. No sockets. */
  async 'worker-body'([port]) {
    let frames = 0;
    const filter = `udp and dst port ${port}`;
    openLiveCapture({ iface: 'lo', filter }, () => frames++).close();
    openLiveCapture({ iface: 'lo', filter }, () => frames++);
    parentPort?.postMessage({ open: true });
    while (frames < 100) await new Promise((resolve) => setTimeout(resolve, 5));
    parentPort?.postMessage({ frames });
    await new Promise(() => {}); // run until terminated
  },

  /** Failed opens and closed captures, then garbage collection (npm `cap`, the capture used before the addon had its own, crashed here). */
  async 'collect'() {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) throw new Error('run with --expose-gc');
    let failed = 0;
    for (let i = 0; i < 20; i++) {
      for (const options of [{ iface: 'lo', filter: 'tcp and and' }, { iface: 'tshk-none0', filter: 'tcp' }]) {
        try {
          openLiveCapture(options, () => {});
        } catch {
          failed++;
        }
      }
      openLiveCapture({ iface: 'lo', filter: 'tcp port 9' }, () => {}).close();
    }
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
    say({ failed });
  },

  /**
   * Captures on IFACE with FILTER, says {ready} once open, and on stdin's end prints every
   * frame it saw (one line each, tcpdump-like) and closes.
   */
  async 'watch'([iface, filter]) {
    const seen: string[] = [];
    let linkType = -1;
    const capture = openLiveCapture({ iface, filter }, (frame, _timestampUs, type) => {
      linkType = type;
      seen.push(describeFrame(type, frame));
    });
    say({ ready: true, linkType: capture.linkType });
    const input = readline.createInterface({ input: process.stdin });
    await new Promise((resolve) => input.once('close', resolve));
    capture.close();
    say({ seen, linkType });
  },
};

const [mode, ...args] = isMainThread ? process.argv.slice(2) : (workerData as string[]);
const run = modes[mode];
if (!run) {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
await run(args);
