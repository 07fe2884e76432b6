// `vmstep cache ls` and `vmstep cache prune [--max-size SIZE]`.
import { defaultCacheDir } from '../image/index.js';
import { listCache, pruneCache } from '../engine/cache.js';
import { VmstepError } from '../engine/errors.js';
import { formatBytes, parseSize } from '../engine/units.js';
import { formatOptions, parseCommandLine, stringValue, type OptionSpec } from './args.js';
import type { CliIo } from './io.js';

const LS_OPTIONS: OptionSpec[] = [
  { key: 'json', long: 'json', help: 'Print the entries as JSON' },
  { key: 'help', long: 'help', short: 'h', help: 'Show this help' },
];
const PRUNE_OPTIONS: OptionSpec[] = [
  { key: 'maxSize', long: 'max-size', value: 'SIZE', help: 'Keep the most recently used entries up to SIZE (e.g. 10G), and the guest kernel; without it, remove everything' },
  { key: 'help', long: 'help', short: 'h', help: 'Show this help' },
];

export const CACHE_HELP = `Usage: vmstep cache ls [--json]
       vmstep cache prune [--max-size SIZE]

The cache ($VMSTEP_CACHE, default ~/.cache/vmstep) holds layer blobs, root
filesystems built from images, and the unpacked guest kernel.

ls options:
${formatOptions(LS_OPTIONS)}

prune options:
${formatOptions(PRUNE_OPTIONS)}
`;

export async function cacheCommand(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  const root = io.env.VMSTEP_CACHE || defaultCacheDir();
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    io.stdout.write(CACHE_HELP);
    return sub === undefined ? 125 : 0;
  }
  if (sub === 'ls') {
    const { values } = parseCommandLine(rest, LS_OPTIONS, { command: 'vmstep cache ls', stopAtPositional: false });
    if (values.help) {
      io.stdout.write(CACHE_HELP);
      return 0;
    }
    const items = await listCache(root);
    if (values.json) {
      io.stdout.write(`${JSON.stringify({ root, entries: items.map((i) => ({ ...i, lastUsed: i.lastUsed.toISOString() })) }, null, 2)}\n`);
      return 0;
    }
    const rows = items.map((i) => [i.kind, formatBytes(i.bytes), i.lastUsed.toISOString().slice(0, 16).replace('T', ' '), i.name]);
    const header = ['KIND', 'SIZE', 'LAST USED', 'NAME'];
    const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
    for (const r of [header, ...rows]) io.stdout.write(`${r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ')}\n`);
    io.stdout.write(`${items.length} entries, ${formatBytes(items.reduce((n, i) => n + i.bytes, 0))} in ${root}\n`);
    return 0;
  }
  if (sub === 'prune') {
    const { values, positionals } = parseCommandLine(rest, PRUNE_OPTIONS, { command: 'vmstep cache prune', stopAtPositional: false });
    if (values.help) {
      io.stdout.write(CACHE_HELP);
      return 0;
    }
    if (positionals.length > 0) throw new VmstepError(`"vmstep cache prune" takes no arguments, got "${positionals[0]}"`, 'usage: vmstep cache prune [--max-size SIZE]');
    const max = stringValue(values, 'maxSize');
    const report = await pruneCache(root, max === undefined ? null : parseSize(max, '--max-size'));
    io.stdout.write(`removed ${report.removed.length} entries (${formatBytes(report.freedBytes)}); ${formatBytes(report.keptBytes)} left in ${root}\n`);
    const kernels = report.keptKernels.reduce((n, e) => n + e.bytes, 0);
    if (report.keptKernels.length > 0) {
      io.stdout.write(`kept the unpacked guest kernel${report.keptKernels.length === 1 ? '' : 's'} (${formatBytes(kernels)}) beyond --max-size: every run needs one; "vmstep cache prune" without --max-size removes ${report.keptKernels.length === 1 ? 'it' : 'them'} too\n`);
    }
    return 0;
  }
  throw new VmstepError(`unknown cache command "${sub}"`, 'use "vmstep cache ls" or "vmstep cache prune"');
}
