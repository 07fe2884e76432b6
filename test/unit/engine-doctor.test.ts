// vmstep doctor against fake /dev, /proc and /sys trees: each problem comes
// with the exact command that fixes it.
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runDoctor, type Check } from '../../src/engine/doctor.js';

function host(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'vmstep-doctor-'));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}

const byName = (checks: Check[], name: string) => checks.find((c) => c.name === name)!;
const quietHost = {
  'proc/cpuinfo': 'flags\t\t: fpu vme svm sse2\n',
  'sys/fs/cgroup/cgroup.controllers': 'cpu memory\n',
  'sys/devices/system/cpu/cpu0/cpufreq/scaling_governor': 'performance\n',
  'sys/devices/system/cpu/cpu1/cpufreq/scaling_governor': 'performance\n',
  'sys/devices/system/cpu/smt/control': 'off\n',
  'sys/devices/system/cpu/cpufreq/boost': '0\n',
  'proc/self/status': 'Name:\tnode\nCpus_allowed_list:\t0-7\n',
};

describe('runDoctor', () => {
  it('passes a quiet host with a usable KVM and e2fsprogs', () => {
    const root = host({ ...quietHost, 'dev/kvm': '', 'bin/mke2fs': '' });
    const checks = runDoctor({ root, cpus: 8, pathEnv: join(root, 'bin'), probeKvm: () => ({ available: true, canRunLinux: true, reason: 'hardware virtualisation' }) });
    expect(checks.map((c) => [c.name, c.status])).toEqual([
      ['/dev/kvm', 'ok'],
      ['KVM guests', 'ok'],
      ['e2fsprogs', 'ok'],
      ['CPUs', 'ok'],
      ['cgroup v2', 'ok'],
      ['CPU governor', 'ok'],
      ['SMT', 'ok'],
      ['turbo', 'ok'],
      ['vCPU pinning', 'ok'],
    ]);
    expect(byName(checks, 'vCPU pinning').detail).toBe('benchmark runs pin 2 vCPUs to host CPUs 6, 7 (the first core stays with the host)');
  });

  it('says how to load KVM when /dev/kvm is missing on a CPU that has virtualisation', () => {
    const c = byName(runDoctor({ root: host(quietHost), pathEnv: '' }), '/dev/kvm');
    expect(c).toMatchObject({ status: 'fail', detail: 'absent: this host offers no KVM', fix: 'load the KVM module: sudo modprobe kvm_amd' });
  });

  it('says to run elsewhere when the CPU has no virtualisation', () => {
    const c = byName(runDoctor({ root: host({ 'proc/cpuinfo': 'flags : fpu sse2\n' }), pathEnv: '' }), '/dev/kvm');
    expect(c.fix).toMatch(/nested virtualisation/);
  });

  it.skipIf(process.getuid?.() === 0)('gives the usermod and udev fixes when /dev/kvm is not accessible', () => {
    const root = host({ ...quietHost, 'dev/kvm': '' });
    chmodSync(join(root, 'dev/kvm'), 0o000);
    const c = byName(runDoctor({ root, user: 'runner', pathEnv: '' }), '/dev/kvm');
    expect(c.status).toBe('fail');
    expect(c.fix).toMatch(/^add the user to the kvm group: sudo usermod -aG kvm runner/);
  });

  it('says when /dev/kvm exists but cannot be opened for another reason', () => {
    const root = host(quietHost);
    mkdirSync(join(root, 'dev', 'kvm'), { recursive: true }); // a directory: open for writing fails with EISDIR
    const c = byName(runDoctor({ root, pathEnv: '' }), '/dev/kvm');
    expect(c).toMatchObject({ status: 'fail', detail: 'present, but opening it fails (EISDIR)' });
    expect(c.fix).toMatch(/modprobe/);
  });

  it("reports the VMM probe's verdict and reason", () => {
    const root = host({ ...quietHost, 'dev/kvm': '' });
    const c = byName(runDoctor({ root, pathEnv: '', probeKvm: () => ({ available: true, canRunLinux: false, reason: 'XSAVE at CPL0 is not emulated (kvm_pvm)' }) }), 'KVM guests');
    expect(c).toMatchObject({ status: 'fail', detail: 'cannot run an unmodified Linux guest: XSAVE at CPL0 is not emulated (kvm_pvm)' });
  });

  it('falls back to CPU flags, and says so, when the VMM probe cannot run', () => {
    const root = host({ ...quietHost, 'dev/kvm': '', 'sys/module/kvm_pvm/initstate': 'live\n' });
    const noVmm = () => {
      throw new Error('vmstep-vmm not found');
    };
    const c = byName(runDoctor({ root, pathEnv: '', probeKvm: noVmm }), 'KVM guests');
    expect(c).toMatchObject({
      status: 'fail',
      detail: "cannot run an unmodified Linux guest: this /dev/kvm is kvm_pvm, a software hypervisor that cannot run an unmodified kernel; judged from CPU flags, the VMM's probe could not run: vmstep-vmm not found",
    });
  });

  it('asks for e2fsprogs when mke2fs is nowhere', () => {
    const checks = runDoctor({ root: host(quietHost), pathEnv: '/nonexistent' });
    const c = byName(checks, 'e2fsprogs');
    // /sbin and /usr/sbin are searched too; on a host that has it there, it is found.
    if (c.status === 'fail') expect(c.fix).toBe('sudo apt-get install -y e2fsprogs');
    else expect(c.detail).toMatch(/\/s?bin\/mke2fs$/);
  });

  it('gives the commands that quiet a noisy host', () => {
    const root = host({
      'proc/cpuinfo': 'flags : vmx\n',
      'sys/devices/system/cpu/cpu0/cpufreq/scaling_governor': 'powersave\n',
      'sys/devices/system/cpu/cpu1/cpufreq/scaling_governor': 'performance\n',
      'sys/devices/system/cpu/smt/control': 'on\n',
      'sys/devices/system/cpu/intel_pstate/no_turbo': '0\n',
    });
    const checks = runDoctor({ root, cpus: 2, pathEnv: '' });
    expect(byName(checks, 'CPU governor')).toMatchObject({ status: 'warn', detail: 'powersave (the frequency changes with load, adding noise)', fix: 'echo performance | sudo tee /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor' });
    expect(byName(checks, 'SMT')).toMatchObject({ status: 'warn', fix: 'echo off | sudo tee /sys/devices/system/cpu/smt/control' });
    expect(byName(checks, 'turbo')).toMatchObject({ status: 'warn', fix: 'echo 1 | sudo tee /sys/devices/system/cpu/intel_pstate/no_turbo' });
    expect(byName(checks, 'CPUs')).toMatchObject({ status: 'warn', detail: '2 available: vCPUs share cores with vmstep and the runner' });
    expect(byName(checks, 'cgroup v2')).toMatchObject({ status: 'warn' });
  });

  it('says when benchmark vCPUs cannot have cores of their own, and what to do', () => {
    const twoCores = host({ 'proc/self/status': 'Cpus_allowed_list:\t0-1\n' });
    expect(byName(runDoctor({ root: twoCores, pathEnv: '' }), 'vCPU pinning')).toEqual({
      name: 'vCPU pinning',
      status: 'warn',
      detail: '2 vCPUs cannot be pinned: 2 vCPUs need 3 physical cores (one stays with the host), and this process may use 2; 1 vCPU can, to host CPU 1',
      fix: 'benchmark with --vcpus 1 (action input vcpus: 1), or on a runner with at least 3 physical cores',
    });
    const oneCore = host({ 'proc/self/status': 'Cpus_allowed_list:\t0\n' });
    expect(byName(runDoctor({ root: oneCore, pathEnv: '' }), 'vCPU pinning')).toMatchObject({ status: 'warn', fix: expect.stringMatching(/at least 2 physical cores/) });
  });

  it('checks that the cache directory is writable', () => {
    const root = host({});
    const c = byName(runDoctor({ root, pathEnv: '', cacheDir: join(root, 'cache') }), 'cache');
    expect(c.status === 'ok' || c.status === 'warn').toBe(true);
  });
});
