import { readdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveImage, type ProgressEvent } from '../../src/image/index.js';
import { isLoopbackHost, parseChallenge } from '../../src/image/registry-client.js';
import { RootfsCache } from '../../src/rootfs/index.js';
import { buildImage, writeOciLayout, type BuiltImage } from '../fixtures/oci-images.js';
import { capability, richImage } from '../fixtures/rich-image.js';
import { ext4Ls, ext4Stat, ext4Xattr, fakeInit, fsck, tempDir } from '../helpers/images.js';
import { missingRegistryTools, startRegistry, type TestRegistry } from '../helpers/registry.js';

const tmp = tempDir();
const init = fakeInit(tmp.path);
const layout = join(tmp.path, 'rich-layout');
const multi = join(tmp.path, 'multi-layout');
afterAll(() => tmp.cleanup());

const missing = missingRegistryTools();
if (missing.length) throw new Error(`registry tests need ${missing.join(', ')}: run scripts/test.mjs (it installs scripts/lib/deps.mjs's test packages) or apt-get install docker-registry skopeo apache2-utils openssl`);

describe('pulling from a real registry (docker-registry on loopback)', () => {
  let reg: TestRegistry;
  let built: BuiltImage;
  beforeAll(async () => {
    built = writeOciLayout(layout, richImage, { tag: 'v1' });
    writeOciLayout(multi, richImage, { tag: 'v1', multiPlatform: true });
    reg = await startRegistry(join(tmp.path, 'reg-anon'));
    await reg.push(`oci:${layout}:v1`, 'test/rich:v1');
    await reg.push(`oci:${multi}:v1`, 'test/multi:v1', { all: true });
  }, 120_000);
  afterAll(() => reg?.stop());

  it('pulls anonymously over plain HTTP on loopback, caches layers and builds the rootfs', async () => {
    const cacheDir = join(tmp.path, 'cache-anon');
    const events: ProgressEvent[] = [];
    const image = await resolveImage(`${reg.host}/test/rich:v1`, { cacheDir, onProgress: (e) => events.push(e) });
    expect(image.reference).toBe(`${reg.host}/test/rich:v1`);
    expect(image.config.cmd).toEqual(['/bin/sh', '-c', 'echo hi']);
    const run = await new RootfsCache(cacheDir).prepare(image, { initPath: init });
    expect(fsck(run.basePath)).toMatchObject({ ok: true });
    expect(ext4Stat(run.basePath, '/bin/su')).toMatchObject({ mode: 0o4755 });
    expect(ext4Stat(run.basePath, '/home/app')).toMatchObject({ uid: 1000, gid: 1000 });
    expect(ext4Xattr(run.basePath, '/bin/ping', 'security.capability')).toEqual(capability);
    expect(ext4Ls(run.basePath, '/opt').sort()).toEqual(['new', 'sub']);
    await run.release();
    // Every layer blob landed in the cache, and progress reported each as done.
    // (skopeo compresses the uncompressed layer on push, so digests come from the registry's manifest.)
    expect(readdirSync(join(cacheDir, 'blobs', 'sha256')).sort()).toEqual(image.layers.map((l) => l.digest.slice(7)).sort());
    expect(events.filter((e) => e.done).map((e) => e.digest).sort()).toEqual(image.layers.map((l) => l.digest).sort());
    expect(image.layers[1]!.digest).toBe(built.layers[1]!.digest); // the zstd layer travels unchanged
    // A second pull of the same layers downloads nothing.
    const again: ProgressEvent[] = [];
    const image2 = await resolveImage(`docker://${reg.host}/test/rich:v1`, { cacheDir, onProgress: (e) => again.push(e) });
    for (const l of image2.layers) await l.prefetch?.();
    expect(again).toEqual([]);
  });

  it('resolves a pushed multi-platform index to linux/amd64 and pulls by digest', async () => {
    const cacheDir = join(tmp.path, 'cache-multi');
    const image = await resolveImage(`${reg.host}/test/multi:v1`, { cacheDir });
    expect(image.indexDigest).toMatch(/^sha256:/);
    const single = await resolveImage(`${reg.host}/test/rich:v1`, { cacheDir });
    expect(image.digest).toBe(single.digest);
    const byDigest = await resolveImage(`${reg.host}/test/multi@${image.indexDigest}`, { cacheDir });
    expect(byDigest.digest).toBe(image.digest);
  });

  it('says which image is missing', async () => {
    await expect(resolveImage(`${reg.host}/test/nope:v1`, { cacheDir: join(tmp.path, 'c') })).rejects.toThrow(/manifest test\/nope:v1 not found in 127\.0\.0\.1:\d+\/test\/nope \(404\)/);
  });
});

describe('registry authentication', () => {
  it('uses basic auth from options or ~/.docker/config.json, and explains a refusal', async () => {
    const reg = await startRegistry(join(tmp.path, 'reg-basic'), 'basic');
    try {
      await reg.push(`oci:${layout}:v1`, 'private/rich:v1');
      const ref = `${reg.host}/private/rich:v1`;
      const cacheDir = join(tmp.path, 'cache-basic');
      const noConfig = join(tmp.path, 'no-such-config.json');
      await expect(resolveImage(ref, { cacheDir, dockerConfigPath: noConfig })).rejects.toThrow(/needs a user name and password.*docker login/);
      await expect(resolveImage(ref, { cacheDir, credentials: { username: reg.user!, password: 'wrong' } })).rejects.toThrow(/refused the credentials.*\(401\)/);
      const img = await resolveImage(ref, { cacheDir, credentials: { [reg.host]: { username: reg.user!, password: reg.password! } } });
      expect(img.layers).toHaveLength(3);
      const cfg = join(tmp.path, 'docker-config.json');
      writeFileSync(cfg, JSON.stringify({ auths: { [`http://${reg.host}`]: { auth: Buffer.from(`${reg.user}:${reg.password}`).toString('base64') } } }));
      const fromConfig = await resolveImage(ref, { cacheDir, dockerConfigPath: cfg });
      for (const l of fromConfig.layers) await l.prefetch?.();
      expect(fromConfig.digest).toBe(img.digest);
    } finally {
      await reg.stop();
    }
  }, 60_000);

  it('follows the bearer token flow from WWW-Authenticate', async () => {
    const reg = await startRegistry(join(tmp.path, 'reg-token'), 'token');
    try {
      await reg.push(`oci:${layout}:v1`, 'tok/rich:v1');
      reg.tokenRequests.length = 0;
      const ref = `${reg.host}/tok/rich:v1`;
      const cacheDir = join(tmp.path, 'cache-token');
      await expect(resolveImage(ref, { cacheDir, dockerConfigPath: join(tmp.path, 'none.json') })).rejects.toThrow(/token service of 127\.0\.0\.1:\d+ refused a token for tok\/rich \(401\).*log in or pass credentials/);
      const image = await resolveImage(ref, { cacheDir, credentials: { username: reg.user!, password: reg.password! } });
      const run = await new RootfsCache(cacheDir).prepare(image, { initPath: init });
      expect(ext4Stat(run.basePath, '/etc/shadow')).toMatchObject({ gid: 42, mode: 0o640 });
      await run.release();
      expect(reg.tokenRequests.at(-1)).toEqual({ scope: 'repository:tok/rich:pull', service: 'vmstep-test-registry', authorized: true });
    } finally {
      await reg.stop();
    }
  }, 60_000);
});

describe('registry faults (a scripted registry)', () => {
  async function scripted(img: BuiltImage, faults: { failFirst?: number; corruptLayer?: boolean }) {
    let failures = faults.failFirst ?? 0;
    const hits: string[] = [];
    const server = createServer((req, res) => {
      hits.push(req.url ?? '');
      if (failures > 0) {
        failures--;
        res.writeHead(503).end();
        return;
      }
      const m = /^\/v2\/app\/(manifests|blobs)\/(.+)$/.exec(req.url ?? '');
      if (req.url === '/v2/') return void res.writeHead(200).end('{}');
      if (!m) return void res.writeHead(404).end();
      if (m[1] === 'manifests') return void res.writeHead(200, { 'content-type': img.manifest.mediaType, 'docker-content-digest': img.manifest.digest }).end(img.manifest.bytes);
      const blob = [img.config, ...img.layers].find((b) => b.digest === m[2]);
      if (!blob) return void res.writeHead(404).end();
      const bytes = Buffer.from(blob.bytes);
      if (faults.corruptLayer && blob !== img.config) bytes.writeUInt8(bytes.readUInt8(bytes.length - 5) ^ 1, bytes.length - 5);
      res.writeHead(200).end(bytes);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { host: `127.0.0.1:${(server.address() as AddressInfo).port}`, hits, close: () => new Promise((r) => server.close(r)) };
  }

  it('retries transient failures with backoff', async () => {
    const img = buildImage({ layers: [{ entries: [{ path: 'a', content: 'a' }] }] });
    const s = await scripted(img, { failFirst: 2 });
    try {
      const image = await resolveImage(`${s.host}/app:1`, { cacheDir: join(tmp.path, 'c-retry') });
      expect(image.digest).toBe(img.manifest.digest);
      expect(s.hits.filter((h) => h === '/v2/app/manifests/1').length).toBeGreaterThanOrEqual(3);
    } finally {
      await s.close();
    }
  });

  it('refuses a layer whose bytes differ from its digest and caches nothing', async () => {
    const img = buildImage({ layers: [{ entries: [{ path: 'a', size: 10000 }] }] });
    const s = await scripted(img, { corruptLayer: true });
    const cacheDir = join(tmp.path, 'c-corrupt');
    try {
      const image = await resolveImage(`${s.host}/app:1`, { cacheDir });
      await expect(image.layers[0]!.prefetch!()).rejects.toThrow(new RegExp(`layer ${img.layers[0]!.digest}: content has digest`));
      expect(readdirSync(join(cacheDir, 'blobs', 'sha256'))).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it('allows plain HTTP only for loopback hosts unless listed', () => {
    expect(isLoopbackHost('localhost:5000')).toBe(true);
    expect(isLoopbackHost('127.1.2.3:80')).toBe(true);
    expect(isLoopbackHost('[::1]:5000')).toBe(true);
    expect(isLoopbackHost('registry.example.com')).toBe(false);
    expect(isLoopbackHost('127.0.0.1.evil.com')).toBe(false);
    expect(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"')).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' },
    });
  });
});
