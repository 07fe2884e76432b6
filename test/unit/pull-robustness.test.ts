// `vmstep pull` (the real CLI, from source, in its own process) when the
// host gets in the way: a full disk, a lock held by another process or left
// by a dead one, a Ctrl-C or SIGTERM in the middle of a build. Each ends in
// one line and an exit status, with no temporary file or lock left behind.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { processStartTime } from '../../src/rootfs/lock.js';
import { RootfsCache } from '../../src/rootfs/index.js';
import { resolveImage } from '../../src/image/index.js';
import { putBlob, sha256, writeOciLayout } from '../fixtures/oci-images.js';
import { fileHeader } from '../fixtures/tar-writer.js';
import { fakeInit, tempDir } from '../helpers/images.js';

const repoRoot = resolve(import.meta.dirname, '../..');
const tmp = tempDir();
afterAll(() => tmp.cleanup());
const init = fakeInit(tmp.path);
const GiB = 2 ** 30;

interface Pull {
  code: Promise<number | null>;
  stderr: () => string;
  pid: number;
  /** Resolves once stderr matches. */
  saw(re: RegExp): Promise<void>;
}

function pull(ref: string, cache: string): Pull {
  const child = spawn(process.execPath, [join(repoRoot, 'node_modules/vite-node/vite-node.mjs'), join(repoRoot, 'src/cli.ts'), 'pull', ref], {
    env: { ...process.env, VMSTEP_CACHE: cache, VMSTEP_INIT: init },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString();
    for (const w of waiters.splice(0)) if (w.re.test(err)) w.resolve();
    else waiters.push(w);
  });
  child.stdout.resume();
  return {
    code: new Promise((r) => child.on('close', (code) => r(code))),
    stderr: () => err,
    pid: child.pid!,
    saw: (re) => (re.test(err) ? Promise.resolve() : new Promise((r) => waiters.push({ re, resolve: r }))),
  };
}

/** What a cache's rootfs directory holds besides finished entries: temporary builds and locks. */
function leftovers(cache: string): string[] {
  return readdirSync(join(cache, 'rootfs')).filter((n) => n.startsWith('.') || n.endsWith('.lock'));
}

/** An OCI layout whose one layer is a gzip of 1 GiB of zeros: seconds of work to unpack. */
function slowImage(dir: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'header'), fileHeader('zeros', GiB));
  const script = `(cat header; head -c ${GiB} /dev/zero; head -c 1024 /dev/zero) | tee >(sha256sum | cut -d' ' -f1 > diffid) | gzip -1 -c > layer.gz`;
  execFileSync('bash', ['-c', script], { cwd: dir });
  const blob = execFileSync('cat', [join(dir, 'layer.gz')], { maxBuffer: 64 << 20 });
  const diffId = `sha256:${execFileSync('cat', [join(dir, 'diffid')]).toString().trim()}`;
  const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [diffId] } }));
  const m = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: putBlob(dir, cfg), size: cfg.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: putBlob(dir, blob), size: blob.length }],
  }));
  putBlob(dir, m);
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(m), size: m.length }] }));
  return `oci:${dir}`;
}

const isRoot = process.getuid?.() === 0;

describe('vmstep pull on a full disk', () => {
  it.skipIf(!isRoot)('ends in one line naming the file and the fix, exit 125, nothing left behind (needs root for a small tmpfs)', async () => {
    const small = join(tmp.path, 'small');
    mkdirSync(small);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=32m', 'tmpfs', small]);
    try {
      const img = join(tmp.path, 'big');
      writeOciLayout(img, { layers: [{ entries: [{ path: 'noise', content: execFileSync('head', ['-c', String(64 << 20), '/dev/urandom'], { maxBuffer: 128 << 20 }) }], compression: 'none' }] });
      const p = pull(`oci:${img}`, small);
      expect(await p.code).toBe(125);
      const lines = p.stderr().trim().split('\n').filter((l) => !/unpacking layer/.test(l));
      expect(lines).toEqual([expect.stringMatching(/^vmstep: error: writing .*small\/rootfs\/\.tmp-\d+-\w+\/rootfs\.ext4 failed: no space left on the device \(ENOSPC\); free space there \(vmstep cache prune\) or point VMSTEP_CACHE at a larger disk$/)]);
      expect(leftovers(small)).toEqual([]);
    } finally {
      spawnSync('umount', [small]);
    }
  }, 120_000);
});

/** A small image, an empty cache and the key its root filesystem will have there (for planting locks). */
async function imageAndCache(name: string): Promise<{ img: string; cacheDir: string; key: string }> {
  const img = join(tmp.path, name);
  writeOciLayout(img, { layers: [{ entries: [{ path: 'a', content: 'a' }] }] });
  const cacheDir = join(tmp.path, `${name}-cache`);
  const key = await new RootfsCache(cacheDir).key(await resolveImage(`oci:${img}`), init);
  mkdirSync(join(cacheDir, 'rootfs'), { recursive: true });
  return { img, cacheDir, key };
}

describe('cache locks', () => {
  it('takes over a lock whose pid is alive but belongs to another process than the one that wrote it', async () => {
    const { img, cacheDir, key } = await imageAndCache('lock-stale');
    // This very process's pid, with another start time: what a restarted container leaves.
    writeFileSync(join(cacheDir, 'rootfs', `${key}.lock`), JSON.stringify({ pid: process.pid, start: '1', what: 'an earlier pull' }));
    const prepared = await new RootfsCache(cacheDir).prepare(await resolveImage(`oci:${img}`), { initPath: init });
    expect(prepared.cached).toBe(false);
    await prepared.release();
    expect(leftovers(cacheDir)).toEqual([]);
  });

  it('says what it waits for after a few seconds, and the first Ctrl-C ends the wait with exit 130', async () => {
    const { img, cacheDir, key } = await imageAndCache('lock-live');
    const holder = spawn('sleep', ['60']);
    try {
      const lock = join(cacheDir, 'rootfs', `${key}.lock`);
      writeFileSync(lock, JSON.stringify({ pid: holder.pid, start: processStartTime(holder.pid!), what: 'building the root filesystem of another pull' }));
      const p = pull(`oci:${img}`, cacheDir);
      await p.saw(new RegExp(`waiting for process ${holder.pid} \\(building the root filesystem of another pull\\) to finish; lock .*\\.lock`));
      process.kill(p.pid, 'SIGINT');
      expect(await p.code).toBe(130);
      expect(p.stderr()).toMatch(/vmstep: cancelled; nothing was added to the cache\n$/);
      // The holder's lock is the holder's: left in place.
      expect(readdirSync(join(cacheDir, 'rootfs'))).toEqual([`${key}.lock`]);
    } finally {
      holder.kill();
    }
  }, 60_000);
});

describe('signals during a build', () => {
  let slowRef: string | undefined;
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    it(`the first ${sig} stops the build, removes its files and exits 130`, async () => {
      slowRef ??= slowImage(join(tmp.path, 'slow'));
      const ref = slowRef;
      const cacheDir = join(tmp.path, `slow-${sig}-cache`);
      const p = pull(ref, cacheDir);
      await p.saw(/unpacking layer 1\/1/);
      const sent = Date.now();
      process.kill(p.pid, sig);
      expect(await p.code).toBe(130);
      expect(Date.now() - sent).toBeLessThan(5000);
      expect(leftovers(cacheDir)).toEqual([]);
      expect(readdirSync(join(cacheDir, 'rootfs'))).toEqual([]);
    }, 120_000);
  }
});
