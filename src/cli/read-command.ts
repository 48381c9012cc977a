// `tcp-checker read FILE [--json]`: a recording (--pcap, tcpdump, Wireshark; pcap or pcapng)
// read back as the checks it holds, each printed as the live run printed it (-v lines, or the
// --json lines), then the packets that belong to no check and a one-line tally. Sends nothing,
// needs no privilege. Exit 0 when every check found the port open, 1 when any did not (as a
// live run), 2 when the file cannot be read at all.
import { MalformedPcapError } from '../capture/pcap-file.js';
import { readCaptureFile, type CaptureFile } from '../capture/capture-file.js';
import { recordedChecks, type RecordedCheck } from '../capture/recorded-checks.js';
import type { CheckResult } from '../checker.js';
import { resultJson, resultLine } from './output.js';
import { UsageError } from './usage-error.js';

export const READ_USAGE = 'usage: tcp-checker read FILE [--json]';

export interface ReadOptions {
  file: string;
  json: boolean;
}

export function parseReadArgs(argv: string[]): ReadOptions {
  const files = argv.filter((a) => a !== '--json');
  const flag = files.find((a) => a.startsWith('-') && a !== '-');
  if (flag !== undefined) throw new UsageError(`read: unknown option "${flag}" (${READ_USAGE})`);
  if (files.length !== 1) throw new UsageError(`read takes one file, got ${files.length} (${READ_USAGE})`);
  return { file: files[0], json: argv.includes('--json') };
}

/** The part of a recorded check that a live run prints. */
function asResult(check: RecordedCheck): CheckResult {
  const { source: _source, startedUs: _startedUs, packets: _packets, ...result } = check;
  return result;
}

async function load(path: string): Promise<CaptureFile> {
  try {
    return await readCaptureFile(path);
  } catch (error) {
    if (error instanceof MalformedPcapError) throw new UsageError(`${path}: ${error.message}`);
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== undefined) throw new UsageError(`cannot read ${path}: ${code}`);
    throw error;
  }
}

export async function runRead(options: ReadOptions, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const file = await load(options.file);
  const { checks, unmatched, packetCount } = recordedChecks(file);
  for (const check of checks) {
    out.write(options.json ? `${resultJson(asResult(check))}\n` : `${resultLine(asResult(check))} (from ${check.source})\n`);
  }
  for (const packet of unmatched) {
    const time = new Date(packet.timeUs / 1000).toISOString();
    out.write(
      options.json
        ? `${JSON.stringify({ unmatched: { index: packet.index, time, summary: packet.summary } })}\n`
        : `unmatched #${packet.index} ${time} ${packet.summary}\n`,
    );
  }
  const tally = new Map<string, number>();
  for (const check of checks) tally.set(check.status, (tally.get(check.status) ?? 0) + 1);
  const statuses = [...tally].map(([status, n]) => `${n} ${status}`).join(', ');
  const damage = file.damage ? `; stopped early: ${file.damage.message}` : '';
  const summary = `${options.file}: ${file.format}, ${packetCount} packets, ${checks.length} checks${statuses ? ` (${statuses})` : ''}, ${unmatched.length} unmatched${damage}\n`;
  (options.json ? process.stderr : out).write(summary);
  return checks.length > 0 && checks.every((c) => c.status === 'open') ? 0 : 1;
}
