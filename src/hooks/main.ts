// The hook process: reads the runner's JSON from stdin, dispatches on its
// command, and exits with the step's status (script and container steps) or
// 0; any failure of the hook itself is one line on stderr (the runner puts it
// in the step's log) and exit status 125, as for the CLI.
import type { Readable, Writable } from 'node:stream';
import { EXIT_VMSTEP_FAILED, describeFailure } from '../engine/errors.js';
import { cleanupJob } from './cleanup-job.js';
import type { HookContext } from './context.js';
import { parseHookInput } from './input.js';
import { prepareJob } from './prepare-job.js';
import { runContainerStep } from './run-container-step.js';
import { runScriptStep } from './run-script-step.js';
import type { HookVms } from './vms.js';

/** Input larger than this is not something the runner sends. */
const MAX_INPUT_BYTES = 64 * 2 ** 20;

export async function readInput(stdin: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of stdin) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    bytes += b.length;
    if (bytes > MAX_INPUT_BYTES) throw new Error(`more than ${MAX_INPUT_BYTES} bytes on stdin`);
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export interface HookIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

/** A HookVms made on first use, so that input refused early never touches the VM state. */
function lazyVms(make: () => HookVms): HookVms {
  let vms: HookVms | null = null;
  return new Proxy({} as HookVms, {
    get: (_target, key: keyof HookVms) => (...args: unknown[]) => {
      vms ??= make();
      return (vms[key] as (...a: unknown[]) => unknown)(...args);
    },
  });
}

/** Runs one hook command; resolves with the process's exit status. */
export async function hookMain(io: HookIo, makeVms: () => HookVms): Promise<number> {
  try {
    const input = parseHookInput(await readInput(io.stdin));
    const ctx: HookContext = { vms: lazyVms(makeVms), stdout: io.stdout, stderr: io.stderr, env: io.env, signal: io.signal };
    switch (input.command) {
      case 'prepare_job':
        await prepareJob(input.args, input.responseFile, ctx);
        return 0;
      case 'run_script_step':
        return await runScriptStep(input.args, input.responseFile, input.state, ctx);
      case 'run_container_step':
        return await runContainerStep(input.args, input.responseFile, input.state, ctx);
      case 'cleanup_job':
        await cleanupJob(input.responseFile, input.state, ctx);
        return 0;
    }
  } catch (err) {
    io.stderr.write(`vmstep hooks: error: ${describeFailure(err)}\n`);
    if (io.env.VMSTEP_TRACE && err instanceof Error && err.stack) io.stderr.write(`${err.stack}\n`);
    return EXIT_VMSTEP_FAILED;
  }
}
