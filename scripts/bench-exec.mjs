// @ts-check
// Long-lived VM benchmark (vmstep start/exec/cp), side by side in one run:
//   exec: the round trip of `vmstep exec VM true` into a running VM against
//         a one-shot `vmstep run IMAGE true` (what a long-lived VM saves) and
//         against spawning `sh -c true` on the host; also the same exec
//         called in-process (execInVm, what the runner plugin does), and a
//         bare Node.js start (the floor under every vmstep CLI call).
//   cp:   `vmstep cp` into and out of the VM of a tree of many small files
//         and of one big file, against `cp -a` of the same on the host.
// Medians of several runs, the measures alternating so that drift hits all.
// On a host whose KVM cannot boot Linux the VM is guest init's test mode
// (scripts/lib/bench-vms.mjs), and the output says so.
//
//   node scripts/bench-exec.mjs [--runs N] [--cp-runs N] [--json FILE]
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { benchVm, bundleModules, runBench, median, option, timedSpawn, treeSize } from './lib/bench-vms.mjs';

const argv = process.argv.slice(2);
const runs = Number(option(argv, '--runs', '15'));
const cpRuns = Number(option(argv, '--cp-runs', '3'));
const jsonOut = option(argv, '--json', undefined);
const log = (/** @type {string} */ m) => process.stderr.write(`bench-exec: ${m}\n`);

const TREE_FILES = 10_000;
const BIG_BYTES = 256 * 2 ** 20;

/** 10,000 files of 1 to 8 KiB in 100 directories (about 45 MiB), deterministic. @param {string} dir */
function writeSmallFiles(dir) {
  const block = Buffer.alloc(8192);
  for (let i = 0; i < block.length; i++) block[i] = (i * 131 + 17) & 0xff;
  for (let d = 0; d < 100; d++) mkdirSync(join(dir, `d${d}`), { recursive: true });
  for (let i = 0; i < TREE_FILES; i++) writeFileSync(join(dir, `d${i % 100}`, `f${i}.txt`), block.subarray(0, 1024 + ((i * 7919) % 7169)));
}

/** One file of BIG_BYTES that does not compress to nothing. @param {string} file */
function writeBigFile(file) {
  const chunk = Buffer.alloc(2 ** 20);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 2654435761) >>> 24;
  const parts = [];
  for (let i = 0; i < BIG_BYTES / chunk.length; i++) parts.push(chunk);
  writeFileSync(file, Buffer.concat(parts));
}

const sink = () => new Writable({ write: (_c, _e, done) => done() });

/** @param {string} work */
async function main(work) {
  const lib = await bundleModules('bench-exec', {
    'src/vms/index.ts': ['execInVm'],
    'src/engine/vm-port.ts': ['probeKvm'],
    'test/helpers/busybox-image.ts': ['writeBusyboxLayout'],
    'test/helpers/guest-init.ts': ['guestInitBinary'],
    'test/helpers/artifacts.ts': ['builtArtifacts'],
  });
  const vm = await benchVm(work, lib);
  log(`measuring on ${vm.mode}`);
  const layout = join(work, 'image');
  lib.writeBusyboxLayout(layout, { Cmd: ['/bin/sh'] });
  const image = `oci:${layout}`;
  const size = vm.real ? ['--vcpus', '1', '--memory', '512M', '--disk', '2G'] : ['--vcpus', '1', '--memory', '128M'];
  const vmstep = (/** @type {string[]} */ args) => timedSpawn(process.execPath, ['--', vm.cli, ...args], { env: vm.env, cwd: work });

  // The one-shot run builds the root filesystem once, outside the timings; so does the start.
  await vmstep(['run', ...size, image, 'true']);
  const startMs = await vmstep(['start', ...size, '--no-command', '--name', 'bench', image]);
  log(`vmstep start (once, root filesystem cached): ${startMs.toFixed(0)} ms`);

  /** @type {Record<string, number[]>} */
  const t = { host: [], node: [], execCli: [], execApi: [], run: [] };
  /** @type {Record<string, () => Promise<number>>} */
  const ops = {
    host: () => timedSpawn('sh', ['-c', 'true']),
    node: () => timedSpawn(process.execPath, ['-e', '']),
    execCli: () => vmstep(['exec', 'bench', 'true']),
    execApi: async () => {
      const t0 = performance.now();
      const r = await lib.execInVm('bench', { argv: ['true'], stdout: sink(), stderr: sink(), hostEnv: vm.env });
      if (r.exitCode !== 0) throw new Error(`exec true exited with ${r.exitCode}`);
      return performance.now() - t0;
    },
    run: () => vmstep(['run', ...size, image, 'true']),
  };
  for (let i = 0; i < runs; i++) {
    for (const [k, op] of Object.entries(ops)) t[k].push(await op());
    log(`round trip ${i + 1}/${runs}: ${Object.entries(t).map(([k, v]) => `${k} ${v.at(-1)?.toFixed(1)} ms`).join(', ')}`);
  }

  // Copies. In test mode the "guest" paths are this host's, under work/guest.
  const src = join(work, 'src');
  mkdirSync(join(src, 'tree'), { recursive: true });
  writeSmallFiles(join(src, 'tree'));
  writeBigFile(join(src, 'big.bin'));
  const want = { tree: treeSize(join(src, 'tree')), big: treeSize(join(src, 'big.bin')) };
  const guestDir = vm.real ? '/tmp/bench-cp' : join(work, 'guest');
  if (vm.real) await vmstep(['exec', 'bench', 'mkdir', '-p', guestDir]);
  else mkdirSync(guestDir);
  const hostOut = join(work, 'out');
  mkdirSync(hostOut);
  /** @type {Record<string, { in: number[], out: number[], cpa: number[] }>} */
  const c = { tree: { in: [], out: [], cpa: [] }, big: { in: [], out: [], cpa: [] } };
  for (let i = 0; i < cpRuns; i++) {
    for (const what of /** @type {const} */ (['tree', 'big'])) {
      const from = what === 'tree' ? join(src, 'tree') : join(src, 'big.bin');
      const name = `${what}-${i}`;
      c[what].in.push(await vmstep(['cp', from, `bench:${guestDir}/${name}`]));
      c[what].out.push(await vmstep(['cp', `bench:${guestDir}/${name}`, join(hostOut, name)]));
      const got = treeSize(join(hostOut, name));
      if (got.files !== want[what].files || got.bytes !== want[what].bytes) throw new Error(`the ${what} came back as ${got.files} files, ${got.bytes} bytes; sent ${want[what].files}, ${want[what].bytes}`);
      c[what].cpa.push(await timedSpawn('cp', ['-a', from, join(work, `cp-a-${name}`)]));
      // Each run copies onto nothing, as the first did; the removals are not timed.
      rmSync(join(hostOut, name), { recursive: true, force: true });
      rmSync(join(work, `cp-a-${name}`), { recursive: true, force: true });
      if (vm.real) await vmstep(['exec', 'bench', 'rm', '-rf', `${guestDir}/${name}`]);
      else rmSync(join(guestDir, name), { recursive: true, force: true });
      log(`cp ${what} ${i + 1}/${cpRuns}: in ${c[what].in.at(-1)?.toFixed(0)} ms, out ${c[what].out.at(-1)?.toFixed(0)} ms, cp -a ${c[what].cpa.at(-1)?.toFixed(0)} ms`);
    }
  }
  const stopMs = await vmstep(['stop', '--time', '0', 'bench']);

  const m = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v)]));
  const cp = Object.fromEntries(Object.entries(c).map(([k, v]) => [k, { files: want[/** @type {'tree'|'big'} */ (k)].files, bytes: want[/** @type {'tree'|'big'} */ (k)].bytes, inMs: median(v.in), outMs: median(v.out), cpAMs: median(v.cpa) }]));
  const result = { mode: vm.mode, vm: vm.real, runs, cpRuns, startMs, stopMs, roundTripMs: m, cp };
  const ms = (/** @type {number} */ x) => `${x.toFixed(x < 10 ? 2 : 1)} ms`;
  const mbs = (/** @type {number} */ bytes, /** @type {number} */ x) => `${(bytes / 2 ** 20 / (x / 1000)).toFixed(0)} MiB/s`;
  const lines = [
    `exec benchmark on ${vm.real ? 'a real VM' : "guest init's test mode (NOT a VM: no VMM, no kernel, no vsock; see above)"}; medians of ${runs} round trips, ${cpRuns} copies`,
    '| measure | vmstep | anchor | ratio |',
    '| --- | --- | --- | --- |',
    `| \`vmstep exec VM true\` (CLI process) | ${ms(m.execCli)} | ${ms(m.run)} (one-shot \`vmstep run IMAGE true\`, rootfs cached) | ${(m.run / m.execCli).toFixed(1)}x faster than a one-shot run |`,
    `| \`vmstep exec VM true\` (CLI process) | ${ms(m.execCli)} | ${ms(m.host)} (spawn \`sh -c true\` on the host) | ${(m.execCli / m.host).toFixed(1)}x the host spawn |`,
    `| exec \`true\` in-process (execInVm, the runner plugin's path) | ${ms(m.execApi)} | ${ms(m.host)} (spawn \`sh -c true\` on the host) | ${(m.execApi / m.host).toFixed(1)}x the host spawn |`,
    `| Node.js start (\`node -e ''\`), the floor under every CLI call | ${ms(m.node)} | ${ms(m.host)} | ${(m.node / m.host).toFixed(1)}x |`,
    ...(/** @type {const} */ (['tree', 'big'])).flatMap((k) => {
      const x = cp[k];
      const what = k === 'tree' ? `${x.files} files, ${(x.bytes / 2 ** 20).toFixed(0)} MiB` : `one file of ${(x.bytes / 2 ** 20).toFixed(0)} MiB`;
      return [
        `| \`vmstep cp\` into the VM, ${what} | ${ms(x.inMs)} (${mbs(x.bytes, x.inMs)}) | ${ms(x.cpAMs)} (${mbs(x.bytes, x.cpAMs)}, \`cp -a\` on the host) | ${(x.inMs / x.cpAMs).toFixed(2)}x the anchor's time |`,
        `| \`vmstep cp\` out of the VM, ${what} | ${ms(x.outMs)} (${mbs(x.bytes, x.outMs)}) | ${ms(x.cpAMs)} (${mbs(x.bytes, x.cpAMs)}, \`cp -a\` on the host) | ${(x.outMs / x.cpAMs).toFixed(2)}x the anchor's time |`,
      ];
    }),
    `vmstep start (once): ${ms(startMs)}${vm.real ? ' (includes the VM boot: VMM start, kernel, guest init ready)' : ' (test mode: no VM boots; the keeper, the cached root filesystem and the test double only)'}; vmstep stop (once): ${ms(stopMs)}`,
    ...(vm.real ? [] : ['Not measured here: the VM boot, virtio-vsock and the guest kernel\'s file system; in test mode the "guest" side of cp is this host\'s disk and exec/run spawn on this host.']),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify(result, null, 2)}\n`);
}

runBench('exec', main);
