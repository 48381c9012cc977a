// The bytes of `--json` output: lines are encoded into a chunk buffer one at a time.
//
// Why not one string per chunk: a chunk of lines joined with += is a rope of thousands of pieces
// (and each line a rope of its fields), which stream.write() had to flatten and encode in one go:
// in a profile of `tcp-checker --json` sweeping a /17, 2.3 µs a check. Encoding each line as it
// comes (Buffer.write of a short rope) costs a fraction of that. A field-by-field encoder straight
// into the bytes was tried too: no faster than this (0.98-1.01 against 0.86-0.93 µs a line), and
// a second serializer to keep byte for byte equal to resultJson().
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
}
