// @ts-check
// The set-up shared by `npm test` and `npm run demo`: Debian packages, npm
// packages, every build (cached), and .vmstep/artifacts.json, which tells
// the tests where the builds are.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildAll, kernel, kvmHostInitramfs } from './artifacts.mjs';
import { repoRoot } from './cache.mjs';
import { debianPackages, ensureDebianPackages, ensureNodeModules } from './deps.mjs';

/** @param {{ kvmHost?: boolean }} [options] */
export async function setup({ kvmHost = true } = {}) {
  await ensureDebianPackages(/** @type {(keyof typeof debianPackages)[]} */ (Object.keys(debianPackages)));
  await ensureNodeModules();
  const built = await buildAll();
  const paths = {
    guestKernel: built.guestKernel,
    native: built.native,
    guestInit: built.guestInit,
    hostKernel: kvmHost ? await kernel('host') : null,
    kvmHostInitramfs: kvmHost ? await kvmHostInitramfs() : null,
  };
  mkdirSync(join(repoRoot, '.vmstep'), { recursive: true });
  writeFileSync(join(repoRoot, '.vmstep', 'artifacts.json'), `${JSON.stringify(paths, null, 2)}\n`);
  return paths;
}
