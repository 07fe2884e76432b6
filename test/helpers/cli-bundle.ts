// The CLI of this checkout as one script (src/cli.ts bundled by esbuild),
// for tests that start vmstep as its own process from the TypeScript
// sources: `vmstep start` spawns its keeper from the cli.js beside it, so
// the CLI must be a file (dist/ is rebuilt only on release). Kept under
// node_modules/.cache so that its packages resolve from this checkout.
import { build } from 'esbuild';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './artifacts.js';

let built: Promise<string> | null = null;

/** The path of the bundled cli.js (built once per test process). */
export function cliBundle(): Promise<string> {
  built ??= (async () => {
    const dir = join(repoRoot, 'node_modules', '.cache', 'vmstep-cli-test', String(process.pid));
    mkdirSync(dir, { recursive: true });
    // Node stops looking for package.json at node_modules: say ESM here.
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    const out = join(dir, 'cli.js');
    await build({ entryPoints: [join(repoRoot, 'src', 'cli.ts')], bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outfile: out, logLevel: 'error' });
    return out;
  })();
  return built;
}
