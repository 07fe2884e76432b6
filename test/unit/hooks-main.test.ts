// The hook process's contract with the runner before any VM is involved:
// bad input, unknown commands, jobs it cannot run. Each ends in one line on
// stderr and a non-zero exit, and leaves the response file as it was.
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { hookMain } from '../../src/hooks/main.js';
import { writeResponseFile } from '../../src/hooks/response.js';
import type { HookVms } from '../../src/hooks/vms.js';
import { containerStepArgs, jobContainerArgs, makeRunnerLayout, runHook } from '../helpers/runner-hooks.js';
import { Capture } from '../helpers/capture.js';

const noVms = (): HookVms => {
  throw new Error('the hook reached for a VM on input it should have refused');
};

async function hook(stdin: string, env: NodeJS.ProcessEnv = {}) {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await hookMain({ stdin: Readable.from([Buffer.from(stdin)]), stdout, stderr, env: { VMSTEP_STATE_DIR: mkdtempSync(join(tmpdir(), 'vmstep-hooks-state-')), ...env } }, noVms);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

describe('the hook process', () => {
  it('exits non-zero with one line for malformed JSON and an unknown command', async () => {
    const bad = await hook('{"command":"prepare_job",');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/^vmstep hooks: error: stdin is not valid JSON \(.*\); the runner writes one JSON object to the hook's stdin; check the replayed input\n$/);
    const unknown = await hook(JSON.stringify({ command: 'run_job', responseFile: '/r', args: {}, state: null }));
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr.split('\n')).toHaveLength(2);
    expect(unknown.stderr).toContain('not a command this hook knows; the commands are prepare_job, run_script_step, run_container_step, cleanup_job');
  });

  it('refuses a service with a UDP port in one line, before starting anything', async () => {
    const l = makeRunnerLayout(mkdtempSync(join(tmpdir(), 'vmstep-hooks-runner-')));
    const responseFile = join(l.temp, '_runner_hook_responses', 'r.json');
    writeFileSync(responseFile, '');
    const r = await hook(JSON.stringify({ command: 'prepare_job', responseFile, args: { container: jobContainerArgs(l, 'debian:12'), services: [{ contextName: 'redis', image: 'redis', entryPointArgs: [], environmentVariables: {}, userMountVolumes: [], portMappings: ['5353:53/udp'], registry: null }] }, state: null }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toBe('vmstep hooks: error: service redis: the port mapping "5353:53/udp" is UDP; only TCP is carried into microVMs; drop the UDP port from the service\'s ports:\n');
    expect(readFileSync(responseFile, 'utf8')).toBe('');
  });

  it('refuses a job without a container, saying how to make the runner require one', async () => {
    const r = await hook(JSON.stringify({ command: 'prepare_job', responseFile: '/r.json', args: { container: null, services: [] }, state: null }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/the job has no container.*ACTIONS_RUNNER_REQUIRE_JOB_CONTAINER=true/);
  });

  it('refuses a container action built from a Dockerfile in one line', async () => {
    const l = makeRunnerLayout(mkdtempSync(join(tmpdir(), 'vmstep-hooks-runner-')));
    const r = await hook(JSON.stringify({ command: 'run_container_step', responseFile: '/r.json', args: containerStepArgs(l, null as unknown as string, { dockerfile: `${l.actions}/o/a/v1/Dockerfile` }), state: { vmstep: { job: 'a'.repeat(16), vm: 'b'.repeat(12) } } }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^vmstep hooks: error: the action builds its image from a Dockerfile \(.*Dockerfile\), and the vmstep hooks cannot build images; use an action that publishes its image/);
  });

  it('refuses a step that comes without the state prepare_job wrote', async () => {
    const r = await hook(JSON.stringify({ command: 'run_script_step', responseFile: '/r.json', args: { entryPoint: 'bash', entryPointArgs: [], workingDirectory: '/__w/r/r' }, state: null }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/run_script_step came without the state prepare_job wrote; prepare_job did not run or failed/);
  });
});

describe('the response file', () => {
  it('holds one JSON object the runner reads: state, context with the container id and an empty services list, isAlpine', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmstep-hooks-response-'));
    const file = join(dir, 'r.json');
    writeFileSync(file, '');
    const state = { vmstep: { job: 'a'.repeat(16), vm: 'b'.repeat(12) } };
    await writeResponseFile(file, { state, context: { container: { id: 'b'.repeat(12), ports: {} }, services: [] }, isAlpine: false });
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ state, context: { container: { id: 'bbbbbbbbbbbb', ports: {} }, services: [] }, isAlpine: false });
  });

  it('is never created by the hook nor written through a link', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmstep-hooks-response-'));
    const state = { vmstep: { job: 'a'.repeat(16), vm: 'b'.repeat(12) } };
    await expect(writeResponseFile(join(dir, 'missing.json'), { state })).rejects.toThrow(/^the response file .*missing.json does not exist$/);
    writeFileSync(join(dir, 'target'), 'keep');
    symlinkSync(join(dir, 'target'), join(dir, 'link.json'));
    await expect(writeResponseFile(join(dir, 'link.json'), { state })).rejects.toThrow(/is not a regular file/);
    expect(readFileSync(join(dir, 'target'), 'utf8')).toBe('keep');
  });
});

describe('dist/hooks.js run as the runner runs it', () => {
  it('reads the JSON on stdin and answers bad input with one line and a non-zero exit, leaving the response file empty', async () => {
    const l = makeRunnerLayout(mkdtempSync(join(tmpdir(), 'vmstep-hooks-runner-')));
    const r = await runHook(l, { command: 'resume_job', args: {}, state: null }, { env: { VMSTEP_STATE_DIR: mkdtempSync(join(tmpdir(), 'vmstep-hooks-state-')) } });
    expect(r.code).toBe(125);
    expect(r.stderr).toBe('vmstep hooks: error: input.command is the string "resume_job", not a command this hook knows; the commands are prepare_job, run_script_step, run_container_step, cleanup_job\n');
    expect(r.response).toBeNull();
  });
});
