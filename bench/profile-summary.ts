// Self time per function in a V8 .cpuprofile (what `node --cpu-prof` writes): every sample is
// charged to the function on top of the stack, and functions are merged by name and location.
// Optionally only samples inside a window (CLOCK_MONOTONIC µs, the profile's own clock) count,
// so start-up and teardown do not drown the workload.
//
//   node --import tsx/esm bench/profile-summary.ts FILE.cpuprofile [--top 20]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTimeEntry {
  /** "name (file:line)"; V8's own buckets keep their names: (garbage collector), (program), (idle). */
  fn: string;
  selfMs: number;
  /** Share of the samples counted, idle excluded. */
  share: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  idleMs: number;
  top: SelfTimeEntry[];
  /** Self time by source file (or V8 bucket), for the big picture. */
  byFile: SelfTimeEntry[];
  /** Time by stage of a check (STAGES: the innermost frame on the stack that names one). */
  byStage: SelfTimeEntry[];
}

/**
 * The stages of a check, by the functions that do them; a sample counts for the innermost
 * frame on its stack that matches (a template write under sendSyn is "build SYN", under
 * sendRst "RST"). Matched on "name file".
 */
const STAGES: Array<[string, RegExp]> = [
  ['build SYN', /^sendSyn |^buildSyn /],
  ['RST', /^sendRst /],
  ['hand-over to the sender', /^(flushQueue|flushSoon|commit|reserve) .*native\/sender/],
  ['parse', /^(read|readIp|fromRepr) .*tcp-reply-view|^decodeReply |^ipOffset /],
  ['match', /^(onTcp|onIcmp|sameAddress) |^find .*probe-table/],
  ['settle', /^(finish|onTimer|closedOutcome|rtt|launchWaiting) .*raw-strategy|deadline-heap|^release .*(probe-table|capture-pool)/],
  ['capture', /^onFrame |native\/capture|capture\/pcap/],
  ['submit (port, ISN, table)', /^(launch|launchOrReport|submit|pickPort|knownRoute|targetBytes|sourceBytes|waitForPort) .*raw-strategy|^allocate .*probe-table|isn\.ts|^acquire .*capture-pool|engine\/route/],
  ['batch / Checker API', /check-many|checker\.ts|core\/target|core\/abort-watch/],
  ['output (CLI)', /cli\/(json-lines|output|summary|check-command)/],
  ['caller (bench driver)', /bench\/workloads/],
];

function stageOf(frame: CallFrame, root: string): string | undefined {
  const key = `${frame.functionName || '(anonymous)'} ${frame.url ? location(frame.url, root) : ''}`;
  for (const [stage, pattern] of STAGES) if (pattern.test(key)) return stage;
  return undefined;
}

function location(url: string, root: string): string {
  let where = url.replace(/^file:\/\//, '');
  if (where.startsWith(root)) where = where.slice(root.length + 1);
  else if (where.includes('/node_modules/')) where = where.slice(where.lastIndexOf('/node_modules/') + 1);
  return where;
}

function label(frame: CallFrame, root: string): string {
  const name = frame.functionName || '(anonymous)';
  if (!frame.url) return name;
  const where = location(frame.url, root);
  // Under tsx every module is one transpiled line: the line number would say nothing.
  return frame.lineNumber > 0 ? `${name} (${where}:${frame.lineNumber + 1})` : `${name} (${where})`;
}

export function summariseProfile(file: string, options: { top?: number; windowUs?: [number, number]; root?: string } = {}): ProfileSummary {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const root = options.root ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const byId = new Map<number, string>();
  const fileOf = new Map<number, string>();
  const parentOf = new Map<number, number>();
  const nodeOf = new Map<number, ProfileNode>();
  for (const node of profile.nodes) {
    byId.set(node.id, label(node.callFrame, root));
    nodeOf.set(node.id, node);
    for (const child of node.children ?? []) parentOf.set(child, node.id);
    fileOf.set(node.id, node.callFrame.url ? location(node.callFrame.url, root) : node.callFrame.functionName || '(anonymous)');
  }
  const stageCache = new Map<number, string>();
  const stageFor = (id: number): string => {
    const cached = stageCache.get(id);
    if (cached !== undefined) return cached;
    let stage: string | undefined;
    for (let at: number | undefined = id; at !== undefined && stage === undefined; at = parentOf.get(at)) {
      const node = nodeOf.get(at);
      if (node) stage = stageOf(node.callFrame, root);
    }
    const name = nodeOf.get(id)?.callFrame.functionName ?? '';
    const result = stage ?? (name.startsWith('(') ? name : 'other (Node, start-up, timers)');
    stageCache.set(id, result);
    return result;
  };
  const stageUs = new Map<string, number>();
  const selfUs = new Map<string, number>();
  const fileUs = new Map<string, number>();
  let t = profile.startTime;
  let idleUs = 0;
  let totalUs = 0;
  const [from, to] = options.windowUs ?? [-Infinity, Infinity];
  for (let i = 0; i < profile.samples.length; i++) {
    // timeDeltas[i] is the gap before sample i; charge it to that sample.
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    if (t < from || t > to) continue;
    const name = byId.get(profile.samples[i]) ?? '(unknown)';
    if (name === '(idle)') {
      idleUs += delta;
      continue;
    }
    totalUs += delta;
    selfUs.set(name, (selfUs.get(name) ?? 0) + delta);
    const where = fileOf.get(profile.samples[i]) ?? '(unknown)';
    fileUs.set(where, (fileUs.get(where) ?? 0) + delta);
    const stage = stageFor(profile.samples[i]);
    stageUs.set(stage, (stageUs.get(stage) ?? 0) + delta);
  }
  const rank = (m: Map<string, number>, n: number): SelfTimeEntry[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([fn, us]) => ({ fn, selfMs: Math.round(us / 10) / 100, share: totalUs > 0 ? us / totalUs : 0 }));
  return {
    file,
    totalMs: Math.round(totalUs / 10) / 100,
    idleMs: Math.round(idleUs / 10) / 100,
    top: rank(selfUs, options.top ?? 20),
    byFile: rank(fileUs, 10),
    byStage: rank(stageUs, STAGES.length + 4),
  };
}

export function formatProfileSummary(summary: ProfileSummary): string {
  const lines = [`${path.basename(summary.file)}: ${summary.totalMs} ms on CPU in the window (${summary.idleMs} ms idle)`];
  const row = (entry: SelfTimeEntry): string => `  ${entry.selfMs.toFixed(1).padStart(9)} ms ${(entry.share * 100).toFixed(1).padStart(5)} %  ${entry.fn}`;
  lines.push('by function:', ...summary.top.map(row), 'by file:', ...summary.byFile.map(row), 'by stage:', ...summary.byStage.map(row));
  return lines.join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const file = args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--top');
  const topAt = args.indexOf('--top');
  if (!file) {
    process.stderr.write('usage: profile-summary FILE.cpuprofile [--top N]\n');
    process.exit(2);
  }
  const top = topAt >= 0 ? Number(args[topAt + 1]) : 20;
  process.stdout.write(`${formatProfileSummary(summariseProfile(file, { top }))}\n`);
}
