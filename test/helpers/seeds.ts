// The one rule for randomized tests. `npm test` replays a fixed set of seeds (each test's own,
// including every seed that once found a bug) plus one fresh seed, printed; a failure names its
// seed and how to replay it. Randomness finds bugs in `npm run fuzz` instead, where each test
// draws fresh seeds for a while. Environment:
//   TSHK_SEED=<n>            replay that one seed (nothing else runs)
//   TSHK_FUZZ_SECONDS=<s>    fuzz: fresh seeds for about s seconds per test (scripts/fuzz.sh)
//
// Usage, in a test:
//   const run = new SeedRun(t, [1, 913031626]);
//   for (const seed of run) { const random = prng(seed); ... run.inputs++; if (bad) return t.fail(run.where(seed) + ...) }
//   run.done();
import { randomInt } from 'node:crypto';
import type { ExecutionContext } from 'ava';

/** Parses TSHK_SEED-style text: decimal or 0x-hex, taken mod 2^32. Throws on anything else. */
export function parseSeed(text: string): number {
  const trimmed = text.trim();
  if (!/^(\d+|0x[0-9a-f]+)$/i.test(trimmed)) throw new Error(`TSHK_SEED must be a number (decimal or 0x hex), got ${JSON.stringify(text)}`);
  return Number(trimmed) >>> 0;
}

function fuzzSeconds(): number {
  const text = process.env.TSHK_FUZZ_SECONDS;
  if (text === undefined || text === '') return 0;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) throw new Error(`TSHK_FUZZ_SECONDS must be a number of seconds, got ${JSON.stringify(text)}`);
  return n;
}

export class SeedRun {
  /** Seeds handed out so far. */
  seeds = 0;
  /** Inputs the test checked (packets, operations): the test adds to it; reported by done(). */
  inputs = 0;
  private readonly budgetMs = fuzzSeconds() * 1000;
  /** The test file, for the replay hint (read once: where() may be called per assertion). */
  private readonly file = testFile();

  constructor(
    private readonly t: ExecutionContext,
    private readonly fixed: readonly number[],
  ) {}

  *[Symbol.iterator](): Generator<number> {
    const replay = process.env.TSHK_SEED;
    if (replay !== undefined && replay !== '') {
      const seed = parseSeed(replay);
      this.t.log(`replaying seed ${seed} (TSHK_SEED)`);
      this.seeds++;
      yield seed;
      return;
    }
    if (this.budgetMs > 0) {
      // At least one seed, then fresh ones until the budget is spent.
      const end = Date.now() + this.budgetMs;
      do {
        this.seeds++;
        yield randomInt(0, 2 ** 32);
      } while (Date.now() < end);
      return;
    }
    for (const seed of this.fixed) {
      this.seeds++;
      yield seed >>> 0;
    }
    const fresh = randomInt(0, 2 ** 32);
    this.t.log(`fresh seed ${fresh} (replay: TSHK_SEED=${fresh})`);
    this.seeds++;
    yield fresh;
  }

  /** For failure messages: which seed, and how to replay it. */
  where(seed: number): string {
    return `seed ${seed} (replay: TSHK_SEED=${seed} npx ava ${this.file} --match '${this.t.title.replace(/'/g, '*')}')`;
  }

  /** Logs what ran; under fuzz in the one-line form scripts/fuzz.sh totals. */
  done(): void {
    if (this.budgetMs > 0) this.t.log(`fuzz-total seeds=${this.seeds} inputs=${this.inputs}`);
    else this.t.log(`${this.seeds} seeds, ${this.inputs} inputs`);
  }
}

/** The *.test.ts file on the caller's stack: ava's context does not name its file. */
function testFile(): string {
  const line = new Error().stack?.split('\n').find((l) => /\/test\/.*\.test\.ts/.test(l));
  const match = line && /(test\/[^:)]*\.test\.ts)/.exec(line);
  return match ? match[1] : '<test file>';
}
