// Volumes and stdin end to end: `vmstep run` (main(), in this process) on
// the real guest kernel booted by our VMM, in the emulated KVM host here.
// One boot checks a whole tree arriving intact (contents, modes, hard links,
// symlinks pointing outside it, names with spaces, an empty file and
// directory, a fifo skipped), a file volume, `--user 1000` writing into its
// volume and 10 MiB of binary stdin read by `cat` to its end; a second boot
// checks that a command that never reads its stdin ends the run while that
// stdin stays open. (The bad arguments fail before any VM: test/unit/cli.test.ts.)
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { CliIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { runImage } from '../../src/engine/run.js';
import { writeBusyboxLayout } from '../helpers/busybox-image.js';
import { builtArtifacts } from '../helpers/artifacts.js';
import { nativeBuild } from '../kvm/vm-helpers.js';
import { Capture } from '../helpers/capture.js';

const work = mkdtempSync(join(tmpdir(), 'vmstep-e2e-volumes-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const layout = join(work, 'image');
/** Small VMs: the emulated KVM host has two CPUs and little memory for everything. */
const SMALL = ['--memory', '256M', '--vcpus', '1'];
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function vmstep(stdin: Readable | null, ...argv: string[]) {
  const stdout = new Capture();
  const stderr = new Capture();
  const io: CliIo = { stdout, stderr, cwd: work, env: { PATH: process.env.PATH, VMSTEP_CACHE: join(work, 'cache') }, runImage, ...(stdin ? { stdin: () => stdin } : {}) };
  const code = await main(argv, io);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

beforeAll(async () => {
  await nativeBuild(); // the VMM and addon of this tree (sets VMSTEP_VMM, VMSTEP_ADDON)
  const built = builtArtifacts();
  process.env.VMSTEP_KERNEL = built.guestKernel;
  if (built.guestInit) process.env.VMSTEP_INIT = built.guestInit;
  writeBusyboxLayout(layout, { Cmd: ['/bin/sh'] });
}, 600_000);

describe('a tree, a file and 10 MiB of stdin into a run as user 1000', () => {
  const tree = join(work, 'tree');
  const files: Record<string, Buffer> = {
    'nested/deeper/file.bin': randomBytes(300_000),
    a: Buffer.from('one inode, two names\n'),
    empty: Buffer.alloc(0),
    'with space.txt': Buffer.from('spaces survive\n'),
    'tool.sh': Buffer.from('#!/bin/sh\necho tool\n'),
  };
  const stdinData = randomBytes(10 * 1024 * 1024);
  let r: Awaited<ReturnType<typeof vmstep>>;
  const field = (key: string) => r.stdout.split('\n').filter((l) => l.startsWith(`${key} `)).map((l) => l.slice(key.length + 1));

  beforeAll(async () => {
    for (const [name, data] of Object.entries(files)) {
      mkdirSync(join(tree, name, '..'), { recursive: true });
      writeFileSync(join(tree, name), data);
    }
    // Explicit modes: the umask differs between hosts.
    for (const name of Object.keys(files)) chmodSync(join(tree, name), 0o644);
    for (const dir of ['', 'nested', 'nested/deeper']) chmodSync(join(tree, dir), 0o755);
    chmodSync(join(tree, 'tool.sh'), 0o750);
    chmodSync(join(tree, 'with space.txt'), 0o604);
    linkSync(join(tree, 'a'), join(tree, 'b'));
    mkdirSync(join(tree, 'empty-dir'), { mode: 0o755 });
    chmodSync(join(tree, 'empty-dir'), 0o755);
    symlinkSync('/etc/shadow', join(tree, 'shadow'));
    symlinkSync('../../outside', join(tree, 'nested', 'up'));
    execFileSync('mkfifo', [join(tree, 'pipe')]);
    writeFileSync(join(work, 'notes.txt'), 'a file volume\n');
    const script = [
      'cd /src',
      'for f in nested/deeper/file.bin a b empty "with space.txt" tool.sh; do echo "sum $(sha256sum "$f" | cut -d" " -f1) $f"; done',
      'for f in a b empty "with space.txt" tool.sh nested empty-dir shadow; do echo "stat $(stat -c "%a %u:%g %h %F" "$f") $f"; done',
      'echo "inodes $(stat -c %i a) $(stat -c %i b)"',
      'echo "link $(readlink shadow) $(readlink nested/up)"',
      'echo "pipe $(ls -A | grep -c pipe)"',
      'echo "notes $(cat /etc/notes.txt)"',
      'echo "id $(id -u)"',
      'echo "write $(echo mine > /src/new-file && stat -c %u /src/new-file)"',
      'cat > /tmp/stdin.bin; echo "cat-exit $?"',
      'echo "stdin $(sha256sum /tmp/stdin.bin | cut -d" " -f1) $(wc -c < /tmp/stdin.bin)"',
    ].join('\n');
    const stdin = Readable.from([stdinData.subarray(0, 4_000_000), stdinData.subarray(4_000_000)]);
    r = await vmstep(stdin, 'run', ...SMALL, '-v', 'tree:/src', '-v', `${join(work, 'notes.txt')}:/etc/notes.txt`, '--user', '1000', '-i', `oci:${layout}`, 'sh', '-c', script);
  }, 600_000);

  test('the run succeeds as uid 1000', () => {
    expect(r.code, r.stderr).toBe(0);
    expect(field('id')).toEqual(['1000']);
  });

  test('every file arrives with the same sha256', () => {
    const want = ['nested/deeper/file.bin', 'a', 'b', 'empty', 'with space.txt', 'tool.sh'].map((f) => `${sha256(files[f === 'b' ? 'a' : f]!)} ${f}`);
    expect(field('sum')).toEqual(want);
  });

  test('modes, hard links and kinds are kept, and everything belongs to the user the command runs as', () => {
    expect(field('stat')).toEqual([
      '644 1000:1000 2 regular file a',
      '644 1000:1000 2 regular file b',
      '644 1000:1000 1 regular empty file empty',
      '604 1000:1000 1 regular file with space.txt',
      '750 1000:1000 1 regular file tool.sh',
      '755 1000:1000 3 directory nested',
      '755 1000:1000 2 directory empty-dir',
      '777 1000:1000 1 symbolic link shadow',
    ]);
    const [ia, ib] = field('inodes')[0]!.split(' ');
    expect(ia).toBe(ib);
  });

  test('symbolic links arrive as links, pointing where they pointed, even outside the tree', () => {
    expect(field('link')).toEqual(['/etc/shadow ../../outside']);
  });

  test('the fifo is not copied, and one warning names it', () => {
    expect(field('pipe')).toEqual(['0']);
    const warnings = r.stderr.split('\n').filter((l) => l.startsWith('vmstep: warning:'));
    expect(warnings).toEqual([`vmstep: warning: volumes: skipped 1 entry that cannot be copied (sockets, devices, fifos): ${join(tree, 'pipe')}`]);
  });

  test('a file volume arrives at its guest path', () => {
    expect(field('notes')).toEqual(['a file volume']);
  });

  test('the user writes into the volume', () => {
    expect(field('write')).toEqual(['1000']);
  });

  test('10 MiB of binary stdin arrive intact, and cat ends at its end', () => {
    expect(field('cat-exit')).toEqual(['0']);
    expect(field('stdin')).toEqual([`${sha256(stdinData)} ${stdinData.length}`]);
  });

  test('the volumes phase is reported with what it copied', () => {
    expect(r.stderr).toMatch(/^vmstep: volumes \d+ entries, /m);
  });
});

describe('a command that never reads its stdin', () => {
  test('ends the run although stdin stays open', async () => {
    const stdin = new PassThrough();
    stdin.write(randomBytes(3 * 1024 * 1024)); // more than the window and the pipe hold
    const r = await vmstep(stdin, 'run', ...SMALL, '-i', `oci:${layout}`, 'sh', '-c', 'echo never-read');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('never-read\n');
    expect(stdin.destroyed).toBe(true);
  }, 600_000);
});

test('the host tree is unchanged by the run', () => {
  expect(readFileSync(join(work, 'tree', 'a'), 'utf8')).toBe('one inode, two names\n');
  expect(() => readFileSync(join(work, 'tree', 'new-file'))).toThrow(/ENOENT/);
});
