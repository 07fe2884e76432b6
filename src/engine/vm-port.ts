// The VM as the engine sees it (the interface agreed in the team brief for
// src/vm, issue 3). Until src/vm lands, launchVm fails with a clear message;
// wiring it is a one-line change here.
import { VmstepError } from './errors.js';

export interface VmDisk {
  path: string;
  readOnly: boolean;
}

export interface LaunchOptions {
  kernelPath: string;
  disks: VmDisk[];
  vcpus: number;
  memoryMiB: number;
  /** Extra kernel command-line arguments, after the base line. */
  cmdline: string;
  /** Guest connections to vsock port P arrive on `<vsockUdsPath>_P`. */
  vsockUdsPath: string;
  consoleLogPath?: string;
  debug: boolean;
  /** The VMM's own limit; 0: none. */
  timeoutMs: number;
}

export interface VmExit {
  reason: 'poweroff' | 'reset' | 'triple-fault' | 'panic' | 'timeout' | 'killed' | 'error';
  detail: string;
  consoleTail: string;
}

export interface VmHandle {
  pid: number;
  exited: Promise<VmExit>;
  kill(): void;
}

export type LaunchVm = (options: LaunchOptions) => Promise<VmHandle>;

export const launchVm: LaunchVm = async () => {
  throw new VmstepError('this build of vmstep has no VMM yet (src/vm, issue 3, has not landed)', 'use a release of vmstep that includes the VMM');
};
