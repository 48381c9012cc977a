import { Testbed } from '../src/testbed/index.js';
const tb = await Testbed.create({ localPrefixes: ['198.19.0.0/16'] });
try {
  await tb.exec('server', ['sysctl', '-q', '-w', 'net.core.somaxconn=65535', 'net.ipv4.tcp_max_syn_backlog=65535']);
  const loader = import.meta.resolve('tsx/esm');
  const srv = tb.spawn('server', [process.execPath, '--import', loader, '/work/main/bench/workloads/server.ts', JSON.stringify({ port: 80, ports: 16 })]);
  await new Promise<void>((r) => srv.stdout!.once('data', (d) => { console.log(String(d)); r(); }));
  const specs = JSON.parse(process.argv[2]);
  for (const spec of specs) {
    const argv = [process.execPath, ...(spec.nodeArgs ?? []), '--import', loader, '/work/main/bench/workloads/driver.ts', JSON.stringify(spec)];
    const r = await tb.exec('client', argv, { check: false, timeoutMs: 300000 });
    console.log(JSON.stringify(spec).slice(0,200));
    console.log(r.stdout.trim(), r.stderr.trim().slice(0, 2000));
  }
  srv.stdin!.write('count\n');
  await new Promise<void>((r) => srv.stdout!.once('data', (d) => { console.log(String(d)); r(); }));
} finally { await tb.destroy(); }
