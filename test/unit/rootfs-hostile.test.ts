import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveImage } from '../../src/image/index.js';
import { RootfsCache, buildRootfsImage } from '../../src/rootfs/index.js';
import { writeOciLayout, type FixtureLayer } from '../fixtures/oci-images.js';
import { buildTar, rawEntry } from '../fixtures/tar-writer.js';
import { fakeInit, snapshot, tempDir } from '../helpers/images.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const init = fakeInit(tmp.path);
// Targets a hostile layer would like to reach; none may ever exist.
const outside = join(tmp.path, 'outside');
mkdirSync(outside);

function tarOf(...parts: Buffer[]): Buffer {
  return Buffer.concat([...parts, Buffer.alloc(1024)]);
}

const corpus: { name: string; layers: FixtureLayer[]; error: RegExp }[] = [
  { name: 'dot-dot entry', layers: [{ raw: tarOf(rawEntry('../../outside/escape', 'file', { content: Buffer.from('x') })) }], error: /layer 1 of 1 .*entry "\.\.\/\.\.\/outside\/escape": path contains "\.\."/ },
  { name: 'dot-dot in the middle', layers: [{ raw: tarOf(rawEntry('a/../../escape', 'file')) }], error: /entry "a\/\.\.\/\.\.\/escape": path contains "\.\."/ },
  { name: 'absolute path', layers: [{ raw: tarOf(rawEntry(`${outside}/escape`, 'file', { content: Buffer.from('x') })) }], error: /entry ".*outside\/escape": absolute path/ },
  {
    name: 'entry under a symlinked parent',
    layers: [{ raw: tarOf(rawEntry('link', 'symlink', { linkname: outside }), rawEntry('link/escape', 'file', { content: Buffer.from('x') })) }],
    error: /entry "link\/escape": its parent "link" is a symbolic link/,
  },
  {
    name: 'symlinked parent from a lower layer',
    layers: [{ raw: tarOf(rawEntry('etc', 'symlink', { linkname: '../../outside' })) }, { raw: tarOf(rawEntry('etc/passwd', 'file', { content: Buffer.from('x') })) }],
    error: /layer 2 of 2 .*entry "etc\/passwd": its parent "etc" is a symbolic link/,
  },
  { name: 'hard link with dot-dot', layers: [{ raw: tarOf(rawEntry('hl', 'hardlink', { linkname: '../../etc/passwd' })) }], error: /entry "hl": path contains "\.\."/ },
  { name: 'hard link to an absolute path', layers: [{ raw: tarOf(rawEntry('hl', 'hardlink', { linkname: '/etc/passwd' })) }], error: /entry "hl": hard link to absolute path/ },
  { name: 'hard link to nothing', layers: [{ raw: tarOf(rawEntry('hl', 'hardlink', { linkname: 'missing' })) }], error: /entry "hl": hard link to "missing", which no earlier entry created/ },
  {
    name: 'hard link through a symlink',
    layers: [{ raw: tarOf(rawEntry('l', 'symlink', { linkname: '/etc' }), rawEntry('hl', 'hardlink', { linkname: 'l/passwd' })) }],
    error: /entry "hl": its parent "l" is a symbolic link/,
  },
  { name: 'hard link to a directory', layers: [{ raw: tarOf(rawEntry('d/', 'dir'), rawEntry('hl', 'hardlink', { linkname: 'd' })) }], error: /entry "hl": hard link to directory/ },
  { name: 'escaping whiteout', layers: [{ raw: tarOf(rawEntry('.wh...', 'file')) }], error: /entry "\.wh\.\.\.": whiteout names no file or escapes/ },
  { name: 'whiteout with dot-dot', layers: [{ raw: tarOf(rawEntry('x/../../.wh.outside', 'file')) }], error: /entry "x\/\.\.\/\.\.\/\.wh\.outside": path contains "\.\."/ },
  { name: 'entry under a regular file', layers: [{ raw: tarOf(rawEntry('f', 'file'), rawEntry('f/x', 'file')) }], error: /entry "f\/x": its parent "f" is not a directory/ },
  { name: 'truncated layer', layers: [{ raw: rawEntry('big', 'file', { content: Buffer.alloc(4096, 1) }).subarray(0, 2000) }], error: /layer 1 of 1 .*truncated/ },
  { name: 'garbage instead of a tar', layers: [{ raw: Buffer.alloc(4096, 0x41) }], error: /layer 1 of 1 .*not a valid tar stream: tar header checksum mismatch/ },
  { name: 'corrupt gzip', layers: [{ raw: Buffer.concat([gzipSync(buildTar([{ path: 'a', content: 'a' }])).subarray(0, 30), Buffer.alloc(64, 0xff)]), compression: 'none' }], error: /layer 1 of 1 .*cannot be read/ },
];

describe('hostile layers are refused without writing outside the build', () => {
  for (const c of corpus) {
    it(`${c.name}: fails naming the entry and layer`, async () => {
      const root = join(tmp.path, c.name.replace(/\W+/g, '-'));
      writeOciLayout(join(root, 'image'), { layers: c.layers.map((l) => ({ compression: 'gzip', ...l })) });
      const before = snapshot(tmp.path);
      const cache = new RootfsCache(join(root, 'cache'));
      const image = await resolveImage(`oci:${join(root, 'image')}`);
      await expect(cache.prepare(image, { initPath: init })).rejects.toThrow(c.error);
      // Nothing new anywhere under the test root but the (empty) cache directories.
      const added = snapshot(tmp.path).filter((p) => !before.includes(p));
      expect(added.every((p) => /\/cache(\/rootfs)?$/.test(p))).toBe(true);
      expect(readdirSync(join(root, 'cache', 'rootfs'))).toEqual([]);
      expect(readdirSync(outside)).toEqual([]);
      expect(existsSync(join(tmp.path, 'escape'))).toBe(false);
    });
  }

  it('stops a decompression bomb at the content limit', async () => {
    const root = join(tmp.path, 'bomb');
    writeOciLayout(join(root, 'image'), { layers: [{ entries: [{ path: 'zeros', content: Buffer.alloc(8 << 20) }] }] });
    const image = await resolveImage(`oci:${join(root, 'image')}`);
    const out = join(root, 'out.ext4');
    await expect(buildRootfsImage(image, { initPath: init, outPath: out, maxContentBytes: 1 << 20 })).rejects.toThrow(/layer 1 of 1 \(sha256:[0-9a-f]+\): entry "zeros": the image's files add up to more than 1048576 bytes/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('resource limits', () => {
  it('stops an archive with too many entries', async () => {
    const root = join(tmp.path, 'many-entries');
    writeOciLayout(join(root, 'image'), { layers: [{ entries: Array.from({ length: 50 }, (_, i) => ({ path: `f${i}`, content: '' })) }] });
    const image = await resolveImage(`oci:${join(root, 'image')}`);
    await expect(buildRootfsImage(image, { initPath: init, outPath: join(root, 'out.ext4'), maxEntries: 20 })).rejects.toThrow(/entry "f20": more than 20 entries/);
    expect(existsSync(join(root, 'out.ext4'))).toBe(false);
  });
});
