// Shared rules for reading a metrics file. The file is written by code in the
// guest, so it is untrusted: its size and the number and length of its names
// are bounded, every value is checked, and every problem ends in a
// MetricsFileError that names the file, the place in it and the fix. Nothing
// here walks the JSON recursively or stringifies parts of it, so a deeply
// nested document cannot exhaust the stack.

/** Largest metrics file read; a benchmark's results are kilobytes. */
export const MAX_METRICS_FILE_BYTES = 4 * 1024 * 1024;
/** Most metrics one file may hold (reports and charts stay readable well below this). */
export const MAX_METRICS_PER_FILE = 1000;
/** Bencher's own limits: 1024 characters for a benchmark name, 64 for a measure. */
export const MAX_NAME_CHARS = 1024;
export const MAX_MEASURE_CHARS = 64;

export class MetricsFileError extends Error {
  /** The file the problem is in, as the user named it. */
  readonly source: string;
  constructor(source: string, problem: string) {
    super(`metrics file ${source}: ${problem}`);
    this.name = 'MetricsFileError';
    this.source = source;
  }
}

/** A short description of a JSON value's type for error messages; never its content. */
export function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'number') return 'a number';
  if (typeof value === 'boolean') return 'a boolean';
  return typeof value;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Names are shown in reports; quote them safely and shorten very long ones in messages. */
export function quoteName(name: string): string {
  const shown = name.length > 80 ? `${name.slice(0, 77)}...` : name;
  return JSON.stringify(shown);
}

export function decodeText(content: string | Uint8Array, source: string): string {
  const bytes = typeof content === 'string' ? Buffer.byteLength(content, 'utf8') : content.byteLength;
  if (bytes === 0) {
    throw new MetricsFileError(source, 'the file is empty: the benchmark must write its results there before it exits');
  }
  if (bytes > MAX_METRICS_FILE_BYTES) {
    throw new MetricsFileError(
      source,
      `the file is ${bytes} bytes, over the ${MAX_METRICS_FILE_BYTES}-byte limit: write a summary per benchmark, not every raw sample`,
    );
  }
  if (typeof content === 'string') return content;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(content);
  } catch {
    throw new MetricsFileError(source, 'the file is not UTF-8 text: metrics files are JSON');
  }
}

export function parseJson(text: string, source: string): unknown {
  try {
    // A UTF-8 byte order mark is legal in files some tools write, not in JSON.
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    throw new MetricsFileError(source, `not valid JSON (${(error as Error).message})`);
  }
}

/** A finite number, or a string holding one (github-action-benchmark's own files sometimes quote values). */
export function readNumber(value: unknown, source: string, where: string, options: { allowString?: boolean } = {}): number {
  let n: number | undefined;
  if (typeof value === 'number') n = value;
  else if (options.allowString && typeof value === 'string' && /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(value)) n = Number(value);
  if (n === undefined) throw new MetricsFileError(source, `${where} must be a number, found ${describeJson(value)}`);
  if (!Number.isFinite(n)) throw new MetricsFileError(source, `${where} must be a finite number, found ${n}`);
  return n;
}

export function readName(value: unknown, source: string, where: string, maxChars = MAX_NAME_CHARS): string {
  if (typeof value !== 'string') throw new MetricsFileError(source, `${where} must be a string, found ${describeJson(value)}`);
  if (value.trim() === '') throw new MetricsFileError(source, `${where} is empty: every metric needs a name`);
  if (value.length > maxChars) {
    throw new MetricsFileError(source, `${where} is ${value.length} characters long, over the limit of ${maxChars}`);
  }
  return value;
}

export function checkCount(count: number, source: string): void {
  if (count > MAX_METRICS_PER_FILE) {
    throw new MetricsFileError(source, `${count} metrics, over the limit of ${MAX_METRICS_PER_FILE} per file`);
  }
}
