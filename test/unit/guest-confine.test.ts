// Guest init's seccomp filter on its own: with every capability still held
// (root on this host), the blocked system calls must fail with EPERM, which
// only the filter can cause: unfiltered, the same calls fail otherwise
// (EINVAL, ENOENT, ENOSYS). test/unit/guest-init.test.ts checks that the
// workload gets the filter ("Seccomp: 2") along with no capabilities.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { repoRoot } from '../helpers/artifacts.js';

const work = mkdtempSync(join(tmpdir(), 'vmstep-seccomp-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const blocked = ['reboot', 'kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'delete_module', 'swapon', 'swapoff'];

function probe(...args: string[]): Map<string, string> {
  const binary = join(work, 'seccomp-probe');
  execFileSync('musl-gcc', [
    '-std=gnu11', '-D_GNU_SOURCE', '-O1', '-static', '-idirafter', '/usr/include/x86_64-linux-gnu', '-idirafter', '/usr/include',
    '-o', binary, join(repoRoot, 'guest', 'test', 'seccomp-probe.c'), join(repoRoot, 'guest', 'src', 'confine.c'),
  ]);
  const out = execFileSync(binary, args, { encoding: 'utf8' });
  return new Map(out.trim().split('\n').map((l) => l.split(' ') as [string, string]));
}

test.runIf(process.getuid?.() === 0)('the filter answers EPERM to reboot, kexec, module loading and swap control, and lets the rest through', () => {
  const unfiltered = probe();
  const filtered = probe('filtered');
  for (const name of blocked) {
    expect(unfiltered.get(name), `${name} without the filter`).not.toBe('EPERM');
    expect(filtered.get(name), `${name} with the filter`).toBe('EPERM');
  }
  expect(filtered.get('getppid')).toBe('OK');
});
