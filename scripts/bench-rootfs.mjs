// @ts-check
// Root filesystem benchmark, side by side in one run:
//   warm: cached image -> ready per-run disk (RootfsCache.prepare: an empty
//         copy-on-write overlay over the cached base) for a 2 GiB disk whose
//         base holds 1 GiB of real file content, against what a run's disk
//         cost before overlays: a full sparse copy of that base
//   cold: registry image -> ext4, vmstep (resolveImage + RootfsCache.prepare,
//         fresh cache) against `skopeo copy` + `umoci unpack` + `mkfs.ext4 -d`
//         on a Debian bookworm minbase root built once with debootstrap and
//         pushed to a docker-registry on loopback
// Figures are ratios to the anchor measured in the same run; absolute times
// are reported beside them.
//
//   node scripts/bench-rootfs.mjs [--runs N] [--warm-runs N] [--warm-only] [--json FILE]
// The cold part needs root (debootstrap), the network to a Debian mirror the
// first time, and the test packages of scripts/lib/deps.mjs; the warm part
// needs only e2fsprogs.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { cacheDir, repoRoot } from './lib/cache.mjs';

const args = process.argv.slice(2);
/** @param {string} name @param {number} dflt */
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const coldRuns = opt('runs', 3);
const warmRuns = opt('warm-runs', 200);
const warmOnly = args.includes('--warm-only');
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined;

/** @param {string} cmd @param {string[]} a @param {object} [o] */
const sh = (cmd, a, o = {}) => execFileSync(cmd, a, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26, ...o });

const log = (/** @type {string} */ m) => process.stderr.write(`bench-rootfs: ${m}\n`);

/** The Debian minbase root as a tar, built once and kept in the cache. */
function debianRootTar() {
  const dir = join(cacheDir(), 'bench');
  const tar = join(dir, 'debian-bookworm-minbase.tar');
  if (existsSync(tar)) return tar;
  if (process.getuid?.() !== 0) throw new Error('the first run builds a Debian root with debootstrap, which needs root: run it once with sudo');
  mkdirSync(dir, { recursive: true });
  const root = mkdtempSync(join(dir, '.debootstrap-'));
  log('building a Debian bookworm minbase root with debootstrap (once; a few minutes)');
  try {
    sh('debootstrap', ['--variant=minbase', 'bookworm', root, 'http://deb.debian.org/debian'], { stdio: ['ignore', 'ignore', 'inherit'] });
    sh('tar', ['--numeric-owner', '--xattrs', '--xattrs-include=*', '-C', root, '-cf', `${tar}.tmp`, '.']);
    renameSync(`${tar}.tmp`, tar);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return tar;
}

/** @param {Buffer} b */
const sha = (b) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Writes a one-layer OCI layout from a root tar. @param {string} tarPath @param {string} dir */
function ociLayoutFromTar(tarPath, dir) {
  const tar = readFileSync(tarPath);
  const layer = gzipSync(tar, { level: 6 });
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/bin/bash'] }, rootfs: { type: 'layers', diff_ids: [sha(tar)] } }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(layer), size: layer.length }],
    }),
  );
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const b of [layer, config, manifest]) writeFileSync(join(dir, 'blobs', 'sha256', sha(b).slice(7)), b);
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(manifest), size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': 'min' } }] }));
  return { uncompressed: tar.length, compressed: layer.length };
}

/** A ustar header for a regular file. @param {string} name @param {number} size */
function tarHeader(name, size) {
  const h = Buffer.alloc(512);
  h.write(name, 0);
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write('0', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

/**
 * A one-layer OCI layout (uncompressed layer, streamed to disk) with `files`
 * files of `fileBytes` each, every MiB of them different: real content that a
 * copy must move, made without holding it in memory.
 * @param {string} dir @param {number} files @param {number} fileBytes
 */
function largeOciLayout(dir, files, fileBytes) {
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const tmp = join(dir, 'layer.tmp');
  const fd = openSync(tmp, 'w');
  const h = createHash('sha256');
  const put = (/** @type {Buffer} */ b) => {
    h.update(b);
    writeSync(fd, b);
  };
  const mib = Buffer.alloc(1 << 20);
  for (let f = 0; f < files; f++) {
    put(tarHeader(`data/blob-${f}`, fileBytes));
    for (let m = 0; m < fileBytes >> 20; m++) {
      mib.writeUInt32LE(f, 0);
      mib.writeUInt32LE(m, 4);
      for (let i = 8; i < mib.length; i += 4096) mib.writeUInt32LE((f * 1_000_003 + m * 7919 + i) >>> 0, i);
      put(mib);
    }
  }
  put(Buffer.alloc(1024));
  closeSync(fd);
  const layerDigest = `sha256:${h.digest('hex')}`;
  const layerSize = statSync(tmp).size;
  renameSync(tmp, join(blobs, layerDigest.slice(7)));
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/bin/sh'] }, rootfs: { type: 'layers', diff_ids: [layerDigest] } }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layerSize }],
    }),
  );
  for (const b of [config, manifest]) writeFileSync(join(blobs, sha(b).slice(7)), b);
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(manifest), size: manifest.length }] }));
}

/**
 * Warm: the cached base -> a run's disk, `runs` times, for a 2 GiB disk with
 * 1 GiB of content; the anchor is the full sparse copy a run's disk used to be.
 * @param {string} work @param {any} engine @param {string} init
 */
async function warmBench(work, { resolveImage, RootfsCache, copyImage }, init) {
  const diskBytes = 2 * 2 ** 30;
  const layout = join(work, 'large-layout');
  log('warm: writing a 1 GiB image (16 files of 64 MiB) and its 2 GiB base, once');
  largeOciLayout(layout, 16, 64 << 20);
  const cacheDir = join(work, 'cache-warm');
  const image = await resolveImage(`oci:${layout}`, { cacheDir });
  const cache = new RootfsCache(cacheDir);
  const first = await cache.prepare(image, { initPath: init, diskBytes });
  const base = statSync(first.basePath);
  await first.release();
  rmSync(join(layout), { recursive: true, force: true });
  /** @type {number[]} */ const warm = [];
  for (let i = 0; i < warmRuns; i++) {
    const t0 = performance.now();
    const run = await cache.prepare(image, { initPath: init, diskBytes });
    warm.push(performance.now() - t0);
    await run.release();
  }
  /** @type {number[]} */ const copies = [];
  for (let i = 0; i < 3; i++) {
    const dest = join(work, `copy-${i}.ext4`);
    const t0 = performance.now();
    await copyImage(first.basePath, dest);
    copies.push(performance.now() - t0);
    rmSync(dest, { force: true });
  }
  return {
    diskBytes: base.size,
    allocatedBytes: base.blocks * 512,
    medianMs: median(warm),
    p90Ms: quantile(warm, 0.9),
    p99Ms: quantile(warm, 0.99),
    maxMs: Math.max(...warm),
    runs: warmRuns,
    fullCopyMedianMs: median(copies),
  };
}

async function freePort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', () => r(null)));
  const a = s.address();
  await new Promise((r) => s.close(() => r(null)));
  return typeof a === 'object' && a ? a.port : 0;
}

/** @param {string} dir */
async function startRegistry(dir) {
  const port = await freePort();
  writeFileSync(join(dir, 'config.yml'), `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\nhttp:\n  addr: 127.0.0.1:${port}\n`);
  const child = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: 'ignore' });
  for (let i = 0; i < 200; i++) {
    try {
      await fetch(`http://127.0.0.1:${port}/v2/`);
      return { host: `127.0.0.1:${port}`, stop: () => child.kill() };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  child.kill();
  throw new Error('docker-registry did not start');
}

/** @param {number[]} xs */
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
/** @param {number[]} xs @param {number} q */
const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? NaN;

async function main() {
  const tools = warmOnly ? ['resize2fs'] : ['skopeo', 'umoci', 'mkfs.ext4', 'docker-registry', 'debootstrap', 'resize2fs'];
  for (const t of tools) {
    try {
      sh('sh', ['-c', `command -v ${t}`]);
    } catch {
      throw new Error(`${t} is missing: apt-get install -y docker-registry skopeo umoci e2fsprogs debootstrap (the test group of scripts/lib/deps.mjs)`);
    }
  }
  const work = mkdtempSync(join(tmpdir(), 'vmstep-bench-rootfs-'));
  // The entry re-exports what the bench needs; written here so no extra file lives in scripts/.
  const entry = join(work, 'entry.ts');
  writeFileSync(entry, `export { resolveImage } from ${JSON.stringify(join(repoRoot, 'src/image/index.ts'))};\nexport { RootfsCache, copyImage } from ${JSON.stringify(join(repoRoot, 'src/rootfs/index.ts'))};\n`);
  const outDir = join(work, 'engine');
  await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile: join(outDir, 'engine.mjs'), logLevel: 'error', banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" } });
  const engine = await import(join(outDir, 'engine.mjs'));
  const { resolveImage, RootfsCache } = engine;
  const init = join(work, 'init');
  writeFileSync(init, Buffer.alloc(1 << 20, 1), { mode: 0o755 }); // a stand-in of guest init's size
  /** @type {string[]} */
  const md = ['| rootfs benchmark | vmstep | anchor | ratio |', '| --- | --- | --- | --- |'];
  /** @type {Record<string, unknown>} */
  const result = {};
  try {
    const warm = await warmBench(work, engine, init);
    result.warm = warm;
    md.push(
      `| warm: cached -> per-run disk (${(warm.diskBytes / 2 ** 30).toFixed(0)} GiB disk, ${(warm.allocatedBytes / 2 ** 30).toFixed(2)} GiB allocated; ${warm.runs} runs) | ${warm.medianMs.toFixed(2)} ms median, ${warm.p90Ms.toFixed(2)} ms p90, ${warm.p99Ms.toFixed(2)} ms p99 (overlay) | ${warm.fullCopyMedianMs.toFixed(0)} ms (full sparse copy, median of 3); target p99 5 ms | ${(warm.fullCopyMedianMs / warm.medianMs).toFixed(0)}x faster than a copy; p99 ${(5 / warm.p99Ms).toFixed(1)}x under target |`,
    );
    process.stderr.write(`bench-rootfs: warm ${JSON.stringify(warm)}\n`);
    if (warmOnly) return;

    const reg = await startRegistry(work);
    try {
      const tar = debianRootTar();
      const layout = join(work, 'layout');
      const sizes = ociLayoutFromTar(tar, layout);
      log(`image: Debian bookworm minbase, ${(sizes.uncompressed / 2 ** 20).toFixed(0)} MiB uncompressed, ${(sizes.compressed / 2 ** 20).toFixed(0)} MiB gzip`);
      sh('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:min`, `docker://${reg.host}/bench/debian:min`]);
      const ref = `${reg.host}/bench/debian:min`;
      /** @type {number[]} */ const ours = [];
      /** @type {number[]} */ const anchor = [];
      const rootless = process.getuid?.() !== 0 ? ['--rootless'] : [];
      for (let i = 0; i < coldRuns; i++) {
        // vmstep: fresh cache, pull, build, hand out a run's disk.
        const cache = join(work, `cache-${i}`);
        let t0 = performance.now();
        const image = await resolveImage(ref, { cacheDir: cache });
        const run = await new RootfsCache(cache).prepare(image, { initPath: init });
        ours.push(performance.now() - t0);
        const ourBytes = statSync(run.basePath).size;
        await run.release();
        rmSync(cache, { recursive: true, force: true });
        // Anchor: skopeo copy + umoci unpack + mkfs.ext4 -d, same image, same registry.
        const a = join(work, `anchor-${i}`);
        mkdirSync(a);
        t0 = performance.now();
        sh('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `oci:${join(a, 'oci')}:min`]);
        sh('umoci', ['unpack', ...rootless, '--image', `${join(a, 'oci')}:min`, join(a, 'bundle')]);
        sh('mkfs.ext4', ['-q', '-F', '-d', join(a, 'bundle', 'rootfs'), join(a, 'rootfs.ext4'), `${Math.ceil(ourBytes / 1024)}k`]);
        anchor.push(performance.now() - t0);
        rmSync(a, { recursive: true, force: true });
        log(`cold run ${i + 1}/${coldRuns}: vmstep ${ours.at(-1)?.toFixed(0)} ms, skopeo+umoci+mkfs ${anchor.at(-1)?.toFixed(0)} ms`);
      }
      const cold = { vmstepMs: median(ours), anchorMs: median(anchor), speedup: median(anchor) / median(ours), runs: coldRuns, vmstepAll: ours, anchorAll: anchor };
      result.image = { name: 'debian bookworm minbase', uncompressedBytes: sizes.uncompressed, compressedBytes: sizes.compressed };
      result.cold = cold;
      md.splice(2, 0, `| cold: registry -> ext4 (${(sizes.uncompressed / 2 ** 20).toFixed(0)} MiB Debian minbase) | ${cold.vmstepMs.toFixed(0)} ms | ${cold.anchorMs.toFixed(0)} ms (skopeo copy + umoci unpack + mkfs.ext4 -d) | ${cold.speedup.toFixed(2)}x faster |`);
    } finally {
      reg.stop();
    }
  } finally {
    process.stdout.write(`${md.join('\n')}\n`);
    if (jsonOut) writeFileSync(jsonOut, JSON.stringify(result, null, 2));
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`bench-rootfs: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
