// Where the native parts are: $VMSTEP_VMM / $VMSTEP_ADDON when set
// (development, tests), else next to the running bundle (dist/), else the
// source tree's dist/.
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function candidateDirs(): string[] {
  const dirs: string[] = [];
  const entry = process.argv[1];
  if (entry) {
    try {
      dirs.push(dirname(realpathSync(entry)));
    } catch {
      // `node -e`: no entry file.
    }
  }
  const here = dirname(fileURLToPath(import.meta.url));
  dirs.push(here, join(here, '..', '..', 'dist'));
  return [...new Set(dirs)];
}

function find(envVar: string, file: string): string {
  const fromEnv = process.env[envVar];
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`${envVar}=${fromEnv} does not exist: unset it or point it at a built ${file} (native/build.sh OUT_DIR)`);
    return fromEnv;
  }
  const dirs = candidateDirs();
  const found = dirs.map((d) => join(d, file)).find((p) => existsSync(p));
  if (!found) {
    throw new Error(`${file} not found (looked in ${dirs.join(', ')}): run 'npm run build', or set ${envVar} to a built ${file}`);
  }
  return found;
}

/** The VMM executable. */
export const vmmPath = (): string => find('VMSTEP_VMM', 'vmstep-vmm');
/** The node addon. */
export const addonPath = (): string => find('VMSTEP_ADDON', 'vmstep.node');
