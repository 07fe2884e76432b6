// The vmstep command line: dispatches to a command and turns any failure of
// vmstep itself into one line on stderr and exit status 125.
import { EXIT_VMSTEP_FAILED, VmstepError, describeFailure } from '../engine/errors.js';
import { VMSTEP_VERSION } from '../engine/version.js';
import { benchCommand } from './bench.js';
import { cacheCommand } from './cache.js';
import { doctorCommand } from './doctor.js';
import { MAIN_HELP } from './help.js';
import { defaultIo, type CliIo } from './io.js';
import { portCommand } from './ports.js';
import { pullCommand } from './pull.js';
import { reportCommand } from './report.js';
import { runCommand } from './run.js';
import { cpCommand, execCommand, logsCommand, psCommand, startCommand, stopCommand } from './vms.js';
import { KEEPER_COMMAND } from '../vms/index.js';
import { runKeeper } from '../vms/keeper.js';

const COMMANDS: Record<string, (argv: string[], io: CliIo) => Promise<number>> = {
  run: runCommand,
  bench: benchCommand,
  pull: pullCommand,
  cache: cacheCommand,
  doctor: doctorCommand,
  report: reportCommand,
  start: startCommand,
  exec: execCommand,
  cp: cpCommand,
  ps: psCommand,
  logs: logsCommand,
  stop: stopCommand,
  port: portCommand,
};

export async function main(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  const [first, ...rest] = argv;
  try {
    if (first === undefined) {
      io.stderr.write(MAIN_HELP);
      return EXIT_VMSTEP_FAILED;
    }
    if (first === '--help' || first === '-h') {
      io.stdout.write(MAIN_HELP);
      return 0;
    }
    if (first === '--version' || first === '-v' || first === 'version') {
      io.stdout.write(`vmstep ${VMSTEP_VERSION}\n`);
      return 0;
    }
    if (first === 'help') {
      const cmd = rest[0];
      if (cmd && COMMANDS[cmd]) return COMMANDS[cmd]!(['--help'], io);
      io.stdout.write(MAIN_HELP);
      return 0;
    }
    const command = COMMANDS[first];
    if (!command) {
      throw first.startsWith('-')
        ? new VmstepError(`unknown option ${first}`, 'options go after the command: vmstep run [OPTIONS] IMAGE; see "vmstep --help"')
        : new VmstepError(`unknown command "${first}"`, 'the commands are run, bench, report, pull, cache, doctor, start, exec, cp, ps, logs, stop and port; see "vmstep --help"');
    }
    return await command(rest, io);
  } catch (err) {
    io.stderr.write(`vmstep: error: ${describeFailure(err)}\n`);
    if (io.env.VMSTEP_TRACE && err instanceof Error && err.stack) io.stderr.write(`${err.stack}\n`);
    return EXIT_VMSTEP_FAILED;
  }
}

/** The process entry (src/cli.ts): Ctrl-C or SIGTERM cancels the run and stops the VM; a second Ctrl-C exits at once. */
export async function cliEntry(argv: string[]): Promise<number> {
  // A long-lived VM's keeper (spawned by `vmstep start`): SIGTERM is its stop request, not a cancellation.
  if (argv[0] === KEEPER_COMMAND && argv[1]) process.exit(await runKeeper(argv[1]));
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (++signals > 1) process.exit(sig === 'SIGINT' ? 130 : 143);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // `vmstep doctor | head`: a reader that goes away is not a crash (run
  // listens for it too, and stops the VM). Left installed: the error may
  // arrive after main() returned.
  const onStdoutError = (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  };
  process.stdout.on('error', onStdoutError);
  try {
    return await main(argv, defaultIo(controller.signal));
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
