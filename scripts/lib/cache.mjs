// @ts-check
// The build cache: every artifact the set-up builds (addon, guest init,
// kernels, test guests, the JS bundle) lives under $VMSTEP_CACHE/build,
// in a directory named after the hash of its inputs. A second run with the
// same inputs reuses it and says so; an interrupted build leaves only a
// temporary directory that the next run removes.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, readlinkSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative, resolve } from 'node:path';

export const repoRoot = resolve(new URL('../..', import.meta.url).pathname);

/** The one cache directory: $VMSTEP_CACHE, default ~/.cache/vmstep. */
export function cacheDir() {
  return resolve(process.env.VMSTEP_CACHE || join(homedir(), '.cache', 'vmstep'));
}

/**
 * Lists the files under the given repository paths (files or directories),
 * sorted, skipping build outputs.
 * @param {string[]} paths repository-relative
 * @returns {string[]} repository-relative file paths
 */
export function listInputs(paths) {
  /** @type {string[]} */
  const files = [];
  const skip = new Set(['node_modules', 'build', '.git', 'corpus-run']);
  /** @param {string} abs */
  const walk = (abs) => {
    const st = statSync(abs);
    if (st.isDirectory()) {
      for (const name of readdirSync(abs).sort()) if (!skip.has(name)) walk(join(abs, name));
    } else if (st.isFile()) {
      files.push(relative(repoRoot, abs));
    }
  };
  for (const p of paths) {
    const abs = join(repoRoot, p);
    if (!existsSync(abs)) throw new Error(`build input ${p} does not exist`);
    walk(abs);
  }
  return files.sort();
}

/**
 * The hash of an artifact's inputs: file names, modes and contents, plus
 * free-form strings (tool versions, the source tarball's identity).
 * @param {string[]} paths repository-relative files or directories
 * @param {string[]} [extra]
 */
export function hashInputs(paths, extra = []) {
  const h = createHash('sha256');
  for (const file of listInputs(paths)) {
    const abs = join(repoRoot, file);
    h.update(`file ${file} ${statSync(abs).mode & 0o111 ? 'x' : '-'}\0`);
    h.update(readFileSync(abs));
    h.update('\0');
  }
  for (const e of extra) h.update(`extra ${e}\0`);
  return h.digest('hex').slice(0, 16);
}

/** @type {Map<string, string>} */
const digests = new Map();

/**
 * The sha256 of a file's bytes, read in chunks (a kernel tarball is 130 MB),
 * computed once per process.
 * @param {string} path
 */
export function fileDigest(path) {
  const known = digests.get(path);
  if (known) return known;
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(4 << 20);
  const fd = openSync(path, 'r');
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  const digest = h.digest('hex');
  digests.set(path, digest);
  return digest;
}

/**
 * The hash of a directory tree outside the repository: relative names, file
 * modes, contents and symlink targets, in sorted order; never timestamps or
 * the tree's own path.
 * @param {string} root
 */
export function hashTree(root) {
  const known = digests.get(`tree:${root}`);
  if (known) return known;
  const h = createHash('sha256');
  /** @param {string} rel */
  const walk = (rel) => {
    const abs = join(root, rel);
    const st = lstatSync(abs);
    if (st.isDirectory()) {
      h.update(`dir ${rel}\0`);
      for (const name of readdirSync(abs).sort()) walk(rel ? join(rel, name) : name);
    } else if (st.isSymbolicLink()) {
      h.update(`link ${rel} ${readlinkSync(abs)}\0`);
    } else if (st.isFile()) {
      h.update(`file ${rel} ${st.mode & 0o111 ? 'x' : '-'} ${fileDigest(abs)}\0`);
    }
  };
  walk('');
  const digest = h.digest('hex');
  digests.set(`tree:${root}`, digest);
  return digest;
}

/**
 * Returns the cached output directory of an artifact, building it first when
 * no build with the same input hash exists.
 * @param {{ name: string, hash: string, build: (outDir: string) => Promise<void> | void }} artifact
 * @returns {Promise<string>}
 */
export async function cachedBuild({ name, hash, build }) {
  const root = join(cacheDir(), 'build');
  mkdirSync(root, { recursive: true });
  const dir = join(root, `${name}-${hash}`);
  if (existsSync(join(dir, '.complete'))) {
    log(`reusing cached ${name} (${hash})`);
    return dir;
  }
  for (const stale of readdirSync(root)) {
    if (stale.startsWith(`${name}-${hash}.tmp-`)) rmSync(join(root, stale), { recursive: true, force: true });
  }
  const tmp = `${dir}.tmp-${process.pid}`;
  mkdirSync(tmp, { recursive: true });
  const started = Date.now();
  log(`building ${name} (${hash})`);
  try {
    await build(tmp);
    writeFileSync(join(tmp, '.complete'), `${new Date().toISOString()}\n`);
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  log(`built ${name} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return dir;
}

/** @param {string} message */
export function log(message) {
  process.stderr.write(`vmstep setup: ${message}\n`);
}
