import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VmstepError, describeFailure } from '../../src/engine/errors.js';
import type { RunInput } from '../../src/engine/types.js';
import { validateRunInput, type ValidateContext } from '../../src/engine/validate.js';

const GiB = 2 ** 30;
const host: ValidateContext = { style: 'cli', cwd: '/work', hostEnv: { HOME_VAR: 'h' }, hostCpus: 4, hostMemoryBytes: 16 * GiB };

function refusal(input: RunInput, ctx: ValidateContext = host): string {
  try {
    validateRunInput(input, ctx);
  } catch (err) {
    expect(err).toBeInstanceOf(VmstepError);
    return describeFailure(err);
  }
  throw new Error('expected a refusal');
}

describe('validateRunInput', () => {
  it('fills the defaults a user would expect', () => {
    const o = validateRunInput({ image: 'alpine:3.20' }, host);
    expect(o).toMatchObject({
      image: 'alpine:3.20',
      entrypoint: null,
      command: [],
      env: [],
      vcpus: 2,
      memoryMiB: 1024,
      diskBytes: null,
      timeoutMs: 0,
      outputs: [],
      outputDir: '/work/vmstep-output',
      logDir: null,
      kernel: null,
      privileged: false,
      debug: false,
      credentials: null,
    });
  });

  it('types every option', () => {
    const o = validateRunInput(
      { image: 'oci:./img', entrypoint: ['/bin/sh'], command: ['-c', 'ls -la'], env: ['A=1', 'HOME_VAR', 'NOT_ON_HOST'], vcpus: '4', memory: '1.5G', disk: '2G', timeout: '90s', outputs: ['/out/*.json', ' '], outputDir: 'res', workdir: '/src', user: '1000:1000', registryUsername: 'u', registryPassword: 'p' },
      host,
    );
    expect(o).toMatchObject({ entrypoint: ['/bin/sh'], command: ['-c', 'ls -la'], env: ['A=1', 'HOME_VAR=h'], vcpus: 4, memoryMiB: 1536, diskBytes: 2 * GiB, timeoutMs: 90_000, outputs: ['/out/*.json'], outputDir: '/work/res', workdir: '/src', user: '1000:1000', credentials: { username: 'u', password: 'p' } });
  });

  it('applies env files before -e, so -e wins', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmstep-validate-'));
    writeFileSync(join(dir, 'a.env'), 'A=file\nB=file\n');
    const o = validateRunInput({ image: 'x', envFiles: ['a.env'], env: ['A=flag'] }, { ...host, cwd: dir });
    expect(o.env).toEqual(['A=file', 'B=file', 'A=flag']);
  });

  it('rounds memory up to whole MiB and keeps the default within half the host', () => {
    expect(validateRunInput({ image: 'x', memory: '100.5M' }, host).memoryMiB).toBe(101);
    expect(validateRunInput({ image: 'x' }, { ...host, hostMemoryBytes: GiB }).memoryMiB).toBe(512);
  });

  it.each<[string, RunInput, RegExp]>([
    ['no image', { image: '' }, /^no image given \(IMAGE\); usage: vmstep run/],
    ['a malformed reference', { image: 'Not A Ref' }, /Not A Ref/],
    ['a bad memory size', { image: 'x', memory: 'lots' }, /^--memory "lots" is not a size; write a positive number/],
    ['memory in bare bytes', { image: 'x', memory: '512' }, /^--memory 512 B is too small \(a bare number is bytes: did you mean 512M\?\); give at least 32M/],
    ['more memory than the host', { image: 'x', memory: '64G' }, /^--memory 64 GiB is more than this host's 16 GiB of memory/],
    ['zero vCPUs', { image: 'x', vcpus: '0' }, /^--vcpus "0" is not a vCPU count; give a whole number from 1 to 32/],
    ['fractional vCPUs', { image: 'x', vcpus: '1.5' }, /--vcpus "1.5" is not a vCPU count/],
    ['a tiny disk', { image: 'x', disk: '1M' }, /^--disk 1 MiB is too small; give at least 16 MiB/],
    ['a bad timeout', { image: 'x', timeout: 'forever' }, /^--timeout "forever" is not a duration/],
    ['a relative workdir', { image: 'x', workdir: 'src' }, /^--workdir "src" is not an absolute path/],
    ['a user with spaces', { image: 'x', user: 'a b' }, /^--user "a b" is not a user; write NAME, UID/],
    ['a missing kernel', { image: 'x', kernel: '/nonexistent/vmlinux' }, /^--kernel \/nonexistent\/vmlinux cannot be read \(ENOENT\)/],
    ['a password without a user', { image: 'x', registryPassword: 'p' }, /registry credentials are incomplete: registry user name is missing/],
    ['a NUL in the command', { image: 'x', command: ['a\0b'] }, /COMMAND contains a NUL byte/],
    ['a bad env entry', { image: 'x', env: ['=x'] }, /--env: "=x" has no variable name/],
  ])('refuses %s with one line naming the cause and fix', (_what, input, expected) => {
    const line = refusal(input);
    expect(line).toMatch(expected);
    expect(line).not.toContain('\n');
  });

  it('names inputs the way a workflow spells them in the action', () => {
    expect(refusal({ image: 'x', memory: 'lots' }, { ...host, style: 'action' })).toMatch(/^input "memory" "lots" is not a size/);
    expect(refusal({ image: '' }, { ...host, style: 'action' })).toMatch(/set the "image" input/);
    expect(refusal({ image: 'x', registryUsername: 'u' }, { ...host, style: 'action' })).toMatch(/input "registry-password" is missing/);
  });
});
