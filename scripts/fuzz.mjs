// @ts-check
// npm run fuzz -- [--seconds N]
//
// Fuzzes the VMM's guest-facing parsers (native/fuzz/fuzz_devices.cc:
// virtqueue chains, virtio-blk requests, vsock packets and connections,
// virtio-mmio registers, copy-on-write overlay files) with libFuzzer, ASan and UBSan. First every file in
// native/fuzz/regressions/ must pass; then it fuzzes for N seconds (default
// 600) from native/fuzz/seeds/ plus the working corpus native/fuzz/corpus-run/
// (not committed). A crash is saved in native/fuzz/regressions/: fix the bug
// and commit the file, which every later run (npm test included) replays.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cachedBuild, hashInputs, repoRoot } from './lib/cache.mjs';
import { toolVersion } from './lib/deps.mjs';
import { run } from './lib/run.mjs';

const fuzzDir = join(repoRoot, 'native', 'fuzz');

/** @param {string[]} argv */
function parseArgs(argv) {
  let seconds = 600;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--seconds') {
      seconds = Number(argv[++i]);
      if (!Number.isFinite(seconds) || seconds <= 0) throw new Error(`--seconds needs a positive number, got '${argv[i] ?? ''}'`);
    } else if (argv[i] === '--help' || argv[i] === '-h') {
      process.stdout.write('usage: npm run fuzz -- [--seconds N]\n');
      process.exit(0);
    } else {
      throw new Error(`unknown argument ${argv[i]}; usage: npm run fuzz -- [--seconds N]`);
    }
  }
  return { seconds };
}

/** @param {string} cmd @param {string[]} args @returns {Promise<number>} */
function exec(cmd, args) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], cwd: fuzzDir });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
    child.on('error', () => resolve(127));
  });
}

async function main() {
  const { seconds } = parseArgs(process.argv.slice(2));
  const built = await cachedBuild({
    name: 'fuzz',
    hash: hashInputs(['native/src', 'native/fuzz/fuzz_devices.cc', 'native/fuzz/build.sh'], [toolVersion('clang++')]),
    build: (out) => run('bash', [join(fuzzDir, 'build.sh'), out]),
  });
  const fuzzer = join(built, 'fuzz-devices');
  const regressions = join(fuzzDir, 'regressions');
  mkdirSync(regressions, { recursive: true });
  const inputs = readdirSync(regressions).filter((f) => !f.startsWith('.') && f !== 'README.md');
  if (inputs.length > 0) {
    process.stderr.write(`fuzz: replaying ${inputs.length} regression input(s)\n`);
    const code = await exec(fuzzer, inputs.map((f) => join(regressions, f)));
    if (code !== 0) {
      process.stderr.write('fuzz: a regression input fails again (see above)\n');
      return code;
    }
  }
  const corpus = join(fuzzDir, 'corpus-run');
  mkdirSync(corpus, { recursive: true });
  process.stderr.write(`fuzz: fuzzing for ${seconds} s\n`);
  const code = await exec(fuzzer, [
    `-max_total_time=${Math.ceil(seconds)}`,
    '-max_len=8192',
    '-timeout=10',
    '-rss_limit_mb=2048',
    '-print_final_stats=1',
    `-artifact_prefix=${regressions}/`,
    corpus,
    ...(existsSync(join(fuzzDir, 'seeds')) ? [join(fuzzDir, 'seeds')] : []),
  ]);
  if (code !== 0) {
    process.stderr.write(`fuzz: the fuzzer found a crash, saved in ${regressions}/: fix it and commit the file (it becomes a regression input)\n`);
  }
  return code;
}

try {
  process.exitCode = await main();
} catch (err) {
  process.stderr.write(`fuzz: ${err instanceof Error ? err.message : err}\n`);
  process.exitCode = 1;
}
