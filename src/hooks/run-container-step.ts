// run_container_step: a container action with an image (`uses: docker://IMAGE`,
// or an action whose runs.image is one) runs in a fresh VM of its own, with
// the workspace at /github/workspace and the runner's files under /github, as
// the runner's docker implementation mounts them. Its file command files and
// its changes to the workspace come back to the host, and from there into
// the job's VM, so the following steps see them. An action built from a
// Dockerfile has no image to boot.
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { VmstepError } from '../engine/errors.js';
import { splitCommandLine } from './command-line.js';
import { requireState, warn, type HookContext } from './context.js';
import { ignoredOptionsWarning, parseCreateOptions } from './create-options.js';
import type { HookContainer, HookState } from './input.js';
import { jobFiles, readJobLayout, stepVmName } from './job.js';
import { planMounts } from './mounts.js';
import { credentialsOf } from './prepare-job.js';
import { writeResponseFile } from './response.js';
import { pullFiles, pushPaths, recordGuestTree, syncBack } from './transfer.js';

/**
 * The step's argv, as docker run builds it: the step's entryPoint, else
 * --entrypoint from its options ("" clears it), replaces the image's
 * ENTRYPOINT and drops its CMD; the step's args replace CMD.
 */
export function containerStepArgv(args: HookContainer, optionsEntrypoint: string[] | null, image: { entrypoint: string[] | null; cmd: string[] | null }): string[] {
  const stepArgs = splitCommandLine(args.entryPointArgs.join(' '));
  const entrypoint = args.entryPoint ? [args.entryPoint] : optionsEntrypoint;
  const argv = entrypoint ? [...entrypoint, ...stepArgs] : [...(image.entrypoint ?? []), ...(stepArgs.length > 0 ? stepArgs : (image.cmd ?? []))];
  if (argv.length === 0) throw new VmstepError(`the container step ${args.image} has no command: ${entrypoint ? '--entrypoint "" cleared the image\'s ENTRYPOINT and the step gives no args' : 'its image has neither ENTRYPOINT nor CMD'}`, 'give the step `with: args:` or an entrypoint');
  return argv;
}

export async function runContainerStep(args: HookContainer, responseFile: string | null, state: HookState | null, ctx: HookContext): Promise<number> {
  if (args.dockerfile) {
    throw new VmstepError(
      `the action builds its image from a Dockerfile (${args.dockerfile}), and the vmstep hooks cannot build images`,
      'use an action that publishes its image (runs.image: docker://...), or `uses: docker://IMAGE`',
    );
  }
  if (!args.image) throw new VmstepError('the container step has no image', 'give the step `uses: docker://IMAGE`');
  const { job, vm: jobVm } = requireState(state, 'run_container_step');
  const files = jobFiles(job, ctx.env);
  const layout = readJobLayout(files);
  const options = parseCreateOptions(args.createOptions, ctx.env);
  const ignored = ignoredOptionsWarning(options);
  if (ignored) warn(ctx, ignored);
  const plan = planMounts(args, 'step');
  for (const w of plan.warnings) warn(ctx, w);
  const stepManifest = posix.join(files.dir, `step-${randomBytes(4).toString('hex')}.json`);
  const id = await ctx.vms.start(
    {
      // The job's services, reached by name as from the job's VM.
      ...(layout.links ? { links: layout.links } : {}),
      name: stepVmName(job, randomBytes(4).toString('hex')),
      image: args.image,
      credentials: credentialsOf(args.registry),
      vcpus: options.vcpus,
      memoryBytes: options.memoryBytes,
      env: [...Object.entries(args.environmentVariables).map(([k, v]) => `${k}=${v}`), ...options.env],
      user: options.user,
      workdir: args.workingDirectory ?? plan.workspace.guestPath,
      volumes: plan.copies,
    },
    ctx.signal,
    (line) => ctx.stdout.write(`${line}\n`),
  );
  try {
    await recordGuestTree(ctx.vms, id, plan.workspace.guestPath, stepManifest);
    let status: number;
    try {
      status = await ctx.vms.exec(id, {
        argv: containerStepArgv(args, options.entrypoint, args.entryPoint || options.entrypoint ? { entrypoint: [], cmd: [] } : await ctx.vms.imageConfig(id, credentialsOf(args.registry))),
        env: [],
        prependPath: [],
        workdir: args.workingDirectory ?? plan.workspace.guestPath,
        stdout: ctx.stdout,
        stderr: ctx.stderr,
        signal: ctx.signal,
      });
    } finally {
      if (plan.fileCommands) await pullFiles(ctx.vms, id, plan.fileCommands.guestPath, plan.fileCommands.hostPath);
      const back = await syncBack(ctx.vms, id, plan.workspace.guestPath, plan.workspace.hostPath, stepManifest);
      // The job's VM gets the same changes, so the next steps see them.
      if (back.diff.remove.length > 0) {
        await ctx.vms.exec(jobVm, { argv: ['rm', '-rf', '--', ...back.diff.remove.map((r) => posix.join(layout.workspace.guestPath, r))], env: [], prependPath: [], workdir: '/', stdout: ctx.stderr, stderr: ctx.stderr });
      }
      await pushPaths(ctx.vms, jobVm, layout.workspace.hostPath, layout.workspace.guestPath, back.diff.fetch);
      await recordGuestTree(ctx.vms, jobVm, layout.workspace.guestPath, files.workspaceManifest);
    }
    if (responseFile && state) await writeResponseFile(responseFile, { state });
    return status;
  } finally {
    await ctx.vms.stop(id);
  }
}
