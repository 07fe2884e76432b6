import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveImage } from '../../src/image/index.js';
import { RootfsCache } from '../../src/rootfs/index.js';
import { flattenOverlay, readOverlayLayout } from '../../src/vm/overlay.js';
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
  it('builds once, then hands each run its own empty overlay over the read-only cached base', async () => {
    const cache = new RootfsCache(join(tmp.path, 'c1'));
    const image = await resolveImage(`oci:${join(tmp.path, 'img')}`);
    const a = await cache.prepare(image, { initPath: init });
    expect(a.cached).toBe(false);
    const baseHash = sha(a.basePath);
    const b = await cache.prepare(image, { initPath: init });
    expect(b.cached).toBe(true);
    expect(b.basePath).toBe(a.basePath);
    expect(b.overlayPath).not.toBe(a.overlayPath);
    // The overlay is a header over holes: it holds nothing of the base.
    const layout = await readOverlayLayout(b.overlayPath);
    expect(layout.baseBytes).toBe(statSync(b.basePath).size);
    expect(layout.diskBytes).toBe(statSync(b.basePath).size);
    expect(statSync(b.overlayPath).blocks * 512).toBeLessThanOrEqual(8192);
    // Flattened, a fresh overlay is the base, byte for byte.
    const flat = join(tmp.path, 'c1-flat.ext4');
    await flattenOverlay(b.basePath, b.overlayPath, flat);
    expect(sha(flat)).toBe(baseHash);
    expect(fsck(flat)).toMatchObject({ ok: true });
    expect(ext4Cat(flat, '/etc/hostname').toString()).toBe('cached\n');
    await a.release();
    await b.release();
    expect(sha(a.basePath)).toBe(baseHash);
    expect(readdirSync(join(tmp.path, 'c1', 'runs'))).toEqual([]);
  });

  it("makes a warm run's disk at the same cost for a large image as for a small one", async () => {
    // What a warm run pays is the overlay: its allocated size does not grow with the image's.
    const cache = new RootfsCache(join(tmp.path, 'c2'));
    const image = await resolveImage(`oci:${join(tmp.path, 'img')}`);
    await (await cache.prepare(image, { initPath: init })).release();
    const small = await cache.prepare(image, { initPath: init });
    const large = await cache.prepare(image, { initPath: init, diskBytes: 2 * 2 ** 30 });
    expect(statSync(large.overlayPath).blocks).toBe(statSync(small.overlayPath).blocks);
    await small.release();
    await large.release();
  });

  it('grows the base once per larger disk size, read-only like the base, and gives each run an overlay over it', async () => {
    const cache = new RootfsCache(join(tmp.path, 'c3'));
    const image = await resolveImage(`oci:${join(tmp.path, 'img')}`);
    const run = await cache.prepare(image, { initPath: init, diskBytes: 2 * 2 ** 30 });
    expect(statSync(run.basePath).size).toBe(2 * 2 ** 30);
    expect(run.basePath).toMatch(/grown-2147483648\.ext4$/);
    expect(fsck(run.basePath)).toMatchObject({ ok: true });
    expect((await readOverlayLayout(run.overlayPath)).diskBytes).toBe(2 * 2 ** 30);
    const grown = statSync(run.basePath);
    const again = await cache.prepare(image, { initPath: init, diskBytes: 2 * 2 ** 30 });
    expect(again.basePath).toBe(run.basePath);
    // The same file, untouched: made once, never written again.
    expect(statSync(again.basePath)).toMatchObject({ ino: grown.ino, mtimeMs: grown.mtimeMs });
    await run.release();
    await again.release();
  });

  it('lets concurrent runs share one build', async () => {
    const root = join(tmp.path, 'c4');
    const image = await resolveImage(`oci:${join(tmp.path, 'img')}`);
    const layersBuilt: number[] = [];
    const runs = await Promise.all(
      [1, 2, 3].map(() => new RootfsCache(root).prepare(image, { initPath: init, onLayer: (i) => layersBuilt.push(i) })),
    );
    expect(layersBuilt).toEqual([0]);
    expect(new Set(runs.map((r) => r.basePath)).size).toBe(1);
    expect(readdirSync(join(root, 'rootfs')).filter((n) => n.startsWith('.') || n.endsWith('.lock'))).toEqual([]);
    await Promise.all(runs.map((r) => r.release()));
  });

  it('keys the cache on the guest init too', async () => {
    const cache = new RootfsCache(join(tmp.path, 'c5'));
    const image = await resolveImage(`oci:${join(tmp.path, 'img')}`);
    const a = await cache.prepare(image, { initPath: init });
    const init2 = fakeInit(join(tmp.path, 'c5'), '#!/bin/sh\necho another init\n');
    const b = await cache.prepare(image, { initPath: init2 });
    expect(b.cached).toBe(false);
    expect(b.basePath).not.toBe(a.basePath);
    expect(ext4Cat(b.basePath, '/.vmstep/init').toString()).toContain('another init');
    await a.release();
    await b.release();
  });

  it('sweeps what crashed builds and runs left, lists entries and prunes to a size', async () => {
    const root = join(tmp.path, 'c6');
    const cache = new RootfsCache(root);
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
    const cache = new RootfsCache(root);
    const image = await resolveImage(`oci:${join(tmp.path, 'img')}`);
    mkdirSync(join(root, 'rootfs'), { recursive: true });
    writeFileSync(join(root, 'rootfs', `${await cache.key(image, init)}.lock`), '99999999');
    const r = await cache.prepare(image, { initPath: init });
    expect(r.cached).toBe(false);
    await r.release();
  });
});
