// `vmstep pull IMAGE`: warm the cache without running anything.
import { pullImage } from '../engine/pull.js';
import { formatMs } from '../engine/units.js';
import { VmstepError } from '../engine/errors.js';
import { refuseUntypedPath } from '../engine/validate.js';
import { formatOptions, parseCommandLine, type OptionSpec } from './args.js';
import type { CliIo } from './io.js';

const PULL_OPTIONS: OptionSpec[] = [
  { key: 'quiet', long: 'quiet', short: 'q', help: 'Print only the digest' },
  { key: 'help', long: 'help', short: 'h', help: 'Show this help' },
];

export const PULL_HELP = `Usage: vmstep pull [OPTIONS] IMAGE

Download an image and build its root filesystem into the cache, so that the
next "vmstep run" of it starts at once. Prints the image's digest.

Options:
${formatOptions(PULL_OPTIONS)}
Exit status: 0; 125 when the pull failed (one line saying why); 130 when
Ctrl-C or SIGTERM stopped it. Either way nothing partial is left in the cache.
`;

export async function pullCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, PULL_OPTIONS, { command: 'vmstep pull', stopAtPositional: false });
  if (values.help) {
    io.stdout.write(PULL_HELP);
    return 0;
  }
  if (positionals.length !== 1) {
    throw new VmstepError(positionals.length === 0 ? 'no image given' : `"vmstep pull" takes one image, got ${positionals.length}`, 'usage: vmstep pull IMAGE');
  }
  refuseUntypedPath(positionals[0]!, io.cwd);
  const quiet = Boolean(values.quiet);
  const username = io.env.VMSTEP_REGISTRY_USERNAME;
  const password = io.env.VMSTEP_REGISTRY_PASSWORD;
  let r: Awaited<ReturnType<typeof pullImage>>;
  try {
    r = await pullImage(positionals[0]!, {
      cacheDir: io.env.VMSTEP_CACHE || null,
      credentials: username && password ? { username, password } : null,
      ...(io.signal ? { signal: io.signal } : {}),
      progress: (m) => {
        if (!quiet) io.stderr.write(`vmstep: ${m}\n`);
      },
      warning: (m) => io.stderr.write(`vmstep: warning: ${m}\n`),
    });
  } catch (err) {
    // The first Ctrl-C or SIGTERM: the build stopped and removed its files (exit 130, as vmstep run).
    if (io.signal?.aborted) {
      io.stderr.write('vmstep: cancelled; nothing was added to the cache\n');
      return 130;
    }
    throw err;
  }
  if (!quiet) {
    io.stderr.write(`vmstep: ${r.reference}: ${r.layers} layer${r.layers === 1 ? '' : 's'} (${formatMs(r.imageMs)}), root filesystem ${r.cached ? 'already cached' : 'built'} (${formatMs(r.rootfsMs)})\n`);
  }
  io.stdout.write(`${r.digest}\n`);
  return 0;
}
