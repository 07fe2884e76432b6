// Types for the tests that import vm-logs.mjs (a plain build script, checked by its own @ts-check).
export function vmLogs(stateDir: string, tailBytes?: number): string;
