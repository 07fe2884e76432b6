// What to run, resolved on the host with Docker's semantics: ENTRYPOINT, CMD
// and their overrides; Env and its overrides; working directory and user.
import { describe, expect, test } from 'vitest';
import { DEFAULT_PATH, mergeEnv, resolveArgv, resolveUser, resolveWorkdir, runSpecFromImage } from '../../src/session/command.js';

describe('resolveArgv', () => {
  const image = { Entrypoint: ['/entry', '--flag'], Cmd: ['default', 'args'] };

  test('ENTRYPOINT followed by CMD', () => {
    expect(resolveArgv(image)).toEqual(['/entry', '--flag', 'default', 'args']);
  });

  test('arguments replace CMD and keep ENTRYPOINT', () => {
    expect(resolveArgv(image, { cmd: ['mine'] })).toEqual(['/entry', '--flag', 'mine']);
  });

  test('an empty argument list means none were given', () => {
    expect(resolveArgv(image, { cmd: [] })).toEqual(['/entry', '--flag', 'default', 'args']);
  });

  test('an entrypoint override drops the image CMD', () => {
    expect(resolveArgv(image, { entrypoint: ['/other'] })).toEqual(['/other']);
    expect(resolveArgv(image, { entrypoint: ['/other'], cmd: ['x'] })).toEqual(['/other', 'x']);
  });

  test('a cleared entrypoint runs the given command alone', () => {
    expect(resolveArgv(image, { entrypoint: [], cmd: ['/bin/sh', '-c', 'true'] })).toEqual(['/bin/sh', '-c', 'true']);
  });

  test('CMD alone, as most images have it (shell form already wrapped by the builder)', () => {
    expect(resolveArgv({ Cmd: ['/bin/sh', '-c', 'echo hi'] })).toEqual(['/bin/sh', '-c', 'echo hi']);
    expect(resolveArgv({ Entrypoint: null, Cmd: ['x'] }, { cmd: ['y'] })).toEqual(['y']);
  });

  test('nothing to run is an error that says what to do', () => {
    expect(() => resolveArgv({})).toThrow('no command to run: the image has neither ENTRYPOINT nor CMD; give a command');
    expect(() => resolveArgv(image, { entrypoint: [] })).toThrow('no command to run: the entrypoint was cleared and no command was given');
  });
});

describe('mergeEnv', () => {
  test('image Env first, overrides replace in place, new names appended in order', () => {
    expect(mergeEnv(['A=1', 'PATH=/img/bin', 'B=2'], { B: 'over', C: '3', A: 'x=y' })).toEqual(['A=x=y', 'PATH=/img/bin', 'B=over', 'C=3']);
  });

  test('overrides may be NAME=value strings', () => {
    expect(mergeEnv(['A=1'], ['A=2', 'E='])).toEqual(['A=2', `E=`, `PATH=${DEFAULT_PATH}`]);
  });

  test("PATH defaults to Docker's, HOSTNAME to the hostname", () => {
    expect(mergeEnv([], {}, { hostname: 'box' })).toEqual([`PATH=${DEFAULT_PATH}`, 'HOSTNAME=box']);
    expect(mergeEnv(['HOSTNAME=kept'], {}, { hostname: 'box' })).toEqual(['HOSTNAME=kept', `PATH=${DEFAULT_PATH}`]);
  });

  test('malformed entries are errors, not silently dropped', () => {
    expect(() => mergeEnv([], ['NOVALUE'])).toThrow(`the environment variable "NOVALUE" has no '=': write NAME=value`);
    expect(() => mergeEnv([], { '': 'x' })).toThrow(/not a valid NAME=value/);
    expect(() => mergeEnv(['=x'])).toThrow(/not a valid NAME=value/);
  });
});

describe('working directory and user', () => {
  test('the override wins, then the image, then the default', () => {
    expect(resolveWorkdir({ WorkingDir: '/app' })).toBe('/app');
    expect(resolveWorkdir({ WorkingDir: '/app' }, '/over')).toBe('/over');
    expect(resolveWorkdir({})).toBe('/');
    expect(resolveUser({ User: 'app' })).toBe('app');
    expect(resolveUser({ User: 'app' }, '0')).toBe('0');
    expect(resolveUser({})).toBe('');
  });

  test('a relative working directory is refused, as Docker does', () => {
    expect(() => resolveWorkdir({}, 'rel')).toThrow("the working directory 'rel' is invalid: it needs to be an absolute path");
  });
});

test('runSpecFromImage puts it together', () => {
  expect(
    runSpecFromImage(
      { Entrypoint: ['/e'], Cmd: ['c'], Env: ['A=1'], WorkingDir: '/w', User: 'u' },
      { env: { B: '2' }, outputs: ['r.json'], maxFiles: 9, privileged: true },
    ),
  ).toEqual({
    argv: ['/e', 'c'],
    env: ['A=1', 'B=2', `PATH=${DEFAULT_PATH}`, 'HOSTNAME=vmstep'],
    workdir: '/w',
    user: 'u',
    hostname: 'vmstep',
    outputs: ['r.json'],
    maxFiles: 9,
    privileged: true,
  });
});
