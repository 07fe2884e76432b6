// cleanup_job: stops every VM of the job and removes the job's files. It
// finds the VMs by the job's key (in their names) as well as by the state,
// so it also cleans up after a prepare_job that failed halfway or a hook
// process that was killed, and running it twice does nothing the second time.
import type { HookContext } from './context.js';
import type { HookState } from './input.js';
import { jobKey, jobVmPrefix, removeJobFiles } from './job.js';

export async function cleanupJobVms(key: string, state: HookState | null, ctx: HookContext): Promise<void> {
  const ids = new Set(await ctx.vms.named(jobVmPrefix(key)));
  if (state && state.vmstep.job === key) ids.add(state.vmstep.vm);
  const failures: string[] = [];
  await Promise.all(
    [...ids].map((id) =>
      ctx.vms.stop(id).catch((err: unknown) => {
        failures.push(`${id}: ${err instanceof Error ? err.message : String(err)}`);
      }),
    ),
  );
  if (failures.length > 0) throw new Error(`could not stop ${failures.length === 1 ? 'the VM' : 'the VMs'} ${failures.join('; ')}`);
}

export async function cleanupJob(responseFile: string | null, state: HookState | null, ctx: HookContext): Promise<void> {
  const key = state?.vmstep.job ?? jobKey(responseFile, ctx.env);
  await cleanupJobVms(key, state, ctx);
  removeJobFiles(key, ctx.env);
}
