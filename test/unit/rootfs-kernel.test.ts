// The real check of the ext4 writer: the project's guest kernel (Linux 6.1)
// mounts a built root filesystem under QEMU's TCG (no KVM needed), sees the
// image's owners and modes, writes to it, and e2fsck finds the result clean.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveImage } from '../../src/image/index.js';
import { buildRootfsImage } from '../../src/rootfs/index.js';
import { writeOciLayout } from '../fixtures/oci-images.js';
import { richImage } from '../fixtures/rich-image.js';
import { builtArtifacts } from '../helpers/artifacts.js';
import { ext4Cat, ext4Stat, fsck, tempDir } from '../helpers/images.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

function busyboxPath(): string {
  const p = spawnSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).stdout.trim();
  if (!p) throw new Error('busybox is missing: apt-get install busybox-static (kvmHost group of scripts/lib/deps.mjs)');
  return p;
}

const initScript = `#!/bin/busybox sh
B=/bin/busybox
$B mount -t proc proc /proc
echo "OWNERS $($B stat -c '%a:%u:%g' /bin/su /bin/wall /tmp /home/app /home/big-id /etc/shadow | $B tr '\\n' ' ')"
echo "DEV $($B stat -c '%t:%T' /dev/null)"
echo "PASSWD $($B cat /etc/passwd)"
echo "OPT $($B ls /opt | $B tr '\\n' ' ')"
$B mkdir /written && echo from-the-guest > /written/f && $B cp /bin/busybox /written/copy && $B rm -r /opt/sub && $B sync && echo WRITES-OK
$B umount /proc
$B mount -o remount,ro /
$B reboot -f
`;

describe('the guest kernel reads and writes the ext4 vmstep builds', () => {
  it('mounts it as root, sees the image exactly, writes, and leaves it consistent', async () => {
    const kernel = builtArtifacts().guestKernel;
    if (!existsSync(kernel)) throw new Error(`guest kernel ${kernel} is missing: run scripts/test.mjs (it builds kernel/) or set VMSTEP_KERNEL`);
    const layout = join(tmp.path, 'img');
    writeOciLayout(layout, {
      layers: [...richImage.layers, { entries: [{ path: 'proc/', type: 'dir', mode: 0o555 }, { path: 'bin/busybox', content: readFileSync(busyboxPath()), mode: 0o755 }] }],
    });
    const init = join(tmp.path, 'init');
    writeFileSync(init, initScript, { mode: 0o755 });
    {
      const disk = join(tmp.path, 'root.ext4');
      await buildRootfsImage(await resolveImage(`oci:${layout}`), { initPath: init, outPath: disk });
      const r = spawnSync(
        'qemu-system-x86_64',
        ['-M', 'microvm,accel=tcg,acpi=off', '-cpu', 'max', '-m', '256', '-nodefaults', '-nographic', '-serial', 'stdio', '-no-reboot', '-kernel', kernel,
          '-append', 'console=ttyS0 reboot=t panic=-1 root=/dev/vda rw init=/.vmstep/init', '-drive', `id=d,file=${disk},format=raw,if=none`, '-device', 'virtio-blk-device,drive=d'],
        { encoding: 'utf8', timeout: 150_000 },
      );
      const out = r.stdout + r.stderr;
      expect(out).toContain('EXT4-fs (vda): mounted filesystem');
      expect(out).toMatch(/OWNERS 4755:0:0 2755:0:5 1777:0:0 700:1000:1000 644:3000000:4000000 640:0:42/);
      expect(out).toContain('DEV 1:3');
      expect(out).toContain('PASSWD root:x:0:0:root:/root:/bin/sh');
      expect(out).toContain('OPT new sub');
      expect(out).toContain('WRITES-OK');
      expect(out).not.toMatch(/EXT4-fs error/);
      expect(fsck(disk)).toMatchObject({ ok: true });
      expect(ext4Cat(disk, '/written/f').toString()).toBe('from-the-guest\n');
      expect(ext4Stat(disk, '/opt/sub')).toBeNull();
    }
  }, 180_000);
});
