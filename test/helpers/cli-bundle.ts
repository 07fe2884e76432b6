// The CLI of this checkout as one script (src/cli.ts bundled by esbuild),
// for tests that start vmstep as its own process from the TypeScript
// sources: `vmstep start` spawns its keeper from the cli.js beside it, so
// the CLI must be a file (dist/ is rebuilt only on release). Kept under
// node_modules/.cache so that its packages resolve from this checkout.
import { spawn, type ChildProcess } from 'node:child_process';
import { build } from 'esbuild';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './artifacts.js';
import { cleanEnv } from './dist-process.js';
import { guestInitBinary } from './guest-init.js';

let built: Promise<string> | null = null;

/** The path of the bundled cli.js (built once per test process). */
export function cliBundle(): Promise<string> {
  built ??= (async () => {
    const dir = join(repoRoot, 'node_modules', '.cache', 'vmstep-cli-test', String(process.pid));
    mkdirSync(dir, { recursive: true });
    // Node stops looking for package.json at node_modules: say ESM here.
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    const out = join(dir, 'cli.js');
    await build({ entryPoints: [join(repoRoot, 'src', 'cli.ts')], bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outfile: out, logLevel: 'error' });
    return out;
  })();
  return built;
}

export interface CliRun {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

export interface CliProcessOptions {
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdin?: Buffer;
  uid?: number;
}

/** Starts the bundled CLI as its own process; `done` resolves with its status and everything it printed. */
export function launchCli(cli: string, args: string[], opts: CliProcessOptions): { child: ChildProcess; done: Promise<CliRun> } {
  const child = spawn(process.execPath, ['--', cli, ...args], { cwd: opts.cwd, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'], ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.uid } : {}) });
  const out: Buffer[] = [];
  let err = '';
  child.stdout!.on('data', (d: Buffer) => out.push(d));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdin!.on('error', () => {});
  child.stdin!.end(opts.stdin ?? Buffer.alloc(0));
  const done = new Promise<CliRun>((resolve) => child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: err })));
  return { child, done };
}

/**
 * The environment for lifecycle tests: cache, state and capacity directories
 * of the test's own under `work`, a budget of two small VMs, and guest init,
 * kernel and VMM as given.
 */
export function lifecycleEnv(work: string, assets: { vmm: string; init: string; kernel: string; addon?: string }): NodeJS.ProcessEnv {
  return {
    ...cleanEnv(),
    VMSTEP_CACHE: join(work, 'cache'),
    VMSTEP_STATE_DIR: join(work, 'state'),
    VMSTEP_CAPACITY_DIR: join(work, 'capacity'),
    VMSTEP_MAX_VCPUS: '2',
    VMSTEP_MAX_MEMORY: '1G',
    VMSTEP_VMM: assets.vmm,
    ...(assets.addon ? { VMSTEP_ADDON: assets.addon } : {}),
    VMSTEP_INIT: assets.init,
    VMSTEP_KERNEL: assets.kernel,
  };
}

/**
 * A host under `work` for the VMM's test double (test/helpers/test-vmm.mjs)
 * and its lifecycleEnv: the double boots no kernel and needs no KVM, so the
 * cache records this boot's KVM probe as passed (as a host that passed it
 * would have) and the kernel is a placeholder file.
 */
export function testVmmEnv(work: string): NodeJS.ProcessEnv {
  const cache = join(work, 'cache');
  mkdirSync(cache, { recursive: true });
  const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  writeFileSync(join(cache, 'kvm-probe.json'), JSON.stringify({ bootId, canRunLinux: true }));
  const kernel = join(work, 'vmlinux');
  writeFileSync(kernel, 'not booted by the test double');
  return lifecycleEnv(work, { vmm: join(repoRoot, 'test', 'helpers', 'test-vmm.mjs'), init: guestInitBinary(), kernel });
}
