// `vmstep run [OPTIONS] IMAGE [COMMAND [ARG...]]`: docker run, in a microVM.
// Guest stdout and stderr go to vmstep's stdout and stderr as they arrive;
// vmstep's own lines (phases, the final status) go to stderr and --quiet
// silences them; the exit status is the command's.
import { resolve } from 'node:path';
import { EXIT_TIMEOUT } from '../engine/errors.js';
import { writeResultFile } from '../engine/result.js';
import { RunCancelledError } from '../engine/run.js';
import type { RunInput, RunResult } from '../engine/types.js';
import { formatBytes, formatMs } from '../engine/units.js';
import { validateRunInput } from '../engine/validate.js';
import { VMSTEP_VERSION } from '../engine/version.js';
import { formatOptions, listValue, parseCommandLine, stringValue, type OptionSpec, type Values } from './args.js';
import { writeWithBackpressure } from '../engine/streams.js';
import { phaseLine, type CliIo } from './io.js';

/** 128 + SIGPIPE, what a shell reports for a writer whose reader went away. */
const EXIT_BROKEN_PIPE = 141;

export const RUN_OPTIONS: OptionSpec[] = [
  { key: 'entrypoint', long: 'entrypoint', value: 'CMD', help: "Replace the image's ENTRYPOINT (and drop its CMD); \"\" clears it" },
  { key: 'env', long: 'env', short: 'e', value: 'K=V', repeatable: true, help: 'Set a variable (repeatable); a bare K passes the host value' },
  { key: 'envFile', long: 'env-file', value: 'FILE', repeatable: true, help: 'Read variables from a file of K=V lines (repeatable)' },
  { key: 'volume', long: 'volume', short: 'v', value: 'HOST:GUEST', repeatable: true, help: 'Copy a host file or directory into the guest before the command starts (repeatable; a copy, not a live share)' },
  { key: 'workdir', long: 'workdir', short: 'w', value: 'DIR', help: 'Working directory in the guest (absolute)' },
  { key: 'user', long: 'user', short: 'u', value: 'USER', help: 'User to run as: NAME, UID, NAME:GROUP or UID:GID' },
  { key: 'vcpus', long: 'vcpus', value: 'N', help: 'Number of vCPUs (default 2, at most the host has)' },
  { key: 'memory', long: 'memory', short: 'm', value: 'SIZE', help: 'Guest memory, e.g. 512M, 2G (default 1G)' },
  { key: 'disk', long: 'disk', value: 'SIZE', help: 'Size of the writable root disk (default: the image plus headroom)' },
  { key: 'timeout', long: 'timeout', value: 'SECONDS', help: 'Stop the VM after this long (30, 90s, 5m); exit status 124' },
  { key: 'wait', long: 'wait', value: 'DURATION', optionalValue: true, help: "When the host's capacity is in use, wait in line (this long, or without limit) instead of failing" },
  { key: 'output', long: 'output', value: 'GUEST_PATH', repeatable: true, help: 'Bring back a file, directory or glob after the run (repeatable)' },
  { key: 'outputDir', long: 'output-dir', value: 'HOST_DIR', help: 'Where returned files land (default ./vmstep-output)' },
  { key: 'result', long: 'result', value: 'FILE', help: 'Write the run result as JSON to FILE' },
  { key: 'kernel', long: 'kernel', value: 'PATH', help: 'Boot this guest kernel (vmlinux or vmlinux.gz) instead of the bundled one' },
  { key: 'privileged', long: 'privileged', help: 'Keep capabilities and skip the seccomp filter in the guest' },
  { key: 'interactive', long: 'interactive', short: 'i', help: "Stream vmstep's stdin to the command's stdin (without it the command reads /dev/null)" },
  { key: 'debug', long: 'debug', help: "Show the guest's serial console on stderr" },
  { key: 'quiet', long: 'quiet', short: 'q', help: "Print only the command's output" },
  { key: 'help', long: 'help', short: 'h', help: 'Show this help' },
  // docker run habits that mean nothing here: every run is a fresh VM that is always removed.
  { key: 'rm', long: 'rm', help: '', hidden: true },
];

export const RUN_HELP = `Usage: vmstep run [OPTIONS] IMAGE [COMMAND [ARG...]]

Run a command in a new microVM from an image. As with docker run, a COMMAND
replaces the image's CMD and keeps its ENTRYPOINT, and options go before
IMAGE: everything after it belongs to the command.

IMAGE is a registry reference (alpine:3.20, ghcr.io/owner/app:tag,
name@sha256:...), oci:DIR[:TAG], oci-archive:FILE[:TAG],
docker-archive:FILE[:NAME] or docker-daemon:NAME[:TAG].

--volume HOST:GUEST copies a host file or directory into the guest before the
command starts: a copy, not a live share, so what the command changes stays in
the VM; bring results back with --output. Relative host paths start at the
current directory. The copy keeps modes, hard links and symbolic links (as
links, never followed), and belongs to the user the command runs as. Without
-i the command's stdin is /dev/null.

The VM's vCPUs and memory come from one budget for the whole host, shared by
every vmstep of every user (VMSTEP_MAX_VCPUS, VMSTEP_MAX_MEMORY; vmstep doctor
shows it and who holds it). A VM that does not fit fails at once, or with
--wait waits in line for its turn.

Options:
${formatOptions(RUN_OPTIONS)}

Examples:
  vmstep run alpine:3.20 uname -a
  vmstep run -e N=1000 --timeout 5m --output /work/results.json bench:latest
  vmstep run --entrypoint sh alpine:3.20 -c 'ls -la /'
  vmstep run -v .:/src -w /src --output /src/out rust:1 cargo test
  tar c data | vmstep run -i alpine:3.20 tar x -C /tmp
`;

/** The run the options of RUN_OPTIONS describe (`vmstep bench` takes the same). */
export function runInputFrom(values: Values, positionals: string[], io: CliIo): RunInput {
  const [image, ...command] = positionals;
  const entrypoint = stringValue(values, 'entrypoint');
  const input: RunInput = {
    image: image ?? '',
    command,
    env: listValue(values, 'env'),
    envFiles: listValue(values, 'envFile'),
    outputs: listValue(values, 'output'),
    volumes: listValue(values, 'volume'),
    privileged: Boolean(values.privileged),
    debug: Boolean(values.debug),
  };
  // docker: --entrypoint "" clears the entrypoint; any other value is one program name.
  if (entrypoint !== undefined) input.entrypoint = entrypoint === '' ? [] : [entrypoint];
  if (values.wait !== undefined) input.wait = values.wait as string | true;
  for (const key of ['workdir', 'user', 'vcpus', 'memory', 'disk', 'timeout', 'outputDir', 'kernel'] as const) {
    const v = stringValue(values, key);
    if (v !== undefined) input[key] = v;
  }
  if (io.env.VMSTEP_REGISTRY_USERNAME) input.registryUsername = io.env.VMSTEP_REGISTRY_USERNAME;
  if (io.env.VMSTEP_REGISTRY_PASSWORD) input.registryPassword = io.env.VMSTEP_REGISTRY_PASSWORD;
  if (io.env.VMSTEP_CACHE) input.cacheDir = io.env.VMSTEP_CACHE;
  return input;
}

export async function runCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, RUN_OPTIONS, { command: 'vmstep run', stopAtPositional: true });
  if (values.help) {
    io.stdout.write(RUN_HELP);
    return 0;
  }
  const quiet = Boolean(values.quiet);
  const options = validateRunInput({ ...runInputFrom(values, positionals, io), interactive: Boolean(values.interactive) }, { style: 'cli', cwd: io.cwd, hostEnv: io.env });
  const stdin = options.interactive ? io.stdin?.() : undefined;
  const resultPath = stringValue(values, 'result');

  // Guest stderr and the guest console may stop mid-line (a cancelled run
  // always does); vmstep's own lines then start on a line of their own.
  let stderrMidLine = false;
  const guestStderr = (chunk: Buffer | string) => {
    if (chunk.length > 0) stderrMidLine = !(typeof chunk === 'string' ? chunk.endsWith('\n') : chunk[chunk.length - 1] === 0x0a);
  };
  const ownLine = (line: string) => {
    io.stderr.write(stderrMidLine ? `\n${line}` : line);
    stderrMidLine = false;
  };
  const note = (line: string) => {
    if (!quiet) ownLine(line);
  };
  // When whatever reads our stdout goes away (`vmstep run img yes | head`),
  // stop the run as a shell pipeline would stop a writer: SIGPIPE's status.
  const stop = new AbortController();
  let brokenPipe = false;
  const onStdoutError = (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') return;
    brokenPipe = true;
    stop.abort();
  };
  io.stdout.on('error', onStdoutError);
  const onCancel = () => stop.abort();
  io.signal?.addEventListener('abort', onCancel, { once: true });
  if (io.signal?.aborted) stop.abort();
  let result: RunResult;
  try {
    result = await io.runImage(
      options,
      {
        phaseEnd: (phase, ms, detail) => {
          if (phase !== 'command') note(phaseLine(phase, ms, detail));
        },
        progress: (message) => note(`vmstep:         ${message}\n`),
        waiting: (message) => note(`vmstep: ${message}\n`),
        stdout: (chunk) => (brokenPipe ? undefined : writeWithBackpressure(io.stdout, chunk)),
        stderr: (chunk) => (guestStderr(chunk), writeWithBackpressure(io.stderr, chunk)),
        console: (chunk) => (guestStderr(chunk), void io.stderr.write(chunk)),
        warning: (message) => ownLine(`vmstep: warning: ${message}\n`),
      },
      { signal: stop.signal, ...(stdin ? { stdin } : {}) },
    );
  } catch (err) {
    if (brokenPipe && err instanceof RunCancelledError) return EXIT_BROKEN_PIPE;
    if (err instanceof RunCancelledError) {
      ownLine('vmstep: cancelled; the VM was stopped\n');
      return 130;
    }
    throw err;
  } finally {
    io.stdout.off('error', onStdoutError);
    io.signal?.removeEventListener('abort', onCancel);
    // The command is done with its stdin even if our stdin has not ended (a terminal, a pipe still open): let go of it, or it would keep vmstep alive.
    stdin?.destroy();
  }

  if (resultPath) writeResultFile(resolve(io.cwd, resultPath), result, VMSTEP_VERSION);
  if (result.timedOut) {
    // Said even with --quiet: without it, 124 looks like the command's own status.
    ownLine(`vmstep: the command ran past the time limit of ${formatMs(options.timeoutMs)} and the VM was stopped (exit status ${EXIT_TIMEOUT})\n`);
  } else {
    const signal = result.signal ? `, killed by ${result.signal}` : '';
    note(`vmstep: exit ${result.exitCode}${signal}; command ${formatMs(result.timings.commandMs)}, boot ${formatMs(result.timings.bootMs)}, total ${formatMs(result.timings.totalMs)}\n`);
  }
  if (result.outputs.length > 0) {
    const bytes = result.outputs.reduce((n, o) => n + o.bytes, 0);
    note(`vmstep: ${result.outputs.length} file${result.outputs.length === 1 ? '' : 's'} (${formatBytes(bytes)}) in ${result.outputDir}\n`);
  }
  return result.exitCode;
}
