// Registry pulls behind a proxy and with a private CA, as on a corporate
// runner: HTTPS_PROXY / HTTP_PROXY / NO_PROXY are honoured (skopeo and curl
// read them too), and NODE_EXTRA_CA_CERTS makes a private CA trusted. The
// registry is the real docker-registry on loopback; the proxy is a small
// forwarding proxy (CONNECT tunnels and absolute-URI requests) written here.
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveImage } from '../../src/image/index.js';
import { writeOciLayout } from '../fixtures/oci-images.js';
import { repoRoot } from '../helpers/artifacts.js';
import { tempDir } from '../helpers/images.js';
import { missingRegistryTools, startRegistry, type TestRegistry } from '../helpers/registry.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const missing = missingRegistryTools();
if (missing.length) throw new Error(`registry tests need ${missing.join(', ')}: apt-get install docker-registry skopeo apache2-utils openssl`);

/** A forwarding proxy on loopback that records what it was asked for. */
async function startProxy(): Promise<{ url: string; seen: string[]; stop(): Promise<void> }> {
  const seen: string[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const target = new URL(req.url!);
    const upstream = request({ host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode!, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connect', (req, socket, head) => {
    seen.push(`CONNECT ${req.url}`);
    const [host, port] = req.url!.split(':');
    const upstream = connect(Number(port), host!, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, seen, stop: () => new Promise((r) => server.close(() => r())) };
}

const PROXY_VARIABLES = ['https_proxy', 'HTTPS_PROXY', 'http_proxy', 'HTTP_PROXY', 'no_proxy', 'NO_PROXY'];
const saved = Object.fromEntries(PROXY_VARIABLES.map((v) => [v, process.env[v]]));
afterEach(() => {
  for (const v of PROXY_VARIABLES) {
    if (saved[v] === undefined) delete process.env[v];
    else process.env[v] = saved[v];
  }
});

function useProxy(vars: Record<string, string>): void {
  for (const v of PROXY_VARIABLES) delete process.env[v];
  Object.assign(process.env, vars);
}

describe('registry pulls through a proxy', () => {
  let reg: TestRegistry;
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  beforeAll(async () => {
    const layout = join(tmp.path, 'layout');
    writeOciLayout(layout, { layers: [{ entries: [{ path: 'etc/hostname', content: 'proxied\n' }] }], config: { Cmd: ['true'] } }, { tag: 'v1' });
    reg = await startRegistry(join(tmp.path, 'reg'));
    await reg.push(`oci:${layout}:v1`, 'test/small:v1');
    proxy = await startProxy();
  }, 120_000);
  afterAll(async () => {
    await reg?.stop();
    await proxy?.stop();
  });

  it('sends every registry request through HTTPS_PROXY and HTTP_PROXY', async () => {
    proxy.seen.length = 0;
    useProxy({ HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url });
    const image = await resolveImage(`${reg.host}/test/small:v1`, { cacheDir: join(tmp.path, 'cache-proxied') });
    for (const l of image.layers) await l.prefetch?.();
    expect(image.digest).toMatch(/^sha256:/);
    // undici tunnels plain HTTP through the proxy too (CONNECT): the https attempt, then the loopback fallback to HTTP.
    expect(proxy.seen.length).toBeGreaterThanOrEqual(2);
    expect(new Set(proxy.seen)).toEqual(new Set([`CONNECT ${reg.host}`]));
  });

  it('reads the lower-case variables too', async () => {
    proxy.seen.length = 0;
    useProxy({ https_proxy: proxy.url, http_proxy: proxy.url });
    await resolveImage(`${reg.host}/test/small:v1`, { cacheDir: join(tmp.path, 'cache-lower') });
    expect(proxy.seen).toContain(`CONNECT ${reg.host}`);
  });

  it('goes direct to a host NO_PROXY names', async () => {
    proxy.seen.length = 0;
    useProxy({ HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url, NO_PROXY: 'example.com,127.0.0.1' });
    const image = await resolveImage(`${reg.host}/test/small:v1`, { cacheDir: join(tmp.path, 'cache-direct') });
    expect(image.digest).toMatch(/^sha256:/);
    expect(proxy.seen).toEqual([]);
  });

  it('fails when the proxy it was told to use is not there, rather than going around it', async () => {
    useProxy({ HTTPS_PROXY: 'http://127.0.0.1:9', HTTP_PROXY: 'http://127.0.0.1:9' });
    await expect(resolveImage(`${reg.host}/test/small:v1`, { cacheDir: join(tmp.path, 'cache-dead-proxy') })).rejects.toThrow();
  });
});

describe('a registry whose certificate a private CA signed', () => {
  it('is trusted with NODE_EXTRA_CA_CERTS, and refused without it', async () => {
    const dir = tmp.path;
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=vmstep test CA');
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
    writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
    ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext');
    const requests: string[] = [];
    const server = createTlsServer({ key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.pem')) }, (req, res) => {
      requests.push(req.url!);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      // NODE_EXTRA_CA_CERTS is read when Node starts: the client runs in a process of its own.
      const script = join(dir, 'client.mjs');
      await build({
        stdin: {
          contents: `import { RegistryClient } from ${JSON.stringify(join(repoRoot, 'src/image/registry-client.ts'))};
const res = await new RegistryClient(process.argv[2], 'test/ca').get('', {}, 'the API root');
console.log(res.status);`,
          resolveDir: repoRoot,
          loader: 'ts',
        },
        bundle: true,
        platform: 'node',
        format: 'esm',
        outfile: script,
        // undici is CommonJS: give the ESM bundle a require.
        banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
        logLevel: 'silent',
      });
      // The certificate names localhost. (Refused, the client tries plain HTTP on loopback, which a TLS server does not answer.)
      const registry = `localhost:${port}`;
      // Asynchronously: the server answers from this process's event loop.
      const run = (env: NodeJS.ProcessEnv) =>
        new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
          const child = execFile(process.execPath, [script, registry], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env }, timeout: 30_000 }, (err, stdout, stderr) =>
            resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
          );
          child.stdin?.end();
        });
      const trusted = await run({ NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem') });
      expect(trusted.stderr).toBe('');
      expect(trusted.stdout.trim()).toBe('200');
      expect(requests).toContain('/v2/');
      const untrusted = await run({});
      expect(untrusted.code).not.toBe(0);
    } finally {
      await new Promise((r) => server.close(r));
    }
  }, 60_000);
});
