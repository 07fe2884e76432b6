// @ts-check
// What the long-lived VM benchmarks (bench-exec.mjs, bench-hooks.mjs) share:
// this checkout's sources bundled (the CLI, from which `vmstep start` runs
// its keeper; the modules a benchmark calls), and the VM they run on. Where
// this host's KVM boots an unmodified Linux kernel that is a real VM, with
// this checkout's VMM, guest kernel and guest init. Where it cannot (kvm_pvm,
// or no KVM) it is the test double of the VMM (test/helpers/test-vmm.mjs):
// guest init in its Unix-socket test mode on this host, so that the keeper,
// the protocol and guest init are all real, and the VMM, the kernel and
// virtio-vsock are not there at all. Each benchmark prints which.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { build } from 'esbuild';
import { repoRoot } from './cache.mjs';
import { vmLogs } from './vm-logs.mjs';

/** @param {number[]} xs */
export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/** Reads `--name VALUE` from argv; the default when absent. @param {string[]} argv @param {string} name @param {string | undefined} fallback */
export function option(argv, name, fallback) {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : fallback;
}

/**
 * Bundles the named exports of this checkout's modules into one ES module
 * under .vmstep/<name>/ (two levels below the checkout, where the test
 * helpers it may include expect to be) and imports it.
 * @param {string} name @param {Record<string, string[]>} modules paths relative to the checkout -> export names
 */
export async function bundleModules(name, modules) {
  const dir = join(repoRoot, '.vmstep', name);
  mkdirSync(dir, { recursive: true });
  const entry = join(dir, 'entry.ts');
  writeFileSync(entry, Object.entries(modules).map(([file, names]) => `export { ${names.join(', ')} } from ${JSON.stringify(join(repoRoot, file))};`).join('\n'));
  const out = join(dir, 'bundle.mjs');
  await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile: out, logLevel: 'error', external: ['vitest'], banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" } });
  return import(out);
}

/** Bundles a script of this checkout (src/cli.ts, a hook entry) into one file beside its packages; returns its path. @param {string} name @param {string} entry absolute */
export async function bundleScript(name, entry) {
  const dir = join(repoRoot, '.vmstep', name);
  mkdirSync(dir, { recursive: true });
  const out = join(dir, 'main.js');
  await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outfile: out, logLevel: 'error' });
  return out;
}

/**
 * The VM the benchmark runs on, and the environment that points vmstep at
 * it: cache, state and capacity directories of its own under `work`.
 * @param {string} work
 * @param {{ builtArtifacts(): { guestKernel: string, nativeDir: string | null, guestInit: string | null }, guestInitBinary(): string, probeKvm(): { available: boolean, canRunLinux: boolean, reason: string } }} lib
 */
export async function benchVm(work, lib) {
  const built = lib.builtArtifacts();
  const addon = built.nativeDir ? join(built.nativeDir, 'vmstep.node') : undefined;
  if (addon) process.env.VMSTEP_ADDON ??= addon;
  let probe = { available: false, canRunLinux: false, reason: 'no native build' };
  try {
    probe = lib.probeKvm();
  } catch (err) {
    probe.reason = err instanceof Error ? err.message : String(err);
  }
  const cache = join(work, 'cache');
  const state = join(work, 'state');
  mkdirSync(cache, { recursive: true });
  mkdirSync(state, { recursive: true, mode: 0o700 });
  const keeperEntry = await bundleScript('bench-vms-cli', join(repoRoot, 'src', 'cli.ts'));
  const real = probe.available && probe.canRunLinux && built.nativeDir !== null && built.guestInit !== null;
  /** @type {NodeJS.ProcessEnv} */
  const env = {
    ...process.env,
    VMSTEP_CACHE: cache,
    VMSTEP_STATE_DIR: state,
    VMSTEP_CAPACITY_DIR: join(work, 'capacity'),
    VMSTEP_KEEPER_ENTRY: keeperEntry,
    ...(addon ? { VMSTEP_ADDON: addon } : {}),
  };
  if (real) {
    Object.assign(env, { VMSTEP_VMM: join(/** @type {string} */ (built.nativeDir), 'vmstep-vmm'), VMSTEP_KERNEL: built.guestKernel, VMSTEP_INIT: built.guestInit });
  } else {
    // The test double boots nothing, but a VM still names a kernel; and the engine's KVM check is answered as a host that passed it records it.
    const kernel = join(work, 'vmlinux');
    writeFileSync(kernel, 'not booted: the test double of the VMM runs guest init on this host\n');
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    writeFileSync(join(cache, 'kvm-probe.json'), JSON.stringify({ bootId, canRunLinux: true }));
    Object.assign(env, { VMSTEP_VMM: join(repoRoot, 'test', 'helpers', 'test-vmm.mjs'), VMSTEP_KERNEL: kernel, VMSTEP_INIT: lib.guestInitBinary() });
  }
  // The lifecycle API called in this process reads its assets from process.env.
  for (const k of ['VMSTEP_CACHE', 'VMSTEP_STATE_DIR', 'VMSTEP_CAPACITY_DIR', 'VMSTEP_KEEPER_ENTRY', 'VMSTEP_VMM', 'VMSTEP_KERNEL', 'VMSTEP_INIT', 'VMSTEP_ADDON']) if (env[k]) process.env[k] = env[k];
  const mode = real
    ? 'a real VM (this host\'s KVM boots Linux): the VMM, the guest kernel and guest init of this checkout'
    : `guest init's test mode, NOT a VM (this host's KVM cannot boot Linux: ${probe.reason}): the test double of the VMM (test/helpers/test-vmm.mjs) runs guest init on this host over Unix sockets; the keeper, the protocol and guest init are real; the VMM, the kernel boot and virtio-vsock are not measured, and the guest's commands and paths are this host's`;
  return { real, mode, env, cli: keeperEntry };
}

/**
 * Spawns a process and resolves with its wall time in ms once it has
 * closed; rejects when it exits with another status than `status` (0).
 * @param {string} file @param {string[]} args @param {{ env?: NodeJS.ProcessEnv, cwd?: string, input?: string, status?: number }} [opts]
 */
export function timedSpawn(file, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(file, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (d) => (out += d));
    child.stderr?.on('data', (d) => (out += d));
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const ms = performance.now() - t0;
      if (code === (opts.status ?? 0)) resolve(ms);
      else reject(new Error(`${[file, ...args].join(' ')} exited with ${code ?? signal}: ${out.slice(-2000)}`));
    });
  });
}

/** Files and bytes under a directory (regular files only), to check that a copy is whole. @param {string} dir */
export function treeSize(dir) {
  const [files, bytes] = execFileSync('sh', ['-c', 'find "$1" -type f -printf \'%s\\n\' | awk \'{ n++; s += $1 } END { print n + 0; print s + 0 }\'', 'sh', dir], { encoding: 'utf8' }).trim().split('\n').map(Number);
  return { files, bytes };
}

/**
 * Runs a benchmark's body in a scratch directory of its own; a failure
 * prints the VMs' logs and exits 1; every VM left is stopped and the
 * directory removed either way.
 * @param {string} name @param {(work: string) => Promise<void>} body
 */
export function runBench(name, body) {
  const work = mkdtempSync(join(tmpdir(), `vmstep-bench-${name}-`));
  const stopAll = () =>
    timedSpawn(process.execPath, ['--', join(repoRoot, '.vmstep', 'bench-vms-cli', 'main.js'), 'stop', '--time', '0', '--all'], { env: { ...process.env, VMSTEP_STATE_DIR: join(work, 'state') } }).catch(() => {
      // Nothing to stop (or no CLI bundled yet).
    });
  body(work)
    .catch(async (err) => {
      process.stderr.write(`${vmLogs(join(work, 'state'))}\nbench-${name}: failed: ${err instanceof Error ? err.message : err}\n`);
      process.exitCode = 1;
    })
    .then(stopAll)
    .then(() => {
      rmSync(work, { recursive: true, force: true });
      process.exit(process.exitCode ?? 0);
    });
}
