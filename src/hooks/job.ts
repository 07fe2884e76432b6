// A job's own files on the host, kept between hook commands (each is its own
// process): the manifests of the last syncs. They live in the vmstep state
// directory, under a key derived from the runner's temp directory (the
// response file's grandparent), which every command of a job can compute
// and which differs between runners sharing a host. The key also names the
// job's VMs, so cleanup_job finds them after a prepare_job that failed
// halfway or a hook process that was killed, when the runner has no state.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { VmstepError } from '../engine/errors.js';
import { openStateRoot } from '../vms/state.js';
import type { LinkSpec } from '../ports/spec.js';

/** The key for the runner whose temp directory holds responseFile's directory. */
export function jobKey(responseFile: string | null, env: NodeJS.ProcessEnv): string {
  let temp = responseFile ? dirname(dirname(responseFile)) : env.RUNNER_TEMP;
  if (!temp) throw new VmstepError('cannot tell which runner this is: no response file and no RUNNER_TEMP', 'run the hook through the runner, which sends a response file in its temp directory');
  try {
    temp = realpathSync(temp);
  } catch {
    // A temp directory that is gone still names the same runner.
  }
  return createHash('sha256').update(temp).digest('hex').slice(0, 16);
}

export const jobVmName = (key: string) => `gha-${key}-job`;
export const stepVmName = (key: string, n: string) => `gha-${key}-step-${n}`;
export const jobVmPrefix = (key: string) => `gha-${key}-`;

export interface JobFiles {
  dir: string;
  /** The job's layout (JobLayout), written by prepare_job. */
  layout: string;
  workspaceManifest: string;
  tempManifest: string;
}

/** Where the synced directories are, host and guest, as prepare_job planned them. */
export interface JobLayout {
  temp: { hostPath: string; guestPath: string };
  workspace: { hostPath: string; guestPath: string };
  fileCommands: { hostPath: string; guestPath: string };
  /** The service containers as the job's VMs reach them (src/ports links). */
  links?: LinkSpec[];
}

export function writeJobLayout(files: JobFiles, layout: JobLayout): void {
  writeFileSync(files.layout, `${JSON.stringify(layout)}\n`, { mode: 0o600 });
}

export function readJobLayout(files: JobFiles): JobLayout {
  try {
    return JSON.parse(readFileSync(files.layout, 'utf8')) as JobLayout;
  } catch {
    throw new VmstepError(`the job's files in ${files.dir} are missing`, 'prepare_job did not finish, or the vmstep state directory was removed during the job; rerun the job');
  }
}

export function jobFiles(key: string, env: NodeJS.ProcessEnv, create = true): JobFiles {
  const dir = join(openStateRoot(env), 'hooks', key);
  if (create) mkdirSync(dir, { recursive: true, mode: 0o700 });
  return { dir, layout: join(dir, 'layout.json'), workspaceManifest: join(dir, 'workspace.json'), tempManifest: join(dir, 'temp.json') };
}

export function removeJobFiles(key: string, env: NodeJS.ProcessEnv): void {
  rmSync(join(openStateRoot(env), 'hooks', key), { recursive: true, force: true });
}
