// The action's entry: everything lives in action/main.ts so that tests can
// call it directly.
import { run } from './action/main.js';

await run();
