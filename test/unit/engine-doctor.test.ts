// vmstep doctor against fake /dev, /proc and /sys trees: each problem comes
// with the exact command that fixes it.
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runDoctor, type Check } from '../../src/engine/doctor.js';
import { KVM_UDEV_RULE, describeDevice, kvmAccessFix, kvmAccessProblem } from '../../src/engine/kvm-access.js';

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
  it('passes a quiet host with a usable KVM and its own files, and asks for no mke2fs', () => {
    const root = host({ ...quietHost, 'dev/kvm': '' });
    const checks = runDoctor({ root, cpus: 8, findAsset: (_env, file) => `/dist/${file}`, probeKvm: () => ({ available: true, canRunLinux: true, reason: 'hardware virtualisation' }) });
    expect(checks.map((c) => [c.name, c.status])).toEqual([
      ['/dev/kvm', 'ok'],
      ['KVM guests', 'ok'],
      ['vmstep files', 'ok'],
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
    const c = byName(runDoctor({ root: host(quietHost) }), '/dev/kvm');
    expect(c).toMatchObject({ status: 'fail', detail: 'absent: this host offers no KVM', fix: 'load the KVM module: sudo modprobe kvm_amd' });
  });

  it('says to run elsewhere when the CPU has no virtualisation', () => {
    const c = byName(runDoctor({ root: host({ 'proc/cpuinfo': 'flags : fpu sse2\n' }) }), '/dev/kvm');
    expect(c.fix).toMatch(/nested virtualisation/);
  });

  it('says when /dev/kvm exists but cannot be opened for another reason', () => {
    const root = host(quietHost);
    mkdirSync(join(root, 'dev', 'kvm'), { recursive: true }); // a directory: open for writing fails with EISDIR
    const c = byName(runDoctor({ root }), '/dev/kvm');
    expect(c).toMatchObject({ status: 'fail', detail: 'present, but opening it fails (EISDIR)' });
    expect(c.fix).toMatch(/modprobe/);
  });

  it("reports the VMM probe's verdict and reason", () => {
    const root = host({ ...quietHost, 'dev/kvm': '' });
    const c = byName(runDoctor({ root, probeKvm: () => ({ available: true, canRunLinux: false, reason: 'XSAVE at CPL0 is not emulated (kvm_pvm)' }) }), 'KVM guests');
    expect(c).toMatchObject({ status: 'fail', detail: 'cannot run an unmodified Linux guest: XSAVE at CPL0 is not emulated (kvm_pvm)' });
  });

  it('falls back to CPU flags, and says so, when the VMM probe cannot run', () => {
    const root = host({ ...quietHost, 'dev/kvm': '', 'sys/module/kvm_pvm/initstate': 'live\n' });
    const noVmm = () => {
      throw new Error('vmstep-vmm not found');
    };
    const c = byName(runDoctor({ root, probeKvm: noVmm }), 'KVM guests');
    expect(c).toMatchObject({
      status: 'fail',
      detail: "cannot run an unmodified Linux guest: this /dev/kvm is kvm_pvm, a software hypervisor that cannot run an unmodified kernel; judged from CPU flags, the VMM's probe could not run: vmstep-vmm not found",
    });
  });

  it('names each of its own files that is missing, and how to get it back', () => {
    const checks = runDoctor({ root: host(quietHost), findAsset: (envVar, file) => (file === 'vmlinux.gz' || envVar === 'VMSTEP_INIT' ? null : `/dist/${file}`) });
    expect(byName(checks, 'vmstep files')).toEqual({
      name: 'vmstep files',
      status: 'fail',
      detail: 'missing: guest kernel (vmlinux.gz, or $VMSTEP_KERNEL), guest init (vmstep-init, or $VMSTEP_INIT)',
      fix: 'reinstall vmstep, or run `npm run build` in a source checkout',
    });
    expect(checks.map((c) => c.name)).not.toContain('e2fsprogs');
  });

  it('gives the commands that quiet a noisy host', () => {
    const root = host({
      'proc/cpuinfo': 'flags : vmx\n',
      'sys/devices/system/cpu/cpu0/cpufreq/scaling_governor': 'powersave\n',
      'sys/devices/system/cpu/cpu1/cpufreq/scaling_governor': 'performance\n',
      'sys/devices/system/cpu/smt/control': 'on\n',
      'sys/devices/system/cpu/intel_pstate/no_turbo': '0\n',
    });
    const checks = runDoctor({ root, cpus: 2 });
    expect(byName(checks, 'CPU governor')).toMatchObject({ status: 'warn', detail: 'powersave (the frequency changes with load, adding noise)', fix: 'echo performance | sudo tee /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor' });
    expect(byName(checks, 'SMT')).toMatchObject({ status: 'warn', fix: 'echo off | sudo tee /sys/devices/system/cpu/smt/control' });
    expect(byName(checks, 'turbo')).toMatchObject({ status: 'warn', fix: 'echo 1 | sudo tee /sys/devices/system/cpu/intel_pstate/no_turbo' });
    expect(byName(checks, 'CPUs')).toMatchObject({ status: 'warn', detail: '2 available: vCPUs share cores with vmstep and the runner' });
    expect(byName(checks, 'cgroup v2')).toMatchObject({ status: 'warn' });
  });

  it('says when benchmark vCPUs cannot have cores of their own, and what to do', () => {
    const twoCores = host({ 'proc/self/status': 'Cpus_allowed_list:\t0-1\n' });
    expect(byName(runDoctor({ root: twoCores }), 'vCPU pinning')).toEqual({
      name: 'vCPU pinning',
      status: 'warn',
      detail: '2 vCPUs cannot be pinned: 2 vCPUs need 3 physical cores (one stays with the host), and this process may use 2; 1 vCPU can, to host CPU 1',
      fix: 'benchmark with --vcpus 1 (action input vcpus: 1), or on a runner with at least 3 physical cores',
    });
    const oneCore = host({ 'proc/self/status': 'Cpus_allowed_list:\t0\n' });
    expect(byName(runDoctor({ root: oneCore }), 'vCPU pinning')).toMatchObject({ status: 'warn', fix: expect.stringMatching(/at least 2 physical cores/) });
  });

  it('checks that the cache directory is writable', () => {
    const root = host({});
    const c = byName(runDoctor({ root, cacheDir: join(root, 'cache') }), 'cache');
    expect(c.status === 'ok' || c.status === 'warn').toBe(true);
  });
});

describe('the fix for a /dev/kvm this user cannot open', () => {
  const groups: Record<number, string> = { 0: 'root', 108: 'kvm', 990: 'virt' };
  const groupName = (gid: number) => groups[gid] ?? String(gid);
  const runner = { name: 'runner', groups: [1001] };

  it.each<[string, { mode: number; uid: number; gid: number }, { name: string; groups: number[] }, string]>([
    ['group kvm may use it: join the group', { mode: 0o660, uid: 0, gid: 108 }, runner, 'add runner to the kvm group, which may read and write /dev/kvm: sudo usermod -aG kvm runner, then log in again (for a GitHub runner, restart the runner service)'],
    ['the group has another name: join that one', { mode: 0o660, uid: 0, gid: 990 }, runner, 'add runner to the virt group, which may read and write /dev/kvm: sudo usermod -aG virt runner, then log in again (for a GitHub runner, restart the runner service)'],
    ['already in the group: this session predates it', { mode: 0o660, uid: 0, gid: 108 }, { name: 'runner', groups: [1001, 108] }, 'runner is in the kvm group, but this session started before it joined: log in again (for a GitHub runner, restart the runner service)'],
    ['root-only (crw------- root root): a udev rule, not usermod', { mode: 0o600, uid: 0, gid: 0 }, runner, `only root may open it; open it to the runner with a udev rule: ${KVM_UDEV_RULE}`],
    ['group root may use it: joining root is no fix', { mode: 0o660, uid: 0, gid: 0 }, runner, `only root may open it; open it to the runner with a udev rule: ${KVM_UDEV_RULE}`],
    ['the group may only read it', { mode: 0o640, uid: 0, gid: 108 }, runner, `only its owner may open it; open it to the runner with a udev rule: ${KVM_UDEV_RULE}`],
    ['everyone may use it: something else refuses', { mode: 0o666, uid: 0, gid: 108 }, runner, 'every user may read and write it, so something else refuses: look for an ACL (getfacl /dev/kvm) or a security module (dmesg | grep -i denied)'],
  ])('%s', (_what, dev, user, fix) => {
    expect(kvmAccessFix(dev, user, groupName)).toBe(fix);
    expect(fix).not.toContain('$USER');
  });

  it('shows the device as ls -l does', () => {
    expect(describeDevice({ mode: 0o600, uid: 0, gid: 0 }, { user: () => 'root', group: groupName })).toBe('crw------- root:root');
    expect(describeDevice({ mode: 0o660, uid: 0, gid: 108 }, { user: () => 'root', group: groupName })).toBe('crw-rw---- root:kvm');
  });

  it("reads the device's owner, group and mode and the names from the host's files", () => {
    const root = host({ 'dev/kvm': '', 'etc/passwd': 'root:x:0:0::/root:/bin/sh\n', 'etc/group': 'root:x:0:\nkvm:x:4242:\n' });
    chmodSync(join(root, 'dev/kvm'), 0o600);
    const p = kvmAccessProblem(join(root, 'dev/kvm'), join(root, 'etc'), 'runner');
    expect(p.detail).toMatch(/^crw------- /);
    expect(p.fix).toMatch(/^only (root|its owner) may open it; open it to the runner with a udev rule: /);
  });
});
