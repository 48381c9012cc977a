// The HTTP face of `tcp-checker serve`: blackbox_exporter's `GET /probe?target=HOST:PORT
// [&module=NAME]` answered by a half-open check, and `GET /metrics` with the engine's own
// metrics. One started Checker serves every probe. Scrapes of the same target with the same
// module and timeout that arrive while a check is in flight join it instead of starting another
// (two Prometheus replicas scraping one exporter send one SYN train, not two), and every joiner
// gets the same answer.
//
// The server neither starts nor closes the checker; close() stops listening, aborts the checks
// in flight and waits for them.
import { listenHttp } from '../core/listen.js';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Registry } from 'prom-client';
import type { Checker, CheckResult } from '../checker.js';
import { AbortError } from '../core/errors.js';
import { registerEngineMetrics } from '../monitor/metrics.js';
import type { ProbeModules } from './modules.js';
import { parseProbeRequest, ProbeRequestError, type ProbeRequest } from './probe-request.js';
import { decidingResult, PROBE_CONTENT_TYPE, probeText, type ProbeReport } from './probe-text.js';
import { DEFAULT_TIMEOUT_OFFSET_MS, probeTimeoutMs, SCRAPE_TIMEOUT_HEADER } from './probe-timeout.js';

export interface ProbeServerOptions {
  /** A started checker; the server does not close it. */
  checker: Checker;
  modules: ProbeModules;
  /** Subtracted from the scrape timeout (default 500 ms, blackbox's --timeout-offset). */
  timeoutOffsetMs?: number;
  /** Called once per finished check (not per coalesced request), for logs. */
  onProbe?: (request: ProbeRequest, report: ProbeReport) => void;
}

export interface ProbeAnswer {
  status: number;
  contentType: string;
  body: string;
}

/** The request handling without HTTP, so tests can drive it directly. */
export class ProbeService {
  readonly registry = new Registry();
  private readonly inFlight = new Map<string, Promise<ProbeReport>>();
  private readonly aborter = new AbortController();
  private readonly probes: Counter<'module' | 'status'>;
  private readonly coalesced: Counter;
  private readonly rejected: Counter;

  constructor(private readonly options: ProbeServerOptions) {
    const registers = [this.registry];
    this.probes = new Counter({ name: 'tcp_shaker_serve_probes_total', help: 'Checks made for /probe, by module and verdict', labelNames: ['module', 'status'], registers });
    this.coalesced = new Counter({ name: 'tcp_shaker_serve_coalesced_total', help: '/probe requests answered by a check already in flight for the same target', registers });
    this.rejected = new Counter({ name: 'tcp_shaker_serve_bad_requests_total', help: '/probe requests refused with HTTP 400', registers });
    const inFlight = this.inFlight;
    new Gauge({ name: 'tcp_shaker_serve_probes_in_flight', help: 'Checks in flight for /probe', registers, collect() { this.set(inFlight.size); } });
    registerEngineMetrics(this.registry, options.checker);
  }

  /** Answers GET /probe: 200 with the probe's metrics, 400 with a one-line reason. */
  async probe(query: URLSearchParams, scrapeTimeoutHeader: string | undefined): Promise<ProbeAnswer> {
    let request: ProbeRequest;
    let timeoutMs: number;
    try {
      request = parseProbeRequest(query, this.options.modules);
      timeoutMs = probeTimeoutMs(scrapeTimeoutHeader, request.module.timeout, this.options.timeoutOffsetMs ?? DEFAULT_TIMEOUT_OFFSET_MS);
    } catch (error) {
      if (!(error instanceof ProbeRequestError)) throw error;
      this.rejected.inc();
      return { status: 400, contentType: 'text/plain; charset=utf-8', body: `${error.message}\n` };
    }
    const key = `${request.moduleName}\n${request.target}\n${timeoutMs}`;
    let report = this.inFlight.get(key);
    if (report) this.coalesced.inc();
    else {
      report = this.check(request, timeoutMs).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, report);
    }
    return { status: 200, contentType: PROBE_CONTENT_TYPE, body: probeText(await report) };
  }

  async metrics(): Promise<ProbeAnswer> {
    return { status: 200, contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** Aborts the checks in flight and waits for them to settle. */
  async close(): Promise<void> {
    this.aborter.abort(new AbortError('the probe server is closing'));
    await Promise.allSettled([...this.inFlight.values()]);
  }

  private async check(request: ProbeRequest, timeoutMs: number): Promise<ProbeReport> {
    const { module } = request;
    const started = performance.now();
    const options = {
      timeout: timeoutMs,
      signal: this.aborter.signal,
      ...(module.retries !== undefined ? { retries: module.retries } : {}),
      ...(module.family !== undefined ? { family: module.family } : {}),
    };
    const once = (): Promise<CheckResult> => this.options.checker.check(request.target, options);
    const results = await Promise.all(Array.from({ length: module.burst }, once));
    const report: ProbeReport = { results, durationMs: performance.now() - started, timeoutMs };
    this.probes.inc({ module: request.moduleName, status: decidingResult(results).status });
    this.options.onProbe?.(request, report);
    return report;
  }
}

export interface ProbeServer {
  /** e.g. "http://127.0.0.1:9116". */
  url: string;
  port: number;
  service: ProbeService;
  close(): Promise<void>;
}

const INDEX = `tcp-shaker probe server: half-open TCP checks for Prometheus
  GET /probe?target=HOST:PORT[&module=NAME]   one check, as blackbox_exporter's /probe
  GET /metrics                                the engine's own metrics
`;

function send(res: http.ServerResponse, answer: ProbeAnswer): void {
  res.writeHead(answer.status, { 'content-type': answer.contentType }).end(answer.body);
}

function handle(service: ProbeService, req: http.IncomingMessage, res: http.ServerResponse): void {
  const text = (status: number, body: string): void => send(res, { status, contentType: 'text/plain; charset=utf-8', body });
  if (req.method !== 'GET' && req.method !== 'HEAD') return text(405, 'only GET\n');
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://probe.invalid');
  } catch {
    return text(400, 'bad request URL\n');
  }
  let answer: Promise<ProbeAnswer>;
  if (url.pathname === '/probe') {
    const header = req.headers[SCRAPE_TIMEOUT_HEADER];
    answer = service.probe(url.searchParams, Array.isArray(header) ? header[0] : header);
  } else if (url.pathname === '/metrics') answer = service.metrics();
  else if (url.pathname === '/') return text(200, INDEX);
  else return text(404, 'not found: try /probe?target=HOST:PORT or /metrics\n');
  answer.then(
    (a) => send(res, a),
    (error: Error) => text(500, `${error.message.split('\n')[0]}\n`),
  );
}

/** Listens; resolves once listening, rejects with the listen error (EADDRINUSE...). */
export async function serveProbes(options: ProbeServerOptions, listen: { host?: string; port: number }): Promise<ProbeServer> {
  const service = new ProbeService(options);
  const server = http.createServer((req, res) => handle(service, req, res));
  const { origin, port } = await listenHttp(server, listen);
  return {
    url: origin,
    port,
    service,
    close: async () => {
      const closed = new Promise<void>((done) => server.close(() => done()));
      await service.close();
      server.closeAllConnections();
      await closed;
    },
  };
}
