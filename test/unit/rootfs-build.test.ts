import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveImage } from '../../src/image/index.js';
import { buildRootfsImage } from '../../src/rootfs/index.js';
import { writeDockerArchive, writeOciLayout } from '../fixtures/oci-images.js';
import { capability, longName, richImage } from '../fixtures/rich-image.js';
import { patternBytes } from '../fixtures/tar-writer.js';
import { repoRoot } from '../helpers/artifacts.js';
import { ext4Cat, ext4Ls, ext4Stat, ext4Xattr, fakeInit, fsck, tempDir } from '../helpers/images.js';

const tmp = tempDir();
let image = '';
let init = '';
beforeAll(async () => {
  writeOciLayout(join(tmp.path, 'rich'), richImage);
  init = fakeInit(tmp.path);
  image = join(tmp.path, 'rich.ext4');
  await buildRootfsImage(await resolveImage(`oci:${join(tmp.path, 'rich')}`), { initPath: init, outPath: image });
});
afterAll(() => tmp.cleanup());

/** The checks every build of the rich image must pass, whoever built it. */
function expectRichImage(img: string): void {
  expect(fsck(img)).toMatchObject({ ok: true });
  expect(ext4Stat(img, '/bin/su')).toMatchObject({ mode: 0o4755, uid: 0, gid: 0, links: 2 });
  expect(ext4Stat(img, '/bin/wall')).toMatchObject({ mode: 0o2755, gid: 5 });
  expect(ext4Stat(img, '/tmp')).toMatchObject({ type: 'directory', mode: 0o1777 });
  expect(ext4Stat(img, '/home/app')).toMatchObject({ mode: 0o700, uid: 1000, gid: 1000 });
  expect(ext4Stat(img, '/home/app/notes')).toMatchObject({ mode: 0o600, uid: 1000, gid: 1000, mtime: 1_600_000_000 });
  expect(ext4Stat(img, '/home/big-id')).toMatchObject({ uid: 3_000_000, gid: 4_000_000 });
  expect(ext4Stat(img, '/etc/shadow')).toMatchObject({ mode: 0o640, uid: 0, gid: 42 });
}

describe('building an ext4 root filesystem from image layers', () => {
  it('produces a consistent ext4 that keeps owners, modes and times exactly', () => {
    expectRichImage(image);
  });

  it('keeps device nodes, FIFOs, symlinks and security.capability', () => {
    expect(ext4Stat(image, '/dev/null')).toMatchObject({ type: 'character special', mode: 0o666, device: [1, 3] });
    expect(ext4Stat(image, '/dev/sda1')).toMatchObject({ type: 'block special', mode: 0o660, gid: 6, device: [8, 1] });
    expect(ext4Stat(image, '/dev/big')).toMatchObject({ device: [300, 70000] });
    expect(ext4Stat(image, '/run/fifo')).toMatchObject({ type: 'FIFO', mode: 0o600 });
    expect(ext4Stat(image, '/lib/libc.so')).toMatchObject({ type: 'symlink', size: 'libc.so.6'.length });
    expect(ext4Stat(image, '/lib/long-link')).toMatchObject({ type: 'symlink', size: 1 + 'target/'.length * 20 + 3 });
    expect(ext4Xattr(image, '/bin/ping', 'security.capability')).toEqual(capability);
  });

  it('applies whiteouts and opaque directories layer by layer', () => {
    expect(ext4Ls(image, '/').sort()).toEqual(['.vmstep', 'bin', 'd'.repeat(200), 'dev', 'etc', 'home', 'lib', 'lost+found', 'opt', 'removed-file', 'run', 'shared', 'shared-link', 'tmp'].sort());
    expect(ext4Stat(image, '/removed-file')).toMatchObject({ type: 'symlink' });
    expect(ext4Ls(image, '/opt').sort()).toEqual(['new', 'sub']);
    expect(ext4Ls(image, '/opt/sub')).toEqual(['again']);
    expect(ext4Cat(image, '/etc/passwd').toString()).toBe('root:x:0:0:root:/root:/bin/sh\n');
  });

  it('links names across layers to one inode, and keeps long names', () => {
    const a = ext4Stat(image, '/shared')!;
    expect(a.links).toBe(2);
    expect(ext4Cat(image, '/shared-link').toString()).toBe('one inode, two names');
    expect(ext4Cat(image, `/${longName}`).toString()).toBe('long names work');
  });

  it('adds the guest init at /.vmstep/init, root-owned and executable', () => {
    expect(ext4Stat(image, '/.vmstep/init')).toMatchObject({ type: 'regular', mode: 0o755, uid: 0, gid: 0 });
    expect(ext4Cat(image, '/.vmstep/init').toString()).toContain('vmstep init');
  });

  it('builds the same tree from a docker-archive as from an OCI layout', async () => {
    const da = join(tmp.path, 'rich.docker.tar');
    writeDockerArchive(da, richImage);
    const out = join(tmp.path, 'rich-docker.ext4');
    await buildRootfsImage(await resolveImage(`docker-archive:${da}`), { initPath: init, outPath: out });
    expectRichImage(out);
    expect(ext4Ls(out, '/opt').sort()).toEqual(['new', 'sub']);
  });

  it('streams a 100 MB layer into the image byte for byte', async () => {
    const size = 100 * 1024 * 1024 + 123;
    writeOciLayout(join(tmp.path, 'big'), { layers: [{ entries: [{ path: 'data/blob', size }, { path: 'data/after', content: 'after' }] }] });
    const out = join(tmp.path, 'big.ext4');
    const r = await buildRootfsImage(await resolveImage(`oci:${join(tmp.path, 'big')}`), { initPath: init, outPath: out });
    expect(r.bytes).toBeGreaterThan(size);
    expect(fsck(out)).toMatchObject({ ok: true });
    expect(ext4Cat(out, '/data/blob').equals(patternBytes(size, 'data/blob'))).toBe(true);
    expect(ext4Cat(out, '/data/after').toString()).toBe('after');
  }, 120_000);

  it('sizes the image to a requested disk size', async () => {
    const out = join(tmp.path, 'sized.ext4');
    const r = await buildRootfsImage(await resolveImage(`oci:${join(tmp.path, 'rich')}`), { initPath: init, outPath: out, diskBytes: 1 << 30 });
    expect(r.bytes).toBe(1 << 30);
    expect(fsck(out)).toMatchObject({ ok: true });
  });

  it('copes with images that bring their own lost+found or .vmstep', async () => {
    for (const [name, entries] of [
      ['lf-file', [{ path: 'lost+found', content: 'not a directory' }]],
      ['lf-dir', [{ path: 'lost+found/', type: 'dir' as const, mode: 0o755, uid: 5 }, { path: 'lost+found/a', content: 'a' }]],
      ['vmstep-link', [{ path: '.vmstep', type: 'symlink' as const, linkname: '/etc' }]],
    ] as const) {
      writeOciLayout(join(tmp.path, name), { layers: [{ entries: [...entries] }] });
      const out = join(tmp.path, `${name}.ext4`);
      await buildRootfsImage(await resolveImage(`oci:${join(tmp.path, name)}`), { initPath: init, outPath: out });
      expect(fsck(out)).toMatchObject({ ok: true });
      expect(ext4Stat(out, '/.vmstep/init')).toMatchObject({ type: 'regular', mode: 0o755 });
    }
    expect(ext4Stat(join(tmp.path, 'lf-dir.ext4'), '/lost+found')).toMatchObject({ uid: 5 });
  });

  it('gives the same owners when built by an unprivileged user', () => {
    const dir = join(tmp.path, 'unpriv');
    mkdirSync(dir);
    let prefix: string[] = [];
    if (process.getuid?.() === 0) {
      // Run the build as nobody, who cannot chown or mknod on the host.
      chownSync(dir, 65534, 65534);
      chmodSync(tmp.path, 0o755);
      prefix = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'];
    }
    const out = join(dir, 'rich.ext4');
    const r = spawnSync(prefix[0] ?? process.execPath, [...prefix.slice(1), ...(prefix.length ? [process.execPath] : []), join(repoRoot, 'node_modules/vite-node/vite-node.mjs'), join(repoRoot, 'test/fixtures/build-rootfs-cli.ts'), `oci:${join(tmp.path, 'rich')}`, init, out], {
      cwd: repoRoot,
      encoding: 'utf8',
      env: { ...process.env, HOME: dir },
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const result = JSON.parse(r.stdout.trim().split('\n').pop()!) as { uid: number };
    if (process.getuid?.() === 0) expect(result.uid).toBe(65534);
    expectRichImage(out);
    expect(ext4Stat(out, '/dev/null')).toMatchObject({ device: [1, 3] });
    expect(ext4Xattr(out, '/bin/ping', 'security.capability')).toEqual(capability);
  }, 60_000);
});
