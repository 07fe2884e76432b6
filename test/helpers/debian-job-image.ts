// Job images for the runner plugin's end-to-end test, written from code (no
// Docker) out of this Debian host's own packages: bash and the shared
// libraries that bash and the runner's Node.js need (libc6, libstdc++6,
// libgcc-s1, libtinfo6, as ldd finds them), busybox-static's applets for the
// usual commands, /etc/debian_version, users. The Alpine variant is the
// busybox image marked with /etc/alpine-release, as Alpine marks itself.
import { execFileSync } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { writeOciLayout, type BuiltImage } from '../fixtures/oci-images.js';
import type { FixtureEntry } from '../fixtures/tar-writer.js';

/** The absolute paths of a dynamic executable's libraries and its loader, from ldd. */
export function sharedLibraries(binary: string): string[] {
  const out = execFileSync('ldd', [binary], { encoding: 'utf8' });
  return [...out.matchAll(/(\/\S+\.so[.\d]*)\s+\(0x/g)].map((m) => m[1]!);
}

export function busyboxApplets(except: Set<string>): FixtureEntry[] {
  return execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' })
    .split('\n')
    .filter((a) => a !== '' && a !== 'busybox' && !except.has(a))
    .map((a): FixtureEntry => ({ path: `usr/bin/${a}`, type: 'symlink', linkname: '/bin/busybox' }));
}

export function dirsOf(paths: string[]): FixtureEntry[] {
  const dirs = new Set<string>();
  for (const p of paths) for (let i = p.indexOf('/'); i > 0; i = p.indexOf('/', i + 1)) dirs.add(p.slice(0, i));
  return [...dirs].sort().map((d): FixtureEntry => ({ path: `${d}/`, type: 'dir' }));
}

export const USERS: FixtureEntry[] = [
  { path: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/bash\nrunner:x:1001:1001:runner:/home/runner:/bin/bash\n' },
  { path: 'etc/group', content: 'root:x:0:\nrunner:x:1001:\n' },
  { path: 'tmp/', type: 'dir', mode: 0o1777 },
];

/**
 * A Debian bookworm-like job image: bash at /bin/bash and /usr/bin/bash,
 * busybox applets in /usr/bin, the libraries of bash and of `node` (the
 * binary the runner keeps in its externals) so the runner's Node.js runs in
 * it, PATH=/usr/local/bin:/usr/bin:/bin.
 */
export function writeDebianJobImage(dir: string, nodeBinary = process.execPath): BuiltImage {
  const libs = [...new Set([...sharedLibraries('/bin/bash'), ...sharedLibraries(nodeBinary)])];
  const files: FixtureEntry[] = [
    { path: 'bin/busybox', content: readFileSync('/bin/busybox'), mode: 0o755 },
    { path: 'bin/bash', content: readFileSync('/bin/bash'), mode: 0o755 },
    { path: 'bin/sh', type: 'symlink', linkname: 'bash' },
    { path: 'usr/bin/bash', type: 'symlink', linkname: '/bin/bash' },
    { path: 'etc/debian_version', content: readFileSync('/etc/debian_version') },
    ...libs.map((l): FixtureEntry => ({ path: l.slice(1), content: readFileSync(realpathSync(l)), mode: 0o755 })),
  ];
  const entries = [...dirsOf([...files.map((f) => f.path), 'usr/bin/x', 'usr/local/bin/x']), ...files, ...busyboxApplets(new Set(['sh', 'bash'])), ...USERS];
  return writeOciLayout(dir, { layers: [{ entries }], config: { Env: ['PATH=/usr/local/bin:/usr/bin:/bin'], Cmd: ['/bin/bash'] } }, { tag: 'latest' });
}

/** Busybox alone, marked as Alpine marks itself. */
export function writeAlpineLikeImage(dir: string): BuiltImage {
  const files: FixtureEntry[] = [
    { path: 'bin/busybox', content: readFileSync('/bin/busybox'), mode: 0o755 },
    { path: 'etc/alpine-release', content: '3.20.0\n' },
  ];
  const applets = execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' })
    .split('\n')
    .filter((a) => a !== '' && a !== 'busybox')
    .map((a): FixtureEntry => ({ path: `bin/${a}`, type: 'symlink', linkname: 'busybox' }));
  return writeOciLayout(dir, { layers: [{ entries: [...dirsOf(files.map((f) => f.path)), ...files, ...applets, ...USERS] }], config: { Env: ['PATH=/bin'], Cmd: ['/bin/sh'] } }, { tag: 'latest' });
}
