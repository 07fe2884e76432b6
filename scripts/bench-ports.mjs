// @ts-check
// Published ports benchmark, side by side in one run: TCP through a
// published port (host listener -> carrier -> guest init's relay -> the
// server) against plain loopback TCP to the same server.
//   throughput: 256 MiB each way (client to server, server to client), MB/s
//   connection: connect, one-byte echo, close, sequentially; median and p99 ms
// Runs through guest init's test mode (a Unix socket stands in for vsock, the
// server is on this host's loopback): both relays, the framing and the
// carriers' handshakes are real; the VM's vsock device is not. Targets (on
// hardware KVM, through a VM): at least 1 GB/s and under 1 ms per connection.
//
//   node scripts/bench-ports.mjs [--runs N] [--json FILE]
import { writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { build } from 'esbuild';
import { repoRoot } from './lib/cache.mjs';

const args = process.argv.slice(2);
const runs = args.includes('--runs') ? Number(args[args.indexOf('--runs') + 1]) : 3;
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined;
const log = (/** @type {string} */ m) => process.stderr.write(`bench-ports: ${m}\n`);
/** @param {number[]} xs @param {number} q */
const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))] ?? NaN;
const BYTES = Number(process.env.BENCH_PORTS_MIB ?? 256) * 2 ** 20;
const CONNECTIONS = 300;
const chunk = Buffer.alloc(256 * 1024, 0x5a);

/** Writes BYTES to the socket as fast as it takes them, then ends it. @param {import('node:net').Socket} s */
function sendAll(s) {
  let left = BYTES;
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      left -= n;
      if (!s.write(chunk.subarray(0, n))) return void s.once('drain', pump);
    }
    s.end();
  };
  pump();
}

/** A server that sinks what it gets (answering with its byte count), sends BYTES on "send", or echoes one byte. */
async function startServer() {
  const server = createServer({ allowHalfOpen: true }, (s) => {
    s.once('data', (first) => {
      const mode = first[0];
      if (mode === 0x73 /* s: send */) {
        sendAll(s);
        s.resume();
      } else if (mode === 0x65 /* e: echo one byte and close */) {
        s.end(first.subarray(0, 1));
      } else {
        let n = first.length;
        s.on('data', (d) => (n += d.length));
        s.on('end', () => s.end(String(n)));
      }
    });
    s.on('error', () => {});
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', () => r(undefined)));
  return { server, port: /** @type {import('node:net').AddressInfo} */ (server.address()).port };
}

/** @param {number} port */
function upload(port) {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => sendAll(s));
    let reply = '';
    s.on('data', (d) => (reply += d));
    s.on('end', () => (Number(reply) === BYTES ? resolve(undefined) : reject(new Error(`the server got ${reply} bytes`))));
    s.on('error', reject);
  });
}

/** @param {number} port */
function download(port) {
  return new Promise((resolve, reject) => {
    let n = 0;
    const s = connect({ port, host: '127.0.0.1' }, () => s.write('s'));
    s.on('data', (d) => (n += d.length));
    s.on('end', () => (n === BYTES ? resolve(undefined) : reject(new Error(`got ${n} bytes`))));
    s.on('error', reject);
  });
}

/** @param {number} port */
function echoOnce(port) {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1' }, () => s.write('e'));
    s.once('data', () => resolve(undefined));
    s.on('error', reject);
  });
}

async function main() {
  const entry = join(repoRoot, '.vmstep', 'bench-ports', 'entry.ts');
  const bundle = join(repoRoot, '.vmstep', 'bench-ports', 'ports.mjs');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(join(repoRoot, '.vmstep', 'bench-ports'), { recursive: true });
  writeFileSync(
    entry,
    [
      `export { openNetwork } from ${JSON.stringify(join(repoRoot, 'src/ports/network.ts'))};`,
      `export { startTestService } from ${JSON.stringify(join(repoRoot, 'test/helpers/guest-service.ts'))};`,
    ].join('\n'),
  );
  await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile: bundle, logLevel: 'error', external: ['vitest'], banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" } });
  const lib = await import(bundle);
  const { server, port: direct } = await startServer();
  const svc = await lib.startTestService();
  await svc.service.ready;
  const net = await lib.openNetwork({ ports: [{ hostIp: '127.0.0.1', hostPort: 0, guestPort: direct }], links: [], linkSocketPath: '', linkTarget: () => svc.endpoint });
  await net.serve(svc.endpoint);
  const published = net.published[0].hostPort;
  log(`guest init's test mode; server on 127.0.0.1:${direct}, published as 127.0.0.1:${published}; ${runs} runs, alternating`);

  /** @type {Record<string, number[]>} */
  const t = { upPub: [], upDirect: [], downPub: [], downDirect: [] };
  for (let i = 0; i < runs; i++) {
    for (const [key, fn, port] of /** @type {const} */ ([
      ['upPub', upload, published],
      ['upDirect', upload, direct],
      ['downPub', download, published],
      ['downDirect', download, direct],
    ])) {
      const t0 = performance.now();
      await fn(port);
      t[key].push(performance.now() - t0);
    }
  }
  /** @type {number[]} */ const connPub = [];
  /** @type {number[]} */ const connDirect = [];
  for (let i = 0; i < CONNECTIONS; i++) {
    for (const [list, port] of /** @type {const} */ ([
      [connPub, published],
      [connDirect, direct],
    ])) {
      const t0 = performance.now();
      await echoOnce(port);
      list.push(performance.now() - t0);
    }
  }
  const mbps = (/** @type {number[]} */ ms) => BYTES / 1e6 / (quantile(ms, 0.5) / 1000);
  const result = {
    mode: 'guest init test mode (Unix socket for vsock)',
    uploadMBps: { published: mbps(t.upPub), loopback: mbps(t.upDirect) },
    downloadMBps: { published: mbps(t.downPub), loopback: mbps(t.downDirect) },
    connectMs: { published: { median: quantile(connPub, 0.5), p99: quantile(connPub, 0.99) }, loopback: { median: quantile(connDirect, 0.5), p99: quantile(connDirect, 0.99) } },
  };
  const line = (/** @type {string} */ what, /** @type {number} */ p, /** @type {number} */ d, /** @type {string} */ unit, /** @type {boolean} */ higherBetter) =>
    `${what.padEnd(28)} published ${p.toFixed(unit === 'MB/s' ? 0 : 3).padStart(8)} ${unit}   loopback ${d.toFixed(unit === 'MB/s' ? 0 : 3).padStart(8)} ${unit}   ratio ${(higherBetter ? d / p : p / d).toFixed(2)}x ${higherBetter ? 'slower' : 'longer'}`;
  process.stdout.write(
    [
      line('throughput host -> guest', result.uploadMBps.published, result.uploadMBps.loopback, 'MB/s', true),
      line('throughput guest -> host', result.downloadMBps.published, result.downloadMBps.loopback, 'MB/s', true),
      line('connection (median)', result.connectMs.published.median, result.connectMs.loopback.median, 'ms', false),
      line('connection (p99)', result.connectMs.published.p99, result.connectMs.loopback.p99, 'ms', false),
      '',
    ].join('\n'),
  );
  if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify(result, null, 2)}\n`);
  await net.close();
  await svc.cleanup();
  server.close();
}

main().then(
  () => process.exit(0),
  (err) => {
    log(`failed: ${err instanceof Error ? err.stack : err}`);
    process.exit(1);
  },
);
