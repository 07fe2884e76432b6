// The lifecycle commands: `vmstep start`, `exec`, `cp`, `ps`, `logs`, `stop`
// (docker's verbs and habits), thin over src/vms. Their own failures end in
// one line and 125 (main.ts); exec exits with the command's status.
import { createReadStream, existsSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { parseEnvAssignment } from '../engine/env.js';
import { EXIT_TIMEOUT, EXIT_VMSTEP_FAILED, VmstepError, describeFailure } from '../engine/errors.js';
import { formatBytes, formatMs, parseDuration } from '../engine/units.js';
import { validateRunInput } from '../engine/validate.js';
import { RunCancelledError } from '../engine/prepare.js';
import { copyFromVm, copyIntoVm, DEFAULT_LIFETIME_MS, execInVm, listVms, startVm, stopVm, type VmInfo } from '../vms/index.js';
import { vmPaths } from '../vms/state.js';
import { formatOptions, listValue, parseCommandLine, stringValue, type OptionSpec } from './args.js';
import type { CliIo } from './io.js';
import { RUN_OPTIONS, runInputFrom } from './run.js';
import { NETWORK_OPTIONS, networkFrom } from './ports.js';
import { oneVmCommandLine } from './vm-arg.js';

const pick = (keys: string[]): OptionSpec[] => keys.map((k) => RUN_OPTIONS.find((o) => o.key === k)!);
const HELP: OptionSpec = RUN_OPTIONS.find((o) => o.key === 'help')!;

export const START_OPTIONS: OptionSpec[] = [
  { key: 'name', long: 'name', value: 'NAME', help: 'Name the VM (unique among your VMs; default vm-<ID prefix>)' },
  { key: 'lifetime', long: 'lifetime', value: 'DURATION', help: `Stop the VM after this long, whatever happens (default ${formatMs(DEFAULT_LIFETIME_MS)})` },
  { key: 'idleTimeout', long: 'idle-timeout', value: 'DURATION', help: 'Stop the VM after this long without an exec or cp (default: never)' },
  { key: 'noCommand', long: 'no-command', help: 'Run no main process: the VM serves exec and cp until it is stopped' },
  ...NETWORK_OPTIONS,
  ...pick(['wait', 'entrypoint', 'env', 'envFile', 'volume', 'workdir', 'user', 'vcpus', 'memory', 'disk', 'kernel', 'privileged', 'debug', 'help']),
];

const START_HELP = `Usage: vmstep start [OPTIONS] IMAGE [COMMAND [ARG...]]

Boot a microVM from an image in the background and print its ID once it is
ready for exec and cp. As with docker run -d, the image's command (or
COMMAND) runs as the VM's main process, its output kept for \`vmstep logs\`;
when it exits the VM stops and \`vmstep ps -a\` shows its status. With
--no-command the VM runs no main process and serves exec and cp until it is
stopped, its lifetime ends or it is idle for --idle-timeout.

Options:
${formatOptions(START_OPTIONS)}

Examples:
  vmstep start --no-command --name box alpine:3.20
  vmstep exec box uname -a
  vmstep stop box
`;

export async function startCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, START_OPTIONS, { command: 'vmstep start', stopAtPositional: true });
  if (values.help) {
    io.stdout.write(START_HELP);
    return 0;
  }
  const run = validateRunInput(runInputFrom(values, positionals, io), { style: 'cli', cwd: io.cwd, hostEnv: io.env });
  if (values.noCommand && run.command.length > 0) throw new VmstepError('--no-command and a COMMAND do not go together', 'drop one of them');
  const lifetime = stringValue(values, 'lifetime');
  const idle = stringValue(values, 'idleTimeout');
  const info = await startVm(
    {
      run,
      ...(stringValue(values, 'name') !== undefined ? { name: stringValue(values, 'name')! } : {}),
      ...(lifetime !== undefined ? { lifetimeMs: parseDuration(lifetime, '--lifetime') } : {}),
      ...(idle !== undefined ? { idleTimeoutMs: parseDuration(idle, '--idle-timeout') } : {}),
      noCommand: Boolean(values.noCommand),
      hostEnv: io.env,
      ...networkFrom(values),
    },
    { progress: (line) => io.stderr.write(`vmstep: ${line}\n`), ...(io.signal ? { signal: io.signal } : {}) },
  ).catch((err: unknown) => {
    if (err instanceof RunCancelledError) return null;
    throw err;
  });
  if (info === null) {
    io.stderr.write('vmstep: cancelled; the VM was stopped\n');
    return 130;
  }
  io.stdout.write(`${info.id}\n`);
  return 0;
}

const TIMEOUT: OptionSpec = { key: 'timeout', long: 'timeout', value: 'DURATION', help: `Kill the command (only it: the VM goes on) after this long; exit status ${EXIT_TIMEOUT}` };
export const EXEC_OPTIONS: OptionSpec[] = [...pick(['interactive', 'env', 'workdir', 'user']), TIMEOUT, HELP];

const EXEC_HELP = `Usage: vmstep exec [OPTIONS] VM COMMAND [ARG...]

Run a command in a running VM (named by ID, unique ID prefix or name),
stream its stdout and stderr, and exit with its status: ${EXIT_TIMEOUT} when
--timeout ended it, 130 when Ctrl-C did (either way only the command is
killed; the VM and other execs go on), 125 when vmstep failed. Several
execs may run in one VM at once.

Options:
${formatOptions(EXEC_OPTIONS)}
`;

export async function execCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, EXEC_OPTIONS, { command: 'vmstep exec', stopAtPositional: true });
  if (values.help) {
    io.stdout.write(EXEC_HELP);
    return 0;
  }
  const [ref, ...command] = positionals;
  if (!ref || command.length === 0) throw new VmstepError('vmstep exec needs a VM and a command', 'usage: vmstep exec [OPTIONS] VM COMMAND [ARG...]');
  const env = listValue(values, 'env')
    .map((e) => parseEnvAssignment(e, '--env', io.env))
    .filter((e): e is string => e !== null);
  const timeout = stringValue(values, 'timeout');
  const timeoutMs = timeout !== undefined ? parseDuration(timeout, '--timeout') : 0;
  const workdir = stringValue(values, 'workdir');
  if (workdir !== undefined && !workdir.startsWith('/')) throw new VmstepError(`--workdir "${workdir}" is not an absolute path`, 'give an absolute guest path such as /work');
  const user = stringValue(values, 'user');
  const stdin = values.interactive ? io.stdin?.() : undefined;
  try {
    const r = await execInVm(ref, {
      argv: command,
      env,
      ...(workdir !== undefined ? { workdir } : {}),
      ...(user !== undefined ? { user } : {}),
      ...(stdin ? { stdin } : {}),
      timeoutMs,
      ...(io.signal ? { signal: io.signal } : {}),
      stdout: io.stdout,
      stderr: io.stderr,
      hostEnv: io.env,
    });
    if (r.timedOut) {
      io.stderr.write(`vmstep: the command ran past its time limit of ${formatMs(timeoutMs)} and was killed; the VM goes on (exit status ${EXIT_TIMEOUT})\n`);
      return EXIT_TIMEOUT;
    }
    if (r.cancelled) {
      io.stderr.write('vmstep: cancelled; the command was killed, the VM goes on\n');
      return 130;
    }
    return r.exitCode;
  } finally {
    stdin?.destroy();
  }
}

export const CP_OPTIONS: OptionSpec[] = [HELP];

const CP_HELP = `Usage: vmstep cp HOST_PATH VM:GUEST_PATH
       vmstep cp VM:GUEST_PATH HOST_PATH

Copy files and directories into or out of a running VM, recursively, with
docker cp's rules: a directory copied to an existing directory lands inside
it under its own name, or its contents do when the source ends in "/.";
otherwise the destination is the new name. Modes are kept; symbolic links are
copied as links, never followed. HOST_PATH "-" reads a tar stream from stdin
(extracted into the guest directory) or writes one to stdout. Files coming out
of the VM are written only beneath HOST_PATH, never through a link the guest
made; at most 1,000,000 entries and 64 GiB per copy.

Options:
${formatOptions(CP_OPTIONS)}
`;

/** "VM:PATH" -> [VM, PATH]; null for a host path (a path with a slash before any colon is the host's). */
function splitVmPath(arg: string): [string, string] | null {
  const colon = arg.indexOf(':');
  if (colon <= 0) return null;
  if (arg.slice(0, colon).includes('/')) return null;
  return [arg.slice(0, colon), arg.slice(colon + 1)];
}

export async function cpCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, CP_OPTIONS, { command: 'vmstep cp', stopAtPositional: false });
  if (values.help) {
    io.stdout.write(CP_HELP);
    return 0;
  }
  if (positionals.length !== 2) throw new VmstepError('vmstep cp needs a source and a destination', 'usage: vmstep cp HOST_PATH VM:GUEST_PATH, or vmstep cp VM:GUEST_PATH HOST_PATH');
  const [src, dest] = positionals as [string, string];
  const from = splitVmPath(src);
  const to = splitVmPath(dest);
  if ((from === null) === (to === null)) throw new VmstepError('vmstep cp copies between the host and a VM: exactly one side is VM:PATH', 'write VM:/guest/path on one side');
  const hostPath = (p: string) => (p.startsWith('/') ? p : `${io.cwd}/${p}`);
  if (to) {
    if (src === '-') await copyIntoVm(to[0], io.stdin!(), to[1], { hostEnv: io.env });
    else await copyIntoVm(to[0], hostPath(src), to[1], { hostEnv: io.env });
  } else {
    if (dest === '-') await copyFromVm(from![0], from![1], io.stdout as unknown as import('node:stream').Writable, { hostEnv: io.env });
    else await copyFromVm(from![0], from![1], dest.endsWith('/') ? `${hostPath(dest).replace(/\/+$/, '')}/` : hostPath(dest), { hostEnv: io.env });
  }
  return 0;
}

export const PS_OPTIONS: OptionSpec[] = [
  { key: 'all', long: 'all', short: 'a', help: 'Show exited VMs too' },
  { key: 'format', long: 'format', value: 'FORMAT', help: 'table (default) or json' },
  HELP,
];

const PS_HELP = `Usage: vmstep ps [OPTIONS]

List your running VMs (with -a, exited ones too): ID, NAME, IMAGE, STATUS,
CREATED, VCPUS, MEMORY.

Options:
${formatOptions(PS_OPTIONS)}
`;

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} second${s === 1 ? '' : 's'}`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} minute${m === 1 ? '' : 's'}`;
  const h = Math.round(m / 60);
  return h < 48 ? `${h} hour${h === 1 ? '' : 's'}` : `${Math.round(h / 24)} days`;
}

function statusText(v: VmInfo, now: number): string {
  if (v.status === 'exited') return v.exitCode !== null ? `exited (${v.exitCode})` : 'exited';
  if (v.status === 'running') return `up ${ago(now - Date.parse(v.created))}`;
  return v.status;
}

export async function psCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, PS_OPTIONS, { command: 'vmstep ps', stopAtPositional: false });
  if (values.help) {
    io.stdout.write(PS_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new VmstepError(`vmstep ps takes no arguments, got "${positionals[0]}"`, 'see "vmstep ps --help"');
  const format = stringValue(values, 'format') ?? 'table';
  if (format !== 'table' && format !== 'json') throw new VmstepError(`--format "${format}" is not a format`, 'give table or json');
  const vms = listVms({ all: Boolean(values.all), hostEnv: io.env });
  if (format === 'json') {
    io.stdout.write(`${JSON.stringify(vms.map(({ dir: _dir, ...v }) => v), null, 2)}\n`);
    return 0;
  }
  const now = Date.now();
  const rows = [['ID', 'NAME', 'IMAGE', 'STATUS', 'CREATED', 'VCPUS', 'MEMORY'], ...vms.map((v) => [v.id, v.name, v.image.reference, statusText(v, now), `${ago(now - Date.parse(v.created))} ago`, String(v.vcpus), formatBytes(v.memoryMiB * 2 ** 20)])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) io.stdout.write(`${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('')}\n`);
  return 0;
}

export const LOGS_OPTIONS: OptionSpec[] = [{ key: 'console', long: 'console', help: "Show the guest's serial console instead of the main process's output" }, HELP];

const LOGS_HELP = `Usage: vmstep logs [OPTIONS] VM

Print the output of the VM's main process (stdout and stderr, as they came),
or with --console the guest's serial console (the kernel's messages; all of
them when the VM was started with --debug). Works for exited VMs until
\`vmstep stop\` removes them.

Options:
${formatOptions(LOGS_OPTIONS)}
`;

export async function logsCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = oneVmCommandLine(argv, LOGS_OPTIONS, io, { command: 'vmstep logs', usage: 'vmstep logs [--console] VM', help: LOGS_HELP });
  if (!parsed) return 0;
  const { values, vm } = parsed;
  const paths = vmPaths(vm.dir);
  const file = values.console ? paths.console : paths.main;
  if (existsSync(file)) await pipeline(createReadStream(file), io.stdout, { end: false });
  return 0;
}

export const STOP_OPTIONS: OptionSpec[] = [
  { key: 'time', long: 'time', short: 't', value: 'SECONDS', help: "Seconds the guest's processes get after SIGTERM before SIGKILL (default 10)" },
  { key: 'all', long: 'all', help: 'Stop every VM of yours' },
  HELP,
];

const STOP_HELP = `Usage: vmstep stop [OPTIONS] VM... | --all

Stop VMs: every process in the guest gets SIGTERM, then SIGKILL after
--time seconds; the VM powers off (killed if it does not), and its disk copy,
sockets and record are removed. Stopping an exited VM removes its record.
Prints each VM as it is stopped.

Options:
${formatOptions(STOP_OPTIONS)}
`;

export async function stopCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, STOP_OPTIONS, { command: 'vmstep stop', stopAtPositional: false });
  if (values.help) {
    io.stdout.write(STOP_HELP);
    return 0;
  }
  const time = stringValue(values, 'time');
  let timeSeconds: number | undefined;
  if (time !== undefined) {
    if (!/^\d+(\.\d+)?$/.test(time)) throw new VmstepError(`--time "${time}" is not a number of seconds`, 'give seconds, such as 0 or 30');
    timeSeconds = Number(time);
  }
  if (values.all && positionals.length > 0) throw new VmstepError('--all and VM names do not go together', 'give one or the other');
  if (!values.all && positionals.length === 0) throw new VmstepError('vmstep stop needs a VM (or --all)', 'usage: vmstep stop [--time SECONDS] VM... | --all');
  const refs = values.all ? listVms({ all: true, hostEnv: io.env }).map((v) => v.id) : positionals;
  let failed = false;
  await Promise.all(
    refs.map(async (ref) => {
      try {
        await stopVm(ref, { ...(timeSeconds !== undefined ? { timeSeconds } : {}), hostEnv: io.env });
        io.stdout.write(`${ref}\n`);
      } catch (err) {
        failed = true;
        io.stderr.write(`vmstep: error: ${describeFailure(err)}\n`);
      }
    }),
  );
  return failed ? EXIT_VMSTEP_FAILED : 0;
}
