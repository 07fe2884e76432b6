// The engine: what the CLI and the action share. Nothing here imports
// @actions/*: the engine reports through RunEvents and the faces render.
export { runImage, RunCancelledError, type RunControl } from './run.js';
export { runBench, overallVerdict, type BenchArm, type BenchControl, type BenchEvents, type BenchFiles, type BenchResult, type BenchRun, type BenchVerdict } from './bench.js';
export { validateBenchInput, BENCH_DEFAULTS, type BenchInput, type BenchSettings } from './bench-options.js';
export { chooseVcpuCpus, parseCpuList, type CpuChoice, type HostTopology } from './bench-pinning.js';
export type { LaunchVm } from './vm-port.js';
export { validateRunInput, LIMITS, type OptionStyle, type ValidateContext } from './validate.js';
export { VmstepError, toVmstepError, describeFailure, EXIT_TIMEOUT, EXIT_VMSTEP_FAILED } from './errors.js';
export { parseSize, parseDuration, formatBytes, formatMs } from './units.js';
export { parseEnvLines, parseEnvAssignment, readEnvFile } from './env.js';
export { resultDocument, writeResultFile, RESULT_SCHEMA_VERSION, type ResultDocument } from './result.js';
export { releaseResources, parseResources, type ReleaseReport } from './leftovers.js';
export { runDoctor, type Check, type CheckStatus, type DoctorOptions } from './doctor.js';
export { listCache, pruneCache, type CacheItem, type PruneReport } from './cache.js';
export { VMSTEP_VERSION } from './version.js';
export type * from './types.js';
export { pullImage, type PullResult } from './pull.js';
export { splitShellWords, shellQuote } from './shell.js';
