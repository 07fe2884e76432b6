// A progress line for long pulls: aggregates the per-blob download events
// into "pulling IMAGE: 45.2 / 120.0 MiB (2/3 layers)", at most once a second,
// so a CI log gets a few lines rather than thousands.
import type { ProgressEvent } from './types.js';

export function progressReporter(label: string, write: (line: string) => void, intervalMs = 1000): (e: ProgressEvent) => void {
  const blobs = new Map<string, { bytes: number; total: number; done: boolean }>();
  let last = 0;
  const mib = (n: number): string => (n / 2 ** 20).toFixed(1);
  return (e) => {
    blobs.set(e.digest, { bytes: e.bytes, total: e.total, done: e.done });
    const now = Date.now();
    const all = [...blobs.values()];
    const finished = all.every((b) => b.done);
    if (!finished && now - last < intervalMs) return;
    last = now;
    const bytes = all.reduce((n, b) => n + b.bytes, 0);
    const total = all.reduce((n, b) => n + b.total, 0);
    write(`pulling ${label}: ${mib(bytes)} / ${mib(total)} MiB (${all.filter((b) => b.done).length}/${all.length} layers)`);
  };
}
