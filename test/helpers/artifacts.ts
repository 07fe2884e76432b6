// Where the set-up (scripts/test.mjs) put what it built. Tests read the
// paths from .vmstep/artifacts.json; each can be overridden by environment
// variable for development (VMSTEP_KERNEL, VMSTEP_INIT, VMSTEP_VMM,
// VMSTEP_ADDON).
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '..', '..');

export interface BuiltArtifacts {
  /** Uncompressed guest vmlinux (ELF). */
  guestKernel: string;
  /** Directory of the native build (vmstep.node, vmstep-vmm, test-guests/), when built. */
  nativeDir: string | null;
  /** The static guest init binary, when built. */
  guestInit: string | null;
}

export function builtArtifacts(): BuiltArtifacts {
  const file = join(repoRoot, '.vmstep', 'artifacts.json');
  if (!existsSync(file)) {
    throw new Error(`no ${file}: run the tests with 'npm test' (it builds the kernels, the VMM and guest init first)`);
  }
  const built = JSON.parse(readFileSync(file, 'utf8')) as { guestKernel: string; native: string | null; guestInit: string | null };
  return {
    guestKernel: process.env.VMSTEP_KERNEL ?? join(built.guestKernel, 'vmlinux'),
    nativeDir: built.native,
    guestInit: process.env.VMSTEP_INIT ?? (built.guestInit ? join(built.guestInit, 'vmstep-init') : null),
  };
}
