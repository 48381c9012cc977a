// Prometheus metrics of a monitor, scraped over HTTP on loopback: per-target series, engine
// counters read at scrape time, a private registry, and a clean shutdown of the server.
import test from 'ava';
import { register as globalRegistry } from 'prom-client';
import { Monitor, type MonitorRound } from '../../src/monitor/monitor.js';
import { MonitorMetrics, serveMetrics } from '../../src/monitor/metrics.js';
import { fromStrings, scriptedChecker } from './scripted-strategy.js';

/** "name{labels} value" lines, comments dropped. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

test('a scrape shows targets, changes, loss and engine counters', async (t) => {
  const { checker } = await scriptedChecker(fromStrings({ '198.18.0.2:80': '+', '198.18.0.3:80': '-' }));
  const monitor = new Monitor({
    checker,
    targets: ['198.18.0.2:80', { target: '198.18.0.3:80', name: 'web-3' }],
    defaults: { inter: 2, fastinter: 1, rise: 1, fall: 1, burst: 2 },
    spreadMs: 0,
  });
  const metrics = new MonitorMetrics(monitor);
  const server = await serveMetrics(metrics, { host: '127.0.0.1', port: 0 });
  t.teardown(() => server.close());
  t.regex(server.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);

  const rounds: MonitorRound[] = [];
  await new Promise<void>((resolve) => {
    monitor.on('round', (r) => {
      rounds.push(r);
      if (rounds.filter((x) => x.target === 'web-3').length >= 2 && rounds.some((x) => x.target === '198.18.0.2:80')) resolve();
    });
    monitor.start();
  });
  await monitor.stop();

  const response = await fetch(server.url);
  t.is(response.status, 200);
  t.regex(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const s = samples(await response.text());
  t.is(s.get('tcp_shaker_up{target="198.18.0.2:80"}'), 1);
  t.is(s.get('tcp_shaker_up{target="web-3"}'), 0);
  t.is(s.get('tcp_shaker_state_changes_total{target="198.18.0.2:80",to="up"}'), 1);
  t.is(s.get('tcp_shaker_state_changes_total{target="web-3",to="down"}'), 1);
  t.is(s.get('tcp_shaker_burst_loss_ratio{target="198.18.0.2:80"}'), 0);
  t.is(s.get('tcp_shaker_burst_loss_ratio{target="web-3"}'), 1);
  const web3Rounds = rounds.filter((r) => r.target === 'web-3').length;
  t.is(s.get('tcp_shaker_checks_total{target="web-3",status="closed"}'), web3Rounds * 2);
  const openChecks = s.get('tcp_shaker_checks_total{target="198.18.0.2:80",status="open"}')!;
  t.true(openChecks >= 2);
  // The scripted RTT is 0.5 ms: in the 0.0005 s bucket and above, not below.
  t.is(s.get('tcp_shaker_check_duration_seconds_bucket{le="0.00025",target="198.18.0.2:80"}'), 0);
  t.is(s.get('tcp_shaker_check_duration_seconds_bucket{le="0.0005",target="198.18.0.2:80"}'), openChecks);
  t.is(s.get('tcp_shaker_check_duration_seconds_count{target="198.18.0.2:80"}'), openChecks);
  t.false([...s.keys()].some((k) => k.startsWith('tcp_shaker_check_duration_seconds_count{target="web-3"')), 'closed probes are not latency');
  // Engine counters come from checker.stats() at scrape time.
  t.is(s.get('tcp_shaker_engine_info{strategy="connect"}'), 1);
  t.is(s.get('tcp_shaker_engine_probes_started_total'), checker.stats().probesStarted);
  t.is(s.get('tcp_shaker_engine_in_flight'), 0);

  const missing = await fetch(server.url.replace('/metrics', '/other'));
  t.is(missing.status, 404);
  await missing.text();
  await checker.close();
});

test('a private registry: nothing lands in prom-client\'s global one', async (t) => {
  const { checker } = await scriptedChecker(fromStrings({}));
  const before = (await globalRegistry.getMetricsAsJSON()).length;
  const metrics = new MonitorMetrics(new Monitor({ checker, targets: ['198.18.0.2:80'] }));
  t.is((await globalRegistry.getMetricsAsJSON()).length, before);
  t.regex(await metrics.metrics(), /# TYPE tcp_shaker_up gauge/);
  // Two monitors in one process do not collide.
  t.notThrows(() => new MonitorMetrics(new Monitor({ checker, targets: ['198.18.0.2:80'] })));
  await checker.close();
});

test('a port in use is a listen error; close() frees the port at once', async (t) => {
  const { checker } = await scriptedChecker(fromStrings({}));
  const metrics = new MonitorMetrics(new Monitor({ checker, targets: ['198.18.0.2:80'] }));
  const first = await serveMetrics(metrics, { host: '127.0.0.1', port: 0 });
  await t.throwsAsync(serveMetrics(metrics, { host: '127.0.0.1', port: first.port }), { code: 'EADDRINUSE' });
  // A keep-alive connection must not hold close() up.
  await (await fetch(first.url)).text();
  await first.close();
  const again = await serveMetrics(metrics, { host: '127.0.0.1', port: first.port });
  await again.close();
  t.pass();
  await checker.close();
});

test('engine stats holding a current value are gauges, the rest counters', async (t) => {
  const { checker, strategy } = await scriptedChecker(fromStrings({}));
  // The raw engine's shape: waitingForPort and queued rise and fall, syns only rise.
  let current = { synsSent: 5, inFlight: 3, waitingForPort: 2, queued: 7 };
  strategy.stats = () => ({ ...current });
  const metrics = new MonitorMetrics(new Monitor({ checker, targets: ['198.18.0.2:80'] }), checker);
  const first = await metrics.metrics();
  for (const name of ['tcp_shaker_engine_in_flight', 'tcp_shaker_engine_waiting_for_port', 'tcp_shaker_engine_queued']) {
    t.regex(first, new RegExp(`^# TYPE ${name} gauge$`, 'm'));
  }
  t.regex(first, /^# TYPE tcp_shaker_engine_syns_sent_total counter$/m);
  t.notRegex(first, /waiting_for_port_total|queued_total/);
  current = { synsSent: 9, inFlight: 0, waitingForPort: 0, queued: 1 };
  const s = samples(await metrics.metrics());
  t.is(s.get('tcp_shaker_engine_waiting_for_port'), 0);
  t.is(s.get('tcp_shaker_engine_queued'), 1);
  t.is(s.get('tcp_shaker_engine_syns_sent_total'), 9);
  await checker.close();
});
