// @ts-check
// npm run fuzz -- [--seconds N] [--target vmm|guest]
//
// Fuzzes with libFuzzer, ASan and UBSan, per target (default: both, one
// after the other, N seconds each):
// - vmm: the VMM's guest-facing parsers (native/fuzz/fuzz_devices.cc:
//   virtqueue chains, virtio-blk requests, vsock packets and connections,
//   virtio-mmio registers, copy-on-write overlay files);
// - guest: guest init's parsers of host frames (guest/fuzz/fuzz_host_frames.c:
//   framing, RUN, SERVE, PUT/GET/LIST requests, ENTRY).
// First every file in the target's fuzz/regressions/ must pass; then it
// fuzzes for N seconds (default 600) from its fuzz/seeds/ plus the working
// corpus fuzz/corpus-run/ (not committed). A crash is saved in
// fuzz/regressions/: fix the bug and commit the file, which every later run
// (npm test included) replays.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cachedBuild, hashInputs, repoRoot } from './lib/cache.mjs';
import { toolVersion } from './lib/deps.mjs';
import { run } from './lib/run.mjs';

/** @type {Record<string, { dir: string; binary: string; hash: () => string; build: (out: string) => Promise<unknown> }>} */
const targets = {
  vmm: {
    dir: join(repoRoot, 'native', 'fuzz'),
    binary: 'fuzz-devices',
    hash: () => hashInputs(['native/src', 'native/fuzz/fuzz_devices.cc', 'native/fuzz/build.sh'], [toolVersion('clang++')]),
    build: (out) => run('bash', [join(repoRoot, 'native', 'fuzz', 'build.sh'), out]),
  },
  guest: {
    dir: join(repoRoot, 'guest', 'fuzz'),
    binary: 'fuzz-host-frames',
    hash: () => hashInputs(['guest/src', 'guest/fuzz/fuzz_host_frames.c', 'guest/fuzz/build.sh'], [toolVersion('clang')]),
    build: (out) => run('bash', [join(repoRoot, 'guest', 'fuzz', 'build.sh'), out]),
  },
};
const usage = 'usage: npm run fuzz -- [--seconds N] [--target vmm|guest]';

/** @param {string[]} argv */
function parseArgs(argv) {
  let seconds = 600;
  /** @type {string[]} */
  let names = Object.keys(targets);
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--seconds') {
      seconds = Number(argv[++i]);
      if (!Number.isFinite(seconds) || seconds <= 0) throw new Error(`--seconds needs a positive number, got '${argv[i] ?? ''}'`);
    } else if (argv[i] === '--target') {
      const name = argv[++i] ?? '';
      if (!(name in targets)) throw new Error(`--target needs one of ${Object.keys(targets).join(', ')}, got '${name}'`);
      names = [name];
    } else if (argv[i] === '--help' || argv[i] === '-h') {
      process.stdout.write(`${usage}\n`);
      process.exit(0);
    } else {
      throw new Error(`unknown argument ${argv[i]}; ${usage}`);
    }
  }
  return { seconds, names };
}

/** @param {string} cmd @param {string[]} args @param {string} cwd @returns {Promise<number>} */
function exec(cmd, args, cwd) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], cwd });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
    child.on('error', () => resolve(127));
  });
}

/** @param {string} name @param {number} seconds */
async function fuzzTarget(name, seconds) {
  const t = targets[name];
  const built = await cachedBuild({ name: name === 'vmm' ? 'fuzz' : `fuzz-${name}`, hash: t.hash(), build: t.build });
  const fuzzer = join(built, t.binary);
  const regressions = join(t.dir, 'regressions');
  mkdirSync(regressions, { recursive: true });
  const inputs = readdirSync(regressions).filter((f) => !f.startsWith('.') && f !== 'README.md');
  if (inputs.length > 0) {
    process.stderr.write(`fuzz ${name}: replaying ${inputs.length} regression input(s)\n`);
    const code = await exec(fuzzer, inputs.map((f) => join(regressions, f)), t.dir);
    if (code !== 0) {
      process.stderr.write(`fuzz ${name}: a regression input fails again (see above)\n`);
      return code;
    }
  }
  const corpus = join(t.dir, 'corpus-run');
  mkdirSync(corpus, { recursive: true });
  process.stderr.write(`fuzz ${name}: fuzzing for ${seconds} s\n`);
  const code = await exec(
    fuzzer,
    [
      `-max_total_time=${Math.ceil(seconds)}`,
      '-max_len=8192',
      '-timeout=10',
      '-rss_limit_mb=2048',
      '-print_final_stats=1',
      `-artifact_prefix=${regressions}/`,
      corpus,
      ...(existsSync(join(t.dir, 'seeds')) ? [join(t.dir, 'seeds')] : []),
    ],
    t.dir,
  );
  if (code !== 0) {
    process.stderr.write(`fuzz ${name}: the fuzzer found a crash, saved in ${regressions}/: fix it and commit the file (it becomes a regression input)\n`);
  }
  return code;
}

async function main() {
  const { seconds, names } = parseArgs(process.argv.slice(2));
  for (const name of names) {
    const code = await fuzzTarget(name, seconds);
    if (code !== 0) return code;
  }
  return 0;
}

try {
  process.exitCode = await main();
} catch (err) {
  process.stderr.write(`fuzz: ${err instanceof Error ? err.message : err}\n`);
  process.exitCode = 1;
}
