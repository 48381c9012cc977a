// The addon's sender (native/sender.cc) behind NativeRawTransport, on a real testbed: every
// packet handed over reaches the wire exactly once, whether the sender thread sends it or (at a
// trickle, with the thread asleep) the calling thread does; packets the kernel refuses come back
// as errors carrying their own tag and generation, from both paths.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { privilegedTest, withTestbed } from '../helpers/testbed.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'sender-child.ts');
const BURST = 3000; // as in sender-child.ts
const PINGPONG = 500; // as in sender-child.ts
const PINGPONG_BURST = 640; // as in sender-child.ts
const PORT = 9; // closed on the server: its kernel answers RST, which does not matter here

interface Stats {
  packetsSent: number;
  sentInline: number;
  batches: number;
  sendErrors: number;
  wakeups: number;
}

privilegedTest('every packet reaches the wire once: a lone one sent inline, a burst through the sender thread', async (t) => {
  const tb = await withTestbed(t);
  // Headers only, and a buffer for all of them: a burst of 3000 frames must fit tcpdump's
  // buffer even if tcpdump gets no CPU while it arrives.
  const capture = await tb.capture({ filter: `tcp dst port ${PORT} and tcp[tcpflags] & tcp-syn != 0`, snapLen: 96, bufferKiB: 16_384 });
  const run = await tb.execNode(CHILD, ['deliver', String(PORT)], { timeoutMs: 20_000 });
  t.is(run.code, 0, run.stderr);
  const out = JSON.parse(run.stdout.trim().split('\n').pop()!) as { afterOne: Stats; afterBurst: Stats; failures: unknown[] };
  t.is(out.afterOne.packetsSent, 1);
  t.is(out.afterOne.sentInline, 1, 'a lone packet with the sender asleep is sent on the calling thread');
  t.is(out.afterBurst.packetsSent, BURST + 1);
  t.true(out.afterBurst.sentInline < BURST / 2, `the burst went through the sender thread (sent inline: ${out.afterBurst.sentInline})`);
  t.deepEqual(out.failures, []);
  await capture.waitForPackets(BURST + 1, 10_000).catch(() => undefined);
  const { records: all, stats } = await capture.stop();
  t.log(`server-side capture: ${all.length} SYNs, tcpdump ${JSON.stringify(stats)}`);
  // Each SYN carries its own sequence number (0..BURST): all present, none twice.
  const seqs = all.map((r) => {
    const ip = r.data.subarray(14);
    const tcp = ip.subarray((ip[0] & 0x0f) * 4);
    return ((tcp[4] << 24) | (tcp[5] << 16) | (tcp[6] << 8) | tcp[7]) >>> 0;
  });
  t.is(new Set(seqs).size, BURST + 1);
  t.is(seqs.length, BURST + 1);
});

privilegedTest('back-to-back hand-overs of a few packets are sent inline and never wake the sleeping sender', async (t) => {
  const tb = await withTestbed(t);
  const run = await tb.execNode(CHILD, ['pingpong', String(PORT)], { timeoutMs: 20_000 });
  t.is(run.code, 0, run.stderr);
  const out = JSON.parse(run.stdout.trim().split('\n').pop()!) as { rounds: number; before: Stats; afterPingPong: Stats; afterBurst: Stats; afterBusy: Stats; failures: unknown[] };
  t.true(out.rounds >= PINGPONG);
  const pingPong = 2 * out.rounds;
  t.is(out.before.packetsSent, 0);
  // Counters, not timing: however fast the hand-overs follow each other, none wakes the thread.
  t.is(out.afterPingPong.wakeups, 0, 'a hand-over of two packets never woke the sender thread');
  t.is(out.afterPingPong.sentInline, pingPong);
  t.is(out.afterPingPong.packetsSent, pingPong);
  t.is(out.afterPingPong.batches, out.rounds, 'one sendmmsg per hand-over');
  // Larger hand-overs (the burst leaves the transport 16 packets at a time, back to back) go to
  // the thread. (Within 1 ms of a pause, e.g. after a preemption, some may be sent here: at a
  // trickle that spares a wake-up. Not all 40 of them.)
  t.is(out.afterBurst.packetsSent, pingPong + PINGPONG_BURST);
  t.true(out.afterBurst.sentInline < pingPong + PINGPONG_BURST, `the burst went through the sender thread (sent inline: ${out.afterBurst.sentInline})`);
  t.true(out.afterBurst.wakeups >= 1, 'the burst woke the sender thread');
  // Busy (many checks in flight): the hand-overs right after a pause (the first one follows a
  // 300 ms sleep) are still sent here, as a monitor's window of rounds is; the ones after it,
  // back to back, go through the thread. 500 hand-overs of two packets, each sent through the
  // target's whole stack on this thread when inline, take well over the 1 ms that follows a pause.
  t.is(out.afterBusy.packetsSent, pingPong + PINGPONG_BURST + 2 * PINGPONG);
  const busyInline = out.afterBusy.sentInline - out.afterBurst.sentInline;
  t.true(busyInline >= 2, 'the first busy hand-over, right after a pause, was sent inline');
  t.true(busyInline < 2 * PINGPONG, `busy hand-overs after the pause went through the thread (sent inline: ${busyInline})`);
  t.true(out.afterBusy.wakeups > out.afterBurst.wakeups, 'the sleeping thread was woken for them');
  t.deepEqual(out.failures, []);
});

privilegedTest('refused packets come back with their tag and generation, inline and from the thread', async (t) => {
  const tb = await withTestbed(t);
  await tb.exec('client', ['ip', 'route', 'add', 'unreachable', '198.18.9.0/24']);
  const run = await tb.execNode(CHILD, ['refused'], { timeoutMs: 20_000 });
  t.is(run.code, 0, run.stderr);
  const out = JSON.parse(run.stdout.trim().split('\n').pop()!) as { stats: Stats; failures: { code: string; tag: number; generation: number }[] };
  t.deepEqual(out.failures[0], { code: 'EHOSTUNREACH', tag: 1, generation: 11 });
  const burst = out.failures.slice(1);
  t.is(burst.length, 50);
  for (const f of burst) {
    t.is(f.code, 'EHOSTUNREACH');
    t.is(f.tag % 2, 0, 'only the packets to the unreachable prefix failed');
    t.is(f.generation, 1000 + f.tag);
  }
  t.is(out.stats.sendErrors, 51);
  t.is(out.stats.packetsSent, 51, 'the reachable ones went out');
});
