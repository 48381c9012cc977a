// Port lists as users type them after the colon of a target: "80", "80,443", "8000-8010",
// "22,80,8000-8010". Duplicates are dropped (the first mention keeps its place), so
// "80,80-81" is two ports, not three.
import { UsageError } from './usage-error.js';

const MIN_PORT = 1;
const MAX_PORT = 65535;

function port(text: string, context: string): number {
  if (!/^\d{1,5}$/.test(text)) {
    throw new UsageError(`invalid port "${text}" in ${context}: expected a number from ${MIN_PORT} to ${MAX_PORT}`);
  }
  const n = Number(text);
  if (n < MIN_PORT || n > MAX_PORT) {
    throw new UsageError(`invalid port ${n} in ${context}: expected a number from ${MIN_PORT} to ${MAX_PORT}`);
  }
  return n;
}

/**
 * The ports of a list, in the order given, each once. A Uint16Array rather than a Set or a
 * string array: a spec with every port is 128 KiB, not 65535 objects.
 */
export function parsePortList(text: string, context: string): Uint16Array {
  if (text === '') throw new UsageError(`missing port in ${context}: expected e.g. ":80" or ":80,443,8000-8010"`);
  const seen = new Uint8Array(MAX_PORT + 1);
  const ports: number[] = [];
  for (const item of text.split(',')) {
    if (item === '') throw new UsageError(`empty item in port list "${text}" in ${context}`);
    const dash = item.indexOf('-');
    const first = port(dash < 0 ? item : item.slice(0, dash), context);
    const last = dash < 0 ? first : port(item.slice(dash + 1), context);
    if (last < first) throw new UsageError(`port range ${item} in ${context} runs backwards: write ${last}-${first}`);
    for (let p = first; p <= last; p++) {
      if (seen[p]) continue;
      seen[p] = 1;
      ports.push(p);
    }
  }
  return Uint16Array.from(ports);
}
