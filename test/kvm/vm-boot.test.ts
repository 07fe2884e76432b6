// The boot protocol as the guest sees it: the VMM enters the test guest in
// 64-bit mode with RSI pointing at boot_params, whose fields, e820 map and
// command line are what Linux's 64-bit boot protocol expects; CPUID says
// "KVM hypervisor"; the MP table lists every vCPU.
import { beforeAll, describe, expect, test } from 'vitest';
import { consoleFields, nativeBuild, runTestGuest } from './vm-helpers.js';

beforeAll(async () => {
  await nativeBuild();
}, 600_000);

describe('the boot protocol', () => {
  test('the guest prints to the serial console and powers off through the i8042', async () => {
    const exit = await runTestGuest({ test: 'hello' });
    expect(exit.consoleTail).toContain('HELLO FROM GUEST');
    expect(exit.reason).toBe('poweroff');
  });

  test('boot_params carries the boot flag, header, loader type and command line', async () => {
    const exit = await runTestGuest({ test: 'bootinfo', memoryMiB: 64 });
    const f = consoleFields(exit.consoleTail);
    expect(f.get('BOOT_PARAMS')).toBe('0x7000');
    expect(f.get('BOOT_FLAG')).toBe('0xaa55');
    expect(f.get('HEADER')).toBe('0x53726448'); // "HdrS"
    expect(f.get('LOADER')).toBe('0xff');
    const cmdline = f.get('CMDLINE')!.slice(1, -1);
    expect(cmdline).toContain('reboot=k');
    expect(cmdline).toContain('vmstep.test=bootinfo');
    expect(f.get('CMDLINE_SIZE')).toBe(String(cmdline.length));
  });

  test('the e820 map gives the guest its RAM below 640 KiB and above 1 MiB, and reserves the MP table area', async () => {
    const exit = await runTestGuest({ test: 'bootinfo', memoryMiB: 64 });
    const e820 = exit.consoleTail
      .split('\n')
      .filter((l) => l.startsWith('E820 '))
      .map((l) => l.split(' ').slice(1));
    expect(e820).toEqual([
      ['0x0', '0x9fc00', '1'],
      ['0x9fc00', '0x60400', '2'],
      ['0x100000', `0x${(64 * 2 ** 20 - 0x100000).toString(16)}`, '1'],
    ]);
  });

  test('guest memory beyond 3 GiB continues above 4 GiB, past the MMIO hole', async () => {
    const exit = await runTestGuest({ test: 'bootinfo', memoryMiB: 3 * 1024 + 256 });
    const e820 = exit.consoleTail.split('\n').filter((l) => l.startsWith('E820 '));
    expect(e820).toContain('E820 0x100000 0xbff00000 1');
    expect(e820).toContain('E820 0x100000000 0x10000000 1');
  });

  test('CPUID shows the hypervisor bit and KVM signature; the boot vCPU has APIC id 0', async () => {
    const f = consoleFields((await runTestGuest({ test: 'bootinfo' })).consoleTail);
    expect(f.get('CPUID_HYPERVISOR')).toBe('1');
    expect(f.get('CPUID_HV_SIGNATURE')).toBe('KVMKVMKVM');
    expect(f.get('CPUID_APIC_ID')).toBe('0');
  });

  test('the MP table (valid checksums) lists as many CPUs as vCPUs', async () => {
    const f = consoleFields((await runTestGuest({ test: 'bootinfo', vcpus: 3 })).consoleTail);
    expect(f.get('MPTABLE_CPUS')).toBe('3');
  });
});

describe('a kernel that cannot boot', () => {
  test('a missing kernel stops the launch and names the file', async () => {
    await expect(runTestGuest({ test: 'hello', kernelPath: '/nonexistent/vmlinux' })).rejects.toThrow(
      /the VM did not start: cannot open the guest kernel \/nonexistent\/vmlinux: No such file or directory/,
    );
  });

  test('a compressed or non-ELF kernel is refused with what to pass instead', async () => {
    const { writeFileSync, mkdtempSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'vmstep-kernel-'));
    try {
      const bz = join(dir, 'bzImage');
      writeFileSync(bz, Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), Buffer.alloc(4096)]));
      await expect(runTestGuest({ test: 'hello', kernelPath: bz })).rejects.toThrow(/not an ELF file; pass an uncompressed vmlinux/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
