// The VM as the engine sees it: src/vm's launchVm, re-exported so
// that the engine, and the test launchers that stand in for the VMM where
// KVM cannot boot Linux, name one interface.
import type { LaunchOptions, VmHandle } from '../vm/index.js';

export { assetDirs, launchVm, probeKvm, shippedFile, type KvmProbe, type LaunchOptions, type VmDisk, type VmExit, type VmHandle } from '../vm/index.js';

/** Starts a VM; production uses launchVm, tests may pass their own. */
export type LaunchVm = (options: LaunchOptions) => Promise<VmHandle>;
