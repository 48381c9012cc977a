// `tcp-checker serve` scraped by a real Prometheus (Debian's `prometheus`, installed by
// scripts/bootstrap.sh), blackbox-style: targets relabelled into /probe?target=..., 1 s scrape
// interval, spread over two serve instances with the README's hashmod relabelling. Everything
// runs inside the testbed's client namespace: serve (so the engine reaches
// the testbed's server), Prometheus and, side by side, Debian's prometheus-blackbox-exporter, all
// talking over that namespace's own loopback. Blackbox connects from an extra client address,
// so the server's accept log tells its connections from ours: ours must be none.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import type { ExecutionContext } from 'ava';
import { privilegedTest, withTestbed } from '../helpers/testbed.js';
import type { Testbed } from '../../src/testbed/index.js';
import { summarizeFrame } from '../../src/testbed/index.js';
import { clientTables, RunningCli } from '../cli/cli-runner.js';

const PROMETHEUS = '/usr/bin/prometheus';
const BLACKBOX = '/usr/bin/prometheus-blackbox-exporter';
const BLACKBOX_SOURCE = '198.18.0.11';
// Two serve instances, sharded by the README's hashmod relabelling: shard N goes to 127.0.0.1N.
const SERVES = ['127.0.0.10:9116', '127.0.0.11:9116'];
const BLACKBOX_LISTEN = '127.0.0.1:9115';
const PROMETHEUS_LISTEN = '127.0.0.1:9090';
const inCi = process.env.CI === 'true' || process.env.CI === '1';

function tempDir(t: ExecutionContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tshk-prom-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function job(name: string, exporter: string, targets: string[], module?: string, shards?: number): string {
  const address = shards
    ? [
        '      - source_labels: [__param_target]',
        `        modulus: ${shards}`,
        '        target_label: __tmp_shard',
        '        action: hashmod',
        '      - source_labels: [__tmp_shard]',
        "        regex: '(.*)'",
        '        target_label: __address__',
        `        replacement: ${exporter}`,
      ]
    : ['      - target_label: __address__', `        replacement: ${exporter}`];
  return [
    `  - job_name: ${name}`,
    '    metrics_path: /probe',
    ...(module ? ['    params:', `      module: [${module}]`] : []),
    '    static_configs:',
    `      - targets: [${targets.map((x) => `'${x}'`).join(', ')}]`,
    '    relabel_configs:',
    '      - source_labels: [__address__]',
    '        target_label: __param_target',
    '      - source_labels: [__param_target]',
    '        target_label: instance',
    ...address,
  ].join('\n');
}

/** GET inside the client namespace (where Prometheus listens), as JSON. */
async function getJson(tb: Testbed, url: string): Promise<unknown> {
  const script = `fetch(${JSON.stringify(url)}).then((r) => r.text()).then((t) => process.stdout.write(t), (e) => { console.error(e.message); process.exit(3); })`;
  const r = await tb.exec('client', [process.execPath, '-e', script], { check: false });
  if (r.code !== 0) return undefined;
  try {
    return JSON.parse(r.stdout) as unknown;
  } catch {
    return undefined;
  }
}

type Series = Record<string, number>; // "job instance" -> value

async function query(tb: Testbed, promql: string): Promise<Series> {
  const body = (await getJson(tb, `http://${PROMETHEUS_LISTEN}/api/v1/query?query=${encodeURIComponent(promql)}`)) as
    | { status: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } }
    | undefined;
  const out: Series = {};
  if (body?.status !== 'success') return out;
  for (const r of body.data.result) out[`${r.metric.job} ${r.metric.instance}`] = Number(r.value[1]);
  return out;
}

async function waitFor<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 45_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (performance.now() > deadline) throw new Error(`${what}: gave up waiting; last seen ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

privilegedTest('Prometheus scrapes serve: probe_success 1 open, 0 closed and filtered; nothing accepted; blackbox side by side connects', async (t) => {
  // Prometheus starting, then four scrapes of everything, on a machine shared with other work.
  t.timeout(180_000);
  if (!fs.existsSync(PROMETHEUS)) {
    if (inCi) return t.fail(`${PROMETHEUS} is missing: scripts/bootstrap.sh installs Debian's prometheus`);
    t.log(`SKIPPED: ${PROMETHEUS} is missing (run scripts/bootstrap.sh)`);
    return t.pass();
  }
  const withBlackbox = fs.existsSync(BLACKBOX);
  t.log(withBlackbox ? `side by side with ${blackboxVersion()}` : `${BLACKBOX} is missing: no side-by-side comparison`);
  const tb = await withTestbed(t, { filter: [82], extraAddresses: { client: [`${BLACKBOX_SOURCE}/24`] } });
  const web = await tb.startServer({ port: 80 });
  const server4 = tb.address('server', 4);
  const open = `${server4}:80`;
  const closed = `${server4}:${tb.closedPort}`;
  const filtered = `${server4}:82`;
  const open6 = `[${tb.address('server', 6)}]:80`;
  const capture = await tb.capture({ filter: 'tcp port 80' });

  const dir = tempDir(t);
  const jobs = [job('tcp-shaker', '127.0.0.1$1:9116', [open, closed, filtered, open6], undefined, SERVES.length)];
  if (withBlackbox) {
    fs.writeFileSync(
      path.join(dir, 'blackbox.yml'),
      ['modules:', '  tcp_connect:', '    prober: tcp', '    timeout: 5s', '    tcp:', '      preferred_ip_protocol: ip4', `      source_ip_address: ${BLACKBOX_SOURCE}`, ''].join('\n'),
    );
    jobs.push(job('blackbox', BLACKBOX_LISTEN, [open, closed, filtered], 'tcp_connect'));
  }
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), ['global:', '  scrape_interval: 1s', '  scrape_timeout: 1s', 'scrape_configs:', ...jobs, ''].join('\n'));

  const serves = SERVES.map((listen) => RunningCli.start(tb, ['serve', '--listen', listen]));
  for (const [i, serve] of serves.entries()) {
    t.teardown(() => serve.child.kill('SIGKILL'));
    await serve.waitFor(new RegExp(`Serving http://${SERVES[i].replace(/\./g, '\\.')}/probe\\?target=HOST:PORT and http://\\S+/metrics with raw`));
  }
  if (withBlackbox) {
    const blackbox = tb.spawn('client', [BLACKBOX, `--config.file=${path.join(dir, 'blackbox.yml')}`, `--web.listen-address=${BLACKBOX_LISTEN}`, '--log.level=warn']);
    t.teardown(() => blackbox.kill('SIGKILL'));
  }
  const prometheus = tb.spawn('client', [
    PROMETHEUS,
    `--config.file=${path.join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=${PROMETHEUS_LISTEN}`,
    '--log.level=warn',
  ]);
  let prometheusLog = '';
  prometheus.stderr!.setEncoding('utf8').on('data', (chunk: string) => (prometheusLog += chunk));
  t.teardown(() => prometheus.kill('SIGKILL'));

  // Every series scraped at least 4 times (the probes of the filtered target each take 0.5 s).
  const expected = withBlackbox ? 7 : 4;
  const counts = await waitFor(
    'four scrapes of every target',
    () => query(tb, 'count_over_time(probe_success[1m])'),
    (s) => Object.keys(s).length === expected && Object.values(s).every((n) => n >= 4),
  ).catch((error: Error) => {
    throw new Error(`${error.message}\nprometheus: ${prometheusLog}\nserve: ${serves.map((x) => x.stderr).join('')}`);
  });
  t.log('scrapes per series:', counts);
  // Never a success for closed and filtered, never a failure for open, over every scrape so far.
  const min = await query(tb, 'min_over_time(probe_success[1m])');
  const max = await query(tb, 'max_over_time(probe_success[1m])');
  for (const target of [open, open6]) t.is(min[`tcp-shaker ${target}`], 1, `${target} was always open`);
  for (const target of [closed, filtered]) t.is(max[`tcp-shaker ${target}`], 0, `${target} was never open`);
  const protocol = await query(tb, 'probe_ip_protocol{job="tcp-shaker"}');
  t.is(protocol[`tcp-shaker ${open6}`], 6);
  t.is(protocol[`tcp-shaker ${open}`], 4);
  const status = await query(tb, 'probe_tcp_shaker_status == 1');
  t.is(Object.keys(status).length, 4);
  const statusOf = await query(tb, 'probe_tcp_shaker_status{status="timeout"}');
  t.is(statusOf[`tcp-shaker ${filtered}`], 1, 'the filtered port timed out within the capped timeout');
  const timeouts = await query(tb, 'probe_tcp_shaker_timeout_seconds');
  t.is(timeouts[`tcp-shaker ${open}`], 0.5, 'scrape timeout 1 s minus the 0.5 s offset');
  if (withBlackbox) {
    t.is(min[`blackbox ${open}`], 1);
    t.is(max[`blackbox ${closed}`], 0);
    t.is(max[`blackbox ${filtered}`], 0);
  }

  // The application's view: not one of our checks reached accept(); every blackbox probe did.
  const total = await web.acceptCount();
  const ours = web.accepts.filter((a) => a.remoteAddress.replace(/^::ffff:/, '') !== BLACKBOX_SOURCE);
  const theirs = web.accepts.filter((a) => a.remoteAddress.replace(/^::ffff:/, '') === BLACKBOX_SOURCE);
  t.is(ours.length, 0, `connections accepted from tcp-shaker: ${JSON.stringify(ours)}`);
  if (withBlackbox) t.true(theirs.length >= counts[`blackbox ${open}`] - 1, `blackbox connections accepted: ${theirs.length}`);
  t.is(total, theirs.length);
  const shakerScrapes = counts[`tcp-shaker ${open}`];
  const durations = await query(tb, 'avg_over_time(probe_duration_seconds[1m])');
  t.log('mean probe_duration_seconds:', Object.fromEntries(Object.entries(durations).map(([k, v]) => [k, Number(v.toPrecision(3))])));
  t.log(`open target: tcp-shaker scraped ${shakerScrapes}x, 0 accepted; blackbox scraped ${counts[`blackbox ${open}`] ?? 0}x, ${theirs.length} accepted`);

  // On the wire, serve's SYNs to port 80 got SYN-ACKs and were never followed by a bare ACK.
  const engineEnd = (ip?: string) => ip === tb.address('client', 4) || ip === tb.address('client', 6);
  const recording = await capture.stop();
  const frames = recording.records.map((r) => summarizeFrame(recording.file.linkType, r.data));
  t.true(frames.some((f) => engineEnd(f.src) && f.tcpFlags === 'S'), 'SYNs from the engine reached the server');
  t.true(frames.some((f) => engineEnd(f.dst) && f.tcpFlags === 'S.'), 'the server answered SYN-ACK');
  t.deepEqual(frames.filter((f) => engineEnd(f.src) && f.tcpFlags === '.'), [], 'no handshake-completing ACK from the engine');

  // Each instance's /metrics has its engine's counters: hashmod gave both instances targets.
  const probed: number[] = [];
  for (const listen of SERVES) {
    const metrics = await tb.exec('client', [process.execPath, '-e', `fetch('http://${listen}/metrics').then((r) => r.text()).then((x) => process.stdout.write(x))`]);
    t.regex(metrics.stdout, /^tcp_shaker_engine_syns_sent_total [1-9]\d*$/m, listen);
    probed.push([...metrics.stdout.matchAll(/^tcp_shaker_serve_probes_total\{[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0));
  }
  t.log('probes per serve instance:', probed);
  t.true(probed.every((n) => n > 0), 'every shard has targets');

  prometheus.kill('SIGTERM');
  for (const serve of serves) serve.child.kill('SIGTERM');
  for (const serve of serves) {
    t.is(await serve.exited, 0, serve.stderr);
    t.regex(serve.stderr, /Stopped by SIGTERM/);
  }
  t.deepEqual(clientTables(tb), [], 'the engines\' nftables tables are gone');
});

/** Debian's prometheus-blackbox-exporter: present where it installs (bootstrap tries). */
function blackboxVersion(): string {
  // Go's flag library prints the version to stderr on some builds, stdout on others.
  const r = spawnSync(BLACKBOX, ['--version'], { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n')[0];
}
