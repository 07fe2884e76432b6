// action.yml, the code and the README agree: every input declared is read,
// every output declared is set, and the README documents them all.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readActionInputs } from '../../src/action/inputs.js';

const root = join(import.meta.dirname, '..', '..');
const yml = readFileSync(join(root, 'action.yml'), 'utf8');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** The keys of a top-level mapping in action.yml (two-space indented names). */
function keysOf(section: string): string[] {
  const body = yml.split(new RegExp(`^${section}:\\n`, 'm'))[1]!.split(/^\S/m)[0]!;
  return [...body.matchAll(/^ {2}([\w-]+):/gm)].map((m) => m[1]!);
}

const inputs = keysOf('inputs');
const outputs = keysOf('outputs');

describe('action.yml', () => {
  it('runs on node24 with a post step that always runs', () => {
    expect(yml).toMatch(/^runs:\n {2}using: node24\n {2}main: dist\/index\.js\n {2}post: dist\/post\.js\n {2}post-if: always\(\)\n/m);
  });

  it('holds no " #" in a plain scalar, where YAML would start a comment', () => {
    for (const line of yml.split('\n')) expect(line.replace(/^\s*#.*/, '')).not.toMatch(/ #/);
  });

  it('declares the inputs of a run, each with a description', () => {
    for (const name of ['image', 'run', 'entrypoint', 'args', 'env', 'workdir', 'user', 'vcpus', 'memory', 'disk', 'timeout', 'outputs', 'artifact-name', 'allow-failure', 'registry-username', 'registry-password', 'kernel', 'privileged']) {
      expect(inputs).toContain(name);
    }
    expect(yml.match(/^ {4}description:/gm)).toHaveLength(inputs.length + outputs.length);
  });

  it('has every declared input read by the action', () => {
    const read = new Set<string>();
    readActionInputs((name) => {
      read.add(name);
      return name === 'image' ? 'img' : '';
    });
    expect([...read].sort()).toEqual([...inputs].sort());
  });

  it('declares the outputs of a run', () => {
    for (const name of ['exit-code', 'timed-out', 'stdout', 'stderr', 'stdout-file', 'stderr-file', 'output-dir', 'result', 'duration-ms', 'boot-ms', 'image-digest']) {
      expect(outputs).toContain(name);
    }
    // The one-run step (main.ts) and benchmark mode (bench.ts) set them.
    const code = ['main.ts', 'bench.ts'].map((f) => readFileSync(join(root, 'src', 'action', f), 'utf8')).join('\n');
    const set = new Set([...code.matchAll(/core\.setOutput\('([\w-]+)'/g)].map((m) => m[1]!));
    expect([...set].sort()).toEqual([...outputs].sort());
  });

  it('is documented in the README, every input and output', () => {
    for (const name of inputs) expect(readme).toMatch(new RegExp(`\\| \`${name}\`( \\(required\\))? \\|`));
    for (const name of outputs) expect(readme).toMatch(new RegExp(`\\| (\`[\\w-]+\`, )?\`${name}\`( |,)`));
  });
});
