// A GitHub runner as its container hooks see it: the directory layout
// (<root>/_work with the workspace, _temp, _actions and _tool; <root>/externals
// with a Node.js binary), the JSON it writes to the hook's stdin (field
// shapes from actions/runner's HookInput.cs and ContainerOperationProvider's
// MountWellKnownDirectories), the response file it creates empty before each
// command and reads back, and the state it passes on. The replay runs the
// built dist/hooks.js as its own process, as the runner does.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { repoRoot } from './artifacts.js';
import { cleanEnv } from './dist-process.js';

export interface RunnerLayout {
  root: string;
  work: string;
  temp: string;
  actions: string;
  tool: string;
  externals: string;
  /** The workspace of repository "repo": _work/repo/repo. */
  workspace: string;
  fileCommands: string;
  home: string;
  workflow: string;
}

export function runnerLayout(root: string): RunnerLayout {
  const work = join(root, '_work');
  const temp = join(work, '_temp');
  return {
    root,
    work,
    temp,
    actions: join(work, '_actions'),
    tool: join(work, '_tool'),
    externals: join(root, 'externals'),
    workspace: join(work, 'repo', 'repo'),
    fileCommands: join(temp, '_runner_file_commands'),
    home: join(temp, '_github_home'),
    workflow: join(temp, '_github_workflow'),
  };
}

/** Creates the layout on disk, with the running Node.js as the runner's externals/node20/bin/node. */
export function makeRunnerLayout(root: string): RunnerLayout {
  const l = runnerLayout(root);
  for (const d of [l.workspace, l.fileCommands, l.actions, l.tool, l.home, l.workflow, join(l.temp, '_runner_hook_responses'), join(l.externals, 'node20', 'bin')]) mkdirSync(d, { recursive: true });
  copyFileSync(process.execPath, join(l.externals, 'node20', 'bin', 'node'));
  writeFileSync(join(l.workflow, 'event.json'), '{}\n');
  return l;
}

const mount = (sourceVolumePath: string, targetVolumePath: string, readOnly = false) => ({ sourceVolumePath, targetVolumePath, readOnly });

/** The job container as the runner describes it in prepare_job's args.container. */
export function jobContainerArgs(l: RunnerLayout, image: string, over: Record<string, unknown> = {}) {
  return {
    image,
    dockerfile: null,
    entryPointArgs: [],
    entryPoint: null,
    workingDirectory: '/__w/repo/repo',
    createOptions: null,
    registry: null,
    environmentVariables: { HOME: '/github/home' },
    portMappings: [],
    systemMountVolumes: [
      mount('/var/run/docker.sock', '/var/run/docker.sock'),
      mount(l.work, '/__w'),
      mount(l.externals, '/__e', true),
      mount(l.temp, '/__w/_temp'),
      mount(l.actions, '/__w/_actions'),
      mount(l.tool, '/__w/_tool'),
      mount(l.home, '/github/home'),
      mount(l.workflow, '/github/workflow'),
    ],
    userMountVolumes: [],
    ...over,
  };
}

/** A container step's args (ContainerActionHandler): the workspace at /github/workspace and the runner's files under /github. */
export function containerStepArgs(l: RunnerLayout, image: string, over: Record<string, unknown> = {}) {
  return {
    image,
    dockerfile: null,
    entryPointArgs: [],
    entryPoint: null,
    workingDirectory: '/github/workspace',
    createOptions: null,
    registry: null,
    environmentVariables: {},
    portMappings: [],
    systemMountVolumes: [
      mount('/var/run/docker.sock', '/var/run/docker.sock'),
      mount(l.temp, '/github/runner_temp'),
      mount(l.home, '/github/home'),
      mount(l.workflow, '/github/workflow'),
      mount(l.fileCommands, '/github/file_commands'),
      mount(l.workspace, '/github/workspace'),
    ],
    userMountVolumes: [],
    ...over,
  };
}

export interface FileCommands {
  env: Record<string, string>;
  /** Container paths (as the step sees them) and host paths of each file. */
  guest: Record<'GITHUB_ENV' | 'GITHUB_OUTPUT' | 'GITHUB_PATH' | 'GITHUB_STATE' | 'GITHUB_STEP_SUMMARY', string>;
  host: Record<'GITHUB_ENV' | 'GITHUB_OUTPUT' | 'GITHUB_PATH' | 'GITHUB_STATE' | 'GITHUB_STEP_SUMMARY', string>;
}

/** The runner creates a step's file command files, empty, on the host before the step, and names their container paths in its env. */
export function stepFileCommands(l: RunnerLayout): FileCommands {
  const names = { GITHUB_ENV: 'set_env', GITHUB_OUTPUT: 'set_output', GITHUB_PATH: 'add_path', GITHUB_STATE: 'save_state', GITHUB_STEP_SUMMARY: 'step_summary' } as const;
  const guest = {} as FileCommands['guest'];
  const host = {} as FileCommands['host'];
  for (const [k, prefix] of Object.entries(names) as [keyof typeof names, string][]) {
    const file = `${prefix}_${randomUUID()}`;
    host[k] = join(l.fileCommands, file);
    guest[k] = `/__w/_temp/_runner_file_commands/${file}`;
    writeFileSync(host[k], '');
  }
  return { env: { ...guest }, guest, host };
}

/** A run script step: the runner writes the script to _temp and runs `bash ... /__w/_temp/ID.sh`. */
export function scriptStep(l: RunnerLayout, script: string, env: Record<string, string>, prependPath: string[] | string = []) {
  const name = `${randomUUID()}.sh`;
  writeFileSync(join(l.temp, name), script);
  return {
    entryPoint: 'bash',
    entryPointArgs: `--noprofile --norc -e -o pipefail /__w/_temp/${name}`.split(' '),
    environmentVariables: { HOME: '/github/home', GITHUB_WORKSPACE: '/__w/repo/repo', RUNNER_TEMP: '/__w/_temp', ...env },
    prependPath,
    workingDirectory: '/__w/repo/repo',
  };
}

export interface HookRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** What the hook wrote to the response file; null when it left it empty. */
  response: Record<string, unknown> | null;
}

/** The hook entry: the built bundle, as the runner runs it (`node dist/hooks.js`). */
export const HOOKS_ENTRY = join(repoRoot, 'dist', 'hooks.js');

/**
 * Runs one hook command the way the runner does: creates the response file
 * empty, writes the JSON on stdin, waits, reads the response and deletes it.
 */
export function runHook(l: RunnerLayout, input: { command: string; args: unknown; state: unknown }, opts: { env?: NodeJS.ProcessEnv; entry?: string; onSpawn?(pid: number): void; onStdout?(soFar: string): void; timeoutMs?: number } = {}): Promise<HookRun> {
  const responseFile = join(l.temp, '_runner_hook_responses', `${randomUUID()}.json`);
  mkdirSync(join(l.temp, '_runner_hook_responses'), { recursive: true });
  writeFileSync(responseFile, '');
  const child = spawn(process.execPath, [opts.entry ?? HOOKS_ENTRY], { cwd: l.work, env: { ...cleanEnv(), RUNNER_TEMP: l.temp, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  if (child.pid) opts.onSpawn?.(child.pid);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    opts.onStdout?.(stdout);
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.on('error', () => {});
  child.stdin.end(JSON.stringify({ ...input, responseFile }));
  // A hook that hangs is killed, so that the test can show what it printed.
  const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : null;
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      let response: Record<string, unknown> | null = null;
      if (existsSync(responseFile)) {
        const text = readFileSync(responseFile, 'utf8');
        if (text.trim() !== '') response = JSON.parse(text) as Record<string, unknown>;
        rmSync(responseFile, { force: true });
      }
      resolve({ code, signal, stdout, stderr, response });
    });
  });
}
