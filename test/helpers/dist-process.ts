// Runs the built entries (dist/cli.js, dist/index.js, dist/post.js) as
// separate processes, the way a shell or a GitHub runner starts them, and
// records what they print with the time each chunk arrived (to check that
// output streams live, in order). For the action it also makes the files and
// variables a runner provides: INPUT_* for every input of action.yml (with
// its default, as the runner does), GITHUB_OUTPUT, GITHUB_STATE,
// GITHUB_ENV, GITHUB_PATH, GITHUB_STEP_SUMMARY, RUNNER_TEMP and the
// workspace; and it passes the saved state on to the post step as STATE_*.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './artifacts.js';

export interface Chunk {
  stream: 'stdout' | 'stderr';
  /** performance.now() when it arrived. */
  at: number;
  text: string;
}

export interface DistResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  chunks: Chunk[];
  /** performance.now() when the process ended. */
  endedAt: number;
}

export interface DistProcess {
  child: ChildProcess;
  chunks: Chunk[];
  done: Promise<DistResult>;
  /** Resolves when `stream` has printed text matching `re` (rejects if the process ends first). */
  waitFor(stream: 'stdout' | 'stderr', re: RegExp): Promise<void>;
}

/** The environment of this test process without anything a runner or a developer set for vmstep or a workflow. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(INPUT_|STATE_|GITHUB_|ACTIONS_|RUNNER_|VMSTEP_)/.test(k)) continue;
    env[k] = v;
  }
  return env;
}

export function startDist(entry: 'cli.js' | 'index.js' | 'post.js', args: string[], opts: { env: NodeJS.ProcessEnv; cwd?: string; uid?: number; gid?: number }): DistProcess {
  const child = spawn(process.execPath, [join(repoRoot, 'dist', entry), ...args], {
    env: opts.env,
    cwd: opts.cwd ?? repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid ?? opts.uid } : {}),
  });
  const chunks: Chunk[] = [];
  const text = { stdout: '', stderr: '' };
  const waiters: { stream: 'stdout' | 'stderr'; re: RegExp; resolve(): void }[] = [];
  for (const stream of ['stdout', 'stderr'] as const) {
    child[stream]!.on('data', (data: Buffer) => {
      const t = data.toString('utf8');
      chunks.push({ stream, at: performance.now(), text: t });
      text[stream] += t;
      for (const w of waiters.filter((x) => x.stream === stream && x.re.test(text[stream]))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    });
  }
  const done = new Promise<DistResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout: text.stdout, stderr: text.stderr, chunks, endedAt: performance.now() }));
  });
  return {
    child,
    chunks,
    done,
    waitFor(stream, re) {
      if (re.test(text[stream])) return Promise.resolve();
      return Promise.race([
        new Promise<void>((resolve) => waiters.push({ stream, re, resolve })),
        done.then((r) => {
          throw new Error(`dist/${entry} ended (${r.code ?? r.signal}) before its ${stream} matched ${re}:\n${r.stdout}\n${r.stderr}`);
        }),
      ]);
    },
  };
}

/** When the line `line` (whole, without its newline) first arrived on `stream`; throws when it never did. */
export function lineArrivedAt(r: { chunks: Chunk[] }, stream: Chunk['stream'], line: string): number {
  let text = '';
  for (const c of r.chunks) {
    if (c.stream !== stream) continue;
    text += c.text;
    if (`\n${text}`.includes(`\n${line}\n`)) return c.at;
  }
  throw new Error(`the line ${JSON.stringify(line)} never arrived on ${stream}`);
}

/**
 * The workflow commands (::name::message) a runner would act on in a step
 * log: lines between `::stop-commands::TOKEN` and `::TOKEN::` are plain text.
 */
export function workflowCommands(log: string): string[] {
  const acted: string[] = [];
  let stopToken: string | null = null;
  for (const line of log.split('\n')) {
    if (stopToken !== null) {
      if (line === `::${stopToken}::`) stopToken = null;
      continue;
    }
    const stop = /^::stop-commands::(.+)$/.exec(line);
    if (stop) stopToken = stop[1]!;
    else if (line.startsWith('::')) acted.push(line);
  }
  return acted;
}

export function runDist(entry: 'cli.js' | 'index.js' | 'post.js', args: string[], opts: { env: NodeJS.ProcessEnv; cwd?: string; uid?: number; gid?: number }): Promise<DistResult> {
  return startDist(entry, args, opts).done;
}

/**
 * A temporary directory any user can enter and write, for runs as another
 * user: the OS temp dir may sit below one only root can enter (inside the
 * emulated KVM host it does), /dev/shm is a world-writable tmpfs.
 */
export function tempDirForAnyone(prefix: string): string {
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), prefix));
  chmodSync(dir, 0o777);
  return dir;
}

/** The inputs action.yml declares, with their defaults. */
export function actionInputDefaults(): Record<string, string> {
  const yml = readFileSync(join(repoRoot, 'action.yml'), 'utf8');
  const section = yml.split(/^inputs:\n/m)[1]!.split(/^\S/m)[0]!;
  const defaults: Record<string, string> = {};
  let name: string | null = null;
  for (const line of section.split('\n')) {
    const key = /^ {2}([\w-]+):/.exec(line);
    if (key) {
      name = key[1]!;
      defaults[name] = '';
      continue;
    }
    const def = /^ {4}default:\s*(.*)$/.exec(line);
    if (def && name) defaults[name] = def[1]!.replace(/^'(.*)'$/, '$1').replace(/^"(.*)"$/, '$1');
  }
  return defaults;
}

/** Parses the `name<<DELIMITER` records that @actions/core writes to GITHUB_OUTPUT and GITHUB_STATE. */
export function readCommandFile(path: string): Record<string, string> {
  const text = readFileSync(path, 'utf8');
  const out: Record<string, string> = {};
  const re = /^([^\n<]+)<<(\S+)\n([\s\S]*?)\n?\2\n/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) out[m[1]!] = m[3]!;
  return out;
}

export interface RunnerStep {
  env: NodeJS.ProcessEnv;
  outputFile: string;
  stateFile: string;
  summaryFile: string;
  runnerTemp: string;
  workspace: string;
  /** Step outputs written so far. */
  outputs(): Record<string, string>;
  summary(): string;
  /** The environment the runner gives the post step: the same, plus the saved state as STATE_*. */
  postEnv(): NodeJS.ProcessEnv;
}

/** A step of a job under `dir`, as a runner sets it up for `uses: vmstep@...` with these inputs. */
export function runnerStep(dir: string, inputs: Record<string, string>, extraEnv: NodeJS.ProcessEnv = {}): RunnerStep {
  const runnerTemp = join(dir, 'runner-temp');
  const workspace = join(dir, 'workspace');
  const files = join(dir, 'files');
  for (const d of [runnerTemp, workspace, files]) mkdirSync(d, { recursive: true });
  const outputFile = join(files, 'output');
  const stateFile = join(files, 'state');
  const summaryFile = join(files, 'summary');
  for (const f of [outputFile, stateFile, summaryFile, join(files, 'env'), join(files, 'path')]) writeFileSync(f, '');
  const env: NodeJS.ProcessEnv = { ...cleanEnv() };
  for (const [name, value] of Object.entries({ ...actionInputDefaults(), ...inputs })) env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value;
  Object.assign(env, {
    GITHUB_ACTIONS: 'true',
    CI: 'true',
    GITHUB_ACTION: 'vmstep-e2e',
    GITHUB_WORKSPACE: workspace,
    GITHUB_OUTPUT: outputFile,
    GITHUB_STATE: stateFile,
    GITHUB_ENV: join(files, 'env'),
    GITHUB_PATH: join(files, 'path'),
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_REPOSITORY: 'owner/repo',
    GITHUB_RUN_ID: '1',
    RUNNER_TEMP: runnerTemp,
    RUNNER_OS: 'Linux',
    ...extraEnv,
  });
  return {
    env,
    outputFile,
    stateFile,
    summaryFile,
    runnerTemp,
    workspace,
    outputs: () => readCommandFile(outputFile),
    summary: () => readFileSync(summaryFile, 'utf8'),
    postEnv: () => {
      const post = { ...env };
      for (const [k, v] of Object.entries(readCommandFile(stateFile))) post[`STATE_${k}`] = v;
      return post;
    },
  };
}
