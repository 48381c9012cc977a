// Runs inside a testbed's client namespace for sender.test.ts: drives the NativeRawTransport
// (and so the addon's sender thread) and prints one JSON line with what it saw.
//   deliver PORT      one SYN after a quiet spell, then a burst of BURST SYNs, to the server
//   refused           SYNs to an unreachable prefix of the client's own routing table, alone and in a burst
//   pingpong PORT     PINGPONG hand-overs of two SYNs each, back to back (the -c 1 shape: an RST and
//                     the next SYN per tick), then a burst of PINGPONG_BURST, then PINGPONG more
//                     hand-overs with the transport busy
import { setTimeout as sleep } from 'node:timers/promises';
import { NativeRawTransport } from '../../src/native/sender.js';
import { buildSyn, parseAddress } from '../../src/wire/index.js';

const [mode, arg] = process.argv.slice(2);
const SOURCE = parseAddress('198.18.0.1')!;
const SERVER = parseAddress('198.18.0.2')!;
const BURST = 3000;
const PINGPONG = 500;
const PINGPONG_BURST = 640;

const failures: { code: string; tag: number; generation: number }[] = [];
const transport = new NativeRawTransport((error, tag, generation) => {
  failures.push({ code: (error as { code?: string }).code ?? '?', tag, generation });
});
transport.open(4);

function syn(dst: Uint8Array, dstPort: number, tag: number, generation: number): void {
  const at = transport.reserve(4, 128);
  const n = buildSyn(at.buf, at.offset, { src: SOURCE, dst, srcPort: 61000 + (tag % 4000), dstPort, seq: tag });
  transport.commit(4, n, tag, generation);
}

async function until(done: () => boolean, ms = 3000): Promise<void> {
  for (const end = Date.now() + ms; !done() && Date.now() < end; ) await sleep(5);
}

if (mode === 'deliver') {
  const port = Number(arg);
  await sleep(300); // the sender thread is asleep by now: a lone SYN is sent on this thread
  syn(SERVER, port, 0, 0);
  await sleep(50);
  const afterOne = transport.stats();
  for (let i = 1; i <= BURST; i++) syn(SERVER, port, i, 0);
  await until(() => transport.stats().packetsSent >= BURST + 1);
  process.stdout.write(`${JSON.stringify({ afterOne, afterBurst: transport.stats(), failures })}\n`);
} else if (mode === 'pingpong') {
  const port = Number(arg);
  await sleep(300); // the sender thread is asleep by now
  const before = transport.stats();
  // No pause between hand-overs: each must still go out on this thread without waking the sender.
  // At least PINGPONG of them, and for at least 3 ms, so the burst below does not come within
  // the sender's 1 ms "just after a pause" window (where up to 64 packets go inline too).
  const start = performance.now();
  let rounds = 0;
  while (rounds < PINGPONG || performance.now() - start < 3) {
    syn(SERVER, port, 2 * rounds, 0);
    syn(SERVER, port, 2 * rounds + 1, 0);
    transport.flush();
    rounds++;
  }
  const afterPingPong = transport.stats();
  for (let i = 0; i < PINGPONG_BURST; i++) syn(SERVER, port, 2 * rounds + i, 0);
  transport.flush();
  await until(() => transport.stats().packetsSent >= 2 * rounds + PINGPONG_BURST);
  const afterBurst = transport.stats();
  // The same two-packet hand-overs with the transport busy (the engine has many checks in
  // flight): only those right after the pause are sent on this thread.
  await sleep(300);
  transport.busy = true;
  const sent = 2 * rounds + PINGPONG_BURST;
  for (let i = 0; i < PINGPONG; i++) {
    syn(SERVER, port, sent + 2 * i, 0);
    syn(SERVER, port, sent + 2 * i + 1, 0);
    transport.flush();
  }
  await until(() => transport.stats().packetsSent >= sent + 2 * PINGPONG);
  process.stdout.write(`${JSON.stringify({ rounds, before, afterPingPong, afterBurst, afterBusy: transport.stats(), failures })}\n`);
} else if (mode === 'refused') {
  const unreachable = parseAddress('198.18.9.1')!;
  await sleep(300);
  syn(unreachable, 80, 1, 11); // alone: refused on this thread
  syn(SERVER, 9, 2, 12); // reachable: no failure
  await until(() => failures.length >= 1);
  for (let i = 100; i < 200; i++) syn(i % 2 === 0 ? unreachable : SERVER, 9, i, 1000 + i); // a burst: refused on the sender thread
  await until(() => failures.length >= 51);
  process.stdout.write(`${JSON.stringify({ stats: transport.stats(), failures })}\n`);
}
transport.close();
