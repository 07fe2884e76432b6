// @ts-check
// A vitest reporter that appends one line per test file as the file ends
// (its path and its tests passed, failed and skipped) to the file named by
// VMSTEP_TEST_PROGRESS. vitest writes its JSON report only when the whole
// run ends; inside the emulated KVM host these lines say which files had
// ended and which of them failed, so that scripts/test.mjs runs once more
// only the files that failed or had not ended when the emulated host died.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';

export default class FileProgressReporter {
  constructor() {
    this.path = process.env.VMSTEP_TEST_PROGRESS;
  }

  /** @param {import('vitest/node').TestModule} testModule */
  onTestModuleEnd(testModule) {
    if (!this.path) return;
    /** @param {'passed' | 'failed' | 'skipped'} state */
    const count = (state) => [...testModule.children.allTests(state)].length;
    const failed = count('failed');
    const line = {
      file: relative(process.cwd(), testModule.moduleId),
      passed: count('passed'),
      // A file that failed outside its tests (a beforeAll, an import) counts once.
      failed: failed === 0 && testModule.state() === 'failed' ? 1 : failed,
      skipped: count('skipped'),
    };
    appendFileSync(this.path, `${JSON.stringify(line)}\n`);
  }
}

/**
 * The files a progress file says had ended, with their counts; a last line
 * cut short by a crash is left out.
 * @param {string} path
 * @returns {{ file: string, passed: number, failed: number, skipped: number }[]}
 */
export function endedFiles(path) {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).flatMap((l) => {
    try {
      return [JSON.parse(l)];
    } catch {
      return [];
    }
  });
}

/**
 * What a rerun after a crash runs: the tier's files that had not ended.
 * @param {string[]} all @param {{ file: string }[]} ended
 */
export const remainingFiles = (all, ended) => all.filter((f) => !ended.some((e) => e.file === f));

/** @param {{ passed: number, failed: number, skipped: number }[]} rows */
export function sumOf(rows) {
  return rows.reduce((t, r) => ({ passed: t.passed + r.passed, failed: t.failed + r.failed, skipped: t.skipped + r.skipped }), { passed: 0, failed: 0, skipped: 0 });
}
