// Step outputs are small by design: GitHub allows 1 MB of outputs per job,
// all steps together. stdout and stderr outputs therefore carry at most the
// last OUTPUT_TEXT_LIMIT bytes of each stream (the end is where results and
// errors are), with a note in front when cut; the whole streams are in the
// stdout-file and stderr-file outputs.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** Bytes of stdout (and of stderr) kept in the step outputs: 32 KiB each, 64 KiB per step. */
export const OUTPUT_TEXT_LIMIT = 32 * 1024;

export interface TruncatedText {
  text: string;
  truncated: boolean;
  totalBytes: number;
}

/** Drops UTF-8 continuation bytes at the front, so a cut never leaves half a character. */
function fromCharBoundary(buf: Buffer): Buffer {
  let i = 0;
  while (i < buf.length && i < 4 && (buf[i]! & 0xc0) === 0x80) i++;
  return buf.subarray(i);
}

/** The tail of a file, at most `limit` bytes, with a note naming `what` when cut. */
export function tailOfFile(path: string | null, limit: number, what: string): TruncatedText {
  if (!path) return { text: '', truncated: false, totalBytes: 0 };
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const n = Math.min(size, limit);
    const buf = Buffer.alloc(n);
    readSync(fd, buf, 0, n, size - n);
    return truncatedText(size > limit ? fromCharBoundary(buf) : buf, size, what);
  } finally {
    closeSync(fd);
  }
}

export function truncatedText(tail: Buffer, totalBytes: number, what: string): TruncatedText {
  const truncated = tail.length < totalBytes;
  const note = truncated ? `[vmstep: ${what} cut to its last ${tail.length} of ${totalBytes} bytes; all of it is in the ${what}-file output]\n` : '';
  return { text: note + tail.toString('utf8'), truncated, totalBytes };
}

/** The last `maxLines` lines of a text, for the job summary. */
export function lastLines(text: string, maxLines: number): { text: string; cut: boolean } {
  const lines = text.replace(/\n$/, '').split('\n');
  if (lines.length <= maxLines) return { text: lines.join('\n'), cut: false };
  return { text: lines.slice(-maxLines).join('\n'), cut: true };
}
