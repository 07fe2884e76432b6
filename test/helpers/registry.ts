// A real registry for tests: Debian's docker-registry (distribution 2.8)
// on a loopback port with a temporary config, optionally behind htpasswd
// basic auth or a small bearer-token server run here; images are pushed
// with skopeo from OCI layouts.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSign, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** The Debian tools these tests drive (scripts/lib/deps.mjs installs them). */
export function missingRegistryTools(): string[] {
  return ['docker-registry', 'skopeo', 'htpasswd', 'openssl'].filter((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status !== 0);
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

export interface TestRegistry {
  host: string;
  user?: string;
  password?: string;
  /** Requests the token server answered (bearer mode). */
  tokenRequests: { scope: string | null; service: string | null; authorized: boolean }[];
  push(ociRef: string, repoTag: string, opts?: { all?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

function b64url(b: Buffer | string): string {
  return Buffer.from(b).toString('base64url');
}

/** Starts docker-registry; auth: none, htpasswd basic auth, or bearer tokens from a local token server. */
export async function startRegistry(dir: string, auth: 'none' | 'basic' | 'token' = 'none'): Promise<TestRegistry> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const user = 'tester';
  const password = 'pa55-word';
  const tokenRequests: TestRegistry['tokenRequests'] = [];
  let tokenServer: Server | undefined;
  let authYaml = '';
  if (auth === 'basic') {
    const { stdout } = await exec('htpasswd', ['-Bbn', user, password]);
    writeFileSync(join(dir, 'htpasswd'), stdout);
    authYaml = `auth:\n  htpasswd:\n    realm: vmstep-test\n    path: ${join(dir, 'htpasswd')}\n`;
  } else if (auth === 'token') {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(dir, 'key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await exec('openssl', ['req', '-x509', '-new', '-key', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=vmstep-test-token']);
    const cert = new X509Certificate(readFileSync(join(dir, 'cert.pem')));
    const tport = await freePort();
    tokenServer = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const given = req.headers.authorization ?? '';
      const authorized = given === `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
      tokenRequests.push({ scope: url.searchParams.get('scope'), service: url.searchParams.get('service'), authorized });
      if (!authorized) {
        res.writeHead(401).end('{"details":"bad credentials"}');
        return;
      }
      const access = url.searchParams.getAll('scope').map((s) => {
        const [type, name, actions] = s.split(':');
        return { type, name, actions: (actions ?? '').split(',') };
      });
      const now = Math.floor(Date.now() / 1000);
      const header = { alg: 'RS256', typ: 'JWT', x5c: [cert.raw.toString('base64')] };
      const claims = { iss: 'vmstep-test-issuer', sub: user, aud: 'vmstep-test-registry', exp: now + 600, nbf: now - 10, iat: now, jti: String(Math.random()), access };
      const signing = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
      const sig = createSign('RSA-SHA256').update(signing).sign(privateKey);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `${signing}.${b64url(sig)}` }));
    });
    await new Promise<void>((r) => tokenServer!.listen(tport, '127.0.0.1', r));
    authYaml = `auth:\n  token:\n    realm: http://127.0.0.1:${tport}/token\n    service: vmstep-test-registry\n    issuer: vmstep-test-issuer\n    rootcertbundle: ${join(dir, 'cert.pem')}\n`;
  }
  const config = `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\nhttp:\n  addr: 127.0.0.1:${port}\n${authYaml}`;
  writeFileSync(join(dir, 'config.yml'), config);
  const child: ChildProcess = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const host = `127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      const r = await fetch(`http://${host}/v2/`);
      await r.body?.cancel();
      break;
    } catch {
      if (i > 100 || child.exitCode !== null) throw new Error(`docker-registry did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const creds = auth === 'none' ? [] : ['--dest-creds', `${user}:${password}`];
  return {
    host,
    ...(auth === 'none' ? {} : { user, password }),
    tokenRequests,
    async push(ociRef, repoTag, opts = {}) {
      await exec('skopeo', ['copy', '--quiet', ...(opts.all ? ['--all'] : []), '--dest-tls-verify=false', ...creds, ociRef, `docker://${host}/${repoTag}`], { timeout: 120_000 });
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
      if (tokenServer) await new Promise((r) => tokenServer!.close(r));
    },
  };
}
