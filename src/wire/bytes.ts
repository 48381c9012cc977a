// Big-endian field access by byte index, for the per-packet paths (parse*, emit*, build*).
//
// The Packet view classes wrap a DataView, which is the readable way to poke at one header. The
// hot paths instead read and write the Uint8Array directly at `offset + field.X`: parseIp/parseTcp
// run for every captured packet and buildSyn for every probe, and creating a view object plus a
// DataView per packet would be two allocations on each (the engine budget is the result object and
// the address copies). V8 compiles these to plain loads, no slower than DataView getters.
//
// Internal to src/wire: not re-exported from index.ts.

export function u16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}

export function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

export function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v;
}

export function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

/** Emitters' bounds check: writing past the caller's buffer is a programming error. */
export function needRoom(buf: Uint8Array, offset: number, length: number, what: string): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + length > buf.length) {
    throw new RangeError(
      `${what}: needs ${length} bytes at offset ${offset}, buffer holds ${buf.length}`,
    );
  }
}

/** Throws a RangeError unless `v` is an integer in [0, max]. */
export function needUint(v: number, max: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw new RangeError(`${what} must be an integer in 0..${max}, got ${v}`);
  }
}

/** The DataView the style guide asks for: over exactly `b`'s bytes, whatever pool it lives in. */
export function dataView(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * A fresh Uint8Array holding `b[start..end)`. Not `b.slice()`: on a Node Buffer (which is what
 * the capture library hands over) `slice` returns a view into the same memory, and the library
 * reuses that memory for the next packet.
 */
export function copyBytes(b: Uint8Array, start: number, end: number): Uint8Array {
  const out = new Uint8Array(end - start);
  for (let i = 0; i < out.length; i++) out[i] = b[start + i];
  return out;
}
