// A client program for the testbed: real kernel sockets in the client namespace, started by
// `Testbed.kernelConnect` / `Testbed.kernelSendUdp` as `ip netns exec NS node this-file JSON`.
// It prints one JSON line (KernelClientReport) and exits 0, whatever the network said.
import dgram from 'node:dgram';
import net from 'node:net';

export interface KernelConnectRequest {
  kind: 'tcp';
  host: string;
  port: number;
  localAddress?: string;
  localPort?: number;
  /**
   * What to do after connecting:
   * - 'close' (default): close politely (FIN exchange).
   * - 'reset': `resetAndDestroy()`, i.e. SO_LINGER 0, so the kernel sends RST-ACK.
   * - 'abandon': close the socket `abandonAfterMs` after connect() was called, before or
   *   after the handshake; a socket still in SYN-SENT vanishes without sending anything.
   */
  then?: 'close' | 'reset' | 'abandon';
  abandonAfterMs?: number;
  /** Give up (destroy) after this long; default 5000. */
  timeoutMs?: number;
}

export interface KernelUdpRequest {
  kind: 'udp';
  host: string;
  port: number;
  localAddress?: string;
  localPort?: number;
  payloadBytes: number;
}

export type KernelClientRequest = KernelConnectRequest | KernelUdpRequest;

export interface KernelClientReport {
  /** 'connected': the handshake completed; 'error': connect() failed with `code`;
   *  'timeout': no answer in time; 'abandoned': closed before the handshake completed;
   *  'sent': the UDP datagram left. */
  outcome: 'connected' | 'error' | 'timeout' | 'abandoned' | 'sent';
  code?: string;
  localAddress?: string;
  localPort?: number;
  elapsedMs: number;
}

function report(started: number, fields: Omit<KernelClientReport, 'elapsedMs'>): void {
  const line: KernelClientReport = { ...fields, elapsedMs: Math.round(performance.now() - started) };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

function tcp(request: KernelConnectRequest, started: number): void {
  const { host, port, localAddress, localPort, then = 'close', abandonAfterMs = 0, timeoutMs = 5000 } = request;
  const socket = net.connect({ host, port, localAddress, localPort });
  let done = false;
  const finish = (fields: Omit<KernelClientReport, 'elapsedMs'>): void => {
    if (done) return;
    done = true;
    clearTimeout(timeout);
    clearTimeout(abandon);
    report(started, { localAddress: socket.localAddress, localPort: socket.localPort, ...fields });
  };
  const timeout = setTimeout(() => {
    finish({ outcome: 'timeout' });
    socket.destroy();
  }, timeoutMs);
  const abandon =
    then === 'abandon'
      ? setTimeout(() => {
          finish({ outcome: socket.connecting ? 'abandoned' : 'connected' });
          socket.destroy();
        }, abandonAfterMs)
      : undefined;
  socket.on('connect', () => {
    if (then === 'abandon') return;
    finish({ outcome: 'connected' });
    if (then === 'reset') socket.resetAndDestroy();
    else socket.end();
  });
  socket.on('error', (error: NodeJS.ErrnoException) => finish({ outcome: 'error', code: error.code }));
  socket.resume();
}

function udp(request: KernelUdpRequest, started: number): void {
  const socket = dgram.createSocket(net.isIPv6(request.host) ? 'udp6' : 'udp4');
  socket.on('error', (error: NodeJS.ErrnoException) => {
    report(started, { outcome: 'error', code: error.code });
    socket.close();
  });
  socket.bind({ address: request.localAddress, port: request.localPort ?? 0 }, () => {
    socket.send(Buffer.alloc(request.payloadBytes, 0x61), request.port, request.host, (error) => {
      const { address, port } = socket.address();
      report(started, error ? { outcome: 'error', code: (error as NodeJS.ErrnoException).code } : { outcome: 'sent', localAddress: address, localPort: port });
      socket.close();
    });
  });
}

const request = JSON.parse(process.argv[2] ?? '{}') as KernelClientRequest;
const started = performance.now();
if (request.kind === 'udp') udp(request, started);
else tcp(request, started);
