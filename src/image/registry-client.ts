// A small OCI distribution (v2) client on Node's fetch: anonymous, basic and
// bearer-token auth (the WWW-Authenticate challenge flow Docker Hub and GHCR
// use), plain HTTP only for loopback or explicitly allowed hosts (Docker's
// rule), and retries with backoff for transient failures. Requests go through
// HTTPS_PROXY / HTTP_PROXY unless NO_PROXY names the host (upper or lower
// case, as skopeo and curl read them), with undici's own fetch: Node's global
// fetch ignores these variables (before Node 24 with NODE_USE_ENV_PROXY), and
// handing it a dispatcher of another undici version is not supported. TLS
// trusts Node's CA store, so NODE_EXTRA_CA_CERTS adds a private CA.
import { setTimeout as sleep } from 'node:timers/promises';
import { EnvHttpProxyAgent, fetch as undiciFetch } from 'undici';
import { findCredentials } from './credentials.js';
import { ImageError, type Credentials } from './types.js';

export interface RegistryClientOptions {
  credentials?: Credentials | Record<string, Credentials>;
  dockerConfigPath?: string;
  insecureRegistries?: string[];
  retries?: number;
  signal?: AbortSignal;
}

/** Hosts that Docker treats as insecure by default: localhost and 127.0.0.0/8 (and ::1). */
export function isLoopbackHost(hostPort: string): boolean {
  const host = hostPort.startsWith('[') ? hostPort.slice(1, hostPort.indexOf(']')) : hostPort.replace(/:\d+$/, '');
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Parses `Bearer realm="...",service="...",scope="..."` (quoted values may hold commas). */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  const params: Record<string, string> = {};
  if (!m) return { scheme: '', params };
  const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g;
  for (let p; (p = re.exec(m[2] ?? '')); ) params[p[1]!.toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
  return { scheme: m[1]!.toLowerCase(), params };
}

const PROXY_VARIABLES = ['https_proxy', 'HTTPS_PROXY', 'http_proxy', 'HTTP_PROXY', 'no_proxy', 'NO_PROXY'];
/** The agent reads the proxy variables when it is made: a new one when they change. */
let proxyAgent: { settings: string; agent: EnvHttpProxyAgent } | undefined;

function fetch(url: string | URL, init: RequestInit): Promise<Response> {
  const settings = PROXY_VARIABLES.map((v) => process.env[v] ?? '').join('\0');
  if (proxyAgent?.settings !== settings) {
    void proxyAgent?.agent.close();
    proxyAgent = { settings, agent: new EnvHttpProxyAgent() };
  }
  // undici's Response is the one Node's fetch returns, from another copy of undici.
  return undiciFetch(url, { ...(init as object), dispatcher: proxyAgent.agent }) as unknown as Promise<Response>;
}

function retryable(status: number): boolean {
  return status === 429 || status === 408 || (status >= 500 && status !== 501);
}

export class RegistryClient {
  private readonly apiHost: string;
  private scheme: 'https' | 'http' | undefined;
  private authHeader: string | undefined;
  private credentials: Credentials | undefined | null = null;

  constructor(
    readonly registry: string,
    readonly repository: string,
    private readonly options: RegistryClientOptions = {},
  ) {
    // Docker Hub's API lives on another name than its image names.
    this.apiHost = registry === 'docker.io' ? 'registry-1.docker.io' : registry;
  }

  private plainHttpAllowed(): boolean {
    return isLoopbackHost(this.registry) || (this.options.insecureRegistries ?? []).includes(this.registry);
  }

  private async creds(): Promise<Credentials | undefined> {
    if (this.credentials === null) this.credentials = await findCredentials(this.registry, this.options);
    return this.credentials;
  }

  /** GET path (relative to /v2/), with auth and retries; the caller owns the response body. */
  async get(path: string, headers: Record<string, string> = {}, what = path): Promise<Response> {
    const retries = this.options.retries ?? 4;
    let authTried = false;
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await this.send(path, headers);
      } catch (e) {
        if (this.options.signal?.aborted) throw e;
        if (attempt >= retries) throw new ImageError(`cannot reach registry ${this.registry} for ${what}: ${describeNetworkError(e)}`);
        await this.backoff(attempt, null);
        continue;
      }
      if (res.status === 401 && !authTried) {
        authTried = true;
        await res.body?.cancel();
        await this.authenticate(res.headers.get('www-authenticate') ?? '', what);
        attempt--; // an auth round trip is not a failure
        continue;
      }
      if (retryable(res.status) && attempt < retries) {
        await res.body?.cancel();
        await this.backoff(attempt, res.headers.get('retry-after'));
        continue;
      }
      if (res.ok) return res;
      await res.body?.cancel();
      throw this.statusError(res.status, what);
    }
  }

  private statusError(status: number, what: string): ImageError {
    const where = `${this.registry}/${this.repository}`;
    if (status === 401) return new ImageError(`registry ${this.registry} refused the credentials for ${what} (401); log in (docker login ${this.registry}) or pass credentials`);
    if (status === 403) return new ImageError(`registry ${this.registry} denied access to ${where} (403); check that the credentials may pull this repository`);
    if (status === 404) return new ImageError(`${what} not found in ${where} (404); check the image name and tag`);
    if (status === 429) return new ImageError(`registry ${this.registry} is rate-limiting pulls (429); log in for a higher limit or try later`);
    return new ImageError(`registry ${this.registry} answered ${status} for ${what}`);
  }

  private async backoff(attempt: number, retryAfter: string | null): Promise<void> {
    let ms = Math.min(250 * 2 ** attempt, 8000) * (0.75 + Math.random() * 0.5);
    const ra = retryAfter ? Number(retryAfter) : NaN;
    if (Number.isFinite(ra) && ra >= 0) ms = Math.min(ra * 1000, 30_000);
    await sleep(ms, undefined, { signal: this.options.signal });
  }

  private async send(path: string, headers: Record<string, string>): Promise<Response> {
    const h: Record<string, string> = { ...headers };
    if (this.authHeader) h.authorization = this.authHeader;
    const init: RequestInit = { headers: h, redirect: 'follow' };
    if (this.options.signal) init.signal = this.options.signal;
    if (this.scheme) return fetch(`${this.scheme}://${this.apiHost}/v2/${path}`, init);
    try {
      const res = await fetch(`https://${this.apiHost}/v2/${path}`, init);
      this.scheme = 'https';
      return res;
    } catch (e) {
      if (!this.plainHttpAllowed()) throw e;
      // Docker's rule for loopback and listed registries: fall back to plain HTTP.
      const res = await fetch(`http://${this.apiHost}/v2/${path}`, init);
      this.scheme = 'http';
      return res;
    }
  }

  private async authenticate(challenge: string, what: string): Promise<void> {
    const { scheme, params } = parseChallenge(challenge);
    const creds = await this.creds();
    if (scheme === 'basic') {
      if (!creds?.username && !creds?.password) {
        throw new ImageError(`registry ${this.registry} needs a user name and password for ${what}; log in (docker login ${this.registry}) or pass credentials`);
      }
      this.authHeader = `Basic ${Buffer.from(`${creds.username ?? ''}:${creds.password ?? ''}`).toString('base64')}`;
      return;
    }
    if (scheme !== 'bearer' || !params.realm) {
      throw new ImageError(`registry ${this.registry} asked for an authentication scheme vmstep does not know ("${challenge.slice(0, 40)}")`);
    }
    if (creds?.registryToken) {
      this.authHeader = `Bearer ${creds.registryToken}`;
      return;
    }
    let realm: URL;
    try {
      realm = new URL(params.realm);
    } catch {
      throw new ImageError(`registry ${this.registry} named an invalid token service "${params.realm}"`);
    }
    if (realm.protocol !== 'https:' && !(realm.protocol === 'http:' && (isLoopbackHost(realm.host) || this.plainHttpAllowed()))) {
      throw new ImageError(`registry ${this.registry} sent a token service over plain HTTP (${realm.origin}); refusing to send credentials there`);
    }
    if (params.service) realm.searchParams.set('service', params.service);
    realm.searchParams.set('scope', params.scope ?? `repository:${this.repository}:pull`);
    const headers: Record<string, string> = {};
    if (creds?.username || creds?.password) headers.authorization = `Basic ${Buffer.from(`${creds.username ?? ''}:${creds.password ?? ''}`).toString('base64')}`;
    let token: string | undefined;
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await fetch(realm, { headers, ...(this.options.signal ? { signal: this.options.signal } : {}) });
      } catch (e) {
        if (attempt >= (this.options.retries ?? 4)) throw new ImageError(`cannot reach the token service of ${this.registry} (${realm.origin}): ${describeNetworkError(e)}`);
        await this.backoff(attempt, null);
        continue;
      }
      if (retryable(res.status) && attempt < (this.options.retries ?? 4)) {
        await res.body?.cancel();
        await this.backoff(attempt, res.headers.get('retry-after'));
        continue;
      }
      if (!res.ok) {
        await res.body?.cancel();
        throw new ImageError(`the token service of ${this.registry} refused a token for ${this.repository} (${res.status}); ${creds ? 'check the credentials' : 'the repository may be private: log in or pass credentials'}`);
      }
      const body = (await res.json().catch(() => ({}))) as { token?: unknown; access_token?: unknown };
      token = typeof body.token === 'string' ? body.token : typeof body.access_token === 'string' ? body.access_token : undefined;
      break;
    }
    if (!token) throw new ImageError(`the token service of ${this.registry} answered without a token`);
    this.authHeader = `Bearer ${token}`;
  }
}

function describeNetworkError(e: unknown): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  return err.cause?.code ?? err.cause?.message ?? err.message;
}
