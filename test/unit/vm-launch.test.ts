// The host side of the VM without KVM: the kernel command line, the VMM's
// argv, and reading its status lines.
import { describe, expect, test } from 'vitest';
import type { LaunchVm } from '../../src/engine/vm-port.js';
import { BASE_CMDLINE, kernelCmdline, launchVm, parseStatusLine, vmmArgs, type LaunchOptions } from '../../src/vm/index.js';

const options: LaunchOptions = {
  kernelPath: '/k/vmlinux',
  disks: [
    { path: '/d/root.ext4', readOnly: false },
    { path: '/d/data.img', readOnly: true },
  ],
  vcpus: 2,
  memoryMiB: 256,
  cmdline: 'vmstep.mode=test',
  vsockUdsPath: '/run/x/vsock',
  consoleLogPath: '/run/x/console.log',
  debug: false,
  timeoutMs: 1500.5,
};

describe('the kernel command line', () => {
  test('starts with the Firecracker-style base, the root disk and guest init', () => {
    const line = kernelCmdline({ debug: false });
    expect(line.startsWith('reboot=k panic=1 nomodule i8042.noaux i8042.nomux i8042.dumbkbd swiotlb=noforce pci=off root=/dev/vda rw init=/.vmstep/init')).toBe(true);
    expect(BASE_CMDLINE).toContain('reboot=k');
  });

  test('keeps the console quiet unless debugging, but never without one (a panic must reach the console tail)', () => {
    expect(kernelCmdline({ debug: false })).toContain('console=ttyS0 quiet loglevel=1');
    const debug = kernelCmdline({ debug: true });
    expect(debug).toContain('console=ttyS0');
    expect(debug).not.toContain('quiet');
  });

  test('puts the caller\'s arguments last, so that they win', () => {
    expect(kernelCmdline({ debug: false, extra: '  loglevel=7 ' }).endsWith(' loglevel=7')).toBe(true);
  });
});

describe('the VMM command line', () => {
  test('names every disk in order, read-only ones as such, and asks for status on fd 3', () => {
    const args = vmmArgs(options);
    expect(args.slice(0, 6)).toEqual(['--kernel', '/k/vmlinux', '--vcpus', '2', '--memory-mib', '256']);
    expect(args.join(' ')).toContain('--disk /d/root.ext4 --disk-ro /d/data.img');
    expect(args[args.indexOf('--cmdline') + 1]).toBe(kernelCmdline({ debug: false, extra: 'vmstep.mode=test' }));
    expect(args[args.indexOf('--vsock-uds') + 1]).toBe('/run/x/vsock');
    expect(args[args.indexOf('--console-log') + 1]).toBe('/run/x/console.log');
    expect(args[args.indexOf('--timeout-ms') + 1]).toBe('1501');
    expect(args.slice(-2)).toEqual(['--status-fd', '3']);
  });

  test('gives a copy-on-write disk as its base and its overlay, in the disks\' order', () => {
    const args = vmmArgs({ ...options, disks: [{ path: '/c/rootfs.ext4', readOnly: false, overlayPath: '/r/overlay' }, options.disks[1]!] });
    expect(args.join(' ')).toContain('--disk-cow /c/rootfs.ext4 /r/overlay --disk-ro /d/data.img');
  });

  test('leaves out what is not asked for', () => {
    const args = vmmArgs({ ...options, disks: [], vsockUdsPath: '', timeoutMs: 0, consoleLogPath: undefined });
    for (const flag of ['--disk', '--disk-ro', '--vsock-uds', '--timeout-ms', '--console-log']) expect(args).not.toContain(flag);
  });
});

describe('status lines', () => {
  test('ready and exit lines are understood', () => {
    expect(parseStatusLine('{"event":"ready","cmdline":"x"}')).toEqual({ event: 'ready', cmdline: 'x' });
    expect(parseStatusLine('{"event":"exit","reason":"panic","detail":"Kernel panic","consoleTail":"a\\u000ab"}')).toEqual({
      event: 'exit',
      reason: 'panic',
      detail: 'Kernel panic',
      consoleTail: 'a\nb',
    });
  });

  test('anything else is ignored, never thrown', () => {
    for (const bad of ['', 'not json', '[]', 'null', '{"event":"exit","reason":"exploded"}', '{"event":"other"}']) {
      expect(parseStatusLine(bad)).toBeNull();
    }
  });
});

test('launchVm is what the engine expects (src/engine/vm-port.ts can export it as is)', () => {
  const asEngineSees: LaunchVm = launchVm;
  expect(typeof asEngineSees).toBe('function');
});
