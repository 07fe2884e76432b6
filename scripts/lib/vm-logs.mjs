// @ts-check
// What the VMs of one state directory went through, to explain a failed
// benchmark or test: the ends of every VM's keeper log and guest console.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The last bytes of each VM's keeper.log and console.log under
 * STATE_DIR/vms, each under a header naming its file.
 * @param {string} stateDir @param {number} [tailBytes]
 */
export function vmLogs(stateDir, tailBytes = 4000) {
  const vms = join(stateDir, 'vms');
  if (!existsSync(vms)) return '(no VM logs)';
  const files = readdirSync(vms)
    .flatMap((id) => ['keeper.log', 'console.log'].map((f) => join(vms, id, f)))
    .filter((f) => existsSync(f));
  if (files.length === 0) return '(no VM logs)';
  return files.map((f) => `--- ${f} (end)\n${readFileSync(f, 'utf8').slice(-tailBytes)}`).join('\n');
}
