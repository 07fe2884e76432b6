// The reporter npm test uses to resume a tier after the emulated KVM host
// dies: a real vitest run records each file as it ends, a run killed in the
// middle leaves the files that ended (and no half line), and the rerun is
// the rest.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { endedFiles, remainingFiles, sumOf } from '../../scripts/lib/file-progress.mjs';

const dir = mkdtempSync(join(tmpdir(), 'vmstep-file-progress-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const files: Record<string, string> = {
  'a.test.ts': "import { expect, test } from 'vitest';\ntest('one', () => expect(1).toBe(1));\ntest('two', () => expect(1).toBe(2));\ntest.skip('three', () => {});\n",
  'b.test.ts': "import { beforeAll, test } from 'vitest';\nbeforeAll(() => { throw new Error('set-up failed'); });\ntest('never', () => {});\n",
  // Stands in for the emulated host dying: the whole test run ends at once, with no report.
  'c.test.ts': "import { test } from 'vitest';\ntest('dies', () => { process.kill(process.pid, 'SIGKILL'); });\n",
  'd.test.ts': "import { expect, test } from 'vitest';\ntest('after', () => expect(1).toBe(1));\n",
};
for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
// One file at a time, in name order (vitest's own order depends on sizes and earlier runs).
writeFileSync(
  join(dir, 'vitest.config.mjs'),
  `class ByName { async shard(specs) { return specs; } async sort(specs) { return [...specs].sort((x, y) => x.moduleId.localeCompare(y.moduleId)); } }
export default { test: { include: ['*.test.ts'], pool: 'threads', fileParallelism: false, sequence: { sequencer: ByName } } };
`,
);

describe('file progress', () => {
  it('records each file as it ends, and a killed run leaves the rest for the rerun', () => {
    const progress = join(dir, 'progress.jsonl');
    const reporter = join(process.cwd(), 'scripts', 'lib', 'file-progress.mjs');
    const vitest = join(process.cwd(), 'node_modules', '.bin', 'vitest');
    const r = spawnSync(vitest, ['run', '--root', dir, '--reporter=dot', `--reporter=${reporter}`, 'a.test.ts', 'b.test.ts', 'c.test.ts', 'd.test.ts'], {
      cwd: dir,
      env: { ...process.env, VMSTEP_TEST_PROGRESS: progress },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.signal ?? r.status, r.stderr).not.toBe(0);
    // Files run in name order, one at a time: a and b ended, c killed the run, d never ran.
    const ended = endedFiles(progress);
    expect(ended).toEqual([
      { file: 'a.test.ts', passed: 1, failed: 1, skipped: 1 },
      { file: 'b.test.ts', passed: 0, failed: 1, skipped: 1 },
    ]);
    expect(remainingFiles(Object.keys(files), ended)).toEqual(['c.test.ts', 'd.test.ts']);
    expect(sumOf(ended)).toEqual({ passed: 1, failed: 2, skipped: 2 });
    // A line cut short by the crash is not a file that ended.
    writeFileSync(progress, `${JSON.stringify(ended[0])}\n{"file":"b.te`);
    expect(endedFiles(progress).map((e) => e.file)).toEqual(['a.test.ts']);
    expect(endedFiles(join(dir, 'absent.jsonl'))).toEqual([]);
  }, 90_000);
});
