#!/usr/bin/env node
// The vmstep command line: everything lives in cli/main.ts. (No top-level
// await: the entries must bundle the same whether or not ncc type-checks.)
import { cliEntry } from './cli/main.js';

void cliEntry(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
