// The result file (`--result FILE` on the command line, the `result` output
// of the action): one JSON document per run, stable field names, so that
// scripts and the benchmark mode can read it. Version it when a field's
// meaning changes.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { RunResult } from './types.js';

export const RESULT_SCHEMA_VERSION = 1;

export interface ResultDocument {
  vmstep: { version: string; schema: number };
  exitCode: number;
  signal: string | null;
  timedOut: boolean;
  image: { reference: string; digest: string };
  command: string[];
  outputs: { guestPath: string; hostPath: string; bytes: number }[];
  outputIssues: { request: string; path: string | null; reason: string; message: string }[];
  outputDir: string;
  stdout: { file: string | null; bytes: number };
  stderr: { file: string | null; bytes: number };
  timings: { imageMs: number; rootfsMs: number; volumesMs?: number; bootMs: number; commandMs: number; totalMs: number };
}

export function resultDocument(result: RunResult, version: string): ResultDocument {
  const t = result.timings;
  return {
    vmstep: { version, schema: RESULT_SCHEMA_VERSION },
    exitCode: result.exitCode,
    signal: result.signal,
    timedOut: result.timedOut,
    image: { reference: result.image.reference, digest: result.image.digest },
    command: result.command,
    outputs: result.outputs.map((o) => ({ guestPath: o.guestPath, hostPath: o.hostPath, bytes: o.bytes })),
    outputIssues: result.outputIssues.map((i) => ({ request: i.request, path: i.path, reason: i.reason, message: i.message })),
    outputDir: result.outputDir,
    stdout: { file: result.stdoutFile, bytes: result.stdoutBytes },
    stderr: { file: result.stderrFile, bytes: result.stderrBytes },
    timings: {
      imageMs: ms(t.imageMs),
      rootfsMs: ms(t.rootfsMs),
      ...(t.volumesMs !== undefined ? { volumesMs: ms(t.volumesMs) } : {}),
      bootMs: ms(t.bootMs),
      commandMs: ms(t.commandMs),
      totalMs: ms(t.totalMs),
    },
  };
}

/** Milliseconds with microsecond resolution: enough for a 1 ms command, without float noise. */
function ms(v: number): number {
  return Math.round(v * 1000) / 1000;
}

export function writeResultFile(path: string, result: RunResult, version: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(resultDocument(result, version), null, 2)}\n`);
}
