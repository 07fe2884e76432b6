import * as core from '@actions/core';

/** Runs the action. The engine arrives with the action issue (#6). */
export async function run(): Promise<void> {
  core.setFailed('vmstep: the action is not built yet (see issue #6); only the project foundation exists so far');
}
