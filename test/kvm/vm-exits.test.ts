// Every way a VM ends, each with its own reason: power-off (i8042 reset, as
// Linux's reboot=k), reset through port 0xcf9, triple fault, a panic (with
// the console's last lines), the timeout, and a stop from the host. And the
// jail, seen from outside while the guest runs.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, test } from 'vitest';
import { launchTestGuest, nativeBuild, runTestGuest } from './vm-helpers.js';

beforeAll(async () => {
  await nativeBuild();
}, 600_000);

describe('how a VM ends', () => {
  test('a reset through the i8042 is a clean power-off', async () => {
    const exit = await runTestGuest({ test: 'hello' });
    expect(exit.reason).toBe('poweroff');
    expect(exit.detail).toMatch(/i8042/);
  });

  test('a reset through port 0xcf9 is a reset', async () => {
    const exit = await runTestGuest({ test: 'cf9' });
    expect(exit.reason).toBe('reset');
  });

  test('a triple fault ends the VM as a triple fault', async () => {
    const exit = await runTestGuest({ test: 'triple-fault' });
    expect(exit.reason).toBe('triple-fault');
    expect(exit.consoleTail).toContain('TRIPLE FAULT NEXT');
  });

  test('a kernel panic is reported with its message and the console tail', async () => {
    const exit = await runTestGuest({ test: 'panic' });
    expect(exit.reason).toBe('panic');
    expect(exit.detail).toBe('Kernel panic - not syncing: vmstep test guest panics on purpose');
    expect(exit.consoleTail).toContain('Rebooting in 1 seconds');
  });

  test('a guest that hangs with interrupts off is stopped at the timeout', async () => {
    const started = Date.now();
    const exit = await runTestGuest({ test: 'hang', timeoutMs: 1500 });
    expect(exit.reason).toBe('timeout');
    expect(exit.consoleTail).toContain('HANGING');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  test('a guest spinning in a loop is stopped at the timeout too', async () => {
    const exit = await runTestGuest({ test: 'spin', timeoutMs: 1500 });
    expect(exit.reason).toBe('timeout');
  });

  test('kill() stops a running VM and it ends as killed', async () => {
    const vm = await launchTestGuest({ test: 'hang', timeoutMs: 60_000 });
    vm.kill();
    const exit = await vm.exited;
    expect(exit.reason).toBe('killed');
    expect(() => process.kill(vm.pid, 0)).toThrow();
  });
});

describe('the jail', () => {
  test('while the guest runs, the VMM has seccomp filtering, no_new_privs and no capabilities, in every thread', async () => {
    const vm = await launchTestGuest({ test: 'hang', vcpus: 2, timeoutMs: 60_000 });
    try {
      const tasks = readFileSync(`/proc/${vm.pid}/status`, 'utf8');
      expect(tasks).toMatch(/^Seccomp:\s+2$/m);
      expect(tasks).toMatch(/^NoNewPrivs:\s+1$/m);
      expect(tasks).toMatch(/^CapEff:\s+0000000000000000$/m);
      expect(tasks).toMatch(/^CapPrm:\s+0000000000000000$/m);
      const { readdirSync } = await import('node:fs');
      const threads = readdirSync(`/proc/${vm.pid}/task`);
      const names = threads.map((tid) => readFileSync(`/proc/${vm.pid}/task/${tid}/comm`, 'utf8').trim());
      // The event loop, two vCPUs, and KVM's own kernel worker (kvm-nx-lpage-recovery) where the host has one.
      expect(names.filter((n) => n.startsWith('vcpu')).sort()).toEqual(['vcpu0', 'vcpu1']);
      for (const tid of threads) {
        const s = readFileSync(`/proc/${vm.pid}/task/${tid}/status`, 'utf8');
        expect(s).toMatch(/^Seccomp:\s+2$/m);
        expect(s).toMatch(/^CapEff:\s+0000000000000000$/m);
      }
    } finally {
      vm.kill();
      await vm.exited;
    }
  });

  test('the VMM holds no files beyond its kernel-free set: /dev/kvm, VM and vCPU fds, its disks, sockets, pipes', async () => {
    const vm = await launchTestGuest({ test: 'hang', timeoutMs: 60_000 });
    try {
      const { readdirSync, readlinkSync } = await import('node:fs');
      const targets = readdirSync(`/proc/${vm.pid}/fd`).map((fd) => readlinkSync(`/proc/${vm.pid}/fd/${fd}`));
      const files = targets.filter((t) => t.startsWith('/') && t !== '/dev/kvm' && t !== '/dev/null');
      // The kernel was read at set-up and closed; no disks were given.
      expect(files).toEqual([]);
    } finally {
      vm.kill();
      await vm.exited;
    }
  });
});
