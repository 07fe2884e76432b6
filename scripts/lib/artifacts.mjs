// @ts-check
// Every artifact the project builds, with the inputs its cache key hashes.
// `npm test`, `npm run demo` and `npm run build` all come through here, so a
// second run of any of them rebuilds nothing.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cachedBuild, fileDigest, hashInputs, hashTree, log, repoRoot } from './cache.mjs';
import { toolVersion } from './deps.mjs';
import { run } from './run.mjs';

/** The kernel source: $VMSTEP_KERNEL_SOURCE (tarball or tree) or Debian's linux-source package. */
export function kernelSource() {
  const pinned = readFileSync(join(repoRoot, 'kernel', 'VERSION'), 'utf8').trim();
  return process.env.VMSTEP_KERNEL_SOURCE || `/usr/src/linux-source-${pinned}.tar.xz`;
}

/**
 * What identifies the kernel source in a build key: the digest of its bytes,
 * never its path or timestamps, so that every machine with the same source
 * (Debian's linux-source package, a copied tarball, a touched file) computes
 * the same key and a fresh clone finds dist/ up to date. A source tree (a
 * directory) is keyed by its files' names, modes and contents.
 * @param {string} [src]
 */
export function kernelSourceIdentity(src = kernelSource()) {
  if (!existsSync(src)) return 'absent';
  return statSync(src).isDirectory() ? `tree ${hashTree(src)}` : `tarball ${fileDigest(src)}`;
}

/** @param {'guest' | 'host'} kind */
export function kernel(kind) {
  return cachedBuild({
    name: `${kind}-kernel`,
    hash: hashInputs(['kernel/build.sh', 'kernel/VERSION', `kernel/${kind}.config`], [kernelSourceIdentity()]),
    build: (out) => run('bash', [join(repoRoot, 'kernel', 'build.sh'), kind, out, kernelSource()]),
  });
}

/** The emulated KVM host's initramfs: busybox-static plus test/kvm-host/init. */
export function kvmHostInitramfs() {
  return cachedBuild({
    name: 'kvm-host-initramfs',
    hash: hashInputs(['test/kvm-host/init', 'test/kvm-host/build-initramfs.sh'], [toolVersion('busybox', ['--help'])]),
    build: (out) => run('bash', [join(repoRoot, 'test', 'kvm-host', 'build-initramfs.sh'), join(out, 'initramfs.cpio.gz')]),
  });
}

/** A subsystem with its own build script: `<dir>/build.sh OUT_DIR`. */
/** @param {string} dir @param {string[]} extra */
function scripted(dir, extra) {
  return cachedBuild({
    name: dir,
    hash: hashInputs([dir], extra),
    build: (out) => run('bash', [join(repoRoot, dir, 'build.sh'), out], { cwd: repoRoot }),
  });
}

/** The native VMM: the node addon and the jailed VMM executable, plus the tiny test guests. */
// Not keyed on Node's version: the addon is built for N-API 8 (binding.gyp),
// which every supported Node runs, so dist/ stays the same across machines.
export const native = () => scripted('native', [toolVersion('g++'), toolVersion('clang')]);
/** Guest init, a static binary. */
export const guestInit = () => scripted('guest', [toolVersion('musl-gcc')]);

/**
 * The first two lines of dist/cli.js, the file npm links as the `vmstep`
 * command: a shell script for the kernel, comments for Node. Node looks for
 * --env-file (and --env-file-if-exists) among all of its arguments, those
 * after the script included, and stops only at a `--`: with the usual
 * `#!/usr/bin/env node` line, `vmstep run --env-file FILE` made Node read
 * FILE itself and exit 9 before vmstep ran. Starting Node as
 * `node -- SCRIPT ARGS` leaves every argument to vmstep. (`env -S node --`
 * would say the same in one line, but busybox's env has no -S.)
 */
export const CLI_LAUNCHER = `#!/bin/sh\n':' //; exec node -- "$0" "$@"\n`;

/** The entry points bundled into dist/: the action's main and post steps, the CLI, the runner's container hooks. */
export const BUNDLE_ENTRIES = ['index', 'post', 'cli', 'hooks'];

/** The JS bundles (ncc), one per entry point. */
export function bundle() {
  const entries = BUNDLE_ENTRIES;
  return cachedBuild({
    name: 'bundle',
    hash: hashInputs(['src', 'package-lock.json', 'tsconfig.json'], [process.version, CLI_LAUNCHER]),
    build: async (out) => {
      for (const entry of entries) {
        const tmp = join(out, `.${entry}`);
        await run(join(repoRoot, 'node_modules', '.bin', 'ncc'), ['build', `src/${entry}.ts`, '-o', tmp, '--quiet', '--target', 'es2022'], { cwd: repoRoot });
        let js = readFileSync(join(tmp, 'index.js'), 'utf8');
        if (entry === 'cli') js = CLI_LAUNCHER + js.replace(/^#!.*\n/, '');
        writeFileSync(join(out, `${entry}.js`), js, { mode: entry === 'cli' ? 0o755 : 0o644 });
        rmSync(tmp, { recursive: true, force: true });
      }
    },
  });
}

/**
 * Builds everything and brings dist/ up to date. dist/manifest.json records
 * the input hash of every binary in dist/, so a binary is copied only when
 * its inputs changed: a fresh clone of a correct commit leaves dist/ as it is.
 */
export async function buildAll() {
  const built = {
    guestKernel: await kernel('guest'),
    native: existsSync(join(repoRoot, 'native', 'build.sh')) ? await native() : null,
    guestInit: existsSync(join(repoRoot, 'guest', 'build.sh')) ? await guestInit() : null,
    bundle: await bundle(),
  };
  const dist = join(repoRoot, 'dist');
  mkdirSync(dist, { recursive: true });
  const manifestPath = join(dist, 'manifest.json');
  /** @type {Record<string, string>} */
  const manifest = existsSync(manifestPath) ? JSON.parse(readFileSync(manifestPath, 'utf8')) : {};
  /** @type {[string, string | null, string][]} dist name, built dir, file in it */
  const shipped = [
    ['vmlinux.gz', built.guestKernel, 'vmlinux.gz'],
    ['vmstep.node', built.native, 'vmstep.node'],
    ['vmstep-vmm', built.native, 'vmstep-vmm'],
    ['vmstep-init', built.guestInit, 'vmstep-init'],
  ];
  for (const [name, dir, file] of shipped) {
    if (!dir) continue;
    const hash = dir.slice(dir.lastIndexOf('-') + 1);
    if (manifest[name] === hash && existsSync(join(dist, name))) continue;
    log(`updating dist/${name}`);
    cpSync(join(dir, file), join(dist, name));
    manifest[name] = hash;
  }
  for (const entry of BUNDLE_ENTRIES) cpSync(join(built.bundle, `${entry}.js`), join(dist, `${entry}.js`));
  writeFileSync(join(dist, 'package.json'), '{\n  "type": "module"\n}\n');
  writeFileSync(manifestPath, `${JSON.stringify(Object.fromEntries(Object.entries(manifest).sort()), null, 2)}\n`);
  return built;
}
