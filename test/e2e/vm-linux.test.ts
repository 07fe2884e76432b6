// Our VMM booting the real guest kernel (kernel/guest.config): SMP from the
// MP table, an ext4 root on virtio-blk read and written (raw, and as a
// copy-on-write overlay over a read-only base), 16 MiB each way over
// virtio-vsock, power-off, and a hung guest stopped at its timeout. The
// guest's init is a busybox script that leaves its findings in /result on
// the root disk; the host reads them back with debugfs after the VM ends.
// Needs a KVM that runs stock kernels: the host's, or the emulated KVM host.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createOverlay, flattenOverlay, launchVm, type VmExit } from '../../src/vm/index.js';
import { builtArtifacts } from '../helpers/artifacts.js';
import { nativeBuild, scratch, type NativeBuild } from '../kvm/vm-helpers.js';

const work = scratch('e2e-vm');
afterAll(() => work.remove());
let native: NativeBuild;
let kernel: string;

beforeAll(async () => {
  native = await nativeBuild();
  kernel = process.env.VMSTEP_KERNEL ?? builtArtifacts().guestKernel;
}, 600_000);

/** A root filesystem: busybox, the given /.vmstep/init script, extra files. */
function rootfs(name: string, init: string[], files: Record<string, string> = {}): string {
  const root = join(work.dir, `${name}-root`);
  for (const d of ['bin', 'proc', 'sys', 'dev', 'tmp', '.vmstep', 'data']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync('/bin/busybox', join(root, 'bin', 'busybox'));
  chmodSync(join(root, 'bin', 'busybox'), 0o755);
  for (const [path, from] of Object.entries(files)) {
    copyFileSync(from, join(root, path));
    chmodSync(join(root, path), 0o755);
  }
  writeFileSync(join(root, 'data', 'in.txt'), 'written by the host\n');
  const script = ['#!/bin/busybox sh', 'B=/bin/busybox', '$B mount -t proc proc /proc', ...init, '$B sync', '$B reboot -f', ''];
  writeFileSync(join(root, '.vmstep', 'init'), script.join('\n'), { mode: 0o755 });
  const image = join(work.dir, `${name}.ext4`);
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', root, image, '64M']);
  return image;
}

/** A file from the guest's root disk, read on the host after the VM ended. */
function readFromImage(image: string, path: string): string {
  return execFileSync('debugfs', ['-R', `cat ${path}`, image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
}

async function boot(image: string, o: { vcpus?: number; timeoutMs?: number; vsockUdsPath?: string; overlayPath?: string; onLaunch?: (pid: number) => void } = {}): Promise<VmExit> {
  const vm = await launchVm({
    kernelPath: kernel,
    vmmPath: native.vmm,
    disks: [{ path: image, readOnly: false, ...(o.overlayPath ? { overlayPath: o.overlayPath } : {}) }],
    vcpus: o.vcpus ?? 1,
    memoryMiB: 256,
    cmdline: '',
    vsockUdsPath: o.vsockUdsPath ?? join(work.dir, `unused-${Math.random().toString(36).slice(2)}.sock`),
    consoleLogPath: join(work.dir, `${image.split('/').pop()}.console.log`),
    debug: true,
    timeoutMs: o.timeoutMs ?? 300_000,
  });
  o.onLaunch?.(vm.pid);
  return vm.exited;
}

describe('the guest kernel on our VMM', () => {
  test.each([1, 2, 4])('boots with %i vCPU(s), sees that many, reads and writes its ext4 root, and powers off', async (vcpus) => {
    const image = rootfs(`smp${vcpus}`, [
      'echo "cpus=$($B nproc)" > /result',
      'echo "root=$($B awk \'$2=="/"{print $3}\' /proc/mounts | $B tail -n1)" >> /result',
      'echo "read=$($B cat /data/in.txt)" >> /result',
      'echo "written by the guest" > /data/out.txt',
    ]);
    const exit = await boot(image, { vcpus });
    expect(exit.reason, exit.detail).toBe('poweroff');
    expect(readFromImage(image, '/result')).toBe(`cpus=${vcpus}\nroot=ext4\nread=written by the host\n`);
    expect(readFromImage(image, '/data/out.txt')).toBe('written by the guest\n');
  });

  test('moves 16 MiB each way over vsock intact, with the VMM jailed throughout', async () => {
    const bytes = 16 * 1024 * 1024;
    const uds = join(work.dir, 'stream.sock');
    const image = rootfs('vsock', [`/bin/vsock-stream 5000 ${bytes} 1 > /result 2>&1`], { 'bin/vsock-stream': join(native.dir, 'test-guests', 'vsock-stream') });
    const server = createServer({ allowHalfOpen: true });
    await new Promise<void>((r) => server.listen(`${uds}_5000`, r));
    const expectedFromGuest = xorshiftStream(1, bytes);
    const toGuest = xorshiftStream(2, bytes);
    let jail = '';
    const hostSide = new Promise<{ received: Buffer }>((resolve, reject) => {
      server.once('connection', (s: Socket) => {
        const chunks: Buffer[] = [];
        s.on('data', (d: Buffer) => chunks.push(d));
        s.on('error', reject);
        s.on('end', () => {
          s.end(toGuest);
          resolve({ received: Buffer.concat(chunks) });
        });
      });
    });
    try {
      const exit = await boot(image, {
        vsockUdsPath: uds,
        onLaunch: (pid) => {
          jail = execFileSync('grep', ['-E', '^(Seccomp|NoNewPrivs|CapEff):', `/proc/${pid}/status`], { encoding: 'utf8' });
        },
      });
      expect(exit.reason, exit.detail).toBe('poweroff');
      const { received } = await hostSide;
      expect(received.length).toBe(bytes);
      expect(received.equals(expectedFromGuest)).toBe(true);
      expect(readFromImage(image, '/result').trim()).toBe(`sent=${bytes} received=${bytes} fnv=${fnv1a(toGuest)}`);
      expect(jail).toMatch(/Seccomp:\s+2/);
      expect(jail).toMatch(/NoNewPrivs:\s+1/);
      expect(jail).toMatch(/CapEff:\s+0000000000000000/);
    } finally {
      server.close();
    }
  });

  test('runs on a copy-on-write disk: writes land in the overlay, the base stays as it was, and base + overlay flattened is a clean ext4 with the guest\'s files', async () => {
    const base = rootfs('cow', [
      'echo "read=$($B cat /data/in.txt)" > /result',
      '$B seq 1 400000 > /data/big',
      'echo "big=$($B md5sum /data/big | $B cut -d" " -f1)" >> /result',
      '$B rm /data/in.txt',
    ]);
    const baseBefore = createHash('sha256').update(readFileSync(base)).digest('hex');
    const overlay = join(work.dir, 'cow.overlay');
    createOverlay(overlay, { baseBytes: statSync(base).size });
    const exit = await boot(base, { overlayPath: overlay });
    expect(exit.reason, exit.detail).toBe('poweroff');
    expect(createHash('sha256').update(readFileSync(base)).digest('hex')).toBe(baseBefore);
    const flat = join(work.dir, 'cow-flat.ext4');
    await flattenOverlay(base, overlay, flat);
    const fsck = spawnSync('e2fsck', ['-fn', flat], { encoding: 'utf8' });
    expect(fsck.status, fsck.stdout + fsck.stderr).toBe(0);
    const result = readFromImage(flat, '/result');
    expect(result).toMatch(/^read=written by the host\nbig=[0-9a-f]{32}\n$/);
    // About 2.6 MB written by the guest, across hundreds of clusters, back intact.
    const big = execFileSync('debugfs', ['-R', 'cat /data/big', flat], { maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'ignore'] });
    const expected = Buffer.from(`${Array.from({ length: 400000 }, (_, i) => i + 1).join('\n')}\n`);
    expect(big.equals(expected)).toBe(true);
    expect(`big=${createHash('md5').update(big).digest('hex')}`).toBe(result.split('\n')[1]);
    // The base still has what the guest removed; the flattened disk does not.
    expect(readFromImage(base, '/data/in.txt')).toBe('written by the host\n');
    expect(spawnSync('debugfs', ['-R', 'stat /data/in.txt', flat], { encoding: 'utf8' }).stderr).toMatch(/File not found/);
  });

  test('a guest that hangs is stopped at its timeout', async () => {
    const image = rootfs('hang', ['$B sleep 100000']);
    const started = Date.now();
    const exit = await boot(image, { timeoutMs: 45_000 });
    expect(exit.reason, exit.detail).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(45_000 + 15_000);
  });
});

/** The bytes vsock-stream sends for `seed`: xorshift32 words, little-endian. */
function xorshiftStream(seed: number, bytes: number): Buffer {
  const out = Buffer.alloc(bytes + 4);
  let x = seed >>> 0;
  for (let i = 0; i < bytes; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out.writeUInt32LE(x, i);
  }
  return out.subarray(0, bytes);
}

function fnv1a(buf: Buffer): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < buf.length; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}
