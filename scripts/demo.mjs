// @ts-check
// npm run demo: sets up from nothing, then runs the built-in demo image (a
// small CPU benchmark, demo/bench.sh) through the vmstep CLI exactly as a
// user would: `vmstep run oci:DIR --output /out`. On a host whose KVM cannot
// run a stock kernel (such as kvm_pvm) it runs the CLI inside the emulated
// KVM host and says so; its timings are then meaningless.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './lib/cache.mjs';
import { demoImage } from './lib/demo-image.mjs';
import { probeHostKvm } from './lib/kvm-probe.mjs';
import { setup } from './lib/setup.mjs';

async function main() {
  const built = await setup({ kvmHost: true });
  const image = await demoImage();
  const kvm = probeHostKvm(built.native);
  const outputDir = join(repoRoot, 'vmstep-output');
  const cli = [join(repoRoot, 'dist', 'cli.js'), 'run', '--output', '/out', '--output-dir', outputDir, '--result', join(outputDir, 'result.json'), `oci:${image}`];
  const [cmd, args] = kvm.canRunLinux
    ? [process.execPath, cli]
    : [process.execPath, [join(repoRoot, 'scripts', 'kvm-host.mjs'), '--', process.execPath, ...cli]];
  if (!kvm.canRunLinux) {
    process.stderr.write(`vmstep demo: this host's KVM cannot boot a stock kernel (${kvm.reason}); running inside the emulated KVM host, where timings mean nothing.\n`);
  }
  process.stderr.write(`vmstep demo: $ vmstep ${cli.slice(1).join(' ')}\n\n`);
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: 'inherit', cwd: repoRoot });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
    child.on('error', () => resolve(125));
  });
}

try {
  const code = await main();
  if (code === 0) process.stderr.write('\nvmstep demo: done; the returned files and result.json are in vmstep-output/\n');
  process.exitCode = /** @type {number} */ (code);
} catch (err) {
  process.stderr.write(`vmstep demo: ${err instanceof Error ? err.message : err}\n`);
  process.exitCode = 1;
}
