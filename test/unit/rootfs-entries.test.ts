// Layer entries that are legal tar but push at ext4's limits or at the order
// of whiteouts: each either lands as ext4 can hold it or fails naming the
// entry and the layer. Images are built here from code.
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveImage } from '../../src/image/index.js';
import { buildRootfsImage } from '../../src/rootfs/index.js';
import { writeOciLayout, type FixtureLayer } from '../fixtures/oci-images.js';
import type { FixtureEntry } from '../fixtures/tar-writer.js';
import { ext4Cat, ext4Ls, ext4Stat, ext4Xattr, fakeInit, fsck, tempDir } from '../helpers/images.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const init = fakeInit(tmp.path);
let n = 0;

async function build(layers: FixtureEntry[][], opts: { onWarning?: (m: string) => void } = {}): Promise<string> {
  const root = join(tmp.path, `img-${n++}`);
  writeOciLayout(join(root, 'image'), { layers: layers.map((entries): FixtureLayer => ({ entries })) });
  const out = join(root, 'rootfs.ext4');
  await buildRootfsImage(await resolveImage(`oci:${join(root, 'image')}`), { initPath: init, outPath: out, ...opts });
  return out;
}

const lower: FixtureEntry[] = [
  { path: 'a/', type: 'dir' },
  { path: 'a/old', content: 'deleted secret' },
  { path: 'keep', content: 'k' },
];

describe('whiteouts hide lower layers whatever their place in their own layer', () => {
  it('a whiteout after a same-layer entry under that name still hides the lower layer', async () => {
    const img = await build([lower, [{ path: 'a/new', content: 'new' }, { path: '.wh.a', content: '' }]]);
    expect(ext4Ls(img, '/a')).toEqual(['new']);
    expect(ext4Cat(img, '/a/new').toString()).toBe('new');
    expect(ext4Ls(img, '/').sort()).toContain('keep');
    expect(fsck(img).ok).toBe(true);
  });

  it('gives the same tree for the whiteout before the entry', async () => {
    const img = await build([lower, [{ path: '.wh.a', content: '' }, { path: 'a/new', content: 'new' }]]);
    expect(ext4Ls(img, '/a')).toEqual(['new']);
  });

  it('keeps a directory the same layer declared, with only that layer below it', async () => {
    const img = await build([lower, [{ path: 'a/', type: 'dir', mode: 0o700 }, { path: 'a/new', content: 'new' }, { path: '.wh.a', content: '' }]]);
    expect(ext4Ls(img, '/a')).toEqual(['new']);
    expect(ext4Stat(img, '/a')!.mode & 0o777).toBe(0o700);
  });

  it('handles thousands of nested directories under an opaque whiteout without recursion', async () => {
    const deep = Array.from({ length: 6000 }, () => 'd').join('/');
    const img = await build([[{ path: `${deep}/old`, content: 'o' }], [{ path: `${deep}/new`, content: 'n' }, { path: 'd/.wh..wh..opq', content: '' }]]);
    expect(ext4Ls(img, `/${deep}`)).toEqual(['new']);
  });
});

describe('what ext4 cannot hold fails naming the entry and the layer', () => {
  it('an extended attribute name longer than 255 bytes', async () => {
    await expect(build([[{ path: 'f', content: 'x', xattrs: { [`user.${'n'.repeat(300)}`]: 'v' } }]])).rejects.toThrow(
      /layer 1 of 1 \(sha256:[0-9a-f]+\): entry "f": extended attribute name "user\.n+"\.\.\. is 300 bytes after its namespace; ext4 allows 255/,
    );
  });

  it('extended attributes larger than one block', async () => {
    const xattrs = { 'user.a': 'a'.repeat(1500), 'user.b': 'b'.repeat(1500), 'user.c': 'c'.repeat(1500) };
    await expect(build([[{ path: 'dir/f', content: 'x', xattrs }]])).rejects.toThrow(/layer 1 of 1 .*: entry "dir\/f": its extended attributes need \d+ bytes; ext4 holds at most one 4096-byte block/);
  });

  it('a LIBARCHIVE.xattr record whose name is not percent-encoding', async () => {
    await expect(build([[{ path: 'f', content: 'x', pax: { 'LIBARCHIVE.xattr.user.%zz': 'dg==' } }]])).rejects.toThrow(
      /layer 1 of 1 .*: not a valid tar stream: entry "f": pax record LIBARCHIVE\.xattr\."user\.%zz" does not hold a valid percent-encoded attribute name/,
    );
  });

  it('a LIBARCHIVE.xattr record that is valid lands as the attribute it names', async () => {
    const img = await build([[{ path: 'f', content: 'x', pax: { 'LIBARCHIVE.xattr.user.%61b': Buffer.from('hi').toString('base64') } }]]);
    expect(ext4Xattr(img, '/f', 'user.ab')?.toString()).toBe('hi');
  });
});

describe('what ext4 can hold is kept; what it cannot is clamped and said', () => {
  // user::rw- user:1000:r-- group::r-- mask::r-- other::---
  const acl = Buffer.alloc(4 + 5 * 8);
  acl.writeUInt32LE(2, 0);
  [[1, 6, 0xffffffff], [2, 4, 1000], [4, 4, 0xffffffff], [0x10, 4, 0xffffffff], [0x20, 0, 0xffffffff]].forEach(([tag, perm, id], i) => {
    acl.writeUInt16LE(tag!, 4 + i * 8);
    acl.writeUInt16LE(perm!, 6 + i * 8);
    acl.writeUInt32LE(id!, 8 + i * 8);
  });

  it('keeps a POSIX access ACL, stored in ext4 format', async () => {
    const img = await build([[{ path: 'f', content: 'x', xattrs: { 'system.posix_acl_access': acl } }]]);
    // debugfs translates ext4's ACL format back to the kernel's xattr format
    // (writing 0 for the ids of entries that carry none).
    const back = Buffer.from(acl);
    for (const i of [0, 2, 3, 4]) back.writeUInt32LE(0, 8 + i * 8);
    expect(ext4Xattr(img, '/f', 'system.posix_acl_access')?.toString('hex')).toBe(back.toString('hex'));
    expect(fsck(img).ok).toBe(true);
  });

  it('refuses a malformed POSIX ACL naming the entry', async () => {
    await expect(build([[{ path: 'f', content: 'x', xattrs: { 'system.posix_acl_access': Buffer.from([3, 0, 0, 0, 1]) } }]])).rejects.toThrow(
      /entry "f": extended attribute system\.posix_acl_access is not a valid POSIX ACL/,
    );
  });

  it('clamps a pax mtime beyond ext4 range to the last second ext4 stores, and says so', async () => {
    const warnings: string[] = [];
    const img = await build([[{ path: 'far', content: 'x', pax: { mtime: '100000000000000000' } }, { path: 'near', content: 'y', pax: { mtime: '1700000000.5' } }]], { onWarning: (m) => warnings.push(m) });
    expect(warnings).toEqual([expect.stringMatching(/modification times outside what ext4 stores \(1901 to 2446\) were clamped: 100000000000000000 on "far" in layer 1 of 1/)]);
    expect(ext4Stat(img, '/near')!.mtime).toBe(1_700_000_000);
    // 2446-05-10: the low 32 bits of the largest time ext4 stores (epoch bits 3).
    expect(ext4Stat(img, '/far')!.mtime).toBe((2 ** 31 - 1 + 3 * 2 ** 32) % 2 ** 32);
  });
});

describe('zeros cost no disk', () => {
  it('writes whole blocks of zeros as holes: 64 MiB of zeros take under 4 MiB of disk and read back as zeros', async () => {
    const img = await build([[{ path: 'zeros', content: Buffer.alloc(64 << 20) }, { path: 'tail', content: Buffer.concat([Buffer.alloc(5000), Buffer.from('end')]) }]]);
    expect(statSync(img).blocks * 512).toBeLessThan(4 << 20);
    expect(ext4Stat(img, '/zeros')!.size).toBe(64 << 20);
    expect(ext4Cat(img, '/tail').toString('latin1')).toBe(`${'\0'.repeat(5000)}end`);
    expect(fsck(img).ok).toBe(true);
  });
});

describe('data a later layer deletes or replaces is not written', () => {
  const junk = randomBytes(8 << 20);

  it('leaves out a file a later layer whites out', async () => {
    const img = await build([[{ path: 'junk', content: junk }, { path: 'keep', content: 'k' }], [{ path: '.wh.junk', content: '' }]]);
    expect(ext4Ls(img, '/')).not.toContain('junk');
    expect(ext4Cat(img, '/keep').toString()).toBe('k');
    expect(statSync(img).blocks * 512).toBeLessThan(4 << 20);
    expect(fsck(img).ok).toBe(true);
  });

  it('leaves out a file a later layer replaces, and everything under a directory a later layer makes opaque', async () => {
    const img = await build([
      [{ path: 'app', content: junk }, { path: 'd/old', content: junk.subarray(0, 4 << 20) }],
      [{ path: 'app', content: 'new app' }, { path: 'd/.wh..wh..opq', content: '' }, { path: 'd/new', content: 'n' }],
    ]);
    expect(ext4Cat(img, '/app').toString()).toBe('new app');
    expect(ext4Ls(img, '/d')).toEqual(['new']);
    expect(statSync(img).blocks * 512).toBeLessThan(4 << 20);
    expect(fsck(img).ok).toBe(true);
  });

  it('still writes the data of a deleted name that a hard link keeps alive', async () => {
    const data = randomBytes(1 << 20);
    const img = await build([[{ path: 'data', content: data }, { path: 'link', type: 'hardlink', linkname: 'data' }], [{ path: '.wh.data', content: '' }]]);
    expect(ext4Cat(img, '/link').equals(data)).toBe(true);
    expect(fsck(img).ok).toBe(true);
  });
});
