// @ts-check
// A vitest reporter that appends one line per test file as the file ends
// (its path and its tests passed, failed and skipped) to the file named by
// VMSTEP_TEST_PROGRESS. vitest writes its JSON report only when the whole
// run ends; when the emulated KVM host dies mid-tier, these lines say which
// files had ended, so scripts/test.mjs reruns only the others.
import { appendFileSync } from 'node:fs';
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
