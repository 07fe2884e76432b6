// virtio-blk and interrupts from the guest's side: the test guest drives the
// devices with its own small virtio-mmio driver and reports what it saw;
// the host checks the disk files afterwards.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { nativeBuild, runTestGuest, scratch } from './vm-helpers.js';

const work = scratch('kvm-blk');
afterAll(() => work.remove());
beforeAll(async () => {
  await nativeBuild();
}, 600_000);

function disk(name: string, bytes: number, head: string): string {
  const path = join(work.dir, name);
  const buf = Buffer.alloc(bytes);
  buf.write(head);
  writeFileSync(path, buf);
  return path;
}

describe('virtio-blk', () => {
  test('reads, writes, flushes and identifies a disk; refuses out-of-range and unknown requests; survives malformed chains', async () => {
    const rw = disk('rw.img', 1 << 20, 'VMSTEP-DISK-0 first sector');
    const ro = disk('ro.img', 64 << 10, 'READ-ONLY-DISK');
    const exit = await runTestGuest({ test: 'blk', disks: [{ path: rw, readOnly: false }, { path: ro, readOnly: true }] });
    expect(exit.reason).toBe('poweroff');
    const lines = exit.consoleTail.split('\n');
    const has = (l: string) => expect(lines).toContain(l);
    has('BLK0 CAPACITY 2048');
    has('BLK0 GET_ID STATUS 0');
    has('BLK0 ID vmstep0');
    has('BLK0 SECTOR0 VMSTEP-DISK-0 first sector');
    has('BLK0 WRITE STATUS 0');
    has('BLK0 FLUSH STATUS 0');
    has('BLK0 READBACK MATCH');
    has('BLK0 OUT_OF_RANGE STATUS 1'); // VIRTIO_BLK_S_IOERR
    has('BLK0 UNSUPPORTED STATUS 2'); // VIRTIO_BLK_S_UNSUPP
    // A descriptor outside guest RAM, and a descriptor chain that loops,
    // come back used with nothing written; the device still works after.
    has('BLK0 BAD_ADDRESS USED 1 LEN 0');
    has('BLK0 LOOP USED 1 LEN 0');
    has('BLK0 AFTER_BAD_CHAINS STATUS 0');
    // The guest's write reached the file: sector 2 = bytes 1024..2047.
    const written = readFileSync(rw).subarray(1024, 2048);
    expect([...written]).toEqual(Array.from({ length: 1024 }, (_, i) => (i * 7 + 3) & 0xff));
    // The read-only disk says so, refuses writes, and serves reads.
    has('BLK1 READ_ONLY 1');
    has('BLK1 WRITE STATUS 1');
    has('BLK1 READ STATUS 0');
    has('BLK1 SECTOR0 READ-ONLY-DISK');
    expect(readFileSync(ro).subarray(0, 14).toString()).toBe('READ-ONLY-DISK');
  });

  test('a read-only disk image that the user cannot write is fine; a writable one is refused with the fix', async () => {
    const ro = disk('perm.img', 64 << 10, 'x');
    const { chmodSync } = await import('node:fs');
    chmodSync(ro, 0o444);
    // Root ignores file modes, so the refusal is checked for other users only.
    if (process.getuid?.() !== 0) {
      await expect(runTestGuest({ test: 'hello', disks: [{ path: ro, readOnly: false }] })).rejects.toThrow(/permission denied.*read-only/);
    }
    expect((await runTestGuest({ test: 'hello', disks: [{ path: ro, readOnly: true }] })).reason).toBe('poweroff');
  });

  test('a missing disk image stops the launch with its path', async () => {
    await expect(runTestGuest({ test: 'hello', disks: [{ path: join(work.dir, 'absent.img'), readOnly: false }] })).rejects.toThrow(
      /disk image .*absent\.img does not exist/,
    );
  });

  test('two VMs cannot write the same disk image at once', async () => {
    const shared = disk('shared.img', 64 << 10, 'x');
    const { launchTestGuest } = await import('./vm-helpers.js');
    const first = await launchTestGuest({ test: 'hang', disks: [{ path: shared, readOnly: false }], timeoutMs: 30_000 });
    try {
      await expect(runTestGuest({ test: 'hello', disks: [{ path: shared, readOnly: false }] })).rejects.toThrow(/in use by another VM/);
    } finally {
      first.kill();
      await first.exited;
    }
  });
});

describe('interrupts', () => {
  test('a virtio completion interrupt reaches the guest through the I/O APIC, and so do PIT ticks', async () => {
    const exit = await runTestGuest({ test: 'irq', disks: [{ path: disk('irq.img', 64 << 10, 'x'), readOnly: false }] });
    expect(exit.consoleTail).toMatch(/IRQ VIRTIO line=5 vector=48 count=[1-9]/);
    expect(exit.consoleTail).toMatch(/IRQ PIT ticks=([3-9]|\d\d+)/);
  });
});
