// `vmstep report --history FILE [--html DIR]`: the trend of a history file
// as markdown on stdout, and with --html a static page (DIR/index.html) with
// one trend chart per metric, ready for GitHub Pages. Reads only the history
// file and writes only DIR/index.html.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { renderTrendMarkdown } from '../bench/history.js';
import { renderHistoryPage } from '../bench/report/history-html.js';
import { VmstepError } from '../engine/errors.js';
import { readHistoryFile } from '../engine/history-file.js';
import { formatOptions, parseCommandLine, stringValue, type OptionSpec } from './args.js';
import type { CliIo } from './io.js';

const REPORT_OPTIONS: OptionSpec[] = [
  { key: 'history', long: 'history', value: 'FILE', help: 'The history file that bench --history-file (input history-file) keeps' },
  { key: 'html', long: 'html', value: 'DIR', help: 'Write DIR/index.html: one trend chart per metric, self-contained, for GitHub Pages' },
  { key: 'title', long: 'title', value: 'TEXT', help: 'Title of the page (default "vmstep benchmark history")' },
  { key: 'help', long: 'help', short: 'h', help: 'Show this help' },
];

export const REPORT_HELP = `Usage: vmstep report --history FILE [--html DIR]

Print the trend per metric of a history file as markdown, and with --html
write a static page with one trend chart per metric (inline SVG, no
scripts, nothing fetched) that GitHub Pages or any static host can serve.

Options:
${formatOptions(REPORT_OPTIONS)}

Example:
  vmstep report --history bench-history.json --html site/
`;

export async function reportCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, REPORT_OPTIONS, { command: 'vmstep report', stopAtPositional: false });
  if (values.help) {
    io.stdout.write(REPORT_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new VmstepError(`vmstep report takes no arguments, got ${JSON.stringify(positionals[0])}`, 'name the file with --history FILE');
  const file = stringValue(values, 'history');
  if (!file) throw new VmstepError('vmstep report needs --history FILE', 'give the history file that vmstep bench --history-file keeps');
  const path = resolve(io.cwd, file);
  const history = readHistoryFile(path, { missing: 'error', fix: 'give --history the file vmstep bench --history-file wrote' });
  if (history.entries.length === 0) io.stderr.write(`vmstep: warning: the history file ${path} holds no runs yet\n`);
  io.stdout.write(renderTrendMarkdown(history) || 'No runs in the history yet.\n');
  const html = stringValue(values, 'html');
  if (html) {
    const dir = resolve(io.cwd, html);
    const out = join(dir, 'index.html');
    try {
      mkdirSync(dir, { recursive: true });
      writeFileSync(out, renderHistoryPage(history, { title: stringValue(values, 'title') ?? 'vmstep benchmark history' }));
    } catch (err) {
      throw new VmstepError(`cannot write ${out} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, 'give --html a directory you can write to', { cause: err });
    }
    io.stderr.write(`vmstep: wrote ${out}\n`);
  }
  return 0;
}
