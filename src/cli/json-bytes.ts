// `--json` lines encoded straight into the bytes of an output chunk.
//
// Why not strings: a result's line built by concatenation is a rope of a dozen pieces, a chunk of
// lines a rope of thousands, and stream.write() flattened and encoded it in one go. In a profile of
// `tcp-checker --json` sweeping a /17 that was 2.3 µs a check, the largest cost of the run after
// the kernel's. Here each field goes into the chunk as it is known: ASCII strings a character
// at a time, small integers as digits, the repeated evidence as the same text each time. What is
// not plain ASCII (a target text with quotes or non-ASCII letters) goes through JSON.stringify,
// so every line is byte for byte what resultJson() gives (test/cli/json-lines.test.ts holds them
// to it).
import type { CheckResult } from '../checker.js';

/** Below this, take() copies the bytes out instead of giving its buffer away. */
const SMALL_TAKE = 16 * 1024;

export class ByteChunk {
  bytes: Buffer;
  used = 0;

  constructor(private readonly size: number) {
    this.bytes = Buffer.allocUnsafe(size);
  }

  /**
   * The bytes written so far, to hand to a stream, which keeps them until written: a full chunk
   * is handed over whole and a new buffer started; a small one (a few lines flushed at the end of
   * a loop turn, many times a second at low concurrency) is copied out, since a fresh buffer of
   * the chunk's size per flush is external memory the garbage collector has to chase.
   */
  take(): Buffer {
    if (this.used < SMALL_TAKE) {
      const out = Buffer.allocUnsafe(this.used);
      this.bytes.copy(out, 0, 0, this.used);
      this.used = 0;
      return out;
    }
    const out = this.bytes.subarray(0, this.used);
    this.bytes = Buffer.allocUnsafe(this.size);
    this.used = 0;
    return out;
  }

  /** Room for `n` more bytes, growing the buffer when a line is longer than what is left. */
  ensure(n: number): void {
    if (this.used + n <= this.bytes.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.used + n));
    this.bytes.copy(grown, 0, 0, this.used);
    this.bytes = grown;
  }

  byte(b: number): void {
    this.ensure(1);
    this.bytes[this.used++] = b;
  }

  /** Any text, as UTF-8. */
  text(s: string): void {
    this.ensure(s.length * 3);
    this.used += this.bytes.write(s, this.used);
  }

  /** Text known to be JSON already (field names, numbers' text, the evidence's JSON). */
  raw(s: string): void {
    this.ensure(s.length);
    const b = this.bytes;
    let o = this.used;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) {
        this.used = o;
        this.text(s.slice(i));
        return;
      }
      b[o++] = c;
    }
    this.used = o;
  }

  /** A string as JSON.stringify writes it, quotes included. */
  string(s: string): void {
    this.ensure(s.length + 2);
    const b = this.bytes;
    const start = this.used;
    let o = start;
    b[o++] = 0x22;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      // Controls, quote and backslash need escapes; beyond ASCII, lone surrogates do.
      if (c < 0x20 || c === 0x22 || c === 0x5c || c > 0x7e) {
        this.used = start;
        this.text(JSON.stringify(s));
        return;
      }
      b[o++] = c;
    }
    b[o++] = 0x22;
    this.used = o;
  }

  /** A number as JSON.stringify writes it (non-finite numbers become null). */
  number(v: number): void {
    if (v >= 0 && v <= 0x7fffffff && (v | 0) === v) {
      this.ensure(10);
      const b = this.bytes;
      if (v < 10) {
        b[this.used++] = 0x30 + v;
        return;
      }
      let digits = 1;
      for (let x = v; x >= 10; x = (x / 10) | 0) digits++;
      let o = this.used + digits;
      this.used = o;
      for (let x = v; o > this.used - digits; x = (x / 10) | 0) b[--o] = 0x30 + (x % 10);
      return;
    }
    this.raw(Number.isFinite(v) ? String(v) : 'null');
  }
}

/**
 * One result's line without its newline, as resultJson() writes it, or false without writing
 * anything when it has a field only resultJson() knows how to write (an Error of its own, a
 * network verdict's error): the caller writes that text instead.
 */
export function putResult(chunk: ByteChunk, result: CheckResult, evidenceText: (e: NonNullable<CheckResult['evidence']>) => string): boolean {
  if (result.error !== undefined || result.status !== 'open') return false;
  chunk.raw('{"target":');
  chunk.string(result.target);
  chunk.raw(',"ip":');
  chunk.string(result.ip);
  chunk.raw(',"port":');
  chunk.number(result.port);
  chunk.raw(',"status":"');
  chunk.raw(result.status);
  chunk.raw('","strategy":"');
  chunk.raw(result.strategy);
  chunk.raw('","attempts":');
  chunk.number(result.attempts);
  if (result.code !== undefined) {
    chunk.raw(',"code":');
    chunk.string(result.code);
  }
  if (result.rttMs !== undefined) {
    chunk.raw(',"rttMs":');
    chunk.number(result.rttMs);
  }
  if (result.evidence !== undefined) {
    chunk.raw(',"evidence":');
    chunk.raw(evidenceText(result.evidence));
  }
  chunk.byte(0x7d);
  return true;
}
