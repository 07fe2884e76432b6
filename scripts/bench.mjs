// @ts-check
// npm run bench [-- vmm|rootfs|volumes|ports|exec|hooks]: every benchmark, each side by side with its
// anchor in the same run (scripts/bench-vmm.mjs: our VMM against QEMU's
// microvm on one tiny guest; scripts/bench-rootfs.mjs: image to ext4 against
// skopeo + umoci + mkfs.ext4; scripts/bench-volumes.mjs: volumes against
// cp -a, and -i against stdout; scripts/bench-ports.mjs: published ports
// against loopback TCP; scripts/bench-exec.mjs: exec into a running VM
// against a one-shot run and a host spawn, cp against cp -a;
// scripts/bench-hooks.mjs: the runner plugin's hook commands against the
// same step with bash on the host), reported as ratios. Sets up from nothing
// first, as `npm test` and `npm run demo` do (Debian packages, npm packages,
// every build, all cached).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { setup } from './lib/setup.mjs';

const benches = { vmm: 'bench-vmm.mjs', rootfs: 'bench-rootfs.mjs', volumes: 'bench-volumes.mjs', ports: 'bench-ports.mjs', exec: 'bench-exec.mjs', hooks: 'bench-hooks.mjs' };
const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !(w in benches));
if (unknown.length > 0) {
  process.stderr.write(`npm run bench: unknown benchmark ${unknown.join(', ')}; choose from ${Object.keys(benches).join(', ')}\n`);
  process.exit(2);
}
try {
  await setup({ kvmHost: false });
} catch (err) {
  process.stderr.write(`npm run bench: set-up failed: ${err instanceof Error ? err.message : err}\n`);
  process.exit(1);
}
let failed = 0;
for (const [name, script] of Object.entries(benches)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  process.stderr.write(`\nnpm run bench: ${name}\n`);
  const res = spawnSync(process.execPath, [join(import.meta.dirname, script)], { stdio: 'inherit' });
  if (res.status !== 0) failed++;
}
process.exitCode = failed === 0 ? 0 : 1;
