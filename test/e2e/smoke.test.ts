// The chain every real-Linux test stands on: a KVM that runs stock kernels
// (the host's own, or the emulated KVM host's), the guest kernel built from
// kernel/guest.config, virtio-mmio devices from the command line, virtio-blk,
// an ext4 root and MP-table SMP. QEMU boots it here so that this test checks
// the kernel config and the harness independently of our own VMM.
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { builtArtifacts } from '../helpers/artifacts.js';

const work = mkdtempSync(join(tmpdir(), 'vmstep-smoke-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function tinyRootfs(): string {
  const root = join(work, 'root');
  for (const d of ['bin', 'proc', 'sys', 'dev']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync('/bin/busybox', join(root, 'bin', 'busybox'));
  chmodSync(join(root, 'bin', 'busybox'), 0o755);
  writeFileSync(
    join(root, 'init'),
    [
      '#!/bin/busybox sh',
      '/bin/busybox mount -t proc proc /proc',
      'echo "VMSTEP-SMOKE-OK cpus=$(/bin/busybox nproc) root=$(/bin/busybox awk \'$2=="/"{print $3}\' /proc/mounts | /bin/busybox tail -n1)"',
      '/bin/busybox reboot -f',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  const image = join(work, 'root.ext4');
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', root, image, '16M']);
  return image;
}

function bootWithQemu(kernel: string, disk: string): Promise<{ code: number | null; console: string }> {
  return new Promise((resolvePromise, reject) => {
    const qemu = spawn(
      'qemu-system-x86_64',
      [
        '-M', 'microvm,accel=kvm', '-cpu', 'host', '-smp', '2', '-m', '256',
        '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot', '-serial', 'stdio',
        '-kernel', kernel,
        '-append', 'console=ttyS0 reboot=k panic=1 root=/dev/vda rw init=/init',
        '-drive', `id=root,file=${disk},format=raw,if=none`, '-device', 'virtio-blk-device,drive=root',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    qemu.stdout.on('data', (d: Buffer) => (out += d.toString()));
    qemu.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => qemu.kill('SIGKILL'), 300_000);
    qemu.on('error', reject);
    qemu.on('exit', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, console: out });
    });
  });
}

test('the guest kernel boots on KVM with an ext4 root on virtio-blk, sees 2 vCPUs and powers off', async () => {
  const { guestKernel } = builtArtifacts();
  const result = await bootWithQemu(guestKernel, tinyRootfs());
  expect(result.console).toContain('VMSTEP-SMOKE-OK cpus=2 root=ext4');
  expect(result.code).toBe(0);
});
