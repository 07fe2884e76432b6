// The runner plugin as the GitHub runner drives it: `node dist/hooks.js` as
// its own process per command, a runner-like directory layout (_work with the
// workspace, _temp, _actions; externals with a Node.js binary), the JSON the
// runner writes (shapes from actions/runner's HookInput and its callers), the
// response file created empty first and read back, the state passed on. On
// the real guest kernel, with a Debian-based job image. VM boots are slow in
// the emulated KVM host: one job VM carries every step check, one container
// step VM, and one Alpine-like job whose hook is killed mid-step.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { vmLogs } from '../../scripts/lib/vm-logs.mjs';
import { writeAlpineLikeImage, writeDebianJobImage } from '../helpers/debian-job-image.js';
import { containerStepArgs, jobContainerArgs, makeRunnerLayout, runHook, scriptStep, stepFileCommands, type HookRun, type RunnerLayout } from '../helpers/runner-hooks.js';

const work = mkdtempSync(join(tmpdir(), 'vmstep-e2e-hooks-'));
const stateDir = join(work, 'state');
mkdirSync(stateDir, { mode: 0o700 });
const env = { VMSTEP_CACHE: join(work, 'cache'), VMSTEP_STATE_DIR: stateDir };
const debian = join(work, 'debian');
const alpine = join(work, 'alpine');
/** Small VMs: the emulated KVM host has 4 GiB and two CPUs for everything. */
const SMALL = '--cpus 1 --memory 384m';

/** Processes whose command line names this test's state directory (VMMs, keepers). */
function leftoverProcesses(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(stateDir)) out.push(`${pid}: ${cmd}`);
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

/** A hook's failure with everything that explains it. */
const why = (r: HookRun) => `exit ${r.code ?? r.signal}\nstdout: ${r.stdout}\nstderr: ${r.stderr}\n${vmLogs(stateDir)}`;

/** Each hook command is killed past this, so a hang fails with its output rather than the test's timeout. */
const HOOK_TIMEOUT_MS = 420_000;

function stateLeft(): string[] {
  const vms = join(stateDir, 'vms');
  const hooks = join(stateDir, 'hooks');
  return [...(existsSync(vms) ? readdirSync(vms) : []), ...(existsSync(hooks) ? readdirSync(hooks) : [])];
}

beforeAll(() => {
  writeDebianJobImage(debian);
  writeAlpineLikeImage(alpine);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('a job in a Debian-based microVM, step by step', () => {
  let l: RunnerLayout;
  let state: unknown;
  let prepare: HookRun;
  const run = (command: string, args: unknown) => runHook(l, { command, args, state }, { env, timeoutMs: HOOK_TIMEOUT_MS });

  beforeAll(async () => {
    l = makeRunnerLayout(join(work, 'runner1'));
    writeFileSync(join(l.workspace, 'README.md'), 'checked out\n');
    const action = join(l.actions, 'my-org', 'hello', 'v1');
    mkdirSync(action, { recursive: true });
    writeFileSync(join(action, 'index.js'), "const fs = require('fs');\nconsole.log(`node ${process.version} in ${process.cwd()}`);\nfs.appendFileSync(process.env.GITHUB_OUTPUT, 'from-js=yes\\n');\n");
    prepare = await runHook(l, { command: 'prepare_job', args: { container: jobContainerArgs(l, `oci:${debian}`, { createOptions: `${SMALL} -e FROM_OPTIONS=1 --init`, environmentVariables: { HOME: '/github/home', CI_MODE: 'vm' } }), services: [] }, state: null }, { env, timeoutMs: HOOK_TIMEOUT_MS });
    state = prepare.response?.state;
  }, 600_000);

  afterAll(async () => {
    if (l) await runHook(l, { command: 'cleanup_job', args: {}, state }, { env, timeoutMs: HOOK_TIMEOUT_MS });
  }, 120_000);

  test('prepare_job answers with the VM as state and container id, isAlpine false, and names the ignored option', () => {
    expect(prepare.code, why(prepare)).toBe(0);
    const r = prepare.response as { state: { vmstep: { vm: string } }; context: { container: { id: string }; services: unknown[] }; isAlpine: boolean };
    expect(r.isAlpine).toBe(false);
    expect(r.context.container.id).toBe(r.state.vmstep.vm);
    expect(r.context.services).toEqual([]);
    expect(prepare.stdout).toContain('::warning::vmstep hooks: ignoring container options --init');
  });

  test('a script step sees its env and PATH, its GITHUB_OUTPUT and GITHUB_ENV reach the host files, its new files reach the host workspace', async () => {
    const fc = stepFileCommands(l);
    const step = scriptStep(
      l,
      ['echo "greeting=$GREETING ci=$CI_MODE opt=$FROM_OPTIONS"', 'echo "path=$PATH"', 'echo "pwd=$(pwd) readme=$(cat README.md)"', 'echo "result=42" >> "$GITHUB_OUTPUT"', 'echo "FROM_STEP1=yes" >> "$GITHUB_ENV"', 'echo hello > step1.txt', 'mkdir -p sub && echo x > sub/gone.txt'].join('\n'),
      { GREETING: 'hi', ...fc.env },
      ['/opt/tool2/bin', '/opt/tool1/bin'],
    );
    const r = await run('run_script_step', step);
    expect(r.code, why(r)).toBe(0);
    expect(r.stdout).toContain('greeting=hi ci=vm opt=1\n');
    expect(r.stdout).toContain('path=/opt/tool2/bin:/opt/tool1/bin:/usr/local/bin:/usr/bin:/bin\n');
    expect(r.stdout).toContain('pwd=/__w/repo/repo readme=checked out\n');
    expect(readFileSync(fc.host.GITHUB_OUTPUT, 'utf8')).toBe('result=42\n');
    expect(readFileSync(fc.host.GITHUB_ENV, 'utf8')).toBe('FROM_STEP1=yes\n');
    expect(readFileSync(join(l.workspace, 'step1.txt'), 'utf8')).toBe('hello\n');
    expect(readFileSync(join(l.workspace, 'sub/gone.txt'), 'utf8')).toBe('x\n');
  }, 300_000);

  test('the next step sees the file, deletes one, and the deletion reaches the host', async () => {
    const fc = stepFileCommands(l);
    const r = await run('run_script_step', scriptStep(l, 'echo "seen=$(cat step1.txt) env=$FROM_STEP1"\nrm sub/gone.txt', { FROM_STEP1: 'yes', ...fc.env }));
    expect(r.code, why(r)).toBe(0);
    expect(r.stdout).toContain('seen=hello env=yes\n');
    expect(existsSync(join(l.workspace, 'sub/gone.txt'))).toBe(false);
    expect(existsSync(join(l.workspace, 'sub'))).toBe(true);
  }, 300_000);

  test('a JavaScript action runs with the runner\'s Node.js at /__e', async () => {
    const fc = stepFileCommands(l);
    const r = await run('run_script_step', {
      entryPoint: '/__e/node20/bin/node',
      entryPointArgs: '"/__w/_actions/my-org/hello/v1/index.js"'.split(' '),
      environmentVariables: { ...fc.env, GITHUB_WORKSPACE: '/__w/repo/repo' },
      prependPath: [],
      workingDirectory: '/__w/repo/repo',
    });
    expect(r.code, why(r)).toBe(0);
    expect(r.stdout).toContain(`node ${process.version} in /__w/repo/repo\n`);
    expect(readFileSync(fc.host.GITHUB_OUTPUT, 'utf8')).toBe('from-js=yes\n');
  }, 300_000);

  test('a failing step\'s exit status is the hook\'s', async () => {
    const r = await run('run_script_step', scriptStep(l, 'echo about-to-fail >&2\nexit 3', stepFileCommands(l).env));
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('about-to-fail\n');
  }, 300_000);

  test('a container step runs in its own VM with the workspace at /github/workspace; its writes reach the host and the job VM', async () => {
    const fc = stepFileCommands(l);
    const outputName = fc.host.GITHUB_OUTPUT.split('/').pop()!;
    // ContainerActionHandler quotes each arg, then the runner splits at spaces.
    const argString = ['-c', 'echo "in-step=$(cat step1.txt) pwd=$(pwd)"; echo from-container > container.txt; echo c=1 >> "$GITHUB_OUTPUT"'].map((a) => ` "${a.replace(/"/g, '\\"')}"`).join('');
    const r = await run('run_container_step', containerStepArgs(l, `oci:${debian}`, { entryPoint: 'bash', entryPointArgs: argString.split(' ').filter((a) => a !== ''), createOptions: SMALL, environmentVariables: { GITHUB_OUTPUT: `/github/file_commands/${outputName}`, GITHUB_WORKSPACE: '/github/workspace' } }));
    expect(r.code, why(r)).toBe(0);
    expect(r.stdout).toContain('in-step=hello pwd=/github/workspace\n');
    expect(readFileSync(join(l.workspace, 'container.txt'), 'utf8')).toBe('from-container\n');
    expect(readFileSync(fc.host.GITHUB_OUTPUT, 'utf8')).toBe('c=1\n');
    const after = await run('run_script_step', scriptStep(l, 'echo "job-vm-sees=$(cat container.txt)"', stepFileCommands(l).env));
    expect(after.stdout).toContain('job-vm-sees=from-container\n');
  }, 600_000);

  test('cleanup_job leaves no VMM process, socket, disk or state, and a second cleanup_job does nothing', async () => {
    const first = await run('cleanup_job', {});
    expect(first.code, first.stderr).toBe(0);
    expect(leftoverProcesses()).toEqual([]);
    expect(stateLeft()).toEqual([]);
    const cache = join(env.VMSTEP_CACHE, 'runs');
    expect(existsSync(cache) ? readdirSync(cache) : []).toEqual([]);
    const second = await run('cleanup_job', {});
    expect(second.code, second.stderr).toBe(0);
  }, 120_000);
});

describe('an Alpine-like job whose hook is SIGKILLed mid-step', () => {
  test('isAlpine is true, and cleanup_job still leaves nothing behind', async () => {
    const l = makeRunnerLayout(join(work, 'runner2'));
    const prepare = await runHook(l, { command: 'prepare_job', args: { container: jobContainerArgs(l, `oci:${alpine}`, { createOptions: SMALL }), services: [] }, state: null }, { env, timeoutMs: HOOK_TIMEOUT_MS });
    expect(prepare.code, why(prepare)).toBe(0);
    expect(prepare.response?.isAlpine).toBe(true);
    const state = prepare.response!.state;
    const step = { ...scriptStep(l, 'echo started\nsleep 120', stepFileCommands(l).env), entryPoint: 'sh' };
    step.entryPointArgs = ['-e', step.entryPointArgs.at(-1)!];
    let pid = 0;
    let sent = false;
    // Killed once the step runs in the VM: its first line is in the hook's stdout.
    const killed = runHook(l, { command: 'run_script_step', args: step, state }, { env, onSpawn: (p) => (pid = p), onStdout: (out) => {
        if (sent || !out.includes('started\n')) return;
        sent = true;
        process.kill(pid, 'SIGKILL');
      },
    });
    const r = await killed;
    expect(r.signal).toBe('SIGKILL');
    const cleanup = await runHook(l, { command: 'cleanup_job', args: {}, state }, { env });
    expect(cleanup.code, cleanup.stderr).toBe(0);
    expect(leftoverProcesses()).toEqual([]);
    expect(stateLeft()).toEqual([]);
  }, 600_000);
});
