// @ts-check
// Volumes and stdin benchmark, side by side in one run:
//   copy: a tree of 20,000 files / 200 MiB onto a run's volume disk
//         (buildVolumeDisk: what a volume adds to a run before the VM starts)
//         against `cp -a` of the same tree on the same disk; the target is at
//         most 2x the anchor's time.
//   -i:   100 MiB through the command's stdin (`cat > /dev/null`) against
//         100 MiB out of its stdout (`head -c`), the same run machinery; the
//         target is stdin at least as fast. In a VM where this host's KVM
//         boots Linux, else through guest init's test mode (a Unix socket
//         for vsock: the protocol and both ends, without the VM).
//
//   node scripts/bench-volumes.mjs [--runs N] [--json FILE]
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { build } from 'esbuild';
import { repoRoot } from './lib/cache.mjs';

const args = process.argv.slice(2);
const runs = args.includes('--runs') ? Number(args[args.indexOf('--runs') + 1]) : 3;
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined;
const log = (/** @type {string} */ m) => process.stderr.write(`bench-volumes: ${m}\n`);
/** @param {number[]} xs */
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

const FILES = 20_000;
const TOTAL = 200 * 2 ** 20;
const STREAM_BYTES = 100 * 2 ** 20;

/** 20,000 files in 200 directories, sizes spread from a few bytes to ~80 KiB, 200 MiB in all; deterministic. @param {string} dir */
function writeTree(dir) {
  const sizes = Array.from({ length: FILES }, (_, i) => 1 + ((i * 7919) % 2000) ** 2 / 50);
  const scale = TOTAL / sizes.reduce((a, b) => a + b, 0);
  const block = Buffer.alloc(128 * 1024);
  for (let i = 0; i < block.length; i++) block[i] = (i * 31 + 7) & 0xff;
  for (let d = 0; d < 200; d++) mkdirSync(join(dir, `dir-${d}`, 'sub'), { recursive: true });
  let bytes = 0;
  sizes.forEach((s, i) => {
    const n = Math.max(1, Math.min(block.length, Math.round(s * scale)));
    bytes += n;
    writeFileSync(join(dir, `dir-${i % 200}`, i % 3 === 0 ? 'sub' : '', `file-${i}.dat`), block.subarray(0, n));
  });
  return bytes;
}

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'vmstep-bench-volumes-'));
  const entry = join(work, 'entry.ts');
  writeFileSync(
    entry,
    [
      `export { buildVolumeDisk } from ${JSON.stringify(join(repoRoot, 'src/rootfs/index.ts'))};`,
      `export { runImage } from ${JSON.stringify(join(repoRoot, 'src/engine/run.ts'))};`,
      `export { validateRunInput } from ${JSON.stringify(join(repoRoot, 'src/engine/validate.ts'))};`,
      `export { probeKvm } from ${JSON.stringify(join(repoRoot, 'src/engine/vm-port.ts'))};`,
      `export { writeBusyboxLayout } from ${JSON.stringify(join(repoRoot, 'test/helpers/busybox-image.ts'))};`,
      `export { guestInitBinary, testModeVm } from ${JSON.stringify(join(repoRoot, 'test/helpers/guest-init.ts'))};`,
      `export { builtArtifacts } from ${JSON.stringify(join(repoRoot, 'test/helpers/artifacts.ts'))};`,
    ].join('\n'),
  );
  // Two levels below the checkout, as the test helpers it bundles expect to be (they find the checkout from their own place).
  const bundleDir = join(repoRoot, '.vmstep', 'bench-volumes');
  await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile: join(bundleDir, 'engine.mjs'), logLevel: 'error', external: ['vitest'], banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" } });
  const engine = await import(join(bundleDir, 'engine.mjs'));
  try {
    // 1. The copy, alternating with the anchor so that drift hits both.
    const tree = join(work, 'tree');
    mkdirSync(tree);
    const bytes = writeTree(tree);
    execFileSync('cp', ['-a', tree, join(work, 'warm-up')]); // both read a tree already in the page cache
    rmSync(join(work, 'warm-up'), { recursive: true, force: true });
    /** @type {number[]} */ const ours = [];
    /** @type {number[]} */ const anchor = [];
    for (let i = 0; i < runs; i++) {
      const disk = join(work, `volumes-${i}.ext4`);
      let t0 = performance.now();
      await engine.buildVolumeDisk([{ name: '0', hostPath: tree }], disk, { headroomBytes: 4 * 2 ** 30 });
      ours.push(performance.now() - t0);
      rmSync(disk, { force: true });
      const copy = join(work, `copy-${i}`);
      t0 = performance.now();
      execFileSync('cp', ['-a', tree, copy]);
      anchor.push(performance.now() - t0);
      rmSync(copy, { recursive: true, force: true });
      log(`copy run ${i + 1}/${runs}: volume disk ${ours.at(-1)?.toFixed(0)} ms, cp -a ${anchor.at(-1)?.toFixed(0)} ms`);
    }

    // 2. stdin against stdout, same run machinery: this checkout's guest init and kernel (npm run bench sets them up).
    try {
      const built = engine.builtArtifacts();
      process.env.VMSTEP_KERNEL ??= built.guestKernel;
      if (built.guestInit) process.env.VMSTEP_INIT ??= built.guestInit;
    } catch {
      process.env.VMSTEP_INIT ??= engine.guestInitBinary();
    }
    let mode = 'test mode (no VM: this host cannot boot Linux under KVM)';
    let launchVm = engine.testModeVm();
    try {
      const probe = engine.probeKvm();
      if (probe.available && probe.canRunLinux) {
        mode = 'VM';
        launchVm = undefined;
      }
    } catch {
      // no KVM at all: test mode
    }
    // Test mode boots nothing, but a run names a kernel all the same.
    const kernel = launchVm ? join(work, 'vmlinux') : undefined;
    if (kernel) writeFileSync(kernel, 'not booted in test mode');
    const layout = join(work, 'image');
    engine.writeBusyboxLayout(layout, { Cmd: ['/bin/sh'] });
    const cacheDir = join(work, 'cache');
    /** @param {string} script @param {boolean} interactive */
    const timed = async (script, interactive) => {
      const options = engine.validateRunInput({ image: `oci:${layout}`, command: ['sh', '-c', script], memory: '512M', vcpus: 1, interactive, cacheDir, ...(kernel ? { kernel } : {}) }, { style: 'cli', cwd: work });
      let got = 0;
      const chunk = Buffer.alloc(1 << 20, 0x5a);
      const stdin = interactive ? Readable.from((function* () { for (let i = 0; i < STREAM_BYTES / chunk.length; i++) yield chunk; })()) : undefined;
      const r = await engine.runImage(options, { stdout: (/** @type {Buffer} */ c) => void (got += c.length) }, { ...(launchVm ? { launchVm } : {}), ...(stdin ? { stdin } : {}) });
      if (r.exitCode !== 0) throw new Error(`the ${interactive ? 'stdin' : 'stdout'} run exited with ${r.exitCode}`);
      return { ms: r.timings.commandMs, got };
    };
    // In test mode the command runs on this host: its shell and head/cat are the host's.
    const out = `head -c ${STREAM_BYTES} /dev/zero`;
    const inn = `cat > /dev/null`;
    await timed('true', false); // builds the root filesystem once
    /** @type {number[]} */ const stdinMs = [];
    /** @type {number[]} */ const stdoutMs = [];
    for (let i = 0; i < runs; i++) {
      const o = await timed(out, false);
      if (o.got !== STREAM_BYTES) throw new Error(`stdout delivered ${o.got} of ${STREAM_BYTES} bytes`);
      stdoutMs.push(o.ms);
      stdinMs.push((await timed(inn, true)).ms);
      log(`stream run ${i + 1}/${runs} (${mode}): stdin ${stdinMs.at(-1)?.toFixed(0)} ms, stdout ${stdoutMs.at(-1)?.toFixed(0)} ms`);
    }
    const mibps = (/** @type {number} */ ms) => STREAM_BYTES / 2 ** 20 / (ms / 1000);
    const result = {
      copy: { files: FILES, bytes, volumeDiskMs: median(ours), cpMs: median(anchor), ratio: median(ours) / median(anchor), runs },
      stream: { mode, bytes: STREAM_BYTES, stdinMs: median(stdinMs), stdoutMs: median(stdoutMs), stdinMiBps: mibps(median(stdinMs)), stdoutMiBps: mibps(median(stdoutMs)) },
    };
    const md = [
      '| volumes benchmark | vmstep | anchor | ratio |',
      '| --- | --- | --- | --- |',
      `| copy ${FILES} files, ${(bytes / 2 ** 20).toFixed(0)} MiB into a run | ${result.copy.volumeDiskMs.toFixed(0)} ms (volume disk) | ${result.copy.cpMs.toFixed(0)} ms (cp -a, same disk) | ${result.copy.ratio.toFixed(2)}x the anchor (target at most 2x) |`,
      `| 100 MiB through -i, ${mode} | ${result.stream.stdinMiBps.toFixed(0)} MiB/s (stdin) | ${result.stream.stdoutMiBps.toFixed(0)} MiB/s (stdout) | ${(result.stream.stdinMiBps / result.stream.stdoutMiBps).toFixed(2)}x stdout's speed (target at least 1x) |`,
    ].join('\n');
    process.stdout.write(`${md}\n`);
    if (jsonOut) writeFileSync(jsonOut, JSON.stringify(result, null, 2));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`bench-volumes: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
