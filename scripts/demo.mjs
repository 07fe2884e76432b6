// @ts-check
// npm run demo: sets up from nothing, then runs the built-in demo image
// through the vmstep CLI, as a user would.
import { setup } from './lib/setup.mjs';

try {
  await setup({ kvmHost: false });
  process.stderr.write('vmstep demo: set-up is complete, but the VM path (issues #3-#6) is not built yet, so there is nothing to run.\n');
  process.exitCode = 1;
} catch (err) {
  process.stderr.write(`vmstep demo: ${err instanceof Error ? err.message : err}\n`);
  process.exitCode = 1;
}
