// `--json`: one JSON line per check, written in batches with stdout's backpressure honoured.
//
// Why not JSON.stringify per result and a write per line: the CLI's rate halved with --json
// (bench, issue #12). JSON.stringify walks an object it knows nothing about, the spread that
// swapped the Error for {name, code, message} copied every result once more, and a write per line
// is a syscall (or a queued chunk) per check. Here the serializer knows CheckResult's fields,
// lines are encoded into chunks of about CHUNK_BYTES (json-bytes.ts), and write() says when
// stdout's buffer is full so the caller stops pulling results (a slow reader slows the run;
// memory stays flat).
import type { Writable } from 'node:stream';
import { errorShape, type CheckResult } from '../checker.js';
import type { ProbeEvidence } from '../core/types.js';
import { ByteChunk } from './json-bytes.js';

/**
 * About how much text goes to the stream in one write. 64 KiB is a Linux pipe's default
 * capacity: bigger chunks only wait in Node's buffer, smaller ones cost a write each.
 */
const CHUNK_BYTES = 64 * 1024;

/** Characters JSON must escape: quote, backslash, controls; lone surrogates go to JSON.stringify too. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

function str(value: string): string {
  return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`;
}

/**
 * Ports, attempts, TTLs, windows, MSS: small integers, the same few again and again. Their text
 * is made once (String() of a number was the serializer's biggest cost in a profile).
 */
const smallInts: string[] = [];

/** A number as JSON.stringify writes it (non-finite numbers become null). */
function num(value: number): string {
  if (value >= 0 && value <= 65535 && (value | 0) === value) return (smallInts[value] ??= String(value));
  return Number.isFinite(value) ? String(value) : 'null';
}

/** Any value as JSON.stringify writes it inside an object (the typed ones without it). */
function value(v: unknown): string {
  if (typeof v === 'string') return str(v);
  if (typeof v === 'number') return num(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return JSON.stringify(v);
}

/** The last evidence and its text: replies of one target carry the same flags, TTL, options. */
let lastEvidence: { values: unknown[]; keys: string[]; text: string } | undefined;

function evidenceJson(evidence: ProbeEvidence): string {
  const last = lastEvidence;
  if (last !== undefined) {
    let i = 0;
    let same = true;
    for (const key in evidence) {
      if (key !== last.keys[i] || (evidence as Record<string, unknown>)[key] !== last.values[i]) {
        same = false;
        break;
      }
      i++;
    }
    if (same && i === last.keys.length) return last.text;
  }
  const text = evidenceText(evidence);
  const keys: string[] = [];
  const values: unknown[] = [];
  for (const key in evidence) {
    keys.push(key);
    values.push((evidence as Record<string, unknown>)[key]);
  }
  lastEvidence = { keys, values, text };
  return text;
}

function evidenceText(evidence: ProbeEvidence): string {
  let out = '{';
  let first = true;
  // In the object's own key order, as JSON.stringify would; undefined fields are left out.
  for (const key in evidence) {
    const field = (evidence as Record<string, unknown>)[key];
    if (field === undefined || typeof field === 'function' || typeof field === 'symbol') continue;
    out += `${first ? '' : ','}${str(key)}:${value(field)}`;
    first = false;
  }
  return `${out}}`;
}

/**
 * The last target's opening, up to the status: `-n` repeats one target many times in a row.
 * Kept in variables, not an object: a sweep changes target on every line.
 */
let lastTarget = '';
let lastIp = '';
let lastPort = -1;
let lastHead = '';

function head(result: CheckResult): string {
  if (result.target === lastTarget && result.ip === lastIp && result.port === lastPort) return lastHead;
  lastTarget = result.target;
  lastIp = result.ip;
  lastPort = result.port;
  lastHead = `{"target":${str(result.target)},"ip":${str(result.ip)},"port":${num(result.port)},"status":"`;
  return lastHead;
}

/**
 * One result as a JSON line (no newline): check()'s fields in their order, the error as
 * {name, code, message}; a failed check without an Error of its own (checkMany's results) gets
 * the one checkAddr() would reject with, described without being built.
 */
export function resultJson(result: CheckResult): string {
  let out = `${head(result)}${result.status}","strategy":"${result.strategy}","attempts":${num(result.attempts)}`;
  if (result.code !== undefined) out += `,"code":${str(result.code)}`;
  if (result.rttMs !== undefined) out += `,"rttMs":${num(result.rttMs)}`;
  if (result.evidence !== undefined) out += `,"evidence":${evidenceJson(result.evidence)}`;
  const error = result.error;
  if (error !== undefined) {
    const code = (error as { code?: unknown }).code;
    out += `,"error":{"name":${str(error.name)}${code === undefined ? '' : `,"code":${value(code)}`},"message":${str(error.message)}}`;
  } else if (result.status !== 'open') {
    const shape = errorShape(result);
    out += `,"error":{"name":"${shape.name}","code":${str(shape.code)},"message":${str(shape.message)}}`;
  }
  return `${out}}`;
}

/**
 * Lines into a stream in chunks. write() returns false once the stream wants no more (its
 * buffer is full): wait for drained() before writing on. Text left in the chunk goes out by
 * itself on the next turn of the event loop (one setImmediate per chunk, not per line), or on
 * flush().
 */
export class JsonLinesWriter {
  /** Room for a chunk and the line that crosses its end. */
  private readonly chunk = new ByteChunk(CHUNK_BYTES + 16 * 1024);
  private immediate: NodeJS.Immediate | undefined;
  private blocked = false;
  private waiters: Array<() => void> = [];
  // Listening all along, not only while someone waits: a chunk flushed from the setImmediate
  // can fill the buffer and drain again (a pipe that takes it at once) before anyone asks, and
  // a waiter added after that 'drain' would wait for one that never comes (the CLI then died
  // with exit 13, an unsettled top-level await, once nothing else kept the loop alive).
  private readonly onDrain = (): void => {
    this.blocked = false;
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  };

  constructor(private readonly stream: Writable) {
    stream.on('drain', this.onDrain);
    // A closed or failed stream (EPIPE: the reader went away) drains nothing; the run goes on
    // and the error surfaces where the stream's owner handles it.
    stream.on('close', this.onDrain);
    stream.on('error', this.onDrain);
  }

  /** Appends a line (newline added); false when the caller should await drained(). */
  write(line: string): boolean {
    this.chunk.text(line);
    this.chunk.byte(0x0a);
    if (this.chunk.used >= CHUNK_BYTES) this.flush();
    else this.immediate ??= setImmediate(() => this.flush());
    return !this.blocked;
  }

  /** Sends what is buffered now. */
  flush(): void {
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = undefined;
    if (this.chunk.used === 0) return;
    if (!this.stream.write(this.chunk.take())) this.blocked = true;
  }

  /** Resolves once the stream has room again (at once if it has). */
  drained(): Promise<void> {
    if (!this.blocked || !this.stream.writableNeedDrain || this.stream.destroyed) {
      this.blocked = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Flushes, waits until the stream has taken everything written so far, and lets go of it. */
  async end(): Promise<void> {
    this.flush();
    await this.drained();
    this.stream.off('drain', this.onDrain);
    this.stream.off('close', this.onDrain);
    this.stream.off('error', this.onDrain);
  }
}
