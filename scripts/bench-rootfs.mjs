// @ts-check
// Root filesystem benchmark, side by side in one run:
//   cold: registry image -> ext4, vmstep (resolveImage + RootfsCache.prepare,
//         fresh cache) against `skopeo copy` + `umoci unpack` + `mkfs.ext4 -d`
//   warm: cached image -> ready per-run root filesystem (RootfsCache.prepare)
// on a Debian bookworm minbase root built once with debootstrap and pushed to
// a docker-registry on loopback. Figures are ratios to the anchor pipeline
// measured in the same run; absolute times are reported beside them.
//
//   node scripts/bench-rootfs.mjs [--runs N] [--warm-runs N] [--json FILE]
// Needs root (debootstrap), the network to a Debian mirror the first time,
// and the test packages of scripts/lib/deps.mjs.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
const warmRuns = opt('warm-runs', 30);
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
  for (const t of ['skopeo', 'umoci', 'mkfs.ext4', 'docker-registry', 'debootstrap']) {
    try {
      sh('sh', ['-c', `command -v ${t}`]);
    } catch {
      throw new Error(`${t} is missing: apt-get install -y docker-registry skopeo umoci e2fsprogs debootstrap (the test group of scripts/lib/deps.mjs)`);
    }
  }
  const work = mkdtempSync(join(tmpdir(), 'vmstep-bench-rootfs-'));
  // The entry re-exports what the bench needs; written here so no extra file lives in scripts/.
  const entry = join(work, 'entry.ts');
  writeFileSync(entry, `export { resolveImage } from ${JSON.stringify(join(repoRoot, 'src/image/index.ts'))};\nexport { RootfsCache } from ${JSON.stringify(join(repoRoot, 'src/rootfs/index.ts'))};\n`);
  const outDir = join(work, 'engine');
  await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile: join(outDir, 'engine.mjs'), logLevel: 'error', banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" } });
  const { resolveImage, RootfsCache } = await import(join(outDir, 'engine.mjs'));
  const reg = await startRegistry(work);
  try {
    const tar = debianRootTar();
    const layout = join(work, 'layout');
    const sizes = ociLayoutFromTar(tar, layout);
    log(`image: Debian bookworm minbase, ${(sizes.uncompressed / 2 ** 20).toFixed(0)} MiB uncompressed, ${(sizes.compressed / 2 ** 20).toFixed(0)} MiB gzip`);
    sh('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:min`, `docker://${reg.host}/bench/debian:min`]);
    const ref = `${reg.host}/bench/debian:min`;
    const init = join(work, 'init');
    writeFileSync(init, Buffer.alloc(1 << 20, 1), { mode: 0o755 }); // a stand-in of guest init's size

    /** @type {number[]} */ const ours = [];
    /** @type {number[]} */ const anchor = [];
    const rootless = process.getuid?.() !== 0 ? ['--rootless'] : [];
    for (let i = 0; i < coldRuns; i++) {
      // vmstep: fresh cache, pull, build, hand out a run copy.
      const cache = join(work, `cache-${i}`);
      let t0 = performance.now();
      const image = await resolveImage(ref, { cacheDir: cache });
      const run = await new RootfsCache(cache, { spares: false }).prepare(image, { initPath: init });
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

    // Warm: the image resolved once (a run resolves it anyway), then per-run roots from the cache.
    const warmCacheDir = join(work, 'cache-warm');
    const image = await resolveImage(ref, { cacheDir: warmCacheDir });
    const warmCache = new RootfsCache(warmCacheDir);
    await (await warmCache.prepare(image, { initPath: init })).release();
    await warmCache.settle();
    /** @type {number[]} */ const warm = [];
    /** @type {string[]} */ const how = [];
    for (let i = 0; i < warmRuns; i++) {
      const t0 = performance.now();
      const run = await warmCache.prepare(image, { initPath: init });
      warm.push(performance.now() - t0);
      how.push(run.copy);
      await run.release();
      await warmCache.settle(); // refilling the spare is off the measured path, as after a real run
    }
    /** @type {number[]} */ const warmCopy = [];
    const copyCache = new RootfsCache(warmCacheDir, { spares: false });
    for (let i = 0; i < Math.min(5, warmRuns); i++) {
      const t0 = performance.now();
      const run = await copyCache.prepare(image, { initPath: init });
      warmCopy.push(performance.now() - t0);
      await run.release();
    }
    const result = {
      image: { name: 'debian bookworm minbase', uncompressedBytes: sizes.uncompressed, compressedBytes: sizes.compressed },
      cold: { vmstepMs: median(ours), anchorMs: median(anchor), speedup: median(anchor) / median(ours), runs: coldRuns, vmstepAll: ours, anchorAll: anchor },
      warm: { medianMs: median(warm), p90Ms: quantile(warm, 0.9), runs: warmRuns, copy: [...new Set(how)].join(','), withoutSpareMedianMs: median(warmCopy) },
    };
    const md = [
      '| rootfs benchmark | vmstep | anchor | ratio |',
      '| --- | --- | --- | --- |',
      `| cold: registry -> ext4 (${(sizes.uncompressed / 2 ** 20).toFixed(0)} MiB Debian minbase) | ${result.cold.vmstepMs.toFixed(0)} ms | ${result.cold.anchorMs.toFixed(0)} ms (skopeo copy + umoci unpack + mkfs.ext4 -d) | ${result.cold.speedup.toFixed(2)}x faster |`,
      `| warm: cached -> per-run rootfs | ${result.warm.medianMs.toFixed(2)} ms median, ${result.warm.p90Ms.toFixed(2)} ms p90 (${result.warm.copy}) | target 5 ms | ${(5 / result.warm.medianMs).toFixed(1)}x under target |`,
      `| warm without a spare copy (full sparse copy) | ${result.warm.withoutSpareMedianMs.toFixed(0)} ms | | |`,
    ].join('\n');
    process.stdout.write(`${md}\n`);
    if (jsonOut) writeFileSync(jsonOut, JSON.stringify(result, null, 2));
  } finally {
    reg.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`bench-rootfs: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
