// @ts-check
// npm run build: installs what is missing, builds every artifact (cached) and
// brings dist/ up to date.
import { ensureDebianPackages, ensureNodeModules } from './lib/deps.mjs';
import { buildAll } from './lib/artifacts.mjs';

try {
  await ensureDebianPackages(['kernel', 'native', 'rootfs']);
  await ensureNodeModules();
  await buildAll();
} catch (err) {
  process.stderr.write(`vmstep build: ${err instanceof Error ? err.message : err}\n`);
  process.exit(1);
}
