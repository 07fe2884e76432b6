import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeFailure } from '../../src/engine/errors.js';
import { KVM_UDEV_RULE, kvmAccessFix } from '../../src/engine/kvm-access.js';
import { checkKvm } from '../../src/engine/kvm-check.js';
import type { KvmProbe } from '../../src/engine/vm-port.js';

const good: KvmProbe = { available: true, canRunLinux: true, reason: 'kvm_intel', module: 'kvm_intel' };

function counting(p: KvmProbe) {
  const probe = () => {
    probe.calls++;
    return p;
  };
  probe.calls = 0;
  return probe;
}

describe('checkKvm', () => {
  it('probes once per host boot when the answer is yes', () => {
    const cache = mkdtempSync(join(tmpdir(), 'vmstep-kvm-'));
    const probe = counting(good);
    checkKvm(cache, probe);
    checkKvm(cache, probe);
    expect(probe.calls).toBe(1);
    expect(JSON.parse(readFileSync(join(cache, 'kvm-probe.json'), 'utf8'))).toMatchObject({ canRunLinux: true, bootId: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() });
  });

  it('fails at once with the reason on a KVM that cannot boot Linux, and asks again next time', () => {
    const cache = mkdtempSync(join(tmpdir(), 'vmstep-kvm-'));
    const probe = counting({ available: true, canRunLinux: false, reason: 'XSAVE at CPL0 is not emulated (kvm_pvm)', module: 'kvm_pvm' });
    expect(() => checkKvm(cache, probe)).toThrow();
    let line = '';
    try {
      checkKvm(cache, probe);
    } catch (err) {
      line = describeFailure(err);
    }
    expect(line).toBe('XSAVE at CPL0 is not emulated (kvm_pvm); see `vmstep doctor` for the rest of this host');
    expect(probe.calls).toBe(2);
    expect(existsSync(join(cache, 'kvm-probe.json'))).toBe(false);
  });

  it('names an unusable /dev/kvm', () => {
    const cache = mkdtempSync(join(tmpdir(), 'vmstep-kvm-'));
    expect(() => checkKvm(cache, () => ({ available: false, canRunLinux: false, reason: 'permission denied on /dev/kvm: add the user to the kvm group', module: '' }))).toThrow(
      /^permission denied on \/dev\/kvm: add the user to the kvm group$/,
    );
  });

  it('says what failed when the probe gives no reason', () => {
    const cache = mkdtempSync(join(tmpdir(), 'vmstep-kvm-'));
    expect(() => checkKvm(cache, () => ({ available: false, canRunLinux: false, reason: '', module: '' }))).toThrow(/^\/dev\/kvm is not usable$/);
  });

  it('leaves the explanation to the launch when there is nothing to probe with', () => {
    const cache = mkdtempSync(join(tmpdir(), 'vmstep-kvm-'));
    expect(() =>
      checkKvm(cache, () => {
        throw new Error('vmstep-vmm not found');
      }),
    ).not.toThrow();
  });

  it("gives the fix for the device's real owner, group and mode when this user may not open /dev/kvm, never a literal $USER", () => {
    const cache = mkdtempSync(join(tmpdir(), 'vmstep-kvm-'));
    const vmmSays = { available: false, canRunLinux: false, reason: 'permission denied on /dev/kvm: add the user to the kvm group (sudo usermod -aG kvm $USER)', module: '' };
    const rootOnly = { mode: 0o600, uid: 0, gid: 0 };
    const access = () => ({ detail: 'crw------- root:root', fix: kvmAccessFix(rootOnly, { name: 'runner', groups: [1001] }, () => 'root') });
    let line = '';
    try {
      checkKvm(cache, () => vmmSays, access);
    } catch (err) {
      line = describeFailure(err);
    }
    expect(line).toBe(`permission denied on /dev/kvm (crw------- root:root); only root may open it; open it to the runner with a udev rule: ${KVM_UDEV_RULE}`);
    expect(line).not.toContain('$USER');
    expect(line).not.toContain('usermod');
  });
});
