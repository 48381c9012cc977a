// The libpcap capture (native/capture.cc through src/capture/pcap.ts) on real interfaces, as
// root. Traffic goes to 127.0.0.1 only, or stays inside a testbed's namespaces. On loopback
// every packet crosses the tap twice (out, then in), which makes it a good test of the
// direction filter: each datagram sent must be seen exactly once.
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import path from 'node:path';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import { openLiveCapture, LinkType, type FrameHandler, type LiveCaptureOptions } from '../../src/capture/pcap.js';
import { BatchReader, nativeCaptureClass } from '../../src/native/capture.js';
import { UnsupportedError } from '../../src/core/errors.js';
import type { Testbed } from '../../src/testbed/index.js';
import { privilegedTest, withTestbed } from '../helpers/testbed.js';
import { ownPacketSockets } from './packet-sockets.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'live-capture-child.ts');
const TSX = import.meta.resolve('tsx/esm');

/** Loopback: Ethernet header 14 + IPv4 20 + UDP 8, then our payload (a u32 sequence number). */
const PAYLOAD_AT = 42;

interface Stream {
  port: number;
  /** Sends `count` datagrams of `size` bytes (at least 4) numbered from `first`; resolves once all left. */
  send(count: number, options?: { size?: number; first?: number; port?: number }): Promise<void>;
  /** Another bound port, for traffic the capture must not see. */
  otherPort: number;
}

/** A UDP receiver on 127.0.0.1 (so no ICMP port-unreachable answers) and a sender. */
async function loopbackStream(t: ExecutionContext): Promise<Stream> {
  const bind = async (): Promise<dgram.Socket> => {
    const socket = dgram.createSocket('udp4');
    socket.on('message', () => {});
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return socket;
  };
  const [rx, other, tx] = await Promise.all([bind(), bind(), bind()]);
  t.teardown(() => [rx, other, tx].forEach((s) => s.close()));
  const port = rx.address().port;
  return {
    port,
    otherPort: other.address().port,
    send(count, { size = 8, first = 0, port: to = port } = {}) {
      const sends: Array<Promise<void>> = [];
      for (let i = 0; i < count; i++) {
        const payload = Buffer.alloc(size);
        payload.writeUInt32BE(first + i, 0);
        sends.push(new Promise((resolve, reject) => tx.send(payload, to, '127.0.0.1', (error) => (error ? reject(error) : resolve()))));
      }
      return Promise.all(sends).then(() => undefined);
    },
  };
}

async function until(t: ExecutionContext, done: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) {
      t.fail(`timed out waiting for ${what}`);
      return;
    }
    await sleep(5);
  }
}

interface Seen {
  seq: number;
  length: number;
  timestampUs: number;
  /** Date.now() in µs when the handler ran. */
  handledUs: number;
  linkType: number;
}

/** Opens a capture that records every frame's sequence number; closed by t.teardown. */
function record(t: ExecutionContext, options: LiveCaptureOptions, also?: FrameHandler): { seen: Seen[]; capture: ReturnType<typeof openLiveCapture> } {
  const seen: Seen[] = [];
  const capture = openLiveCapture(options, (frame, timestampUs, linkType) => {
    const seq = frame.length >= PAYLOAD_AT + 4 ? Buffer.from(frame.buffer, frame.byteOffset, frame.length).readUInt32BE(PAYLOAD_AT) : -1;
    seen.push({ seq, length: frame.length, timestampUs, handledUs: Date.now() * 1000, linkType });
    also?.(frame, timestampUs, linkType);
  });
  t.teardown(() => capture.close());
  return { seen, capture };
}

// --- delivery ------------------------------------------------------------------------------------

privilegedTest('a burst of 2000 datagrams arrives complete, in order, once each, with kernel timestamps', async (t) => {
  const stream = await loopbackStream(t);
  const { seen, capture } = record(t, { iface: 'lo', filter: `udp and dst port ${stream.port}` });
  t.is(capture.linkType, LinkType.ETHERNET, 'libpcap presents loopback as Ethernet');
  const startUs = Date.now() * 1000;
  await stream.send(2000);
  await until(t, () => seen.length >= 2000, '2000 frames');
  await sleep(50); // anything extra (a second, outgoing copy) would show up now
  t.is(seen.length, 2000, 'each datagram once: the outgoing copy on lo is not delivered');
  t.deepEqual(seen.map((s) => s.seq), Array.from({ length: 2000 }, (_, i) => i));
  let ordered = true;
  for (let i = 1; i < seen.length; i++) if (seen[i].timestampUs < seen[i - 1].timestampUs) ordered = false;
  t.true(ordered, 'timestamps never go backwards');
  // Date.now() has millisecond resolution: allow 1 ms either side.
  t.true(seen[0].timestampUs >= startUs - 1000, `first stamp ${seen[0].timestampUs} not before the send (${startUs})`);
  t.true(seen.every((s) => s.timestampUs <= s.handledUs + 1000), 'no stamp after the handler ran');
  t.true(seen.some((s) => !Number.isInteger(s.timestampUs)), 'nanosecond precision: some stamps fall between microseconds');
  t.like(capture.stats(), { dropped: 0 });
});

privilegedTest('timestamps are the kernel\'s receive time, not when JavaScript reads the frame', async (t) => {
  const stream = await loopbackStream(t);
  const { seen } = record(t, { iface: 'lo', filter: `udp and dst port ${stream.port}` });
  await stream.send(1);
  const blockedUntil = Date.now() + 150;
  while (Date.now() < blockedUntil) {
    // keep the event loop busy: the capture cannot read the frame yet
  }
  await until(t, () => seen.length === 1, 'the frame');
  const lateByMs = (seen[0].handledUs - seen[0].timestampUs) / 1000;
  t.true(lateByMs >= 140, `stamped ${lateByMs.toFixed(1)} ms before the handler ran`);
});

privilegedTest('frames come to JavaScript in batches: one call for a whole burst', async (t) => {
  const stream = await loopbackStream(t);
  const batches: number[] = [];
  const lengths: Array<[number, number]> = [];
  const Capture = nativeCaptureClass();
  const capture = new Capture('lo', `udp and dst port ${stream.port}`, 8 << 20, 512, (count, bytes) => {
    batches.push(count);
    reader.forEach(count, bytes, (frame, _ts, original) => lengths.push([frame.length, original]));
  });
  t.teardown(() => capture.close());
  const reader = new BatchReader(capture.batch);
  // All 500 leave before the event loop next polls, so the capture finds them queued together.
  await stream.send(500, { size: 600 });
  await until(t, () => lengths.length >= 500, '500 frames');
  t.true(batches.length <= 3, `500 frames in ${batches.length} calls (${batches.join(', ')})`);
  t.deepEqual(new Set(lengths.map(([captured]) => captured)), new Set([512]), 'each frame cut at the snap length');
  t.deepEqual(new Set(lengths.map(([, original]) => original)), new Set([PAYLOAD_AT + 600]), 'the original length is kept');
});

privilegedTest('the filter runs in the kernel: other traffic never reaches the process', async (t) => {
  const stream = await loopbackStream(t);
  const { seen, capture } = record(t, { iface: 'lo', filter: `udp and dst port ${stream.port}` });
  await stream.send(500, { port: stream.otherPort, first: 1000 });
  await stream.send(10);
  await until(t, () => seen.length >= 10, '10 frames');
  await sleep(50);
  t.deepEqual(seen.map((s) => s.seq), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  // libpcap counts what passed the kernel filter, before dropping the outgoing copies itself:
  // 10 datagrams, seen twice each on lo. The 500 others were never queued to us.
  const { received } = capture.stats();
  t.true(received >= 10 && received <= 20, `stats().received = ${received}`);
});

privilegedTest('snap length: big packets are cut, headers kept (default 512, or as asked)', async (t) => {
  const stream = await loopbackStream(t);
  const big = record(t, { iface: 'lo', filter: `udp and dst port ${stream.port}` });
  const small = record(t, { iface: 'lo', filter: `udp and dst port ${stream.port}`, snapLength: 100 });
  const totalLengths: number[] = [];
  record(t, { iface: 'lo', filter: `udp and dst port ${stream.port}` }, (frame) => totalLengths.push((frame[16] << 8) | frame[17]));
  await stream.send(1, { size: 1400 });
  await until(t, () => big.seen.length === 1 && small.seen.length === 1 && totalLengths.length === 1, 'the frame on each capture');
  t.is(big.seen[0].length, 512);
  t.is(small.seen[0].length, 100);
  t.is(totalLengths[0], 20 + 8 + 1400, 'the IPv4 header, inside the cut frame, still tells the full length');
});

privilegedTest('stats() counts, and still answers after close()', async (t) => {
  const stream = await loopbackStream(t);
  const { seen, capture } = record(t, { iface: 'lo', filter: `udp and dst port ${stream.port}` });
  t.deepEqual(capture.stats(), { received: 0, dropped: 0, ifDropped: 0 });
  await stream.send(100);
  await until(t, () => seen.length >= 100, '100 frames');
  capture.close();
  const after = capture.stats();
  t.true(after.received >= 100, `received ${after.received}`);
  t.is(after.dropped, 0);
  t.deepEqual(capture.stats(), after, 'stable once closed');
});

// --- handler behaviour ----------------------------------------------------------------------------

privilegedTest('a throwing frame handler loses nothing else', async (t) => {
  const stream = await loopbackStream(t);
  const { seen } = record(t, { iface: 'lo', filter: `udp and dst port ${stream.port}` }, () => {
    throw new Error('handler bug');
  });
  await stream.send(100);
  await until(t, () => seen.length >= 100, '100 frames');
  t.deepEqual(seen.map((s) => s.seq), Array.from({ length: 100 }, (_, i) => i));
});

privilegedTest('close() inside the handler stops delivery at once, mid-batch', async (t) => {
  const stream = await loopbackStream(t);
  let handled = 0;
  const capture = openLiveCapture({ iface: 'lo', filter: `udp and dst port ${stream.port}` }, () => {
    if (++handled === 5) capture.close();
  });
  t.teardown(() => capture.close());
  await stream.send(100); // all queued before the capture reads: one batch
  // However late the loaded machine lets the capture read, it stops at the fifth frame.
  await until(t, () => handled >= 5, '5 frames');
  await sleep(100);
  t.is(handled, 5);
});

// --- failures ---------------------------------------------------------------------------------------

const openFailures: Array<[string, LiveCaptureOptions, RegExp, string]> = [
  ['a bad filter', { iface: 'lo', filter: 'tcp and and port' }, /^cannot capture on lo: .*syntax error/, 'pcap_compile'],
  ['an unknown interface', { iface: 'tshk-none0', filter: 'tcp' }, /^cannot capture on tshk-none0: No such device exists/, 'pcap_activate'],
];

for (const [what, options, message, step] of openFailures) {
  privilegedTest(`${what} is an UnsupportedError with libpcap's message`, (t) => {
    const before = ownPacketSockets();
    const error = t.throws(() => openLiveCapture(options, () => {}), { instanceOf: UnsupportedError, message });
    t.is(error?.code, 'ERR_SHAKER_UNSUPPORTED');
    t.like(error?.cause, { step });
    t.is(ownPacketSockets(), before, 'nothing left open');
  });
}

// --- lifecycle ----------------------------------------------------------------------------------------

privilegedTest('close() is idempotent and releases the packet socket', async (t) => {
  const before = ownPacketSockets();
  const capture = openLiveCapture({ iface: 'lo', filter: 'udp port 9' }, () => {});
  t.is(ownPacketSockets(), before + 1);
  capture.close();
  capture.close();
  t.is(ownPacketSockets(), before);
});

interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  lines: Array<Record<string, unknown>>;
  stderr: string;
  /** Milliseconds from the last stdout line to the process's exit. */
  exitLagMs: number;
}

/** Runs live-capture-child.ts MODE in a process of its own. */
function runChild(mode: string, nodeArgs: string[] = []): Promise<ChildResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...nodeArgs, '--import', TSX, CHILD, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: Array<Record<string, unknown>> = [];
    let lastLineAt = performance.now();
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      lastLineAt = performance.now();
      lines.push(JSON.parse(line) as Record<string, unknown>);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, lines, stderr, exitLagMs: performance.now() - lastLineAt });
    });
  });
}

privilegedTest('after close() nothing keeps the process alive', async (t) => {
  const result = await runChild('close-then-exit');
  t.is(result.code, 0, result.stderr);
  t.like(result.lines[0], { closed: true, frames: 50 });
  t.true(result.exitLagMs < 1000, `exited ${result.exitLagMs.toFixed(0)} ms after closing`);
});

privilegedTest('process.exit() with a capture open and packets flowing exits cleanly', async (t) => {
  const result = await runChild('exit-while-open');
  t.deepEqual([result.code, result.signal], [0, null], result.stderr);
  t.like(result.lines[0], { exiting: true });
});

privilegedTest('terminating a worker that holds an open capture is safe', async (t) => {
  const result = await runChild('worker-terminate');
  t.deepEqual([result.code, result.signal], [0, null], result.stderr);
  t.like(result.lines[0], { worker: { frames: 100 }, packetSocketsLeft: 0 });
});

privilegedTest('failed and closed captures are safe to garbage-collect', async (t) => {
  const result = await runChild('collect', ['--expose-gc']);
  t.deepEqual([result.code, result.signal], [0, null], result.stderr);
  t.like(result.lines[0], { failed: 40 });
});

// --- a real Ethernet link, in a testbed --------------------------------------------------------------

/** Starts the 'watch' child in the server namespace; `stop()` returns what it saw. */
async function watchInServer(tb: Testbed, filter: string): Promise<{ linkType: number; stop(): Promise<string[]> }> {
  const child = tb.spawn('server', [process.execPath, '--import', TSX, CHILD, 'watch', tb.server.iface, filter]);
  let stderr = '';
  child.stderr?.on('data', (chunk) => (stderr += chunk));
  const lines = readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) throw new Error(`the capture child ended early: ${stderr}`);
  const { linkType } = JSON.parse(first.value) as { linkType: number };
  return {
    linkType,
    async stop() {
      child.stdin?.end();
      const last = await lines.next();
      if (last.done) throw new Error(`the capture child ended without a report: ${stderr}`);
      return (JSON.parse(last.value) as { seen: string[] }).seen;
    },
  };
}

privilegedTest('on a veth only received packets are delivered: the SYN, not the RST sent back', async (t) => {
  const tb = await withTestbed(t);
  const watch = await watchInServer(tb, `tcp port ${tb.closedPort}`);
  t.is(watch.linkType, LinkType.ETHERNET);
  for (const family of [4, 6] as const) {
    const report = await tb.kernelConnect({ host: tb.address('server', family), port: tb.closedPort, timeoutMs: 2000 });
    t.is(report.code, 'ECONNREFUSED', `IPv${family}: the server kernel answered with a RST`);
  }
  await sleep(50);
  const seen = await watch.stop();
  t.is(seen.length, 2, seen.join('\n'));
  t.regex(seen[0], new RegExp(`^198\\.18\\.0\\.1\\.\\d+ > 198\\.18\\.0\\.2\\.${tb.closedPort} tcp \\[S\\]`));
  t.regex(seen[1], new RegExp(`^2001:2::1\\.\\d+ > 2001:2::2\\.${tb.closedPort} tcp \\[S\\]`));
});
