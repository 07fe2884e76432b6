// run_script_step: one step (a `run:` script, or a JavaScript action run
// with the runner's Node.js at /__e) in the job's VM. The host's _temp goes
// in first (the step's script, its file command files); the step's output
// streams live into the step log; afterwards the file command files and the
// workspace's changes come back, so the runner reads GITHUB_OUTPUT and
// GITHUB_ENV and its host-side hashFiles() sees what the step wrote. The
// hook's exit status is the step's.
import { stepArgv } from './command-line.js';
import { requireState, type HookContext } from './context.js';
import type { HookState, ScriptStepArgs } from './input.js';
import { jobFiles, readJobLayout } from './job.js';
import { writeResponseFile } from './response.js';
import { pullFiles, pushHostTree, syncBack } from './transfer.js';

export async function runScriptStep(args: ScriptStepArgs, responseFile: string | null, state: HookState | null, ctx: HookContext): Promise<number> {
  const { job, vm } = requireState(state, 'run_script_step');
  const files = jobFiles(job, ctx.env);
  const layout = readJobLayout(files);
  await pushHostTree(ctx.vms, vm, layout.temp.hostPath, layout.temp.guestPath, files.tempManifest);
  let status: number;
  try {
    status = await ctx.vms.exec(vm, {
      argv: stepArgv(args.entryPoint, args.entryPointArgs),
      env: Object.entries(args.environmentVariables).map(([k, v]) => `${k}=${v}`),
      prependPath: args.prependPath,
      workdir: args.workingDirectory,
      stdout: ctx.stdout,
      stderr: ctx.stderr,
      signal: ctx.signal,
    });
  } finally {
    await pullFiles(ctx.vms, vm, layout.fileCommands.guestPath, layout.fileCommands.hostPath);
    await syncBack(ctx.vms, vm, layout.workspace.guestPath, layout.workspace.hostPath, files.workspaceManifest);
  }
  if (responseFile && state) await writeResponseFile(responseFile, { state });
  return status;
}
