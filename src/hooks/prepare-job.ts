// prepare_job: the job container becomes a microVM. Its image is pulled
// (with the workflow's registry credentials), the VM boots with no main
// process (the container's own command does not run, as with the runner's
// docker implementation), the runner's directories are copied in, and the
// response tells the runner the VM's id and whether the image is Alpine.
import { existsSync } from 'node:fs';
import { VmstepError } from '../engine/errors.js';
import { ignoredOptionsWarning, parseCreateOptions } from './create-options.js';
import { cleanupJobVms } from './cleanup-job.js';
import { warn, type HookContext } from './context.js';
import type { HookState, PrepareJobArgs } from './input.js';
import { jobFiles, jobKey, jobVmName, writeJobLayout } from './job.js';
import { planMounts } from './mounts.js';
import { writeResponseFile } from './response.js';
import { recordGuestTree, recordHostTree } from './transfer.js';
import { parsePortMapping, planServices, portsContext, serviceContexts, serviceLinks, startServices } from './services.js';

export function credentialsOf(registry: PrepareJobArgs['services'][number]['registry']): { username: string; password: string } | null {
  if (!registry || !registry.username || !registry.password) return null;
  return { username: registry.username, password: registry.password };
}

export async function prepareJob(args: PrepareJobArgs, responseFile: string, ctx: HookContext): Promise<void> {
  const container = args.container;
  if (!container) {
    throw new VmstepError('the job has no container: the vmstep hooks run a job only in its container\'s microVM', 'give the job a `container:`, and set ACTIONS_RUNNER_REQUIRE_JOB_CONTAINER=true in the runner\'s .env so that jobs without one fail early');
  }
  if (!container.image) throw new VmstepError('the job container has no image', 'set `container: IMAGE` in the workflow');
  // --entrypoint and the health flags change nothing for the job container, as with Docker: the runner
  // replaces its command with `tail -f /dev/null` (here: no main process) and waits only for services' health.
  const options = parseCreateOptions(container.createOptions, ctx.env);
  const ignored = ignoredOptionsWarning(options);
  if (ignored) warn(ctx, ignored);
  const plan = planMounts(container, 'job');
  // The job container's `ports:` are published on the runner host, as Docker's implementation does.
  const ports = container.portMappings.map((p) => parsePortMapping(p, null));
  const servicePlans = planServices(args.services, ctx);
  for (const w of plan.warnings) warn(ctx, w);

  const key = jobKey(responseFile, ctx.env);
  // A job that ended without cleanup (a killed runner) leaves its VMs behind under the same key.
  await cleanupJobVms(key, null, ctx);
  const files = jobFiles(key, ctx.env);
  const env = [...Object.entries(container.environmentVariables).map(([k, v]) => `${k}=${v}`), ...options.env];
  // A runner directory not made yet (a fresh runner has no _tool) starts empty in the VM.
  const all = [...(plan.externals ? [plan.externals] : []), ...plan.copies];
  const volumes = all.filter((c) => existsSync(c.hostPath));
  const empty = all.filter((c) => !existsSync(c.hostPath)).map((c) => c.guestPath);
  // Services first: the job's VM is linked to them by name, and they must be serving before the first step.
  const services = await startServices(servicePlans, key, ctx);
  const links = serviceLinks(services);
  const id = await ctx.vms.start(
    {
      ...(links.length > 0 ? { links } : {}),
      ...(ports.length > 0 ? { ports } : {}),
      name: jobVmName(key),
      image: container.image,
      credentials: credentialsOf(container.registry),
      vcpus: options.vcpus,
      memoryBytes: options.memoryBytes,
      env,
      user: options.user,
      workdir: container.workingDirectory,
      volumes,
    },
    ctx.signal,
    (line) => ctx.stdout.write(`${line}\n`),
  );
  // Named docker volumes have no host side: an empty directory stands in.
  for (const m of container.userMountVolumes.filter((v) => !v.sourceVolumePath || !v.sourceVolumePath.startsWith('/'))) empty.push(m.targetVolumePath);
  for (const guestPath of empty) await ctx.vms.put(id, guestPath, []);
  // The copies went in with the VM; remember them as synced.
  if (!plan.temp || !plan.fileCommands) throw new VmstepError('the runner did not mount its temp directory at /__w/_temp', 'check the runner version');
  writeJobLayout(files, { temp: plan.temp, workspace: plan.workspace, fileCommands: plan.fileCommands, ...(links.length > 0 ? { links } : {}) });
  await recordHostTree(plan.temp.hostPath, files.tempManifest);
  await recordGuestTree(ctx.vms, id, plan.workspace.guestPath, files.workspaceManifest);
  const isAlpine = (await ctx.vms.list(id, '/etc/alpine-release')) !== null;
  const state: HookState = { vmstep: { job: key, vm: id } };
  await writeResponseFile(responseFile, { state, context: { container: { id, network: 'vmstep', ports: portsContext(await ctx.vms.published(id)) }, services: serviceContexts(services) }, isAlpine });
}
