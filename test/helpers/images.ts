// Helpers for image and rootfs tests: temporary directories, reading an ext4
// image back with debugfs (e2fsprogs), and a snapshot of a directory tree to
// prove that a failed build wrote nothing outside its own directory.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, lstatSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function tempDir(prefix = 'vmstep-test-'): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** A small stand-in for the guest init binary. */
export function fakeInit(dir: string, content = '#!/bin/sh\necho vmstep init\n'): string {
  const p = join(dir, 'vmstep-init');
  writeFileSync(p, content, { mode: 0o755 });
  return p;
}

export interface Ext4Stat {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  links: number;
  mtime: number;
  device?: [number, number];
}

function debugfs(image: string, cmd: string): string {
  const r = spawnSync('debugfs', ['-R', cmd, image], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`debugfs ${cmd} failed: ${r.stderr}`);
  return r.stdout;
}

/** Inode metadata of a path inside an ext4 image, as debugfs reports it. */
export function ext4Stat(image: string, path: string): Ext4Stat | null {
  const out = debugfs(image, `stat "${path}"`);
  const m = /Type: (\S+(?: special)?)\s+Mode:\s+(\d+)/.exec(out);
  if (!m) return null;
  const owner = /User:\s+(\d+)\s+Group:\s+(\d+)/.exec(out)!;
  const size = /Size: (\d+)/.exec(out)!;
  const links = /Links: (\d+)/.exec(out)!;
  const mtime = /mtime: 0x([0-9a-f]+)/.exec(out)!;
  const dev = /Device major\/minor number: (\d+):(\d+)/.exec(out);
  const s: Ext4Stat = { type: m[1]!, mode: parseInt(m[2]!, 8), uid: Number(owner[1]), gid: Number(owner[2]), size: Number(size[1]), links: Number(links[1]), mtime: parseInt(mtime[1]!, 16) };
  if (dev) s.device = [Number(dev[1]), Number(dev[2])];
  return s;
}

export function ext4Cat(image: string, path: string): Buffer {
  return execFileSync('debugfs', ['-R', `cat "${path}"`, image], { maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] });
}

export function ext4Ls(image: string, path: string): string[] {
  return debugfs(image, `ls -p "${path}"`)
    .split('\n')
    .map((l) => l.split('/')[5])
    .filter((n): n is string => !!n && n !== '.' && n !== '..');
}

export function ext4Xattr(image: string, path: string, name: string): Buffer | null {
  const out = debugfs(image, `ea_get -x "${path}" ${name}`);
  const eq = out.indexOf(' = ');
  if (eq < 0) return null;
  const hex = out.slice(eq + 3).match(/\b[0-9a-f]{2}\b/gi) ?? [];
  return Buffer.from(hex.join(''), 'hex');
}

/** e2fsck -fn: the image must be a consistent ext4 with nothing to repair. */
export function fsck(image: string): { ok: boolean; output: string } {
  const r = spawnSync('e2fsck', ['-fn', image], { encoding: 'utf8' });
  return { ok: r.status === 0, output: r.stdout + r.stderr };
}

/** Every path under `dir` (relative), to compare before and after an operation. */
export function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel))) {
      const p = rel ? `${rel}/${name}` : name;
      out.push(p);
      if (lstatSync(join(dir, p)).isDirectory()) walk(p);
    }
  };
  walk('');
  return out.sort();
}
