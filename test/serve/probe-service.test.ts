// The /probe logic without root: a real Checker over a scripted strategy behind ProbeService and
// its HTTP server on loopback. Request checking (400 with one line), the scrape-timeout cap,
// the text format, coalescing of concurrent scrapes, modules from a config, /metrics.
import test from 'ava';
import { parseServeConfig } from '../../src/serve/modules.js';
import { ProbeService, serveProbes } from '../../src/serve/probe-server.js';
import { probeText } from '../../src/serve/probe-text.js';
import { probeTimeoutMs } from '../../src/serve/probe-timeout.js';
import type { CheckResult } from '../../src/checker.js';
import { ConfigError } from '../../src/monitor/config.js';
import { fromStrings, scriptedChecker } from '../monitor/scripted-strategy.js';

const modules = parseServeConfig('modules:\n  quick:\n    timeout: 200ms\n    retries: 1\n  burst3:\n    burst: 3\n', 'serve.yaml');

const timeoutCase = test.macro({
  exec(t, header: string | undefined, moduleMs: number | undefined, offsetMs: number, expected: number) {
    t.is(probeTimeoutMs(header, moduleMs, offsetMs), expected);
  },
  title: (_p, header, moduleMs, offsetMs, expected) => `timeout: header ${String(header)}, module ${String(moduleMs)}, offset ${offsetMs} -> ${expected}ms`,
});
test(timeoutCase, '1', undefined, 500, 500); // Prometheus at 1s: 1 - 0.5 s, as blackbox
test(timeoutCase, '10', 2000, 500, 2000); // the module's is shorter
test(timeoutCase, '3', 5000, 500, 2500); // the scrape's is shorter
test(timeoutCase, '0.4', undefined, 500, 400); // at or below the offset: the whole scrape timeout
test(timeoutCase, undefined, undefined, 500, 9500); // no header: Prometheus's default 10 s
test(timeoutCase, '2.5', undefined, 0, 2500);

test('a bad scrape-timeout header is a 400 with one line', async (t) => {
  const { checker, strategy } = await scriptedChecker(fromStrings({}));
  const service = new ProbeService({ checker, modules });
  for (const header of ['soon', '-1', '0', '']) {
    const answer = await service.probe(new URLSearchParams({ target: '198.18.0.2:80' }), header);
    t.is(answer.status, 400, header);
    t.regex(answer.body, /^x-prometheus-scrape-timeout-seconds must be a positive number of seconds, got "[^"\n]*"\n$/);
  }
  t.is(strategy.probes, 0);
  await checker.close();
});

const badRequest = test.macro({
  async exec(t, query: Record<string, string | string[]>, message: RegExp) {
    const { checker, strategy } = await scriptedChecker(fromStrings({}));
    const service = new ProbeService({ checker, modules });
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) for (const one of [v].flat()) params.append(k, one);
    const answer = await service.probe(params, '1');
    t.is(answer.status, 400);
    t.regex(answer.body, message);
    t.is(answer.body.split('\n').length, 2, 'one line');
    t.is(strategy.probes, 0, 'nothing sent');
    t.regex((await service.metrics()).body, /tcp_shaker_serve_bad_requests_total 1/);
    await checker.close();
  },
  title: (provided = '') => `400 with one line: ${provided}`,
});
test('no target', badRequest, {}, /^target parameter is missing/);
test('empty target', badRequest, { target: '' }, /^target parameter is missing/);
test('two targets', badRequest, { target: ['198.18.0.2:80', '198.18.0.2:81'] }, /^give one target parameter per probe/);
test('no port', badRequest, { target: '198.18.0.2' }, /missing ":port"/);
test('a CIDR block', badRequest, { target: '198.18.0.0/24:80' }, /invalid/);
test('port 0', badRequest, { target: '198.18.0.2:0' }, /invalid port 0/);
test('unknown module', badRequest, { target: '198.18.0.2:80', module: 'http_2xx' }, /^unknown module "http_2xx" \(known: default, quick, burst3\)$/m);

test('open: probe_success 1 and tcp-shaker\'s own metrics', async (t) => {
  const { checker } = await scriptedChecker(fromStrings({ '198.18.0.2:80': '+' }));
  const service = new ProbeService({ checker, modules });
  const answer = await service.probe(new URLSearchParams({ target: '198.18.0.2:80', module: 'quick' }), '5');
  t.is(answer.status, 200);
  t.is(answer.contentType, 'text/plain; version=0.0.4; charset=utf-8');
  t.regex(answer.body, /^probe_success 1$/m);
  t.regex(answer.body, /^probe_duration_seconds [\d.e-]+$/m);
  t.regex(answer.body, /^probe_ip_protocol 4$/m);
  t.regex(answer.body, /^probe_tcp_shaker_status\{status="open"\} 1$/m);
  t.regex(answer.body, /^probe_tcp_shaker_status\{status="closed"\} 0$/m);
  t.regex(answer.body, /^probe_tcp_shaker_rtt_seconds 0\.0005$/m);
  t.regex(answer.body, /^probe_tcp_shaker_syns_sent 1$/m);
  t.regex(answer.body, /^probe_tcp_shaker_timeout_seconds 0\.2$/m, 'the module\'s 200ms, under the scrape\'s 4.5s');
  t.regex(answer.body, /^probe_tcp_shaker_info\{ip="198\.18\.0\.2",strategy="connect"\} 1$/m);
  await checker.close();
});

test('a burst succeeds when one probe is open; closed and timeout are probe_success 0', async (t) => {
  const { checker } = await scriptedChecker(fromStrings({ '198.18.0.2:80': '-+-', '198.18.0.2:81': '-', '[2001:2::2]:82': 't' }));
  const service = new ProbeService({ checker, modules });
  const burst = await service.probe(new URLSearchParams({ target: '198.18.0.2:80', module: 'burst3' }), '1');
  t.regex(burst.body, /^probe_success 1$/m);
  t.regex(burst.body, /^probe_tcp_shaker_probes\{open="true"\} 1$/m);
  t.regex(burst.body, /^probe_tcp_shaker_probes\{open="false"\} 2$/m);
  t.regex(burst.body, /^probe_tcp_shaker_syns_sent 3$/m);
  const closed = await service.probe(new URLSearchParams({ target: '198.18.0.2:81' }), '1');
  t.regex(closed.body, /^probe_success 0$/m);
  t.regex(closed.body, /^probe_tcp_shaker_status\{status="closed"\} 1$/m);
  t.regex(closed.body, /^probe_tcp_shaker_info\{ip="198\.18\.0\.2",code="ECONNREFUSED",strategy="connect"\} 1$/m);
  const silent = await service.probe(new URLSearchParams({ target: '[2001:2::2]:82' }), '1');
  t.regex(silent.body, /^probe_success 0$/m);
  t.regex(silent.body, /^probe_ip_protocol 6$/m);
  t.regex(silent.body, /^probe_tcp_shaker_status\{status="timeout"\} 1$/m);
  t.notRegex(silent.body, /probe_tcp_shaker_rtt_seconds/);
  const metrics = (await service.metrics()).body;
  t.regex(metrics, /^tcp_shaker_serve_probes_total\{module="burst3",status="open"\} 1$/m);
  t.regex(metrics, /^tcp_shaker_serve_probes_total\{module="default",status="timeout"\} 1$/m);
  t.regex(metrics, /^tcp_shaker_engine_info\{strategy="connect"\} 1$/m);
  t.regex(metrics, /^tcp_shaker_engine_probes_started_total 5$/m);
  await checker.close();
});

test('concurrent scrapes of one target share one check and get the same answer', async (t) => {
  const { checker, strategy } = await scriptedChecker(fromStrings({ '198.18.0.2:80': '+' }));
  const service = new ProbeService({ checker, modules });
  const query = new URLSearchParams({ target: '198.18.0.2:80' });
  const answers = await Promise.all([service.probe(query, '1'), service.probe(query, '1'), service.probe(query, '1')]);
  t.is(strategy.probes, 1);
  t.is(answers[1].body, answers[0].body);
  t.is(answers[2].body, answers[0].body);
  // Another module or another timeout is another check.
  await Promise.all([service.probe(query, '1'), service.probe(query, '2'), service.probe(new URLSearchParams({ target: '198.18.0.2:80', module: 'quick' }), '1')]);
  t.is(strategy.probes, 4);
  t.regex((await service.metrics()).body, /^tcp_shaker_serve_coalesced_total 2$/m);
  await checker.close();
});

test('label values are escaped', (t) => {
  const result: CheckResult = { target: 'x:1', ip: '', port: 1, status: 'error', code: 'a"b\\c\nd', strategy: 'raw', attempts: 0 };
  const text = probeText({ results: [result], durationMs: 1, timeoutMs: 500 });
  t.regex(text, /^probe_tcp_shaker_info\{code="a\\"b\\\\c\\nd",strategy="raw"\} 1$/m);
  t.regex(text, /^probe_ip_protocol 0$/m);
});

test('HTTP: /probe, /metrics, 400, 404, 405 on loopback; close() stops listening', async (t) => {
  const { checker } = await scriptedChecker(fromStrings({ '198.18.0.2:80': '+' }));
  const server = await serveProbes({ checker, modules }, { host: '127.0.0.1', port: 0 });
  const get = (path: string, init?: RequestInit) => fetch(`${server.url}${path}`, init);
  const ok = await get('/probe?target=198.18.0.2:80', { headers: { 'X-Prometheus-Scrape-Timeout-Seconds': '1' } });
  t.is(ok.status, 200);
  t.regex(await ok.text(), /^probe_success 1$/m);
  const bad = await get('/probe?target=nope');
  t.is(bad.status, 400);
  t.is(await bad.text(), 'invalid address "nope": missing ":port"\n');
  t.is((await get('/metrics')).status, 200);
  t.is((await get('/elsewhere')).status, 404);
  t.is((await get('/probe', { method: 'POST' })).status, 405);
  await server.close();
  await t.throwsAsync(get('/metrics'));
  await checker.close();
});

const configError = test.macro({
  exec(t, text: string, message: RegExp) {
    t.throws(() => parseServeConfig(text, 'serve.yaml'), { instanceOf: ConfigError, message });
  },
  title: (provided = '') => `config error: ${provided}`,
});
test('unknown key', configError, 'modules:\n  a:\n    timout: 1s\n', /^serve\.yaml: modules\.a\.timout: unknown key/);
test('bad family', configError, 'modules:\n  a:\n    family: ipv4\n', /modules\.a\.family must be 4, 6, both, prefer4 or prefer6/);
test('bad burst', configError, 'modules:\n  a:\n    burst: 0\n', /modules\.a\.burst must be a whole number from 1 to 100/);
test('top level', configError, 'targets: []\n', /^serve\.yaml: targets: unknown key \(known: modules\)/);
test('not YAML', configError, 'modules: [\n', /^serve\.yaml: not valid YAML/);
