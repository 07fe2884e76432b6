// The post step after a cancelled job: the VMM left running is stopped, the
// scratch directory removed; nothing else is touched.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runPost } from '../../src/action/post.js';
import { writeStateFile } from '../../src/action/state.js';
import { processStartTicks, releaseResources } from '../../src/engine/leftovers.js';

let dir: string;
let log: string;
let savedEnv: NodeJS.ProcessEnv;

beforeEach(() => {
  savedEnv = { ...process.env };
  dir = mkdtempSync(join(tmpdir(), 'vmstep-post-'));
  log = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    log += chunk.toString();
    return true;
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  process.env = savedEnv;
});

function leftBehind() {
  // Stands in for a VMM whose Node parent was killed: a process nobody waits for.
  const child = spawn('sleep', ['300'], { stdio: 'ignore' });
  const scratchDir = join(dir, 'vmstep-run-abc123');
  mkdirSync(scratchDir);
  writeFileSync(join(scratchDir, 'console.log'), 'booting\n');
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_c, s) => resolve(s)));
  return { pid: child.pid!, scratchDir, exited };
}

describe('the post step', () => {
  it('stops the VMM left by a cancelled run and removes its scratch files', async () => {
    const left = leftBehind();
    const stateFile = join(dir, 'state.json');
    writeStateFile(stateFile, { scratchDir: left.scratchDir, vmmPid: left.pid, vmmStartTicks: processStartTicks(left.pid)! });
    // core.getState('state-file') reads STATE_state-file, as the runner sets it.
    process.env['STATE_state-file'] = stateFile;
    await runPost();
    expect(await left.exited).toBe('SIGKILL');
    expect(existsSync(left.scratchDir)).toBe(false);
    expect(existsSync(stateFile)).toBe(false);
    expect(log).toContain(`vmstep: stopped the VM left by the cancelled run (VMM PID ${left.pid})`);
  });

  it('finds the state file from the step id when the runner passed no state', async () => {
    const left = leftBehind();
    Object.assign(process.env, { RUNNER_TEMP: dir, GITHUB_ACTION: '__owner_vmstep_2' });
    delete process.env['STATE_state-file'];
    writeStateFile(join(dir, 'vmstep-state', '__owner_vmstep_2.json'), { scratchDir: left.scratchDir, vmmPid: left.pid });
    await runPost();
    expect(await left.exited).toBe('SIGKILL');
    expect(existsSync(left.scratchDir)).toBe(false);
  });

  it('does nothing after a run that cleaned up after itself', async () => {
    Object.assign(process.env, { RUNNER_TEMP: dir, GITHUB_ACTION: 'none' });
    await runPost();
    expect(log).not.toContain('::warning::');
  });
});

describe('releaseResources', () => {
  it('never signals a PID that now belongs to another process', async () => {
    const left = leftBehind();
    const r = await releaseResources({ scratchDir: left.scratchDir, vmmPid: left.pid, vmmStartTicks: processStartTicks(left.pid)! + 1 });
    expect(r.killedPid).toBeNull();
    expect(r.skipped).toEqual([`PID ${left.pid} now belongs to another process; not signalled`]);
    expect(processStartTicks(left.pid)).not.toBeNull();
    process.kill(left.pid, 'SIGKILL');
  });

  it('never removes a directory that is not a vmstep scratch directory', async () => {
    const precious = join(dir, 'home');
    mkdirSync(precious);
    const r = await releaseResources({ scratchDir: precious });
    expect(existsSync(precious)).toBe(true);
    expect(r.skipped).toEqual([`${precious} is not a vmstep scratch directory; not removed`]);
  });

  it('is quiet about a VMM that is already gone', async () => {
    const r = await releaseResources({ scratchDir: join(dir, 'vmstep-run-gone'), vmmPid: 2 ** 22 + 17 });
    expect(r).toEqual({ killedPid: null, removedDir: null, skipped: [] });
  });
});
