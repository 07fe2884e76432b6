// The vsock connection state machine's own C++ test
// (native/tests/vsock_connection_test.cc, built by native/build.sh): credit
// accounting and shutdown, driven over a socketpair with no guest at all.
// It lives in this tier because it needs the native build, not KVM.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { nativeBuild } from './vm-helpers.js';

test('the vsock connection state machine passes its credit and shutdown cases', { timeout: 600_000 }, async () => {
  const build = await nativeBuild();
  const res = spawnSync(join(build.dir, 'tests', 'vsock-connection-test'), { encoding: 'utf8', timeout: 60_000 });
  expect(res.stdout, res.stderr).toMatch(/^ok - host data reaches the guest only as far as the guest's credit allows$/m);
  expect(res.stdout).toMatch(/^ok - shutting both directions with bytes pending closes only once the host has them, then resets the guest$/m);
  expect(res.stdout).not.toMatch(/^not ok/m);
  expect(res.stdout).toMatch(/^0 failed$/m);
  expect(res.status).toBe(0);
});
