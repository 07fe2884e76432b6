// virtio-blk and interrupts from the guest's side: the test guest drives the
// devices with its own small virtio-mmio driver and reports what it saw;
// the host checks the disk files afterwards.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createOverlay, flattenOverlay, readOverlayLayout } from '../../src/vm/overlay.js';
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

describe('virtio-blk over a copy-on-write overlay', () => {
  const CLUSTER = 4096;
  const baseByte = (o: number) => (o * 13 + 5) & 0xff;
  const newByte = (o: number) => (o * 7 + 3) & 0xff;
  /** A base image filled with baseByte(offset), and an overlay one cluster larger than it. */
  async function cowDisk(name: string, baseBytes: number): Promise<{ base: string; overlay: string }> {
    const base = join(work.dir, `${name}-base.img`);
    writeFileSync(base, Buffer.from(Array.from({ length: baseBytes }, (_, i) => baseByte(i))));
    const overlay = join(work.dir, `${name}.overlay`);
    createOverlay(overlay, { baseBytes, diskBytes: baseBytes + CLUSTER, clusterBytes: CLUSTER });
    return { base, overlay };
  }
  /** What the guest's writes in test_blkcow (native/guests/blk.c) leave on a disk of `diskBytes`. */
  function expectedDisk(baseBytes: number, diskBytes: number): Buffer {
    const b = Buffer.alloc(diskBytes);
    for (let i = 0; i < baseBytes; i++) b[i] = baseByte(i);
    const write = (from: number, len: number) => {
      for (let o = from; o < from + len; o++) b[o] = newByte(o);
    };
    write(1024, 1024);
    write(8192, 4096);
    write(12288 + 3584, 1024);
    write(diskBytes - 512, 512);
    return b;
  }

  test('reads unwritten blocks from the base, reads back written ones, keeps the rest of partly written clusters, and never writes the base', async () => {
    const baseBytes = 256 << 10;
    const { base, overlay } = await cowDisk('cow', baseBytes);
    const baseBefore = readFileSync(base);
    const exit = await runTestGuest({ test: 'blkcow', disks: [{ path: base, readOnly: false, overlayPath: overlay }] });
    expect(exit.reason, exit.detail).toBe('poweroff');
    const lines = exit.consoleTail.split('\n');
    const has = (l: string) => expect(lines).toContain(l);
    has('COW READ_ONLY 0');
    has(`COW CAPACITY ${(baseBytes + CLUSTER) / 512}`);
    has('COW READ_UNWRITTEN STATUS 0 BASE');
    has('COW PARTIAL_WRITE STATUS 0');
    has('COW CLUSTER_WRITE STATUS 0');
    has('COW SPANNING_WRITE STATUS 0');
    has('COW FLUSH STATUS 0');
    has('COW READBACK_0 STATUS 0 MATCH');
    has('COW READBACK_2 STATUS 0 MATCH');
    has('COW READBACK_4 STATUS 0 MATCH');
    has('COW PAST_BASE STATUS 0 ZEROS');
    has('COW PAST_BASE_WRITE MATCH');
    has('COW OUT_OF_RANGE STATUS 1');
    // The base is untouched; the overlay holds the clusters written, and
    // flattened it is exactly the disk the guest saw.
    expect(readFileSync(base).equals(baseBefore)).toBe(true);
    const flat = join(work.dir, 'cow-flat.img');
    await flattenOverlay(base, overlay, flat);
    expect(readFileSync(flat).equals(expectedDisk(baseBytes, baseBytes + CLUSTER))).toBe(true);
    const layout = await readOverlayLayout(overlay);
    const bitmap = readFileSync(overlay).subarray(layout.bitmapOffset, layout.bitmapOffset + layout.bitmapBytes);
    const written = [...Array(layout.clusters).keys()].filter((c) => (bitmap[c >> 3]! >> (c & 7)) & 1);
    expect(written).toEqual([0, 2, 3, 4, layout.clusters - 1]);
  });

  test('a second VM over the same overlay sees what the first one wrote', async () => {
    const baseBytes = 64 << 10;
    const { base, overlay } = await cowDisk('cow2', baseBytes);
    expect((await runTestGuest({ test: 'blkcow', disks: [{ path: base, readOnly: false, overlayPath: overlay }] })).reason).toBe('poweroff');
    // The second run reads clusters 0-1 before writing: the first run's bytes, not the base's.
    const exit = await runTestGuest({ test: 'blkcow', disks: [{ path: base, readOnly: false, overlayPath: overlay }] });
    expect(exit.consoleTail).toContain('COW READ_UNWRITTEN STATUS 0 WRONG');
    expect(exit.consoleTail).toContain('COW READBACK_0 STATUS 0 MATCH');
  });

  test('an overlay made for another base, or a file that is no overlay, stops the launch with the fix', async () => {
    const { base, overlay } = await cowDisk('cow3', 64 << 10);
    const other = join(work.dir, 'other-base.img');
    writeFileSync(other, Buffer.alloc(128 << 10));
    await expect(runTestGuest({ test: 'hello', disks: [{ path: other, readOnly: false, overlayPath: overlay }] })).rejects.toThrow(
      /overlay .*cow3\.overlay cannot be used: it was made for a base image of 65536 bytes, and the base given has 131072 \(create a new overlay for this base\)/,
    );
    await expect(runTestGuest({ test: 'hello', disks: [{ path: base, readOnly: false, overlayPath: other }] })).rejects.toThrow(/not a vmstep overlay/);
  });

  test('the base is opened read-only: a base the user cannot write is fine, and several VMs share one base', async () => {
    const { base, overlay } = await cowDisk('cow4', 64 << 10);
    chmodSync(base, 0o444);
    const second = join(work.dir, 'cow4-second.overlay');
    createOverlay(second, { baseBytes: 64 << 10 });
    const { launchTestGuest } = await import('./vm-helpers.js');
    const first = await launchTestGuest({ test: 'hang', disks: [{ path: base, readOnly: false, overlayPath: overlay }], timeoutMs: 30_000 });
    try {
      expect((await runTestGuest({ test: 'hello', disks: [{ path: base, readOnly: false, overlayPath: second }] })).reason).toBe('poweroff');
      // One overlay, though, is one VM's.
      await expect(runTestGuest({ test: 'hello', disks: [{ path: base, readOnly: false, overlayPath: overlay }] })).rejects.toThrow(/overlay .* is in use by another VM/);
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
