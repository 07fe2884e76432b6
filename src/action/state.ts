// What the post step needs to clean up after a cancelled job: the VMM's PID
// and the run's scratch directory. The run writes them to a state file as
// soon as it holds them (a cancelled job may never get to report anything
// later), and tells the post step where that file is in two ways: the
// action state (core.saveState) and a path derived from the step's id, for
// when the runner did not pass the state on.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseResources } from '../engine/leftovers.js';
import type { RunResources } from '../engine/types.js';

export const STATE_KEY = 'state-file';

/** RUNNER_TEMP is emptied at the end of every job: the right place for per-job files. */
export function runnerTemp(env: NodeJS.ProcessEnv): string {
  return env.RUNNER_TEMP || tmpdir();
}

export function defaultStateFile(env: NodeJS.ProcessEnv): string {
  const step = (env.GITHUB_ACTION || 'vmstep').replace(/[^\w.-]/g, '_');
  return join(runnerTemp(env), 'vmstep-state', `${step}.json`);
}

export function writeStateFile(path: string, resources: RunResources | null): void {
  if (resources === null) {
    rmSync(path, { force: true });
    return;
  }
  mkdirSync(dirname(path), { recursive: true });
  // Written whole and renamed, so the post step never reads half a record.
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, JSON.stringify(resources));
  renameSync(tmp, path);
}

export function readStateFile(path: string): RunResources | null {
  try {
    return parseResources(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}
