// A small but real image for end-to-end runs: Debian's static busybox with
// every applet linked under /bin, users in /etc/passwd and a sticky /tmp,
// written as an OCI layout or an OCI archive from code (no Docker).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeOciArchive, writeOciLayout, type BuiltImage, type FixtureImage } from '../fixtures/oci-images.js';
import type { FixtureEntry } from '../fixtures/tar-writer.js';

function busyboxEntries(): FixtureEntry[] {
  const applets = execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' })
    .split('\n')
    .filter((a) => a !== '' && a !== 'busybox');
  return [
    { path: 'bin/', type: 'dir' },
    { path: 'bin/busybox', content: readFileSync('/bin/busybox'), mode: 0o755 },
    ...applets.map((a): FixtureEntry => ({ path: `bin/${a}`, type: 'symlink', linkname: 'busybox' })),
    { path: 'etc/', type: 'dir' },
    { path: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n' },
    { path: 'etc/group', content: 'root:x:0:\napp:x:1000:\n' },
    { path: 'tmp/', type: 'dir', mode: 0o1777 },
  ];
}

export type ImageConfig = NonNullable<FixtureImage['config']>;

function busyboxImage(config: ImageConfig): FixtureImage {
  return { layers: [{ entries: busyboxEntries() }], config: { Env: ['PATH=/bin'], ...config } };
}

/** Writes the image as an OCI layout in `dir` (use it as `oci:DIR`); returns its blobs (the manifest digest is the image digest). */
export function writeBusyboxLayout(dir: string, config: ImageConfig = { Cmd: ['/bin/sh'] }): BuiltImage {
  return writeOciLayout(dir, busyboxImage(config), { tag: 'latest' });
}

/** Writes the image as an OCI archive (use it as `oci-archive:FILE`). */
export function writeBusyboxArchive(file: string, config: ImageConfig = { Cmd: ['/bin/sh'] }): BuiltImage {
  return writeOciArchive(file, busyboxImage(config), 'latest');
}
