// Types for the tests that import file-progress.mjs (a plain script, checked by its own @ts-check).
export type EndedFile = { file: string; passed: number; failed: number; skipped: number };
export default class FileProgressReporter {}
export function endedFiles(path: string): EndedFile[];
export function remainingFiles(all: string[], ended: { file: string }[]): string[];
export function sumOf(rows: { passed: number; failed: number; skipped: number }[]): { passed: number; failed: number; skipped: number };
