// The command line of a command over one VM (`vmstep logs VM`, `vmstep port
// VM`), read in one place so that each such command names its VM, and fails
// for a missing or unknown one, the same way: one line and exit status 125
// (main.ts).
import { VmstepError } from '../engine/errors.js';
import { findVm, type VmInfo } from '../vms/index.js';
import { parseCommandLine, type OptionSpec, type Values } from './args.js';
import type { CliIo } from './io.js';

export interface OneVmCommand {
  /** "vmstep logs": names the command in errors. */
  command: string;
  /** Its usage line, shown when the VM is missing or more than one is given. */
  usage: string;
  /** Its --help text. */
  help: string;
}

/**
 * The options and the VM (by ID, unique ID prefix or name) of a one-VM
 * command; null when --help was asked for and printed.
 */
export function oneVmCommandLine(argv: string[], options: OptionSpec[], io: CliIo, cmd: OneVmCommand): { values: Values; vm: VmInfo } | null {
  const { values, positionals } = parseCommandLine(argv, options, { command: cmd.command, stopAtPositional: false });
  if (values.help) {
    io.stdout.write(cmd.help);
    return null;
  }
  if (positionals.length !== 1) throw new VmstepError(`${cmd.command} needs one VM`, `usage: ${cmd.usage}`);
  return { values, vm: findVm(positionals[0]!, { hostEnv: io.env }) };
}
