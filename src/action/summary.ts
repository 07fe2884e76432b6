// The job summary of one run, as markdown. Everything that came from the
// guest or the image (output, paths, the command) is untrusted text: it goes
// into code spans and fences long enough that it cannot close them, and
// table cells escape their pipes, so a workload cannot reshape the summary.
import { shellQuote } from '../engine/shell.js';
import type { RunResult } from '../engine/types.js';
import { formatBytes, formatMs } from '../engine/units.js';
import { lastLines } from './truncate.js';

/** Lines of stdout shown at the end of the summary. */
export const SUMMARY_STDOUT_LINES = 40;

function longestRun(text: string, ch: string): number {
  let best = 0;
  let cur = 0;
  for (const c of text) {
    cur = c === ch ? cur + 1 : 0;
    best = Math.max(best, cur);
  }
  return best;
}

/** Inline code that holds any text, backticks included, on one line. */
export function code(text: string): string {
  const oneLine = text.replace(/\r?\n/g, ' ');
  const ticks = '`'.repeat(longestRun(oneLine, '`') + 1);
  const pad = oneLine.startsWith('`') || oneLine.endsWith('`') ? ' ' : '';
  return `${ticks}${pad}${oneLine}${pad}${ticks}`;
}

/** A fenced block that holds any text. */
export function fence(text: string, lang = 'text'): string {
  const ticks = '`'.repeat(Math.max(3, longestRun(text, '`') + 1));
  return `${ticks}${lang}\n${text}\n${ticks}`;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

export interface SummaryInput {
  result: RunResult;
  /** stdout as text (the tail read from the stdout file). */
  stdoutTail: string;
  stdoutTruncated: boolean;
  timeoutMs: number;
  allowFailure: boolean;
  artifact: { name: string; uploaded: boolean; url?: string } | null;
}

export function renderSummary(s: SummaryInput): string {
  const r = s.result;
  const ok = r.exitCode === 0 && !r.timedOut;
  const status = r.timedOut
    ? `timed out after ${formatMs(s.timeoutMs)} (exit code ${r.exitCode})`
    : `exited with ${r.exitCode}${r.signal ? ` (${r.signal})` : ''}`;
  const mark = ok ? '✅' : s.allowFailure ? '⚠️' : '❌';
  const out: string[] = [];
  out.push(`### ${mark} vmstep: ${code(r.image.reference)} ${status}`, '');
  out.push('| | |', '| --- | --- |');
  out.push(`| Image | ${cell(code(r.image.reference))} |`);
  out.push(`| Digest | ${cell(code(r.image.digest))} |`);
  out.push(`| Command | ${cell(code(shellQuote(r.command)))} |`);
  out.push(`| Exit code | ${r.exitCode}${r.timedOut ? ' (timed out)' : ''}${!ok && s.allowFailure ? ' (allowed to fail)' : ''} |`);
  out.push('');
  out.push('#### Timings', '', '| phase | time | ms |', '| --- | ---: | ---: |');
  const t = r.timings;
  for (const [name, ms] of [
    ['image', t.imageMs],
    ['root filesystem', t.rootfsMs],
    ...(t.volumesMs !== undefined ? [['volumes', t.volumesMs] as const] : []),
    ['boot', t.bootMs],
    ['command', t.commandMs],
    ['total', t.totalMs],
  ] as const) {
    out.push(`| ${name} | ${formatMs(ms)} | ${ms.toFixed(1)} |`);
  }
  out.push('');
  if (r.outputs.length > 0 || r.outputIssues.length > 0) {
    out.push(`#### Returned files (${r.outputs.length})`, '');
    if (r.outputs.length > 0) {
      out.push('| guest path | size |', '| --- | ---: |');
      for (const o of r.outputs) out.push(`| ${cell(code(o.guestPath))} | ${formatBytes(o.bytes)} |`);
      out.push('');
    }
    for (const i of r.outputIssues) out.push(`- ${code(i.request || i.path || '?')}: ${cell(i.message.replace(/\r?\n/g, ' '))}`);
    if (r.outputIssues.length > 0) out.push('');
    if (s.artifact) {
      out.push(
        s.artifact.uploaded
          ? `Uploaded as the artifact ${code(s.artifact.name)}${s.artifact.url ? ` ([download](${s.artifact.url}))` : ''}.`
          : `Not uploaded as an artifact (not running on GitHub Actions).`,
        '',
      );
    }
  }
  const tail = lastLines(s.stdoutTail, SUMMARY_STDOUT_LINES);
  if (tail.text.trim() !== '') {
    const cut = tail.cut || s.stdoutTruncated;
    out.push(`#### stdout${cut ? ` (last ${SUMMARY_STDOUT_LINES} lines)` : ''}`, '', fence(tail.text), '');
  } else {
    out.push('_No output on stdout._', '');
  }
  return out.join('\n');
}

/** The summary of a run that vmstep could not carry out. */
export function renderFailureSummary(image: string, message: string): string {
  return [`### ❌ vmstep: ${code(image || '(no image)')} did not run`, '', fence(message), ''].join('\n');
}
