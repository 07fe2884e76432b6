#!/usr/bin/env node
// The vmstep command line: everything lives in cli/main.ts.
import { main } from './cli/main.js';

process.exitCode = await main(process.argv.slice(2));
