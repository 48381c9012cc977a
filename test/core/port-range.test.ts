// Source-port choice for the raw engine: the kernel's ephemeral range read from /proc (a temp
// file here), the default probe range beside it, and validation of a user-given range.
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InvalidArgumentError } from '../../src/core/errors.js';
import { checkPortRange, defaultProbePortRange, kernelEphemeralRange, type PortRange } from '../../src/core/port-range.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'port-range-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const LINUX_DEFAULT: PortRange = [32768, 60999];
let fileNo = 0;

const readsRange = test.macro({
  exec(t, content: string | undefined, expected: PortRange) {
    const file = path.join(dir, `range-${fileNo++}`);
    if (content !== undefined) writeFileSync(file, content);
    t.deepEqual(kernelEphemeralRange(file), expected);
  },
  title: (_p, content: string | undefined, expected: PortRange) =>
    `kernelEphemeralRange(${content === undefined ? 'missing file' : JSON.stringify(content)}) → ${expected.join('-')}`,
});
// /proc separates the two numbers with a tab and ends with a newline.
test(readsRange, '32768\t60999\n', [32768, 60999]);
test(readsRange, '1024\t65535\n', [1024, 65535]);
test(readsRange, '  40000   50000  ', [40000, 50000]);
test(readsRange, '5000 5000\n', [5000, 5000]);
// Anything unreadable or nonsensical falls back to Linux's default.
test(readsRange, undefined, LINUX_DEFAULT);
test(readsRange, '', LINUX_DEFAULT);
test(readsRange, 'garbage\n', LINUX_DEFAULT);
test(readsRange, '60999 32768\n', LINUX_DEFAULT);
test(readsRange, '0 1000\n', LINUX_DEFAULT);
test(readsRange, '1000 70000\n', LINUX_DEFAULT);
test(readsRange, '1000.5 2000\n', LINUX_DEFAULT);
test(readsRange, '1000\n', LINUX_DEFAULT);

test('kernelEphemeralRange() with no argument reads this host (or falls back) and is well formed', (t) => {
  const [low, high] = kernelEphemeralRange();
  t.true(Number.isInteger(low) && Number.isInteger(high) && low >= 1 && low <= high && high <= 65535);
});

const probeRange = test.macro({
  exec(t, ephemeral: PortRange, expected: PortRange | undefined) {
    if (expected === undefined) {
      const error = t.throws(() => defaultProbePortRange(ephemeral), { instanceOf: InvalidArgumentError });
      t.is(error?.code, 'ERR_SHAKER_INVALID_OPTION');
      t.true(error?.message.includes(`${ephemeral[0]}-${ephemeral[1]}`), error?.message);
      return;
    }
    const range = defaultProbePortRange(ephemeral);
    t.deepEqual(range, expected);
    t.true(range[1] - range[0] + 1 >= 64, 'at least 64 ports');
    t.true(range[1] < ephemeral[0] || range[0] > ephemeral[1], 'outside the ephemeral range');
    t.true(range[0] > 1024 && range[1] <= 65535, 'no privileged port, nothing past 65535');
  },
  title: (_p, ephemeral: PortRange, expected: PortRange | undefined) =>
    `defaultProbePortRange(${ephemeral.join('-')}) → ${expected ? expected.join('-') : 'throws'}`,
});
test(probeRange, [32768, 60999], [61000, 65535]); // Linux's default leaves this block free
test(probeRange, [32768, 65535], [28232, 32767]); // nothing above: the block below, 4536 wide
test(probeRange, [1025, 65000], [65001, 65535]);
test(probeRange, [10000, 20000], [20001, 65535]);
test(probeRange, [49152, 65535], [44616, 49151]); // the IANA dynamic range
test(probeRange, [2000, 65535], [1025, 1999]); // below, clipped at 1025
test(probeRange, [1100, 65500], [1025, 1099]); // 35 above, 75 below: below wins
test(probeRange, [61000, 65535], [56464, 60999]); // ends at 65535: nothing above
test(probeRange, [1089, 65535], [1025, 1088]); // exactly 64 below: just enough
test(probeRange, [1088, 65535], undefined); // 63 below: too few
test(probeRange, [1025, 65535], undefined); // no room at all
test(probeRange, [1025, 65472], undefined); // 63 above, none below

const checksRange = test.macro({
  exec(t, range: unknown, expected: PortRange | RegExp) {
    const ephemeral: PortRange = [32768, 60999];
    if (expected instanceof RegExp) {
      const error = t.throws(() => checkPortRange(range, ephemeral), { instanceOf: InvalidArgumentError, message: expected });
      t.is(error?.code, 'ERR_SHAKER_INVALID_OPTION');
    } else {
      const result = checkPortRange(range, ephemeral);
      t.deepEqual(result, expected);
      t.not(result, range, 'a copy, not the caller\'s array');
    }
  },
  title: (_p, range: unknown, expected: PortRange | RegExp) => `checkPortRange(${JSON.stringify(range)}) ${expected instanceof RegExp ? 'throws' : 'accepts'}`,
});
const shape = /sourcePorts must be \[low, high\]/;
const overlap = /overlap the kernel's ephemeral range 32768-60999/;
test(checksRange, [61000, 65535], [61000, 65535]);
test(checksRange, [1025, 32767], [1025, 32767]);
test(checksRange, [1, 1], [1, 1]);
test(checksRange, [65535, 65535], [65535, 65535]);
test(checksRange, [32767, 32768], overlap); // touches the low end
test(checksRange, [60999, 61000], overlap); // touches the high end
test(checksRange, [40000, 41000], overlap); // inside
test(checksRange, [1, 65535], overlap); // around
test(checksRange, [0, 100], shape);
test(checksRange, [100, 65536], shape);
test(checksRange, [200, 100], shape);
test(checksRange, [100.5, 200], shape);
test(checksRange, ['100', '200'], shape);
test(checksRange, [100], shape);
test(checksRange, [100, 200, 300], shape);
test(checksRange, undefined, shape);
test(checksRange, { 0: 100, 1: 200, length: 2 }, shape);

test('checkPortRange names the bad value in its message', (t) => {
  t.throws(() => checkPortRange([0, 70000], [32768, 60999]), { message: /got \[0,70000\]/ });
});
