// Target lists from a file (`-f FILE`) or standard input (`-f -`): one target spec per line,
// "#" starts a comment, blank lines are skipped. Mistakes name the file and line.
import fs from 'node:fs';
import { parseTargetSpec, type TargetSpec } from './target-spec.js';
import { UsageError } from './usage-error.js';

/** Parses a whole list; `name` is how messages refer to it ("hosts.txt", "stdin"). */
export function parseTargetLines(content: string, name: string): TargetSpec[] {
  const specs: TargetSpec[] = [];
  const lines = content.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const hash = lines[i].indexOf('#');
    const line = (hash < 0 ? lines[i] : lines[i].slice(0, hash)).trim();
    if (line === '') continue;
    if (/\s/.test(line)) throw new UsageError(`${name}:${i + 1}: one target per line, got "${line}"`);
    try {
      specs.push(parseTargetSpec(line));
    } catch (error) {
      throw new UsageError(`${name}:${i + 1}: ${(error as Error).message}`);
    }
  }
  return specs;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  stream.setEncoding('utf8');
  for await (const chunk of stream) text += chunk as string;
  return text;
}

/** Reads `-f` input: a path, or "-" for standard input. I/O failures are usage errors. */
export async function readTargetFile(path: string, stdin: NodeJS.ReadableStream = process.stdin): Promise<TargetSpec[]> {
  if (path === '-') return parseTargetLines(await readAll(stdin), 'stdin');
  let content: string;
  try {
    content = await fs.promises.readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new UsageError(`cannot read target file "${path}": ${code}`);
  }
  return parseTargetLines(content, path);
}
