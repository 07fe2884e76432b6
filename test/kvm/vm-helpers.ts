// Shared by the KVM device tests: the native build (from the build cache,
// building it when needed), and running the test guest
// (native/guests/, one binary, the test picked by vmstep.test=NAME).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { launchVm, type LaunchOptions, type VmExit, type VmHandle } from '../../src/vm/index.js';

export const repoRoot = resolve(import.meta.dirname, '..', '..');

export interface NativeBuild {
  dir: string;
  vmm: string;
  addon: string;
  testGuest: string;
}

let cached: Promise<NativeBuild> | null = null;

/** The native build: $VMSTEP_NATIVE_DIR, else the cached build of native/ (built on first use). */
export function nativeBuild(): Promise<NativeBuild> {
  cached ??= (async () => {
    let dir = process.env.VMSTEP_NATIVE_DIR;
    if (!dir) {
      const artifacts = (await import(pathToFileURL(join(repoRoot, 'scripts', 'lib', 'artifacts.mjs')).href)) as { native: () => Promise<string> };
      dir = await artifacts.native();
    }
    const build = { dir, vmm: join(dir, 'vmstep-vmm'), addon: join(dir, 'vmstep.node'), testGuest: join(dir, 'test-guests', 'test-guest.elf') };
    for (const f of [build.vmm, build.addon, build.testGuest]) if (!existsSync(f)) throw new Error(`${f} is missing: run native/build.sh`);
    process.env.VMSTEP_VMM = build.vmm;
    process.env.VMSTEP_ADDON = build.addon;
    return build;
  })();
  return cached;
}

/** A scratch directory removed by the returned function. */
export function scratch(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `vmstep-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export type GuestOptions = Partial<Omit<LaunchOptions, 'cmdline'>> & { test: string; args?: string };

/** Launches the test guest running `test` (its console tail comes back in VmExit). */
export async function launchTestGuest(o: GuestOptions): Promise<VmHandle> {
  const build = await nativeBuild();
  return launchVm({
    kernelPath: o.kernelPath ?? build.testGuest,
    disks: o.disks ?? [],
    vcpus: o.vcpus ?? 1,
    memoryMiB: o.memoryMiB ?? 32,
    cmdline: `vmstep.test=${o.test}${o.args ? ` ${o.args}` : ''}`,
    vsockUdsPath: o.vsockUdsPath ?? '',
    debug: o.debug ?? false,
    timeoutMs: o.timeoutMs ?? 30_000,
    ...(o.consoleLogPath ? { consoleLogPath: o.consoleLogPath } : {}),
  });
}

/** Runs the test guest to its end. */
export async function runTestGuest(o: GuestOptions): Promise<VmExit> {
  return (await launchTestGuest(o)).exited;
}

/** "KEY value" lines of a console, as a map from KEY to the rest of the line (last wins). */
export function consoleFields(console: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of console.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp > 0) m.set(line.slice(0, sp), line.slice(sp + 1).trim());
  }
  return m;
}
