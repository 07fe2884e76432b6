// @ts-check
// Installs what a fresh Debian machine lacks: Debian packages (with apt-get
// when running as root; otherwise it stops with the exact command to run)
// and the npm packages (npm ci when node_modules is missing or stale).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { log, repoRoot } from './cache.mjs';
import { run } from './run.mjs';

/**
 * Debian packages by purpose. One list, so that the README, the set-up and
 * the error message never disagree.
 */
export const debianPackages = {
  // The guest and emulated-host kernels (kernel/build.sh).
  kernel: ['linux-source-6.1', 'build-essential', 'flex', 'bison', 'bc', 'libelf-dev', 'libssl-dev', 'cpio', 'xz-utils'],
  // The native VMM (node-gyp) and guest init (static, musl).
  native: ['build-essential', 'python3', 'musl-tools'],
  // Root filesystems (mke2fs -d, debugfs in the tests).
  rootfs: ['e2fsprogs'],
  // The emulated KVM host and the real-Linux smoke test.
  kvmHost: ['qemu-system-x86', 'busybox-static', 'util-linux'],
  // Tests: the fuzzer, a real registry on loopback, image tooling, and the
  // benchmark tools whose output the metrics-format parsers read (go test -bench,
  // Google Benchmark, pytest-benchmark, Catch2).
  test: [
    'clang', 'libclang-rt-14-dev', 'socat', 'docker-registry', 'skopeo', 'apache2-utils', 'openssl', 'zstd', 'umoci', 'debootstrap', 'iputils-ping',
    'golang-go', 'libbenchmark-dev', 'python3-pytest-benchmark', 'catch2', 'g++',
    // Real servers and clients in the service images of the ports and runner-plugin tests (redis comes as package files).
    'postgresql-15', 'curl',
  ],
  // Benchmark mode's tests: a real hyperfine export to parse, rsvg-convert to check the chart renders,
  // and headless Chromium to render the history page.
  // GNU time: peak RSS in scripts/bench-vmm.mjs.
  bench: ['hyperfine', 'librsvg2-bin', 'time', 'chromium'],
};

/** @param {string[]} wanted */
function missingPackages(wanted) {
  const unique = [...new Set(wanted)];
  const res = spawnSync('dpkg-query', ['-W', '-f', '${Package} ${db:Status-Status}\n', ...unique], { encoding: 'utf8' });
  const installed = new Set(
    (res.stdout || '')
      .split('\n')
      .filter((l) => l.endsWith(' installed'))
      .map((l) => l.split(' ')[0]),
  );
  return unique.filter((p) => !installed.has(p));
}

/** @param {(keyof typeof debianPackages)[]} groups */
export async function ensureDebianPackages(groups) {
  const missing = missingPackages(groups.flatMap((g) => debianPackages[g]));
  if (missing.length === 0) return;
  const line = `apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) {
    throw new Error(`missing Debian packages: ${missing.join(', ')}. Install them with:\n  sudo apt-get update && sudo ${line}\nthen run this command again.`);
  }
  log(`installing Debian packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update', '-q'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  await run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], { env, stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Runs `npm ci` when node_modules is missing or older than package-lock.json. */
export async function ensureNodeModules() {
  const marker = join(repoRoot, 'node_modules', '.package-lock.json');
  const lock = join(repoRoot, 'package-lock.json');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  log('installing npm packages (npm ci)');
  await run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] });
}

/** @param {string} cmd @param {string[]} args */
export function toolVersion(cmd, args = ['--version']) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0] ?? '';
  } catch {
    return 'absent';
  }
}
