// The self-hosted runner's container hooks (ACTIONS_RUNNER_CONTAINER_HOOKS):
// everything lives in hooks/main.ts. (No top-level await: the entries must
// bundle the same whether or not ncc type-checks.)
import { hookMain } from './hooks/main.js';
import { bindVms } from './hooks/vms-binding.js';

const controller = new AbortController();
// The runner stops a cancelled step's process with SIGINT, then SIGTERM.
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => controller.abort());

void hookMain({ stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env, signal: controller.signal }, () => bindVms(process.env)).then((code) => {
  process.exitCode = code;
});
