// The VM, host side: probe the host's KVM, launch a guest in the
// jailed VMM process, learn why it ended.
export { probeKvm, type KvmProbe } from './probe.js';
export { launchVm, vmmArgs, parseStatusLine, type LaunchOptions, type VmDisk, type VmExit, type VmExitReason, type VmHandle } from './launch.js';
export { BASE_CMDLINE, kernelCmdline } from './cmdline.js';
export { assetDirs, shippedFile, vmmPath, addonPath } from './assets.js';
export { createOverlay, flattenOverlay, parseOverlayHeader, readOverlayLayout, OverlayError, DEFAULT_CLUSTER_BYTES, type OverlayLayout, type CreateOverlayOptions } from './overlay.js';
