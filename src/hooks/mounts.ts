// Where the runner's directories go in a job's VM. The runner describes bind
// mounts (systemMountVolumes: the work directory at /__w with _temp,
// _actions and _tool inside it, its externals read-only at /__e, the job's
// HOME at /github/home, the event at /github/workflow; userMountVolumes from
// the workflow). A microVM shares no filesystem with the host, so each
// becomes a copy made when the VM starts, and the hooks sync the parts that
// change during a job: the host's _temp goes in before every step, the file
// command files and the workspace come back after it. The externals (large,
// the same for every job) become one cached read-only disk instead.
import { posix } from 'node:path';
import { isAbsolute } from 'node:path';
import { VmstepError } from '../engine/errors.js';
import type { HookContainer, Mount } from './input.js';

export interface HostCopy {
  hostPath: string;
  guestPath: string;
}

export interface MountPlan {
  /** Host trees copied into the VM when it starts, parents before children. */
  copies: HostCopy[];
  /** The runner's externals (its Node.js): a cached read-only disk. */
  externals: HostCopy | null;
  /** The workspace: copied in at start, its changes brought back after every step. */
  workspace: HostCopy;
  /** The runner's temp directory: brought in before every step (the step's script, the file command files). */
  temp: HostCopy | null;
  /** Where the step writes GITHUB_OUTPUT, GITHUB_ENV and friends: brought back after every step. */
  fileCommands: HostCopy | null;
  /** One line each, for mounts that cannot be honoured. */
  warnings: string[];
}

const DOCKER_SOCKET = '/var/run/docker.sock';
const EXTERNALS = '/__e';
const WORK = '/__w';
/** In the runner's temp dir: where it keeps its response files; never copied into a VM. */
export const HOOK_RESPONSES_DIR = '_runner_hook_responses';
export const FILE_COMMANDS_DIR = '_runner_file_commands';

function under(path: string, root: string): boolean {
  return path === root || path.startsWith(root === '/' ? '/' : `${root}/`);
}

/** The host path of a guest path, through the mount with the longest guest path above it (the runner's TranslateToHostPath). */
export function hostPathOf(mounts: readonly HostCopy[], guestPath: string): string | null {
  let best: HostCopy | null = null;
  for (const m of mounts) if (under(guestPath, m.guestPath) && (!best || m.guestPath.length > best.guestPath.length)) best = m;
  if (!best) return null;
  return posix.join(best.hostPath, guestPath.slice(best.guestPath.length));
}

function hostMount(m: Mount, what: string): HostCopy | null {
  if (m.sourceVolumePath === null || m.sourceVolumePath === '') return null;
  if (!isAbsolute(m.sourceVolumePath)) {
    throw new VmstepError(`${what} ${m.sourceVolumePath}:${m.targetVolumePath} is not a host path`, 'the runner gives its directories as absolute host paths; check the runner version');
  }
  return { hostPath: posix.normalize(m.sourceVolumePath), guestPath: m.targetVolumePath };
}

/**
 * The plan for a container: the job container (workspace at its
 * workingDirectory under /__w) or a container step (workspace at
 * /github/workspace, temp at /github/runner_temp, file commands at
 * /github/file_commands).
 */
export function planMounts(container: HookContainer, kind: 'job' | 'step'): MountPlan {
  const warnings: string[] = [];
  const system: HostCopy[] = [];
  for (const m of container.systemMountVolumes) {
    if (m.targetVolumePath === DOCKER_SOCKET) continue;
    const c = hostMount(m, 'the runner mount');
    if (c) system.push(c);
  }
  const find = (guest: string) => system.find((m) => m.guestPath === guest) ?? null;
  const workspaceGuest = kind === 'job' ? container.workingDirectory : '/github/workspace';
  if (!workspaceGuest) throw new VmstepError('the job container has no workingDirectory', 'the runner sets it to the workspace (/__w/REPO/REPO); check the runner version');
  const workspaceHost = hostPathOf(system, workspaceGuest);
  if (!workspaceHost) throw new VmstepError(`no runner mount holds the workspace ${workspaceGuest}`, `the runner mounts its work directory at ${WORK}; check the runner version`);
  const tempGuest = kind === 'job' ? `${WORK}/_temp` : '/github/runner_temp';
  const temp = find(tempGuest);
  const fileCommands = kind === 'job' ? (temp ? { hostPath: posix.join(temp.hostPath, FILE_COMMANDS_DIR), guestPath: posix.join(temp.guestPath, FILE_COMMANDS_DIR) } : null) : find('/github/file_commands');
  const externals = find(EXTERNALS);

  const copies: HostCopy[] = [];
  for (const m of system) {
    if (m === externals) continue;
    // The work directory itself holds every repository the runner ever
    // checked out; only the parts below it that the job uses are copied.
    if (m.guestPath === WORK) continue;
    if (m.guestPath === workspaceGuest) continue;
    copies.push(m);
  }
  copies.push({ hostPath: workspaceHost, guestPath: workspaceGuest });
  for (const m of container.userMountVolumes) {
    if (m.sourceVolumePath && !isAbsolute(m.sourceVolumePath)) {
      warnings.push(`vmstep hooks: the volume "${m.sourceVolumePath}" at ${m.targetVolumePath} is a docker volume name: ${m.targetVolumePath} starts empty in the VM and is not kept after the job`);
      continue;
    }
    const c = hostMount(m, 'the volume');
    if (!c) {
      warnings.push(`vmstep hooks: the volume ${m.targetVolumePath} has no host path: it starts empty in the VM`);
      continue;
    }
    copies.push(c);
  }
  copies.sort((a, b) => a.guestPath.split('/').length - b.guestPath.split('/').length);
  return { copies, externals, workspace: { hostPath: workspaceHost, guestPath: workspaceGuest }, temp, fileCommands, warnings };
}

/** Guest directories the VM needs that no copy creates (user volumes with no host path, the workspace's parent). */
export function emptyGuestDirs(container: HookContainer): string[] {
  return container.userMountVolumes.filter((m) => !m.sourceVolumePath || !isAbsolute(m.sourceVolumePath)).map((m) => m.targetVolumePath);
}
