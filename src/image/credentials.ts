// Registry credentials: explicit options first, then the Docker config
// (`auths` entries with base64 "user:password", or a credential helper named
// by credHelpers/credsStore). Secrets never appear in errors or logs.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Credentials } from './types.js';

/** "https://index.docker.io/v1/" and "docker.io" are the same registry. */
export function normaliseRegistryHost(key: string): string {
  const host = key.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '').toLowerCase();
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? 'docker.io' : host;
}

function isCredentials(v: unknown): v is Credentials {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o.username === 'string' || typeof o.password === 'string' || typeof o.registryToken === 'string';
}

export function dockerConfigPath(): string {
  return join(process.env.DOCKER_CONFIG || join(homedir(), '.docker'), 'config.json');
}

function runHelper(helper: string, host: string): Promise<Credentials | undefined> {
  return new Promise((resolve) => {
    const child = execFile(`docker-credential-${helper}`, ['get'], { timeout: 20_000 }, (err, stdout) => {
      if (err) return resolve(undefined);
      try {
        const r = JSON.parse(stdout) as { Username?: string; Secret?: string };
        if (!r.Secret) return resolve(undefined);
        // "<token>" as user name marks an identity token, which needs the OAuth flow we do not do.
        if (r.Username === '<token>') return resolve(undefined);
        resolve({ username: r.Username ?? '', password: r.Secret });
      } catch {
        resolve(undefined);
      }
    });
    child.stdin?.end(host === 'docker.io' ? 'https://index.docker.io/v1/' : host);
  });
}

export async function findCredentials(
  host: string,
  options: { credentials?: Credentials | Record<string, Credentials>; dockerConfigPath?: string },
): Promise<Credentials | undefined> {
  const want = normaliseRegistryHost(host);
  const given = options.credentials;
  if (given) {
    if (isCredentials(given)) return given;
    for (const [k, v] of Object.entries(given)) if (normaliseRegistryHost(k) === want) return v;
  }
  let doc: { auths?: Record<string, { auth?: string; username?: string; password?: string; registrytoken?: string }>; credHelpers?: Record<string, string>; credsStore?: string };
  try {
    doc = JSON.parse(await readFile(options.dockerConfigPath ?? dockerConfigPath(), 'utf8'));
  } catch {
    return undefined; // no config: anonymous
  }
  for (const [k, v] of Object.entries(doc.credHelpers ?? {})) {
    if (normaliseRegistryHost(k) === want && typeof v === 'string') return runHelper(v, want);
  }
  for (const [k, v] of Object.entries(doc.auths ?? {})) {
    if (normaliseRegistryHost(k) !== want || typeof v !== 'object' || v === null) continue;
    if (typeof v.registrytoken === 'string' && v.registrytoken) return { registryToken: v.registrytoken };
    if (typeof v.auth === 'string' && v.auth) {
      const plain = Buffer.from(v.auth, 'base64').toString('utf8');
      const i = plain.indexOf(':');
      if (i > 0) return { username: plain.slice(0, i), password: plain.slice(i + 1) };
    }
    if (typeof v.username === 'string' && typeof v.password === 'string') return { username: v.username, password: v.password };
  }
  if (typeof doc.credsStore === 'string' && doc.credsStore) return runHelper(doc.credsStore, want);
  return undefined;
}
