// vCPU pinning in the VMM (benchmark mode): each vCPU thread is bound to the
// host CPU named for it before the jail closes, the ready status says so, and
// a CPU that cannot be had leaves the guest running unpinned with the reason.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { parseCpuList } from '../../src/engine/bench-pinning.js';
import { launchVm, type VmHandle } from '../../src/vm/index.js';
import { nativeBuild } from './vm-helpers.js';

beforeAll(async () => {
  await nativeBuild();
}, 600_000);

/** The test guest running `test`, its vCPUs pinned to `pinCpus`. */
async function launchPinned(test: string, vcpus: number, pinCpus: number[]): Promise<VmHandle> {
  const build = await nativeBuild();
  return launchVm({ kernelPath: build.testGuest, disks: [], vcpus, memoryMiB: 32, cmdline: `vmstep.test=${test}`, vsockUdsPath: '', debug: false, timeoutMs: 20_000, pinCpus });
}

/** CPUs each named thread of a process may run on, from /proc. */
function threadAffinity(pid: number): Map<string, string> {
  const out = new Map<string, string>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const status = readFileSync(join('/proc', String(pid), 'task', tid, 'status'), 'utf8');
      out.set(/^Name:\s*(.*)$/m.exec(status)![1]!, /^Cpus_allowed_list:\s*(.*)$/m.exec(status)![1]!);
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

const allowed = parseCpuList(/^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]!);
const last = allowed.at(-1)!;

describe('--pin-cpus', () => {
  test('binds each vCPU thread to its CPU, leaves the rest of the VMM free, and reports it', async () => {
    const vcpus = Math.min(2, allowed.length);
    const cpus = allowed.slice(-vcpus);
    const vm = await launchPinned('hang', vcpus, cpus);
    try {
      expect(vm.pinning).toEqual({ cpus });
      const affinity = threadAffinity(vm.pid);
      for (let i = 0; i < vcpus; i++) expect(affinity.get(`vcpu${i}`)).toBe(String(cpus[i]));
      expect(parseCpuList(affinity.get('vmstep-vmm')!)).toEqual(allowed);
    } finally {
      vm.kill();
      await vm.exited;
    }
  });

  test('runs the guest unpinned, jail intact, when the CPU cannot be had, and says why', async () => {
    const vm = await launchPinned('hello', 1, [1023]);
    expect(vm.pinning).toEqual({ error: 'vCPU 0 on host CPU 1023: Invalid argument (the CPU is offline or outside this process\'s allowed CPUs)' });
    const exit = await vm.exited;
    expect(exit.reason).toBe('poweroff');
    expect(exit.consoleTail).toContain('HELLO FROM GUEST');
  });

  test('refuses a CPU list that does not name one CPU per vCPU', async () => {
    await expect(launchPinned('hello', 2, [last])).rejects.toThrow(/--pin-cpus names 1 CPUs for 2 vCPUs: give one host CPU per vCPU/);
  });
});
