#!/usr/bin/env node
// The vmstep command line: everything lives in cli/main.ts. (No top-level
// await: the entries must bundle the same whether or not ncc type-checks.)
// The build replaces the first line of dist/cli.js with a launcher that
// starts Node as `node -- cli.js` (CLI_LAUNCHER in scripts/lib/artifacts.mjs).
import { cliEntry } from './cli/main.js';

void cliEntry(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
