// The action run inside the test process, as a runner would start it: the
// runner's files (GITHUB_OUTPUT, GITHUB_STATE, GITHUB_STEP_SUMMARY) and
// variables (GITHUB_WORKSPACE, RUNNER_TEMP) set in process.env, no variable a
// developer's shell or an earlier test left behind, and the step log
// (stdout and stderr) captured. For the built entries run as processes, see
// runnerStep in dist-process.ts.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { vi } from 'vitest';
import { readCommandFile } from './dist-process.js';

export interface InProcessStep {
  /** The step's own directory: workspace, with output, state and temp/ in it. */
  dir: string;
  /** What the step printed so far, stdout and stderr interleaved. */
  readonly log: string;
  /** Step outputs written so far. */
  outputs(): Record<string, string>;
  summary(): string;
  /** Puts process.env, the streams and the exit code back; call in afterEach. */
  restore(): void;
}

/**
 * Sets up a step below `parent`. `summaryFile` is one file for the whole test
 * file, emptied here: @actions/core keeps the summary path it first wrote to.
 */
export function inProcessStep(parent: string, summaryFile: string, env: Record<string, string> = {}): InProcessStep {
  const saved = { ...process.env };
  const dir = mkdtempSync(join(parent, 'step-'));
  mkdirSync(join(dir, 'temp'));
  for (const f of ['output', 'state']) writeFileSync(join(dir, f), '');
  writeFileSync(summaryFile, '');
  for (const k of Object.keys(process.env)) if (/^(INPUT_|STATE_|ACTIONS_|GITHUB_|RUNNER_)/.test(k)) delete process.env[k];
  Object.assign(process.env, {
    GITHUB_OUTPUT: join(dir, 'output'),
    GITHUB_STATE: join(dir, 'state'),
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_WORKSPACE: dir,
    RUNNER_TEMP: join(dir, 'temp'),
    ...env,
  });
  let log = '';
  for (const stream of [process.stdout, process.stderr]) {
    vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
      log += chunk.toString();
      return true;
    });
  }
  return {
    dir,
    get log() {
      return log;
    },
    outputs: () => readCommandFile(join(dir, 'output')),
    summary: () => readFileSync(summaryFile, 'utf8'),
    restore: () => {
      vi.restoreAllMocks();
      process.env = saved;
      process.exitCode = undefined;
    },
  };
}
