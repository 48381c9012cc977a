// A private, minimal two-namespace testbed for the strategy tests (src/testbed/ will replace it):
//
//   client netns  [vc] 198.18.0.1/24 2001:2::1/64 ---veth--- 198.18.0.2/24 2001:2::2/64 [vs]  server netns
//
// Names carry the pid and a random suffix so parallel runs never meet. destroy() kills every
// child it started (by pid) and deletes both namespaces, which takes their veth ends and nft
// tables with them; an 'exit' hook does the same synchronously if the process dies first.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export const addresses = {
  4: { client: '198.18.0.1', server: '198.18.0.2' },
  6: { client: '2001:2::1', server: '2001:2::2' },
} as const;

// System directories only: under `npx ava`, node_modules/.bin comes first on PATH and holds an
// unrelated `nft` (@vercel/nft's file tracer), which would "succeed" without loading any rule.
const systemEnv = { ...process.env, PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; rejects on a non-zero exit unless `check` is false. */
export function run(argv: readonly string[], options: { check?: boolean; input?: string } = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const stdin = options.input === undefined ? 'ignore' : 'pipe';
    const child = spawn(argv[0], argv.slice(1), { stdio: [stdin, 'pipe', 'pipe'], env: systemEnv });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0 && options.check !== false) {
        reject(new Error(`${argv.join(' ')} exited ${code}: ${stderr.trim()}`));
      } else {
        resolve({ code, stdout, stderr });
      }
    });
    // A command that exits without reading its input must not crash us with EPIPE.
    child.stdin?.on('error', () => {});
    child.stdin?.end(options.input);
  });
}

/** A long-running child (server, tcpdump) whose output is collected as it comes. */
export class Background {
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  readonly #child: ChildProcess;

  constructor(argv: readonly string[]) {
    this.#child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: systemEnv });
    this.#child.stdout?.setEncoding('utf8').on('data', (s: string) => (this.stdout += s));
    this.#child.stderr?.setEncoding('utf8').on('data', (s: string) => (this.stderr += s));
    this.exited = new Promise((resolve) => {
      this.#child.on('error', () => resolve(null));
      this.#child.on('close', (code) => resolve(code));
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Resolves once `pattern` shows up in stdout or stderr; rejects if the child exits first. */
  async waitFor(pattern: RegExp, timeoutMs = 10_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      if (pattern.test(this.stdout) || pattern.test(this.stderr)) return;
      if (this.#child.exitCode !== null || this.#child.signalCode !== null) {
        throw new Error(`child exited before printing ${pattern}: ${this.stderr.trim()}`);
      }
      if (Date.now() > until) throw new Error(`no ${pattern} after ${timeoutMs} ms: ${this.stderr.trim()}`);
      await sleep(20);
    }
  }

  /** Signals the child (SIGINT lets tcpdump flush) and waits for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill(signal);
    await this.exited;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class NetnsPair {
  readonly client: string;
  readonly server: string;
  readonly #children = new Set<Background>();
  #exitHook = (): void => this.#destroySync();

  private constructor(tag: string) {
    const id = `${process.pid}-${randomBytes(3).toString('hex')}`;
    this.client = `tss-${tag}-c-${id}`;
    this.server = `tss-${tag}-s-${id}`;
  }

  /** Creates both namespaces and the veth between them; cleans up after itself on failure. */
  static async create(tag: string): Promise<NetnsPair> {
    const pair = new NetnsPair(tag);
    process.once('exit', pair.#exitHook);
    try {
      await pair.#setUp();
      return pair;
    } catch (error) {
      await pair.destroy();
      throw error;
    }
  }

  async #setUp(): Promise<void> {
    const { client: c, server: s } = this;
    await run(['ip', 'netns', 'add', c]);
    await run(['ip', 'netns', 'add', s]);
    await run(['ip', 'link', 'add', 'vc', 'netns', c, 'type', 'veth', 'peer', 'name', 'vs', 'netns', s]);
    for (const [ns, dev, side] of [[c, 'vc', 'client'], [s, 'vs', 'server']] as const) {
      await run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
      await run(['ip', '-n', ns, 'addr', 'add', `${addresses[4][side]}/24`, 'dev', dev]);
      // nodad: usable at once, no 1-2 s of duplicate address detection.
      await run(['ip', '-n', ns, 'addr', 'add', `${addresses[6][side]}/64`, 'dev', dev, 'nodad']);
      await run(['ip', '-n', ns, 'link', 'set', dev, 'up']);
    }
  }

  /** Starts `argv` inside `ns` in the background; destroy() stops it. */
  spawnIn(ns: string, argv: readonly string[]): Background {
    const child = new Background(['ip', 'netns', 'exec', ns, ...argv]);
    this.#children.add(child);
    return child;
  }

  runIn(ns: string, argv: readonly string[], options?: { check?: boolean; input?: string }): Promise<CommandResult> {
    return run(['ip', 'netns', 'exec', ns, ...argv], options);
  }

  /** Loads an nft ruleset (text, `nft -f -`) inside `ns`. */
  async nft(ns: string, ruleset: string): Promise<void> {
    await run(['ip', 'netns', 'exec', ns, 'nft', '-f', '-'], { input: ruleset });
  }

  async stopChild(child: Background, signal?: NodeJS.Signals): Promise<void> {
    await child.stop(signal);
    this.#children.delete(child);
  }

  async destroy(): Promise<void> {
    for (const child of [...this.#children]) await this.stopChild(child, 'SIGKILL');
    for (const ns of [this.client, this.server]) await run(['ip', 'netns', 'del', ns], { check: false });
    process.removeListener('exit', this.#exitHook);
  }

  #destroySync(): void {
    for (const child of this.#children) if (child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const ns of [this.client, this.server]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore', env: systemEnv });
  }
}
