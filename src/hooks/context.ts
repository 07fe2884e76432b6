// What every hook command gets: the VM API, where its output goes (the
// runner copies the hook's stdout and stderr into the step's log), the
// hook process's environment, and a signal for a cancelled job.
import type { Writable } from 'node:stream';
import { VmstepError } from '../engine/errors.js';
import type { HookState } from './input.js';
import type { HookVms } from './vms.js';

export interface HookContext {
  vms: HookVms;
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

/** A warning in the step log (the runner turns it into an annotation). */
export function warn(ctx: HookContext, line: string): void {
  ctx.stdout.write(`::warning::${line.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A')}\n`);
}

export function requireState(state: HookState | null, command: string): HookState['vmstep'] {
  if (!state) {
    throw new VmstepError(`${command} came without the state prepare_job wrote`, 'prepare_job did not run or failed; see the "Initialize containers" step of this job');
  }
  return state.vmstep;
}
