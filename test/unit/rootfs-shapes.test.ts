// Shapes the ext4 writer must lay out correctly beyond the rich image:
// randomly generated layer stacks, directories spanning many blocks, and
// files needing several extents or an extent index block. e2fsck -fn is the
// judge of consistency; debugfs reads contents back.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveImage } from '../../src/image/index.js';
import { buildRootfsImage } from '../../src/rootfs/index.js';
import { writeOciLayout, type FixtureLayer } from '../fixtures/oci-images.js';
import type { FixtureEntry } from '../fixtures/tar-writer.js';
import { ext4Cat, ext4Ls, ext4Stat, fakeInit, fsck, tempDir } from '../helpers/images.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const init = fakeInit(tmp.path);

/** A small deterministic PRNG so a failing seed can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomLayers(seed: number): FixtureLayer[] {
  const r = rng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]!;
  // Directories and leaves come from separate name sets, so most entries land somewhere valid.
  const dirs = ['a', 'b', 'dir', 'long-dir-'.repeat(8)];
  const leaves = ['f', 'g', 'x', 'long-file-'.repeat(8)];
  const files: string[] = [];
  const layers: FixtureLayer[] = [];
  for (let l = 0; l < 1 + Math.floor(r() * 4); l++) {
    const entries: FixtureEntry[] = [];
    for (let i = 0; i < 5 + Math.floor(r() * 40); i++) {
      const depth = Math.floor(r() * 3);
      const parent = Array.from({ length: depth }, () => pick(dirs));
      const path = [...parent, pick(leaves)].join('/');
      const kind = r();
      if (kind < 0.45) {
        entries.push({ path, size: Math.floor(r() * 20000), uid: Math.floor(r() * 3) * 1000, mode: pick([0o644, 0o755, 0o4755, 0o600]) });
        files.push(path);
      } else if (kind < 0.6) entries.push({ path: `${[...parent, pick(dirs)].join('/')}/`, type: 'dir', mode: pick([0o755, 0o1777, 0o700]) });
      else if (kind < 0.7) entries.push({ path, type: 'symlink', linkname: pick(['/etc/passwd', '../x', 'y'.repeat(80)]), mode: 0o777 });
      else if (kind < 0.8 && files.length) entries.push({ path, type: 'hardlink', linkname: pick(files) });
      else if (kind < 0.9) {
        const parts = path.split('/');
        parts[parts.length - 1] = `.wh.${parts[parts.length - 1]}`;
        entries.push({ path: parts.join('/') });
      } else entries.push({ path: `${[...parent, pick(dirs)].join('/')}/.wh..wh..opq` });
    }
    layers.push({ entries, compression: pick(['gzip', 'zstd', 'none'] as const) });
  }
  return layers;
}

describe('ext4 layouts of many shapes stay consistent', () => {
  it('random layer stacks build to clean filesystems (or are refused with a named entry)', async () => {
    let built = 0;
    for (let seed = 1; seed <= 25; seed++) {
      const dir = join(tmp.path, `rand-${seed}`);
      writeOciLayout(dir, { layers: randomLayers(seed) });
      const out = join(tmp.path, `rand-${seed}.ext4`);
      try {
        await buildRootfsImage(await resolveImage(`oci:${dir}`), { initPath: init, outPath: out });
      } catch (e) {
        // Random stacks may put entries under files or links to whited-out names: those must be refusals, not crashes.
        expect((e as Error).message, `seed ${seed}`).toMatch(/^layer \d+ of \d+ \(sha256:[0-9a-f]+\): entry "[^"]+": /);
        continue;
      }
      built++;
      const check = fsck(out);
      expect(check.ok, `seed ${seed}: ${check.output}`).toBe(true);
    }
    expect(built).toBeGreaterThan(10);
  }, 120_000);

  it('lays out a directory of thousands of entries over many blocks', async () => {
    const entries: FixtureEntry[] = Array.from({ length: 3000 }, (_, i) => ({ path: `many/file-with-a-longish-name-${i}`, content: String(i) }));
    writeOciLayout(join(tmp.path, 'many'), { layers: [{ entries }] });
    const out = join(tmp.path, 'many.ext4');
    await buildRootfsImage(await resolveImage(`oci:${join(tmp.path, 'many')}`), { initPath: init, outPath: out });
    expect(fsck(out)).toMatchObject({ ok: true });
    expect(ext4Stat(out, '/many')!.size).toBeGreaterThan(20 * 4096);
    expect(ext4Ls(out, '/many')).toHaveLength(3000);
    expect(ext4Cat(out, '/many/file-with-a-longish-name-2999').toString()).toBe('2999');
  });

  it('writes a file larger than four maximal extents through an extent index block', async () => {
    const size = 4 * 128 * 2 ** 20 + 4096 * 3 + 5;
    // Each 4 KiB block holds its own index, so a misplaced extent shows up in the hash.
    const content = Buffer.alloc(size);
    for (let b = 0; b * 4096 < size; b++) content.fill(b % 251, b * 4096, Math.min(size, (b + 1) * 4096));
    content.writeUInt32LE(0xdeadbeef, 128 * 2 ** 20 * 2 + 17);
    const want = createHash('sha256').update(content).digest('hex');
    writeOciLayout(join(tmp.path, 'huge'), { layers: [{ entries: [{ path: 'huge', content }, { path: 'tail', content: 'tail' }] }] });
    const out = join(tmp.path, 'huge.ext4');
    await buildRootfsImage(await resolveImage(`oci:${join(tmp.path, 'huge')}`), { initPath: init, outPath: out });
    expect(fsck(out)).toMatchObject({ ok: true });
    expect(execFileSync('debugfs', ['-R', 'ex /huge', out], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })).toMatch(/^ 0\/ 1 /m); // an index level
    const dumped = join(tmp.path, 'huge.out');
    execFileSync('debugfs', ['-R', `dump /huge ${dumped}`, out], { stdio: 'ignore' });
    expect(createHash('sha256').update(readFileSync(dumped)).digest('hex')).toBe(want);
    expect(ext4Cat(out, '/tail').toString()).toBe('tail');
  }, 120_000);
});
