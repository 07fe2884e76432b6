// A brief libFuzzer run over the VMM's guest-facing parsers (the long run is
// `npm run fuzz`): every committed regression input must pass, and a few
// seconds of fuzzing from the seeds must find nothing.
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { expect, test } from 'vitest';

const repoRoot = resolve(import.meta.dirname, '..', '..');

test('the VMM survives its regression inputs and a brief fuzzing run', { timeout: 300_000 }, () => {
  const res = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'fuzz.mjs'), '--target', 'vmm', '--seconds', '15'], { encoding: 'utf8', cwd: repoRoot });
  const out = `${res.stdout}\n${res.stderr}`;
  expect(res.status, out.slice(-4000)).toBe(0);
  expect(out).toMatch(/Done \d+ runs in \d+ second/);
});
