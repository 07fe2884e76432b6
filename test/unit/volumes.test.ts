// Volumes on the host: the HOST_PATH:GUEST_PATH rules (every refusal one
// line, before any VM), and the ext4 disk that carries the trees into the
// guest, read back with e2fsprogs. (test/e2e/volumes.test.ts checks the
// same trees inside a real guest.)
import { execFileSync } from 'node:child_process';
import { chmodSync, linkSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { VmstepError } from '../../src/engine/errors.js';
import { mountOrder, parseVolumes } from '../../src/engine/volumes.js';
import { buildVolumeDisk } from '../../src/rootfs/volume-disk.js';
import { ext4Cat, ext4Ls, ext4Stat, fsck, tempDir } from '../helpers/images.js';

const tmp = tempDir('vmstep-volumes-');
afterAll(() => tmp.cleanup());

const refusal = (entries: string[], base = tmp.path): string => {
  try {
    parseVolumes(entries, base, '--volume');
  } catch (err) {
    expect(err).toBeInstanceOf(VmstepError);
    const line = (err as VmstepError).oneLine();
    expect(line).not.toContain('\n');
    return line;
  }
  throw new Error(`${entries.join(' ')} was accepted`);
};

describe('a volume argument', () => {
  mkdirSync(join(tmp.path, 'src'), { recursive: true });
  writeFileSync(join(tmp.path, 'data.txt'), 'x');

  test('resolves a relative host path against the base directory and normalises the guest path', () => {
    expect(parseVolumes(['src:/work//src/', ' data.txt:/etc/data.txt ', ''], tmp.path, '--volume')).toEqual([
      { hostPath: join(tmp.path, 'src'), guestPath: '/work/src', kind: 'dir' },
      { hostPath: join(tmp.path, 'data.txt'), guestPath: '/etc/data.txt', kind: 'file' },
    ]);
  });

  test('takes the guest path after the last colon, so a host path may hold colons', () => {
    mkdirSync(join(tmp.path, 'a:b'));
    expect(parseVolumes(['a:b:/x'], tmp.path, '--volume')[0]).toMatchObject({ hostPath: join(tmp.path, 'a:b'), guestPath: '/x' });
  });

  test('a missing host path is refused, naming it', () => {
    expect(refusal(['nope:/src'])).toBe(`--volume "nope:/src": the host path ${join(tmp.path, 'nope')} does not exist; check the path; relative paths start at ${tmp.path}`);
  });

  test('an unreadable host path is refused, naming it', () => {
    if (process.getuid?.() === 0) {
      // root reads everything: a directory that cannot be searched is unreadable to nobody here, so check the message shape on a socket-like non-file instead.
      expect(refusal(['/dev/null:/x'])).toMatch(/the host path \/dev\/null is neither a file nor a directory/);
      return;
    }
    const locked = join(tmp.path, 'locked');
    mkdirSync(locked);
    chmodSync(locked, 0);
    expect(refusal(['locked:/x'])).toMatch(/the host path .*locked cannot be read \(EACCES\)/);
  });

  test('a guest path that is not absolute is refused', () => {
    expect(refusal(['src:work'])).toBe('--volume "src:work": the guest path "work" is not absolute; give an absolute guest path such as /src');
  });

  test.each(['/', '//', '/proc', '/sys', '/dev', '/dev/', '/proc/self', '/.vmstep'])('a guest path %s that replaces what the guest needs is refused', (guest) => {
    expect(refusal([`src:${guest}`])).toMatch(/^--volume "src:.*": a volume cannot replace/);
  });

  test('a missing guest path, a NUL byte, "..", and two volumes at one path are refused', () => {
    expect(refusal(['src'])).toMatch(/is not HOST_PATH:GUEST_PATH; write HOST_PATH:GUEST_PATH/);
    expect(refusal(['src:'])).toMatch(/is not HOST_PATH:GUEST_PATH/);
    expect(refusal(['src:/a/../b'])).toMatch(/contains "\.\."/);
    expect(refusal(['src:/a\0'])).toMatch(/NUL/);
    expect(refusal(['src:/a', 'data.txt:/a/'])).toMatch(/\/a is already the guest path of/);
  });

  test('volumes inside others are mounted after them', () => {
    expect(mountOrder([{ guestPath: '/a/b/c' }, { guestPath: '/a' }, { guestPath: '/z' }, { guestPath: '/a/b' }]).map((v) => v.guestPath)).toEqual(['/a', '/z', '/a/b', '/a/b/c']);
  });
});

describe('the volume disk', () => {
  const src = join(tmp.path, 'tree');
  mkdirSync(join(src, 'nested/deeper'), { recursive: true });
  mkdirSync(join(src, 'empty-dir'));
  writeFileSync(join(src, 'nested/deeper/file.bin'), Buffer.from([0, 1, 2, 255]));
  writeFileSync(join(src, 'with space.txt'), 'spaces\n');
  writeFileSync(join(src, 'empty'), '');
  writeFileSync(join(src, 'script.sh'), '#!/bin/sh\n', { mode: 0o755 });
  chmodSync(join(src, 'script.sh'), 0o4755);
  writeFileSync(join(src, 'a'), 'linked\n');
  linkSync(join(src, 'a'), join(src, 'b'));
  symlinkSync('/etc/shadow', join(src, 'shadow'));
  symlinkSync('../../..', join(src, 'up'));
  const oddName = Buffer.from([0x6e, 0xff, 0x0a]); // "n", a byte that is not UTF-8, a newline
  writeFileSync(Buffer.concat([Buffer.from(`${src}/`), oddName]), 'odd name');
  execFileSync('mkfifo', [join(src, 'pipe')]);
  const disk = join(tmp.path, 'volumes.ext4');
  let result: Awaited<ReturnType<typeof buildVolumeDisk>>;

  test('is a clean ext4 holding each volume under its name, with the fifo skipped and reported', async () => {
    result = await buildVolumeDisk([{ name: '0', hostPath: src }, { name: '1', hostPath: join(src, 'with space.txt') }], disk, { headroomBytes: 64 << 20 });
    expect(fsck(disk)).toMatchObject({ ok: true });
    expect(result.skipped).toEqual([join(src, 'pipe')]);
    expect(ext4Ls(disk, '/').sort()).toEqual(['0', '1', 'lost+found']);
    expect(ext4Cat(disk, '/1').toString()).toBe('spaces\n');
  });

  test('keeps contents, modes (setuid too), hard links, empty files and directories, names with spaces', () => {
    expect([...ext4Cat(disk, '/0/nested/deeper/file.bin')]).toEqual([0, 1, 2, 255]);
    expect(ext4Cat(disk, '/0/with space.txt').toString()).toBe('spaces\n');
    expect(ext4Stat(disk, '/0/script.sh')).toMatchObject({ mode: 0o4755, uid: 0, gid: 0 });
    expect(ext4Stat(disk, '/0/empty')).toMatchObject({ size: 0, type: 'regular' });
    expect(ext4Stat(disk, '/0/empty-dir')).toMatchObject({ type: 'directory' });
    expect(ext4Stat(disk, '/0/a')!.links).toBe(2);
    const inode = (p: string) => /Inode: (\d+)/.exec(execFileSync('debugfs', ['-R', `stat "${p}"`, disk], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))![1];
    expect(inode('/0/a')).toBe(inode('/0/b'));
  });

  test('copies symbolic links as links, never what they point at', () => {
    expect(ext4Stat(disk, '/0/shadow')).toMatchObject({ type: 'symlink' });
    expect(execFileSync('debugfs', ['-R', 'stat /0/shadow', disk], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })).toContain('Fast link dest: "/etc/shadow"');
    expect(ext4Stat(disk, '/0/up')).toMatchObject({ type: 'symlink' });
  });

  test('keeps names of any bytes', () => {
    const listing = execFileSync('debugfs', ['-R', 'ls -p /0', disk], { stdio: ['ignore', 'pipe', 'ignore'] });
    expect(listing.includes(Buffer.concat([Buffer.from('/'), oddName, Buffer.from('/')]))).toBe(true);
  });
});
