// --json output (src/cli/json-lines.ts): the shape-aware serializer writes exactly what
// JSON.stringify of the result (error as {name, code, message}) would, for random results; the
// writer batches lines and, with checkMany, a stream that stops taking data stops the run.
// Randomized under the one seed rule (test/helpers/seeds.ts): fixed seeds plus one fresh, TSHK_SEED replays.
import test from 'ava';
import { Writable } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import { errorShape, type CheckResult } from '../../src/checker.js';
import { ConnectError, SystemError } from '../../src/core/errors.js';
import type { CheckStatus, ProbeEvidence } from '../../src/core/types.js';
import { JsonLinesWriter, resultJson } from '../../src/cli/json-lines.js';
import { ByteChunk } from '../../src/cli/json-bytes.js';
import { callbackChecker } from '../helpers/callback-strategy.js';
import { prng } from '../wire/util.js';
import { SeedRun } from '../helpers/seeds.js';

/** What resultJson must equal: the plain JSON.stringify way, with check()'s error shape. */
function reference(result: CheckResult): string {
  const { error, ...rest } = result;
  const shape = error ? { name: error.name, code: (error as { code?: string }).code, message: error.message } : result.status !== 'open' ? errorShape(result) : undefined;
  return JSON.stringify(shape ? { ...rest, error: shape } : rest);
}

test('resultJson equals JSON.stringify for random results (strings needing escapes included)', (t) => {
  const run = new SeedRun(t, [1, 0x5eed, 0xdeadbeef]);
  for (const seed of run) {
    const rnd = prng(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)];
    const text = (): string => pick(['198.18.0.2', 'web.example', 'quote"d', 'back\\slash', 'tab\there', 'nl\n', 'ünï€ødé', '\u0001ctl', '\ud800lone', '']);
    for (let i = 0; i < 2000; i++) {
      const status = pick<CheckStatus>(['open', 'closed', 'timeout', 'unreachable', 'error']);
      const result: CheckResult = { target: `${text()}:${i}`, ip: pick(['', '198.18.0.2', '2001:2::2']), port: Math.floor(rnd() * 65536), status, strategy: pick(['raw', 'socket', 'connect'] as const), attempts: Math.floor(rnd() * 8) };
      if (rnd() < 0.7) result.code = pick(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', text()]);
      if (rnd() < 0.7) result.rttMs = pick([0, 0.5, 1 / 3, 1e-7, 123456.789, Number.NaN]);
      if (rnd() < 0.5) {
        const evidence: ProbeEvidence = {};
        for (const key of ['flags', 'ttl', 'window', 'mss', 'windowScale', 'sackPermitted', 'timestamps', 'icmpType', 'icmpCode', 'responder'] as const) {
          if (rnd() < 0.5) continue;
          (evidence as Record<string, unknown>)[key] = key === 'flags' || key === 'responder' ? text() : key === 'sackPermitted' || key === 'timestamps' ? rnd() < 0.5 : Math.floor(rnd() * 70000);
        }
        if (rnd() < 0.2) (evidence as Record<string, unknown>).undefinedField = undefined;
        result.evidence = evidence;
      }
      if (rnd() < 0.4) {
        result.error = pick([new ConnectError(`refused ${text()}`, 'ECONNREFUSED'), new SystemError(text(), 'EPERM', -1, 'sendmmsg'), Object.assign(new Error(text()), { code: 42 })]);
      }
      // Twice: the second call answers from the serializer's caches (the last target, evidence).
      const actual = rnd() < 0.5 ? resultJson(result) : (resultJson(result), resultJson(result));
      if (actual !== reference(result)) {
        t.fail(`${run.where(seed)}, case ${i}: ${actual} !== ${reference(result)}`);
        return;
      }
      JSON.parse(actual);
      run.inputs++;
    }
  }
  run.done();
  t.pass();
});

test('JsonLinesWriter writes resultJson lines byte for byte into chunks, non-ASCII text and lines across chunk ends included', async (t) => {
  const run = new SeedRun(t, [2, 0xb17e5, 0xfeedface]);
  for (const seed of run) {
    const rnd = prng(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)];
    const text = (): string => pick(['198.18.0.2', '2001:2::9', 'web.example', 'quote"d', 'back\\slash', 'tab\there', 'ünï€ødé', '\u0001ctl', '\ud800lone', 'del\u007f', '']);
    const chunks: Buffer[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _encoding, callback) => (chunks.push(chunk), callback()) });
    const writer = new JsonLinesWriter(sink);
    let expected = '';
    // Enough lines to cross several chunk boundaries.
    for (let i = 0; i < 3000; i++) {
      const status = rnd() < 0.8 ? 'open' : pick<CheckStatus>(['closed', 'timeout', 'unreachable', 'error']);
      const result: CheckResult = { target: `${text()}:${i}`, ip: pick(['', '198.18.0.2', '2001:2::2', text()]), port: Math.floor(rnd() * 65536), status, strategy: pick(['raw', 'socket', 'connect'] as const), attempts: pick([0, 1, 7, 9, 10, 99, 100, 255]) };
      if (rnd() < 0.3) result.code = pick(['ECONNREFUSED', 'ETIMEDOUT', text()]);
      if (rnd() < 0.8) result.rttMs = pick([0, -0, 0.5, 1 / 3, 1e-7, 9, 10, 65536, 2 ** 31 - 1, 2 ** 31, 1e21, -3, 123456.789, Number.NaN, Infinity]);
      if (rnd() < 0.6) result.evidence = pick<ProbeEvidence>([{ flags: 'S.', ttl: 64, window: 65535, sackPermitted: true, timestamps: false, mss: 1460 }, { flags: text(), ttl: 63 }, {}]);
      if (rnd() < 0.1) result.error = new ConnectError(`refused ${text()}`, 'ECONNREFUSED');
      writer.write(resultJson(result));
      expected += `${resultJson(result)}\n`;
      if (reference(result) !== resultJson(result)) return void t.fail(`${run.where(seed)}, case ${i}: resultJson disagrees with JSON.stringify`);
      run.inputs++;
    }
    await writer.end();
    const actual = Buffer.concat(chunks);
    const wanted = Buffer.from(expected);
    if (!actual.equals(wanted)) {
      const at = [...actual].findIndex((b, i) => b !== wanted[i]);
      return void t.fail(`${run.where(seed)}: bytes differ at ${at}: ${actual.subarray(Math.max(0, at - 80), at + 40).toString()} | ${wanted.subarray(Math.max(0, at - 80), at + 40).toString()}`);
    }
    t.true(chunks.length > 3, 'several chunks');
  }
  run.done();
  t.pass();
});

/** A stream with a small buffer that takes a chunk only when the test releases it. */
class GatedStream extends Writable {
  readonly chunks: string[] = [];
  private held: Array<() => void> = [];
  gated = true;

  constructor(highWaterMark = 1024) {
    super({ highWaterMark, decodeStrings: false });
  }

  override _write(chunk: string, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.chunks.push(chunk);
    if (this.gated) this.held.push(callback);
    else callback();
  }

  open(): void {
    this.gated = false;
    for (const callback of this.held.splice(0)) callback();
  }
}

test('a stream that stops taking data stops the run (checkMany + JsonLinesWriter, as the CLI does)', async (t) => {
  const { checker, strategy } = await callbackChecker();
  const stream = new GatedStream();
  const writer = new JsonLinesWriter(stream);
  const concurrency = 100;
  const total = 20_000;
  function* targets(): Generator<string> {
    for (let i = 0; i < total; i++) yield `198.18.${(i >> 8) & 255}.${i & 255}:80`;
  }
  let written = 0;
  let waits = 0;
  const run = (async () => {
    for await (const result of checker.checkMany(targets(), { concurrency })) {
      written++;
      if (!writer.write(resultJson(result))) {
        waits++;
        await writer.drained();
      }
    }
    await writer.end();
  })();
  // Answer everything as it comes while the stream is stuck.
  for (let i = 0; i < 200; i++) {
    strategy.answerAll();
    await tick();
  }
  t.true(waits >= 1, 'the writer said the stream was full');
  const startedWhileBlocked = strategy.submitted;
  t.true(startedWhileBlocked <= written + concurrency, `started ${startedWhileBlocked}, written ${written}: the run waited for the stream`);
  t.true(startedWhileBlocked < total / 2, 'far from done: the run is held, not buffered');
  // Release the stream: the run completes, every line out, in one piece each.
  stream.open();
  while (strategy.submitted < total || strategy.pending.size > 0) {
    strategy.answerAll();
    await tick();
  }
  await run;
  const lines = stream.chunks.join('').split('\n');
  t.is(lines.pop(), '');
  t.is(lines.length, total);
  for (const line of lines) t.is((JSON.parse(line) as { status: string }).status, 'open');
  t.true(stream.chunks.length < total / 10, `lines were batched: ${stream.chunks.length} writes for ${total} lines`);
  await checker.close();
});

test('a drain that happens before anyone waits for it does not leave drained() waiting', async (t) => {
  // The race behind a CLI that once exited with 13 (an unsettled top-level await): a chunk
  // flushed from the setImmediate fills the stream's buffer, the stream drains while the caller
  // is busy elsewhere (waiting for results), and the caller's next line then fits at once, so
  // no second 'drain' ever comes for a waiter that missed the first.
  const stream = new GatedStream(16);
  const writer = new JsonLinesWriter(stream);
  t.true(writer.write('{"padding":"more than sixteen bytes"}'), 'buffered: nothing written yet');
  await tick();
  await tick();
  t.is(stream.chunks.length, 1, 'the setImmediate flush wrote the chunk, over the buffer');
  stream.open();
  await tick();
  t.true(writer.write('1'), 'the stream has drained: room again');
  const outcome = await Promise.race([
    writer.drained().then(() => 'drained'),
    new Promise((resolve) => setTimeout(() => resolve('stuck'), 2000)),
  ]);
  t.is(outcome, 'drained');
  await writer.end();
  t.is(stream.listenerCount('drain'), 0, 'end() lets go of the stream');
});

test('ByteChunk.take copies a small chunk out and keeps its buffer; a full one is handed over whole', (t) => {
  const chunk = new ByteChunk(64 * 1024);
  const buffer = chunk.bytes;
  chunk.text('{"a":1}');
  const small = chunk.take();
  t.is(small.toString(), '{"a":1}');
  t.is(chunk.bytes, buffer, 'a flush of a few lines allocates no new chunk buffer (low concurrency flushes often)');
  t.not(small.buffer, buffer.buffer);
  chunk.text('x'.repeat(20 * 1024));
  const big = chunk.take();
  t.is(big.length, 20 * 1024);
  t.is(big.buffer, buffer.buffer, 'handed over without a copy');
  t.not(chunk.bytes, buffer);
  t.is(chunk.used, 0);
});
