// Guest init's run-spec parser on its own, built for this host with strdup
// wrapped so that one chosen copy fails: memory running out while the
// defaults are filled in is an error for the host, never a crash in PID 1.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/artifacts.js';

const work = mkdtempSync(join(tmpdir(), 'vmstep-spec-'));
const binary = join(work, 'spec-oom');
afterAll(() => rmSync(work, { recursive: true, force: true }));

beforeAll(() => {
  const src = join(repoRoot, 'guest', 'src');
  execFileSync('gcc', ['-std=gnu11', '-D_GNU_SOURCE', '-O1', '-Wall', '-Dstrdup=test_strdup', '-o', binary, join(repoRoot, 'guest', 'test', 'spec-oom.c'), join(src, 'spec.c'), join(src, 'frame.c')]);
});

const parse = (failCopyOf?: string) => execFileSync(binary, failCopyOf === undefined ? [] : [failCopyOf], { encoding: 'utf8' }).trim();

describe('spec_parse filling in defaults', () => {
  it('makes the working directory / when the spec names none', () => {
    expect(parse()).toBe('0 /');
  });

  it.each(['/', '', 'vmstep'])('answers "out of memory" when copying the default %j fails', (value) => {
    expect(parse(value)).toBe('-1 malformed run spec: out of memory (field 0)');
  });
});
