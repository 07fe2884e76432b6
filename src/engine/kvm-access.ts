// Why this user cannot open /dev/kvm, and the fix that works for the device
// as it is. "Join the kvm group" helps only where the group may read and
// write it; a root-only device (crw------- root root, as on some cloud
// images and GitHub's larger runners) needs its mode changed first, by a
// udev rule so that it survives a reboot. Both `vmstep doctor` and a failed
// run give this same fix.
import { readFileSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';

export interface KvmDevice {
  mode: number;
  uid: number;
  gid: number;
}

export interface KvmUser {
  name: string;
  /** Supplementary and primary groups of this process. */
  groups: number[];
}

/**
 * GitHub's documented rule for its runners: /dev/kvm for every user, kept
 * across reboots, applied at once.
 */
export const KVM_UDEV_RULE =
  "echo 'KERNEL==\"kvm\", GROUP=\"kvm\", MODE=\"0666\", OPTIONS+=\"static_node=kvm\"' | sudo tee /etc/udev/rules.d/99-kvm4all.rules && sudo udevadm control --reload-rules && sudo udevadm trigger --name-match=kvm";

/** `crw-rw---- root:kvm`, as ls -l shows it. */
export function describeDevice(dev: KvmDevice, names: { user(uid: number): string; group(gid: number): string }): string {
  const bits = 'rwxrwxrwx'
    .split('')
    .map((c, i) => (dev.mode & (0o400 >> i) ? c : '-'))
    .join('');
  return `c${bits} ${names.user(dev.uid)}:${names.group(dev.gid)}`;
}

/** The one fix for a user who cannot open the device. */
export function kvmAccessFix(dev: KvmDevice, user: KvmUser, groupName: (gid: number) => string): string {
  const relogin = 'then log in again (for a GitHub runner, restart the runner service)';
  if ((dev.mode & 0o006) === 0o006) {
    return 'every user may read and write it, so something else refuses: look for an ACL (getfacl /dev/kvm) or a security module (dmesg | grep -i denied)';
  }
  if ((dev.mode & 0o060) === 0o060 && dev.gid !== 0) {
    const group = groupName(dev.gid);
    if (user.groups.includes(dev.gid)) return `${user.name} is in the ${group} group, but this session started before it joined: log in again (for a GitHub runner, restart the runner service)`;
    return `add ${user.name} to the ${group} group, which may read and write /dev/kvm: sudo usermod -aG ${group} ${user.name}, ${relogin}`;
  }
  return `only ${dev.gid === 0 ? 'root' : 'its owner'} may open it; open it to the runner with a udev rule: ${KVM_UDEV_RULE}`;
}

/** Name of a uid or gid from the host's passwd or group file, else the number. */
function idName(file: string, id: number): string {
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const [name, , num] = line.split(':');
      if (name && Number(num) === id) return name;
    }
  } catch {
    // No such file (a minimal container): the number says it.
  }
  return String(id);
}

/** The name of the user this process runs as (not $USER, which sudo and su may keep). */
export function currentUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? 'this user');
  }
}

/** Cause and fix for this process and the device at `path`, as they are now. */
export function kvmAccessProblem(path = '/dev/kvm', etc = '/etc', userName = currentUserName()): { detail: string; fix: string } {
  const st = statSync(path);
  const dev = { mode: st.mode & 0o777, uid: st.uid, gid: st.gid };
  const names = { user: (uid: number) => idName(`${etc}/passwd`, uid), group: (gid: number) => idName(`${etc}/group`, gid) };
  const user = { name: userName, groups: [...new Set([...(process.getgroups?.() ?? []), process.getgid?.() ?? -1])] };
  return { detail: describeDevice(dev, names), fix: kvmAccessFix(dev, user, names.group) };
}
