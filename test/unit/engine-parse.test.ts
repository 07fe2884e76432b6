import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseEnvLines, readEnvFile } from '../../src/engine/env.js';
import { VmstepError, describeFailure } from '../../src/engine/errors.js';
import { formatBytes, formatMs, parseDuration, parseSize } from '../../src/engine/units.js';

const MiB = 2 ** 20;

function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(VmstepError);
    return describeFailure(err);
  }
  throw new Error('expected a failure');
}

describe('parseSize', () => {
  it.each([
    ['512M', 512 * MiB],
    ['512m', 512 * MiB],
    ['512MB', 512 * MiB],
    ['512MiB', 512 * MiB],
    ['2G', 2 * 1024 * MiB],
    ['1.5GiB', 1536 * MiB],
    ['64k', 64 * 1024],
    ['1T', 2 ** 40],
    ['1048576', MiB],
    [' 8 G ', 8 * 1024 * MiB],
  ])('reads %s as %d bytes', (text, bytes) => {
    expect(parseSize(text, '--memory')).toBe(bytes);
  });

  it.each(['', 'G', '12X', '-1G', '0', '1.2.3G', '2 GB extra', 'Infinity'])('refuses "%s" naming the option and the fix', (text) => {
    const line = failure(() => parseSize(text, '--memory'));
    expect(line).toContain('--memory');
    expect(line).toMatch(/512M, 2G/);
  });
});

describe('parseDuration', () => {
  it.each([
    ['30', 30_000],
    ['1.5', 1500],
    ['500ms', 500],
    ['90s', 90_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['0', 0],
  ])('reads %s as %d ms', (text, ms) => {
    expect(parseDuration(text, '--timeout')).toBe(ms);
  });

  it.each(['', 'soon', '5x', '-3', '1h 30m', 'm5'])('refuses "%s"', (text) => {
    expect(failure(() => parseDuration(text, '--timeout'))).toMatch(/--timeout ".*" is not a duration; write seconds/);
  });
});

describe('env files', () => {
  it('reads NAME=value lines literally, skips comments and blanks, passes bare names from the host', () => {
    const text = '# comment\n\nA=1\n  B="quoted stays"\nC=x=y\nFROM_HOST\nUNSET_ON_HOST\nEMPTY=\n';
    expect(parseEnvLines(text, 'f', { FROM_HOST: 'h' })).toEqual(['A=1', 'B="quoted stays"', 'C=x=y', 'FROM_HOST=h', 'EMPTY=']);
  });

  it('names the file and line of a bad entry', () => {
    expect(failure(() => parseEnvLines('A=1\nBAD NAME=2\n', '/x/.env', {}))).toBe('/x/.env line 2: variable name "BAD NAME" contains whitespace; write NAME=value with no spaces around the name');
    expect(failure(() => parseEnvLines('=v', 'e', {}))).toMatch(/line 1: "=v" has no variable name/);
  });

  it('reads a file and says when it cannot', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmstep-env-'));
    writeFileSync(join(dir, 'ok.env'), 'X=1\r\nY=2\r\n');
    expect(readEnvFile(join(dir, 'ok.env'), {})).toEqual(['X=1', 'Y=2']);
    expect(failure(() => readEnvFile(join(dir, 'missing.env'), {}))).toMatch(/cannot read env file .*missing\.env \(ENOENT\); check the path/);
  });
});

describe('formatting for people', () => {
  it('formats bytes and durations', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(1024 * MiB)).toBe('1 GiB');
    expect(formatMs(87.4)).toBe('87 ms');
    expect(formatMs(1234)).toBe('1.23 s');
    expect(formatMs(125_000)).toBe('2 min 5 s');
    expect(formatMs(25_000)).toBe('25 s');
    expect(formatMs(1_500)).toBe('1.5 s');
    expect(formatMs(300_000)).toBe('5 min');
  });
});

describe('VmstepError', () => {
  it('is one line: the cause, then the fix', () => {
    expect(new VmstepError('permission denied on /dev/kvm.\n', 'add the user to the kvm group').oneLine()).toBe('permission denied on /dev/kvm; add the user to the kvm group');
    expect(describeFailure(new Error('boom\nsecond line'))).toBe('boom second line');
  });

  it('names the path and where else to write when a file system refuses a write', () => {
    const err = Object.assign(new Error("EACCES: permission denied, mkdtemp '/tmp/x/vmstep-run-XXXXXX'"), { code: 'EACCES', syscall: 'mkdtemp', path: '/tmp/x/vmstep-run-XXXXXX' });
    expect(describeFailure(err)).toBe(
      'permission denied: mkdtemp /tmp/x/vmstep-run-XXXXXX; give this user write access to it, or point vmstep elsewhere: TMPDIR for scratch files, VMSTEP_CACHE for the cache, --output-dir (CLI) for returned files',
    );
    const stat = Object.assign(new Error("EACCES: permission denied, stat '/home/u/img'"), { code: 'EACCES', syscall: 'stat', path: '/home/u/img' });
    expect(describeFailure(stat)).toBe('permission denied: stat /home/u/img; give this user access to it and to the directories above it');
  });
});
