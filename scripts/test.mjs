// @ts-check
// npm test: set up from nothing (Debian packages, npm packages, every build,
// all cached), then run the three test tiers:
//   unit  no KVM
//   kvm   tiny freestanding guests on this host's /dev/kvm (or, where there is
//         none, inside the emulated KVM host)
//   e2e   the real guest kernel: here when this host's KVM runs stock kernels,
//         otherwise inside the emulated KVM host (scripts/kvm-host.mjs)
// Extra arguments go to every vitest run (for example a file filter).
// VMSTEP_E2E=direct|kvm-host forces where the e2e tier runs.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './lib/cache.mjs';
import { endedFiles, remainingFiles, sumOf } from './lib/file-progress.mjs';
import { probeHostKvm } from './lib/kvm-probe.mjs';
import { setup } from './lib/setup.mjs';

const vitest = join(repoRoot, 'node_modules', '.bin', 'vitest');
const extra = process.argv.slice(2);

/**
 * @param {string} tier
 * @param {boolean} viaKvmHost
 * @returns {Promise<{ tier: string, code: number, passed: number, failed: number, skipped: number, reported: boolean }>}
 */
async function runTier(tier, viaKvmHost, files = extra) {
  const report = join(repoRoot, '.vmstep', `vitest-${tier}.json`);
  rmSync(report, { force: true });
  rmSync(progressPath(tier), { force: true });
  const args = ['run', '--project', tier, '--passWithNoTests', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`];
  if (tier !== 'unit') args.push('--no-file-parallelism', `--reporter=${join(repoRoot, 'scripts', 'lib', 'file-progress.mjs')}`);
  args.push(...files);
  const [cmd, argv] = viaKvmHost
    ? [process.execPath, [join(repoRoot, 'scripts', 'kvm-host.mjs'), '--timeout', '3000', '--', vitest, ...args]]
    : [vitest, args];
  process.stderr.write(`\nvmstep test: ${tier} tier${viaKvmHost ? ' (inside the emulated KVM host)' : ''}\n`);
  const code = await new Promise((resolve) => {
    const child = spawn(cmd, argv, { stdio: 'inherit', cwd: repoRoot, env: { ...process.env, VMSTEP_TEST_PROGRESS: progressPath(tier) } });
    child.on('exit', (c, s) => resolve(c ?? (s ? 128 : 1)));
    child.on('error', () => resolve(127));
  });
  let passed = 0, failed = 0, skipped = 0;
  const reported = existsSync(report);
  if (reported) {
    const r = JSON.parse(readFileSync(report, 'utf8'));
    passed = r.numPassedTests ?? 0;
    failed = (r.numFailedTests ?? 0) + (r.numRuntimeErrorTestSuites ?? 0);
    skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  } else if (code !== 0) {
    failed = 1;
  }
  return { tier, code: /** @type {number} */ (code), passed, failed, skipped, reported };
}

/** Where the file-progress reporter records the tier's ended files (on the shared root, not the emulated host's tmpfs). @param {string} tier */
const progressPath = (tier) => join(repoRoot, '.vmstep', `progress-${tier}.jsonl`);

/** Every test file of a tier, as vitest's include finds them (test/TIER/**\/*.test.ts), relative to the repository. @param {string} tier */
function tierFiles(tier) {
  return readdirSync(join(repoRoot, 'test', tier), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => join('test', tier, f))
    .sort();
}

/**
 * A tier, inside the emulated KVM host when asked. Everything in there runs
 * under TCG's emulation of nested SVM, which breaks things that hardware
 * never does: the emulated host's kernel has triple-faulted mid-tier and
 * Node has crashed in it (then vitest writes no report), and guests have
 * failed in it without a fault of ours being found (a stock QEMU booting
 * the guest kernel in there crashed once too; our VMM's guest once
 * triple-faulted in a test that passes in every other run). So, in there
 * only, a test file that failed, or had not ended when the runner died,
 * runs once more in a fresh emulated host; the files that passed keep their
 * results. A file that passes only on that second run is named in the
 * summary as flaky, never hidden; a file that fails twice fails the tier.
 * On a host whose own KVM runs the tier, nothing runs twice.
 * @param {string} tier @param {boolean} viaKvmHost
 * @returns {Promise<Awaited<ReturnType<typeof runTier>> & { flaky?: string[] }>}
 */
async function runTierInKvmHostIf(tier, viaKvmHost) {
  const first = await runTier(tier, viaKvmHost);
  if (!viaKvmHost || first.code === 0) return first;
  const ended = endedFiles(progressPath(tier));
  const failedFiles = ended.filter((f) => f.failed > 0).map((f) => f.file);
  const crashed = first.reported ? '' : `its test runner ended with exit ${first.code} before writing its report (the emulated host or Node inside it crashed); `;
  // A crash under a file filter of the caller's: the filtered run again, whole.
  if (crashed && extra.length > 0) {
    process.stderr.write(`\nvmstep test: the ${tier} tier: ${crashed}running it once more\n`);
    return runTier(tier, viaKvmHost);
  }
  const unfinished = first.reported ? [] : remainingFiles(tierFiles(tier), ended);
  const rest = [...failedFiles, ...unfinished];
  // Failed outside any file (vitest itself): nothing to run again.
  if (rest.length === 0) return first;
  process.stderr.write(
    `\nvmstep test: the ${tier} tier inside the emulated KVM host: ${crashed}` +
      `${failedFiles.length} files failed (${failedFiles.join(', ') || 'none'}), ${unfinished.length} had not ended; ` +
      `running these ${rest.length} once more in a fresh emulated host (the other ${ended.length - failedFiles.length} keep their results)\n`,
  );
  const second = await runTier(tier, viaKvmHost, rest);
  const kept = sumOf(ended.filter((f) => f.failed === 0));
  const rerun = endedFiles(progressPath(tier));
  const flaky = failedFiles.filter((file) => rerun.some((e) => e.file === file && e.failed === 0));
  return {
    ...second,
    passed: second.passed + kept.passed,
    skipped: second.skipped + kept.skipped,
    flaky,
  };
}

async function main() {
  const built = await setup();
  const kvm = probeHostKvm(built.native);
  const e2eMode = process.env.VMSTEP_E2E ?? (kvm.canRunLinux ? 'direct' : 'kvm-host');
  process.stderr.write(`vmstep test: host KVM: ${kvm.hasKvm ? (kvm.canRunLinux ? 'runs stock kernels' : `tiny guests only (${kvm.reason})`) : 'none'}; real-Linux tests run ${e2eMode === 'direct' ? 'directly' : 'inside the emulated KVM host'}\n`);

  const results = [
    await runTier('unit', false),
    await runTierInKvmHostIf('kvm', !kvm.hasKvm),
    await runTierInKvmHostIf('e2e', e2eMode !== 'direct'),
  ];
  const total = { passed: 0, failed: 0, skipped: 0 };
  process.stderr.write('\nvmstep test summary\n');
  for (const r of results) {
    process.stderr.write(`  ${r.tier.padEnd(5)} ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped${r.code !== 0 ? ` (exit ${r.code})` : ''}\n`);
    for (const file of 'flaky' in r ? (r.flaky ?? []) : []) process.stderr.write(`        flaky: ${file} failed, then passed when run once more\n`);
    total.passed += r.passed;
    total.failed += r.failed + (r.code !== 0 && r.failed === 0 ? 1 : 0);
    total.skipped += r.skipped;
  }
  process.stdout.write(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped\n`);
  return results.every((r) => r.code === 0) ? 0 : 1;
}

try {
  process.exitCode = await main();
} catch (err) {
  process.stderr.write(`vmstep test: ${err instanceof Error ? err.message : err}\n`);
  process.exitCode = 1;
}
