// The KVM probe: what this host's KVM can do, in plain words. On a KVM that
// runs tiny guests but cannot emulate the FPU state instructions Linux needs
// (kvm_pvm), it must say so; without access it must name the fix.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { beforeAll, expect, test } from 'vitest';
import { probeKvm } from '../../src/vm/index.js';
import { nativeBuild } from './vm-helpers.js';

beforeAll(async () => {
  await nativeBuild();
}, 600_000);

test('the probe finds this host\'s KVM and judges whether it runs an unmodified kernel', () => {
  const p = probeKvm();
  expect(p.available).toBe(true);
  if (existsSync('/sys/module/kvm_pvm')) {
    expect(p.module).toBe('kvm_pvm');
    expect(p.canRunLinux).toBe(false);
    expect(p.reason).toMatch(/cannot run an unmodified Linux kernel: XSAVE at CPL0 ended in a KVM internal error/);
    expect(p.reason).toMatch(/hardware virtualisation/);
  } else if (/\b(vmx|svm)\b/.test(readFileSync('/proc/cpuinfo', 'utf8'))) {
    expect(p.canRunLinux).toBe(true);
  }
});

test('probing runs its guest inside Node and leaves nothing behind: no file descriptors, no threads', () => {
  probeKvm();
  const fds = () => readdirSync('/proc/self/fd').length;
  const threads = () => readdirSync('/proc/self/task').length;
  const before = { fds: fds(), threads: threads() };
  for (let i = 0; i < 20; i++) probeKvm();
  expect({ fds: fds(), threads: threads() }).toEqual(before);
});

test('without /dev/kvm the probe says there is no KVM and how to get one', () => {
  const p = probeKvm('/nonexistent/kvm');
  expect(p.available).toBe(false);
  expect(p.canRunLinux).toBe(false);
  expect(p.reason).toMatch(/^no \/dev\/kvm: .*modprobe kvm_intel/);
});

test('a user without access to /dev/kvm is told to join the kvm group', async () => {
  const { vmm } = await nativeBuild();
  // As an unprivileged user (only root can switch users here).
  if (process.getuid?.() !== 0 || (readFileSync('/proc/self/status', 'utf8').match(/^CapEff:\s+(\w+)/m)?.[1] ?? '0') === '0000000000000000') return;
  const res = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', vmm, '--probe'], {
    encoding: 'utf8',
    env: { ...process.env, USER: 'nobody' },
  });
  const p = JSON.parse(res.stdout.trim()) as { available: boolean; reason: string };
  expect(p.available).toBe(false);
  expect(p.reason).toBe(
    'permission denied on /dev/kvm: add the user to the kvm group (sudo usermod -aG kvm nobody) and log in again (for a GitHub runner, restart the runner service)',
  );
});
