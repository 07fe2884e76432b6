import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { afterAll, describe, expect, it } from 'vitest';
import { decompressedLayer, resolveImage } from '../../src/image/index.js';
import { buildTar } from '../fixtures/tar-writer.js';
import { putBlob, sha256, writeDockerArchive, writeOciArchive, writeOciLayout, type FixtureImage } from '../fixtures/oci-images.js';
import { tempDir } from '../helpers/images.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const simple: FixtureImage = {
  layers: [
    { entries: [{ path: 'hello.txt', content: 'hello' }] },
    { compression: 'zstd', entries: [{ path: 'z.txt', content: 'zstd layer' }] },
    { compression: 'none', entries: [{ path: 'plain.txt', content: 'plain layer' }] },
  ],
  config: {
    Entrypoint: ['/bin/app'],
    Cmd: ['--flag'],
    Env: ['A=1'],
    WorkingDir: '/work',
    User: '1000:1000',
    ExposedPorts: { '8080/tcp': {}, '53/udp': {}, '443': {} },
    Healthcheck: { Test: ['CMD-SHELL', 'app --check'], Interval: 10_000_000_000, Retries: 5 },
  },
};

async function layerFiles(ref: string): Promise<string[]> {
  const img = await resolveImage(ref);
  const out: string[] = [];
  for (const l of img.layers) {
    const { stream } = await decompressedLayer(await l.open());
    const tar = Buffer.from(await text(stream), 'latin1');
    out.push(tar.toString('latin1', 0, 100).replace(/\0.*$/s, ''));
  }
  return out;
}

describe('image sources', () => {
  it('reads an OCI layout by tag: config defaults and gzip, zstd and plain layers', async () => {
    const dir = join(tmp.path, 'layout');
    const built = writeOciLayout(dir, simple, { tag: 'v1' });
    const img = await resolveImage(`oci:${dir}:v1`);
    expect(img.digest).toBe(built.manifest.digest);
    expect(img.config).toEqual({
      entrypoint: ['/bin/app'],
      cmd: ['--flag'],
      env: ['A=1'],
      workingDir: '/work',
      user: '1000:1000',
      exposedPorts: [443, 8080],
      healthcheck: { test: ['CMD-SHELL', 'app --check'], intervalMs: 10_000, timeoutMs: 0, startPeriodMs: 0, startIntervalMs: 0, retries: 5 },
    });
    expect(img.layers.map((l) => l.digest)).toEqual(built.layers.map((l) => l.digest));
    expect(await layerFiles(`oci:${dir}:v1`)).toEqual(['hello.txt', 'z.txt', 'plain.txt']);
  });

  it('resolves a multi-platform index to linux/amd64', async () => {
    const dir = join(tmp.path, 'multi');
    const built = writeOciLayout(dir, simple, { multiPlatform: true });
    const img = await resolveImage(`oci:${dir}`);
    expect(img.digest).toBe(built.manifest.digest);
    expect(img.indexDigest).toMatch(/^sha256:/);
  });

  it('reads an oci-archive and a docker-archive in place to the same layers', async () => {
    const oa = join(tmp.path, 'img.oci.tar');
    writeOciArchive(oa, simple, 'latest');
    expect(await layerFiles(`oci-archive:${oa}:latest`)).toEqual(['hello.txt', 'z.txt', 'plain.txt']);
    const da = join(tmp.path, 'img.docker.tar');
    const built = writeDockerArchive(da, simple, 'example.com/app:1');
    const img = await resolveImage(`docker-archive:${da}:example.com/app:1`);
    expect(img.configDigest).toBe(built.config.digest);
    expect(img.config.entrypoint).toEqual(['/bin/app']);
    expect(await layerFiles(`docker-archive:${da}`)).toEqual(['hello.txt', 'z.txt', 'plain.txt']);
  });

  it('fails a layer whose bytes do not match its digest, naming the blob', async () => {
    const dir = join(tmp.path, 'tampered');
    const built = writeOciLayout(dir, simple);
    const layer = built.layers[0]!;
    const p = join(dir, 'blobs', 'sha256', layer.digest.slice(7));
    const bytes = readFileSync(p);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1);
    writeFileSync(p, bytes);
    const img = await resolveImage(`oci:${dir}`);
    const s = await img.layers[0]!.open();
    await expect(text(s)).rejects.toThrow(new RegExp(`layer ${layer.digest}: content has digest`));
  });
});

describe('malformed manifests and configs end in clear errors', () => {
  function layoutWith(name: string, mutate: (dir: string, b: ReturnType<typeof writeOciLayout>) => void): string {
    const dir = join(tmp.path, name);
    const b = writeOciLayout(dir, simple, { tag: 't' });
    mutate(dir, b);
    return `oci:${dir}:t`;
  }
  function setTop(dir: string, doc: unknown, mediaType = 'application/vnd.oci.image.manifest.v1+json'): void {
    const bytes = Buffer.from(typeof doc === 'string' ? doc : JSON.stringify(doc));
    const digest = putBlob(dir, bytes);
    writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType, digest, size: bytes.length, annotations: { 'org.opencontainers.image.ref.name': 't' } }] }));
  }
  const cases: [string, (dir: string, b: ReturnType<typeof writeOciLayout>) => void, RegExp][] = [
    ['missing tag', () => {}, /no image tagged "nope"/],
    ['manifest not JSON', (d) => setTop(d, '{not json'), /is not valid JSON/],
    ['schema 1 manifest', (d) => setTop(d, { schemaVersion: 1, fsLayers: [] }), /schema 1 manifest/],
    ['layers not a list', (d, b) => setTop(d, { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { digest: b.config.digest, size: b.config.size }, layers: 'x' }), /without a "layers" array/],
    ['bad layer media type', (d, b) => setTop(d, { schemaVersion: 2, config: { mediaType: 'x', digest: b.config.digest, size: b.config.size }, layers: [{ mediaType: 'application/x-evil', digest: b.layers[0]!.digest, size: 1 }] }), /not a layer vmstep can unpack/],
    ['bad digest syntax', (d, b) => setTop(d, { schemaVersion: 2, config: { mediaType: 'x', digest: 'sha256:../../etc/passwd', size: b.config.size }, layers: [] }), /is not a sha256 digest/],
    ['config size lies', (d, b) => setTop(d, { schemaVersion: 2, config: { mediaType: 'x', digest: b.config.digest, size: b.config.size + 1 }, layers: [] }), /blobs\/sha256\/[0-9a-f]+ in OCI layout .* is \d+ bytes, its descriptor says \d+/],
    ['config for arm64', (d) => {
      const cfg = Buffer.from(JSON.stringify({ architecture: 'arm64', os: 'linux', config: {}, rootfs: { diff_ids: [] } }));
      const digest = putBlob(d, cfg);
      setTop(d, { schemaVersion: 2, config: { mediaType: 'x', digest, size: cfg.length }, layers: [] });
    }, /architecture "arm64"/],
    ['config Env not strings', (d) => {
      const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Env: [1] }, rootfs: { diff_ids: [] } }));
      const digest = putBlob(d, cfg);
      setTop(d, { schemaVersion: 2, config: { mediaType: 'x', digest, size: cfg.length }, layers: [] });
    }, /config.Env is not a list of strings/],
    ['config ExposedPorts with a port out of range', (d) => {
      const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { ExposedPorts: { '6379/tcp': {}, '70000/tcp': {} } }, rootfs: { diff_ids: [] } }));
      const digest = putBlob(d, cfg);
      setTop(d, { schemaVersion: 2, config: { mediaType: 'x', digest, size: cfg.length }, layers: [] });
    }, /config.ExposedPorts has "70000\/tcp", which is not PORT\/tcp/],
    ['config ExposedPorts with more entries than a real image has', (d) => {
      const ports = Object.fromEntries(Array.from({ length: 1025 }, (_, i) => [`${i + 1}/tcp`, {}]));
      const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { ExposedPorts: ports }, rootfs: { diff_ids: [] } }));
      const digest = putBlob(d, cfg);
      setTop(d, { schemaVersion: 2, config: { mediaType: 'x', digest, size: cfg.length }, layers: [] });
    }, /config.ExposedPorts has 1025 entries, more than the 1024/],
    ['config Healthcheck with an unknown test kind', (d) => {
      const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Healthcheck: { Test: ['RUN', 'x'] } }, rootfs: { diff_ids: [] } }));
      const digest = putBlob(d, cfg);
      setTop(d, { schemaVersion: 2, config: { mediaType: 'x', digest, size: cfg.length }, layers: [] });
    }, /config.Healthcheck.Test is not \[\], \["NONE"\]/],
    ['config Healthcheck with a negative interval', (d) => {
      const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Healthcheck: { Test: ['CMD', 'true'], Interval: -1 } }, rootfs: { diff_ids: [] } }));
      const digest = putBlob(d, cfg);
      setTop(d, { schemaVersion: 2, config: { mediaType: 'x', digest, size: cfg.length }, layers: [] });
    }, /config.Healthcheck.Interval is not a duration in nanoseconds/],
    ['diff_ids disagree with layers', (d, b) => {
      const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { diff_ids: [] } }));
      const digest = putBlob(d, cfg);
      setTop(d, { schemaVersion: 2, config: { mediaType: 'x', digest, size: cfg.length }, layers: [{ mediaType: b.layers[0]!.mediaType, digest: b.layers[0]!.digest, size: b.layers[0]!.size }] });
    }, /lists 1 layers but the config's rootfs.diff_ids lists 0/],
    ['index without amd64', (d) => {
      setTop(d, { schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(Buffer.from('x')), size: 1, platform: { os: 'linux', architecture: 's390x' } }] }, 'application/vnd.oci.image.index.v1+json');
    }, /no linux\/amd64 image \(it has: linux\/s390x\)/],
    ['blob missing', (d) => writeFileSync(join(d, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(Buffer.from('absent')), size: 6, annotations: { 'org.opencontainers.image.ref.name': 't' } }] })), /missing blob/],
  ];
  for (const [name, mutate, msg] of cases) {
    it(`${name}`, async () => {
      const ref = layoutWith(name.replace(/\W+/g, '-'), mutate);
      await expect(resolveImage(name === 'missing tag' ? ref.replace(/:t$/, ':nope') : ref)).rejects.toThrow(msg);
    });
  }

  it('an archive that is not a tar, or lacks manifest.json, is named as such', async () => {
    const junk = join(tmp.path, 'junk.tar');
    writeFileSync(junk, Buffer.alloc(2048, 7));
    await expect(resolveImage(`docker-archive:${junk}`)).rejects.toThrow(/not a valid tar archive: tar header checksum mismatch/);
    const empty = join(tmp.path, 'empty.tar');
    writeFileSync(empty, buildTar([{ path: 'x', content: 'y' }]));
    await expect(resolveImage(`docker-archive:${empty}`)).rejects.toThrow(/not a docker-archive \(no manifest.json\)/);
    await expect(resolveImage(`oci-archive:${empty}`)).rejects.toThrow(/not an OCI image layout/);
  });
});

describe('docker-daemon images', () => {
  it('exports the image once with docker save and reads it as a docker-archive', async () => {
    // A stand-in for the docker CLI: `image inspect` prints the ID, `save -o` writes the archive.
    const archive = join(tmp.path, 'daemon-src.tar');
    const built = writeDockerArchive(archive, simple, 'daemon/app:1');
    const fake = join(tmp.path, 'fake-docker');
    writeFileSync(
      fake,
      `#!/bin/sh\necho "$@" >> ${tmp.path}/docker-calls\ncase "$1" in\n  image) echo ${built.config.digest} ;;\n  save) cp ${archive} "$3" ;;\n  *) exit 1 ;;\nesac\n`,
      { mode: 0o755 },
    );
    const cacheDir = join(tmp.path, 'daemon-cache');
    const img = await resolveImage('docker-daemon:daemon/app:1', { cacheDir, dockerCommand: fake });
    expect(img.configDigest).toBe(built.config.digest);
    expect(img.config.cmd).toEqual(['--flag']);
    await resolveImage('docker-daemon:daemon/app:1', { cacheDir, dockerCommand: fake });
    const calls = readFileSync(join(tmp.path, 'docker-calls'), 'utf8').trim().split('\n');
    expect(calls.filter((c) => c.startsWith('save'))).toHaveLength(1);
    await expect(resolveImage('docker-daemon:x:1', { cacheDir, dockerCommand: join(tmp.path, 'no-docker') })).rejects.toThrow(/needs the docker command/);
  });
});
