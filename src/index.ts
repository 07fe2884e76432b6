// The action's entry: everything lives in action/main.ts so that tests can
// call it directly. A cancelled job sends SIGINT, then SIGTERM: both stop the
// run (and its VM) instead of killing Node with the VM left behind.
import { run } from './action/main.js';

const controller = new AbortController();
process.on('SIGINT', () => controller.abort());
process.on('SIGTERM', () => controller.abort());
void run({ signal: controller.signal }).finally(() => {
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
});
