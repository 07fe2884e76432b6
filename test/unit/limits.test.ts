// The limits are written once (src/limits.ts); what users read about them
// must say the same numbers.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { VmstepError } from '../../src/engine/errors.js';
import { validateRunInput } from '../../src/engine/validate.js';
import { LIMITS } from '../../src/limits.js';
import { repoRoot } from '../helpers/artifacts.js';

const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
const actionYml = readFileSync(join(repoRoot, 'action.yml'), 'utf8');
const mib = (bytes: number) => bytes / 2 ** 20;

describe('the limits', () => {
  it('are what the README and action.yml say', () => {
    expect(readme).toContain(`- vCPUs: 1 to ${LIMITS.maxVcpus}. Memory: at least ${LIMITS.minMemoryMiB} MiB`);
    expect(readme).toContain(`Root disk: at least ${mib(LIMITS.minDiskBytes)} MiB.`);
    expect(readme).toContain(`| \`--vcpus N\` | vCPUs, 1 to ${LIMITS.maxVcpus} (default 2) |`);
    expect(actionYml).toContain(`Number of vCPUs (1 to ${LIMITS.maxVcpus}).`);
  });

  it('are where the checks draw the line', () => {
    const refusal = (input: { vcpus?: string; memory?: string }) => {
      try {
        validateRunInput({ image: 'busybox', ...input }, { style: 'cli', hostCpus: 64, hostMemoryBytes: 2 ** 40 });
        return null;
      } catch (err) {
        return (err as VmstepError).oneLine();
      }
    };
    expect(refusal({ vcpus: String(LIMITS.maxVcpus) })).toBeNull();
    expect(refusal({ vcpus: String(LIMITS.maxVcpus + 1) })).toContain(`give a whole number from 1 to ${LIMITS.maxVcpus}`);
    expect(refusal({ memory: `${LIMITS.minMemoryMiB}M` })).toBeNull();
    expect(refusal({ memory: `${LIMITS.minMemoryMiB - 1}M` })).toContain(`give at least ${LIMITS.minMemoryMiB}M`);
  });
});
