// One source of truth for what a VM may be: native/src/vmm/limits.h for the
// VMM, src/limits.ts for the TypeScript side (users' inputs and every
// launch). They must agree.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { repoRoot } from '../helpers/artifacts.js';

function cppConstants(): Map<string, number> {
  const src = readFileSync(join(repoRoot, 'native', 'src', 'vmm', 'limits.h'), 'utf8');
  const layout = readFileSync(join(repoRoot, 'native', 'src', 'arch', 'layout.h'), 'utf8');
  const devices = Number(/kMaxVirtioDevices = (\d+);/.exec(layout)![1]);
  const out = new Map<string, number>();
  for (const m of src.matchAll(/constexpr \w+ (k\w+) = ([^;]+);/g)) {
    const expr = m[2]!.replace('layout::kMaxVirtioDevices', String(devices)).replace(/(\d+)u\b/g, '$1');
    if (!/^[\d\s<+-]+$/.test(expr)) throw new Error(`cannot evaluate ${m[1]} = ${m[2]}`);
    out.set(m[1]!, Function(`return (${expr});`)() as number);
  }
  return out;
}

test('the VMM and the launcher accept the same vCPUs, memory and disks', () => {
  const c = cppConstants();
  expect(c.get('kMaxVcpus')).toBe(LIMITS.maxVcpus);
  expect(c.get('kMinMemoryMiB')).toBe(LIMITS.minMemoryMiB);
  expect(c.get('kMaxMemoryMiB')).toBe(LIMITS.maxMemoryMiB);
  expect(c.get('kMaxDisks')).toBe(LIMITS.maxDisks);
});

test('no other number for these limits is written in the VMM or the launcher', () => {
  const mptable = readFileSync(join(repoRoot, 'native', 'src', 'arch', 'mptable.cc'), 'utf8');
  const config = readFileSync(join(repoRoot, 'native', 'src', 'vmm', 'config.cc'), 'utf8');
  const launch = readFileSync(join(repoRoot, 'src', 'vm', 'launch.ts'), 'utf8');
  expect(mptable).toContain('limits::kMaxVcpus');
  expect(config).toMatch(/limits::kMaxVcpus[\s\S]*limits::kMinMemoryMiB/);
  expect(launch).not.toMatch(/> 32\b|< 16\b|> 15\b/);
});
