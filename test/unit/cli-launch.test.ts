// The built `vmstep` command started every way a user starts it: the link
// npm puts in node_modules/.bin, the file itself, `npx`, and node with the
// script. Node reads --env-file among all of its own arguments, those after
// the script included, unless a `--` comes first: these check that every
// option still reaches vmstep.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/artifacts.js';
import { cleanEnv } from '../helpers/dist-process.js';

/** A project directory with vmstep installed as npm installs a package's bin: node_modules/.bin/vmstep -> ../vmstep/dist/cli.js. */
function projectWithVmstep(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vmstep-launch-'));
  mkdirSync(join(dir, 'node_modules', '.bin'), { recursive: true });
  symlinkSync(repoRoot, join(dir, 'node_modules', 'vmstep'));
  symlinkSync(join('..', 'vmstep', 'dist', 'cli.js'), join(dir, 'node_modules', '.bin', 'vmstep'));
  writeFileSync(join(dir, 'package.json'), '{ "name": "user-project", "private": true }\n');
  return dir;
}

const vmstepArgs = ['run', '--env-file', 'missing.env', 'oci:./image'];
/** vmstep's own answer to a missing env file (Node's is "node: missing.env: not found" and exit 9). */
const vmstepSaw = /^vmstep: error: cannot read env file .*missing\.env/m;

describe('the vmstep command hands --env-file to vmstep', () => {
  const dir = projectWithVmstep();
  const cli = join(repoRoot, 'dist', 'cli.js');
  const env = { ...cleanEnv(), PATH: `${join(dir, 'node_modules', '.bin')}:${process.env.PATH}` };
  const launch = (cmd: string, args: string[]) => spawnSync(cmd, args, { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });

  it.each<[string, string, string[]]>([
    ['the bin link npm installs (node_modules/.bin/vmstep)', join(dir, 'node_modules', '.bin', 'vmstep'), vmstepArgs],
    ['the bin link found on PATH, as npm scripts run it', 'vmstep', vmstepArgs],
    ['dist/cli.js run as a program', cli, vmstepArgs],
    ['node -- dist/cli.js', process.execPath, ['--', cli, ...vmstepArgs]],
    ['npx -- vmstep', 'npx', ['--offline', '--', 'vmstep', ...vmstepArgs]],
  ])('through %s', (_how, cmd, args) => {
    const r = launch(cmd, args);
    expect(r.stderr).toMatch(vmstepSaw);
    expect(r.stderr).not.toMatch(/^node: /m);
    expect(r.status).toBe(125);
  });

  it('passes the options after the image to the command, even one named --env-file', () => {
    const r = launch(join(dir, 'node_modules', '.bin', 'vmstep'), ['run', '--kernel', 'missing-kernel', 'oci:./image', 'cat', '--env-file', 'x']);
    expect(r.stderr).not.toMatch(/^node: /m);
    expect(r.status).toBe(125);
  });
});
