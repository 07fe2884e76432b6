// Hostile images that attack what vmstep verifies rather than where it
// writes: blobs changed behind their digests, layers swapped under a config,
// metadata files that are not what they claim. Every image is built here, at
// test time, from code.
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveImage } from '../../src/image/index.js';
import { RootfsCache } from '../../src/rootfs/index.js';
import { buildTar } from '../fixtures/tar-writer.js';
import { putBlob, sha256, writeDockerArchive, writeOciArchive, writeOciLayout } from '../fixtures/oci-images.js';
import { ext4Cat, ext4Ls, fakeInit, tempDir } from '../helpers/images.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const init = fakeInit(tmp.path);

function dir(name: string): string {
  const p = join(tmp.path, name);
  mkdirSync(p, { recursive: true });
  return p;
}

/** A gzip of `tar` followed by zeros up to `size`: what gunzip stops reading before the blob's end. */
function paddedGzip(tar: Buffer, size: number): Buffer {
  const gz = gzipSync(tar);
  if (gz.length > size) throw new Error('the replacement must be smaller than the original');
  return Buffer.concat([gz, Buffer.alloc(size - gz.length)]);
}

describe('every blob is read to its end and checked', () => {
  it('refuses a layer blob replaced by a smaller gzip padded with zeros, and caches nothing', async () => {
    const root = dir('padded-gzip');
    const genuine = { layers: [{ entries: [{ path: 'app', content: 'genuine' }, { path: 'noise', content: randomBytes(4 << 20) }] }] };
    const built = writeOciLayout(join(root, 'image'), genuine);
    const layer = built.layers[0]!;
    const evil = paddedGzip(buildTar([{ path: 'app', content: 'tampered' }]), layer.size);
    writeFileSync(join(root, 'image', 'blobs', 'sha256', layer.digest.slice(7)), evil);
    const cache = new RootfsCache(join(root, 'cache'));
    const image = await resolveImage(`oci:${join(root, 'image')}`);
    await expect(cache.prepare(image, { initPath: init })).rejects.toThrow(new RegExp(`layer ${layer.digest}: content has digest sha256:[0-9a-f]{64}; the image is corrupt or was changed`));
    expect(readdirSync(join(root, 'cache', 'rootfs')).filter((n) => !n.startsWith('.'))).toEqual([]);

    // The genuine image then builds from its own bytes, not from anything the tampered pull left.
    writeOciLayout(join(root, 'image'), genuine);
    const ok = await cache.prepare(await resolveImage(`oci:${join(root, 'image')}`), { initPath: init });
    expect(ok.cached).toBe(false);
    expect(ext4Cat(ok.basePath, '/app').toString()).toBe('genuine');
    await ok.release();
  });

  it('refuses the same attack inside an oci-archive', async () => {
    const root = dir('padded-gzip-archive');
    const file = join(root, 'image.tar');
    const built = writeOciArchive(file, { layers: [{ entries: [{ path: 'app', content: 'genuine' }, { path: 'noise', content: randomBytes(4 << 20) }] }] });
    const layer = built.layers[0]!;
    const bytes = readFileSync(file);
    const at = bytes.indexOf(layer.bytes);
    paddedGzip(buildTar([{ path: 'app', content: 'tampered' }]), layer.size).copy(bytes, at);
    writeFileSync(file, bytes);
    const image = await resolveImage(`oci-archive:${file}`);
    await expect(new RootfsCache(join(root, 'cache')).prepare(image, { initPath: init })).rejects.toThrow(/content has digest .*corrupt or was changed/);
  });

  it('does not decompress more than a bounded amount after the end of a layer tar', async () => {
    const root = dir('trailing');
    // A tiny tar followed by 64 MiB of zeros inside the compressed stream: a
    // layer's diff_id covers them, but reading them all is not needed to
    // build, so a bound refuses such a layer.
    const tar = Buffer.concat([buildTar([{ path: 'a', content: 'a' }]), Buffer.alloc(64 << 20)]);
    const built = writeOciLayout(join(root, 'image'), { layers: [{ raw: tar }] });
    expect(built.tars[0]!.length).toBeGreaterThan(64 << 20);
    const image = await resolveImage(`oci:${join(root, 'image')}`);
    await expect(new RootfsCache(join(root, 'cache')).prepare(image, { initPath: init })).rejects.toThrow(/more than \d+ bytes after the end of its tar/);
  });
});

describe('layers are bound to the image config (rootfs.diff_ids)', () => {
  it('refuses a docker-archive whose layer differs from the diff_id its config names', async () => {
    const root = dir('docker-swap');
    const file = join(root, 'image.tar');
    const built = writeDockerArchive(file, { layers: [{ entries: [{ path: 'app', content: 'genuine!' }] }] });
    // Swap the layer for another tar stored under its own (correct) digest
    // name, as Docker 25+ names layers: only the config's diff_ids can tell.
    const evilTar = buildTar([{ path: 'app', content: 'tampered' }]);
    const evilName = `blobs/sha256/${sha256(evilTar).slice(7)}`;
    const manifest = JSON.parse(
      execFileSync('tar', ['-xOf', file, 'manifest.json']).toString(),
    ) as { Config: string; RepoTags: string[]; Layers: string[] }[];
    manifest[0]!.Layers = [evilName];
    const entries = [
      { path: `${built.config.digest.slice(7)}.json`, content: built.config.bytes },
      { path: evilName, content: evilTar },
      { path: 'manifest.json', content: JSON.stringify(manifest) },
    ];
    writeFileSync(file, buildTar(entries));
    const image = await resolveImage(`docker-archive:${file}`);
    await expect(new RootfsCache(join(root, 'cache')).prepare(image, { initPath: init })).rejects.toThrow(
      new RegExp(`layer 1 of 1 .*uncompressed content has digest ${sha256(evilTar)}, the image config's rootfs.diff_ids\\[0\\] says ${sha256(built.tars[0]!)}`),
    );
  });

  it('builds two archives with the same config only from the layers the config names', async () => {
    const root = dir('docker-same-config');
    const a = join(root, 'a.tar');
    const b = join(root, 'b.tar');
    const built = writeDockerArchive(a, { layers: [{ entries: [{ path: 'app', content: 'first' }] }] });
    const other = buildTar([{ path: 'app', content: 'other' }]);
    const otherName = `blobs/sha256/${sha256(other).slice(7)}`;
    writeFileSync(b, buildTar([
      { path: `${built.config.digest.slice(7)}.json`, content: built.config.bytes },
      { path: otherName, content: other },
      { path: 'manifest.json', content: JSON.stringify([{ Config: `${built.config.digest.slice(7)}.json`, RepoTags: ['x:1'], Layers: [otherName] }]) },
    ]));
    const cache = new RootfsCache(join(root, 'cache'));
    // Pulled first, the archive with the other layer does not get into the cache...
    await expect(cache.prepare(await resolveImage(`docker-archive:${b}`), { initPath: init })).rejects.toThrow(/rootfs\.diff_ids\[0\]/);
    expect(readdirSync(join(root, 'cache', 'rootfs')).filter((n) => !n.startsWith('.'))).toEqual([]);
    // ...the genuine one builds from its own bytes...
    const first = await cache.prepare(await resolveImage(`docker-archive:${a}`), { initPath: init });
    expect(first.cached).toBe(false);
    expect(ext4Cat(first.basePath, '/app').toString()).toBe('first');
    await first.release();
    // ...and the other archive never gets a cache entry built from its bytes.
    const again = await cache.prepare(await resolveImage(`docker-archive:${b}`), { initPath: init }).catch((e: Error) => e);
    if (!(again instanceof Error)) {
      expect(ext4Cat(again.basePath, '/app').toString()).toBe('first');
      await again.release();
    }
  });

  it('keys the root filesystem cache on every layer, not only on the config', async () => {
    const root = dir('key');
    const one = await resolveImage(`oci:${join(root, 'one')}`).catch(() => null);
    expect(one).toBeNull();
    writeOciLayout(join(root, 'one'), { layers: [{ entries: [{ path: 'x', content: '1' }] }] });
    const cache = new RootfsCache(join(root, 'cache'));
    const image = await resolveImage(`oci:${join(root, 'one')}`);
    const forged = { ...image, layers: image.layers.map((l) => ({ ...l, digest: `sha256:${'0'.repeat(64)}` })) };
    expect(await cache.key(forged, init)).not.toBe(await cache.key(image, init));
  });
});

describe('metadata files are read with bounds', () => {
  it('refuses an index.json that is a symlink to /dev/zero without reading it', async () => {
    const root = dir('dev-zero');
    writeOciLayout(join(root, 'image'), { layers: [{ entries: [{ path: 'a', content: 'a' }] }] });
    const idx = join(root, 'image', 'index.json');
    execFileSync('rm', [idx]);
    symlinkSync('/dev/zero', idx);
    await expect(resolveImage(`oci:${join(root, 'image')}`)).rejects.toThrow(/index\.json is not a regular file/);
  });

  it('refuses an oci-layout that is a FIFO instead of waiting for a writer', async () => {
    const root = dir('fifo');
    writeOciLayout(join(root, 'image'), { layers: [{ entries: [{ path: 'a', content: 'a' }] }] });
    execFileSync('rm', [join(root, 'image', 'oci-layout')]);
    execFileSync('mkfifo', [join(root, 'image', 'oci-layout')]);
    await expect(resolveImage(`oci:${join(root, 'image')}`)).rejects.toThrow(/oci-layout is not a regular file/);
  });

  it('never puts the bytes of a file it could not parse into its error', async () => {
    const root = dir('secret');
    writeOciLayout(join(root, 'image'), { layers: [{ entries: [{ path: 'a', content: 'a' }] }] });
    const secret = join(root, 'shadow');
    writeFileSync(secret, 'root:$6$SECRETHASH:19000:0:99999:7:::\n');
    execFileSync('rm', [join(root, 'image', 'index.json')]);
    symlinkSync(secret, join(root, 'image', 'index.json'));
    const err = await resolveImage(`oci:${join(root, 'image')}`).catch((e: Error) => e);
    expect(String(err)).toMatch(/index\.json is not valid JSON/);
    expect(String(err)).not.toMatch(/root|SECRET/);
  });

  it('refuses a manifest blob larger than 4 MiB even when its descriptor understates its size', async () => {
    const root = dir('big-manifest');
    const built = writeOciLayout(join(root, 'image'), { layers: [{ entries: [{ path: 'a', content: 'a' }] }] });
    const big = Buffer.alloc(5 << 20, 0x20);
    const digest = putBlob(join(root, 'image'), big);
    writeFileSync(join(root, 'image', 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: built.manifest.mediaType, digest, size: 100 }] }));
    await expect(resolveImage(`oci:${join(root, 'image')}`)).rejects.toThrow(/blobs\/sha256\/[0-9a-f]{64} in OCI layout .* is 5242880 bytes, its descriptor says 100/);
  });

  it('leaves no blob file open for a layer that is a directory', async () => {
    const root = dir('layer-dir');
    const built = writeOciLayout(join(root, 'image'), { layers: [{ entries: [{ path: 'a', content: 'a' }] }] });
    const p = join(root, 'image', 'blobs', 'sha256', built.layers[0]!.digest.slice(7));
    execFileSync('rm', [p]);
    mkdirSync(p);
    const image = await resolveImage(`oci:${join(root, 'image')}`);
    await expect(new RootfsCache(join(root, 'cache')).prepare(image, { initPath: init })).rejects.toThrow(/is not a regular file/);
    expect(existsSync(p)).toBe(true);
    void ext4Ls;
  });

  it('refuses an oci-archive whose last member runs past the end of the file', async () => {
    const root = dir('truncated-archive');
    const file = join(root, 'image.tar');
    writeOciArchive(file, { layers: [{ entries: [{ path: 'a', content: randomBytes(100_000) }] }] });
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, bytes.length - 1024 - 2048));
    await expect(resolveImage(`oci-archive:${file}`)).rejects.toThrow(/image archive .*image\.tar is not a valid tar archive: the tar is truncated/);
  });
});
