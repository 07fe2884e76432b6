import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveImage } from '../../src/image/index.js';
import { RootfsCache } from '../../src/rootfs/index.js';
import { writeOciLayout } from '../fixtures/oci-images.js';
import { ext4Cat, fakeInit, fsck, tempDir } from '../helpers/images.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const init = fakeInit(tmp.path);
writeOciLayout(join(tmp.path, 'img'), { layers: [{ entries: [{ path: 'etc/hostname', content: 'cached\n' }, { path: 'data', size: 2 << 20 }] }] });

function sha(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

describe('RootfsCache', () => {
  it('builds once, then hands each run its own copy without touching the cache', async () => {
    const cache = new RootfsCache(join(tmp.path, 'c1'));
    const image = await resolveImage(`oci:${join(tmp.path, 'img')}`);
    const a = await cache.prepare(image, { initPath: init });
    expect(a.cached).toBe(false);
    const baseHash = sha(a.basePath);
    const b = await cache.prepare(image, { initPath: init });
    expect(b.cached).toBe(true);
    expect(b.basePath).toBe(a.basePath);
    expect(b.runDiskPath).not.toBe(a.runDiskPath);
    // A run scribbles over its disk: the base and the other run's copy are unaffected.
    const fd = openSync(a.runDiskPath, 'r+');
    writeSync(fd, Buffer.alloc(1 << 20, 0xee), 0, 1 << 20, 4096);
    closeSync(fd);
    expect(sha(a.basePath)).toBe(baseHash);
    expect(fsck(b.runDiskPath)).toMatchObject({ ok: true });
    expect(ext4Cat(b.runDiskPath, '/etc/hostname').toString()).toBe('cached\n');
    await a.release();
    await b.release();
    await cache.settle();
    expect(readdirSync(join(tmp.path, 'c1', 'runs'))).toEqual([]);
  });

  it('serves a warm run from a spare copy claimed by rename', async () => {
    const cache = new RootfsCache(join(tmp.path, 'c2'));
    const image = await resolveImage(`oci:${join(tmp.path, 'img')}`);
    await (await cache.prepare(image, { initPath: init })).release();
    await cache.settle();
    const warm = await cache.prepare(image, { initPath: init });
    expect(warm.copy === 'spare' || warm.copy === 'reflink').toBe(true);
    expect(fsck(warm.runDiskPath)).toMatchObject({ ok: true });
    await warm.release();
    await cache.settle();
  });

  it('grows the run copy when the disk option asks for more', async () => {
    const cache = new RootfsCache(join(tmp.path, 'c3'));
    const image = await resolveImage(`oci:${join(tmp.path, 'img')}`);
    const run = await cache.prepare(image, { initPath: init, diskBytes: 2 * 2 ** 30 });
    expect(statSync(run.runDiskPath).size).toBe(2 * 2 ** 30);
    expect(statSync(run.basePath).size).toBeLessThan(2 * 2 ** 30);
    expect(fsck(run.runDiskPath)).toMatchObject({ ok: true });
    await run.release();
    await cache.settle();
  });

  it('lets concurrent runs share one build', async () => {
    const root = join(tmp.path, 'c4');
    const image = await resolveImage(`oci:${join(tmp.path, 'img')}`);
    const layersBuilt: number[] = [];
    const runs = await Promise.all(
      [1, 2, 3].map(() => new RootfsCache(root, { spares: false }).prepare(image, { initPath: init, onLayer: (i) => layersBuilt.push(i) })),
    );
    expect(layersBuilt).toEqual([0]);
    expect(new Set(runs.map((r) => r.basePath)).size).toBe(1);
    expect(readdirSync(join(root, 'rootfs')).filter((n) => n.startsWith('.') || n.endsWith('.lock'))).toEqual([]);
    await Promise.all(runs.map((r) => r.release()));
  });

  it('keys the cache on the guest init too', async () => {
    const cache = new RootfsCache(join(tmp.path, 'c5'), { spares: false });
    const image = await resolveImage(`oci:${join(tmp.path, 'img')}`);
    const a = await cache.prepare(image, { initPath: init });
    const init2 = fakeInit(join(tmp.path, 'c5'), '#!/bin/sh\necho another init\n');
    const b = await cache.prepare(image, { initPath: init2 });
    expect(b.cached).toBe(false);
    expect(b.basePath).not.toBe(a.basePath);
    expect(ext4Cat(b.runDiskPath, '/.vmstep/init').toString()).toContain('another init');
    await a.release();
    await b.release();
  });

  it('sweeps what crashed builds and runs left, lists entries and prunes to a size', async () => {
    const root = join(tmp.path, 'c6');
    const cache = new RootfsCache(root, { spares: false });
    const image = await resolveImage(`oci:${join(tmp.path, 'img')}`);
    await (await cache.prepare(image, { initPath: init })).release();
    // Leftovers of a process that no longer exists (pid far above pid_max).
    mkdirSync(join(root, 'rootfs', '.tmp-99999999-dead'), { recursive: true });
    writeFileSync(join(root, 'rootfs', '.tmp-99999999-dead', 'rootfs.ext4'), 'half made');
    mkdirSync(join(root, 'runs', '99999999-dead'), { recursive: true });
    const listed = await cache.list();
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ kind: 'rootfs', name: `oci:${join(tmp.path, 'img')}` });
    expect(listed[0]!.diskBytes).toBeGreaterThan(2 << 20);
    expect(await cache.prune(2 ** 40)).toEqual([]);
    expect(readdirSync(join(root, 'rootfs'))).toHaveLength(1);
    expect(readdirSync(join(root, 'runs'))).toEqual([]);
    const removed = await cache.prune(0);
    expect(removed.map((e) => e.kind)).toEqual(['rootfs']);
    expect(await cache.list()).toEqual([]);
  });

  it('takes over a lock left by a dead process', async () => {
    const root = join(tmp.path, 'c7');
    const cache = new RootfsCache(root, { spares: false });
    const image = await resolveImage(`oci:${join(tmp.path, 'img')}`);
    mkdirSync(join(root, 'rootfs'), { recursive: true });
    writeFileSync(join(root, 'rootfs', `${await cache.key(image, init)}.lock`), '99999999');
    const r = await cache.prepare(image, { initPath: init });
    expect(r.cached).toBe(false);
    await r.release();
  });
});
