// The set-up's build keys depend on content only: a fresh machine with the
// same kernel source (another path, another mtime) must compute the same key,
// or dist/manifest.json changes and CI's dist check fails.
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs build script, checked by its own @ts-check
import { kernelSourceIdentity } from '../../scripts/lib/artifacts.mjs';

const dir = mkdtempSync(join(tmpdir(), 'vmstep-build-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the kernel source in a build key', () => {
  it('is the same for a copied tarball with another path and mtime', () => {
    const a = join(dir, 'linux-source-6.1.tar.xz');
    writeFileSync(a, 'pretend kernel source bytes');
    utimesSync(a, new Date('2024-01-01'), new Date('2024-01-01'));
    const b = join(dir, 'elsewhere.tar.xz');
    cpSync(a, b);
    utimesSync(b, new Date('2026-06-01'), new Date('2026-06-01'));
    expect(kernelSourceIdentity(b)).toBe(kernelSourceIdentity(a));
    expect(kernelSourceIdentity(a)).not.toContain(dir);
  });

  it('changes when a byte of the tarball changes', () => {
    const a = join(dir, 'one.tar.xz');
    const b = join(dir, 'two.tar.xz');
    writeFileSync(a, 'source version 1');
    writeFileSync(b, 'source version 2');
    expect(kernelSourceIdentity(b)).not.toBe(kernelSourceIdentity(a));
  });

  it('keys a source tree on its names and contents, not its location or times', () => {
    const make = (root: string, text: string) => {
      mkdirSync(join(root, 'arch', 'x86'), { recursive: true });
      writeFileSync(join(root, 'Makefile'), 'all:\n');
      writeFileSync(join(root, 'arch', 'x86', 'Kconfig'), text);
      symlinkSync('x86', join(root, 'arch', 'x86_64'));
    };
    const t1 = join(dir, 'tree1');
    const t2 = join(dir, 'tree2');
    const t3 = join(dir, 'tree3');
    make(t1, 'config X86\n');
    make(t2, 'config X86\n');
    make(t3, 'config X86_64\n');
    utimesSync(join(t2, 'Makefile'), new Date('2020-01-01'), new Date('2020-01-01'));
    expect(kernelSourceIdentity(t2)).toBe(kernelSourceIdentity(t1));
    expect(kernelSourceIdentity(t3)).not.toBe(kernelSourceIdentity(t1));
  });

  it('says the source is absent without naming where it was looked for', () => {
    expect(kernelSourceIdentity(join(dir, 'missing.tar.xz'))).toBe('absent');
  });
});
