// The files vmstep ships beside its JS bundle in dist/: the VMM, the addon,
// the guest kernel and guest init. Looked for next to the running entry
// script (dist/ when installed or run as an action), then next to this
// module, then in the source tree's dist/ (development and tests). The
// engine finds the guest kernel and init here too, so every asset is looked
// for in the same places.
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The directories that may hold the shipped files, in the order they are searched. */
export function assetDirs(): string[] {
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
  return [...new Set(dirs)].filter((d) => existsSync(d));
}

/** The first shipped copy of `file`, or null. */
export function shippedFile(file: string): string | null {
  return assetDirs().map((d) => join(d, file)).find((p) => existsSync(p)) ?? null;
}

function find(envVar: string, file: string): string {
  const fromEnv = process.env[envVar];
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`${envVar}=${fromEnv} does not exist: unset it or point it at a built ${file} (native/build.sh OUT_DIR)`);
    return fromEnv;
  }
  const found = shippedFile(file);
  if (!found) {
    throw new Error(`${file} not found (looked in ${assetDirs().join(', ')}): run 'npm run build', or set ${envVar} to a built ${file}`);
  }
  return found;
}

/** The VMM executable. */
export const vmmPath = (): string => find('VMSTEP_VMM', 'vmstep-vmm');
/** The node addon. */
export const addonPath = (): string => find('VMSTEP_ADDON', 'vmstep.node');
