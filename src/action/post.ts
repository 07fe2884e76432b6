// The post step: runs after the job, also when it was cancelled. A run that
// ended normally has already released everything and removed its state
// file, so this does nothing; after a cancellation it stops the VMM that was
// left running and removes the scratch directory and the disk copy.
import * as core from '@actions/core';
import { releaseResources } from '../engine/leftovers.js';
import { STATE_KEY, defaultStateFile, readStateFile, writeStateFile } from './state.js';

export async function runPost(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  try {
    const stateFile = core.getState(STATE_KEY) || defaultStateFile(env);
    const resources = readStateFile(stateFile);
    if (!resources) {
      core.debug(`vmstep post: nothing to clean up (${stateFile} absent)`);
      return;
    }
    const report = await releaseResources(resources);
    if (report.killedPid !== null) core.info(`vmstep: stopped the VM left by the cancelled run (VMM PID ${report.killedPid})`);
    if (report.removedDir !== null) core.info(`vmstep: removed its scratch files (${report.removedDir})`);
    for (const s of report.skipped) core.warning(`vmstep post: ${s}`);
    writeStateFile(stateFile, null);
  } catch (err) {
    // Cleanup must never fail the job after the fact; say what was left.
    core.warning(`vmstep post: cleanup failed: ${(err as Error).message}`);
  }
}
