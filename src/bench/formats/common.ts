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

/**
 * A number as benchmark tools print it: "1,234", "1234.5", "1.2e3". Thousands
 * separators are commas in libtest's and benchmark.js's output.
 */
export function readPrintedNumber(text: string, source: string, where: string): number {
  const plain = text.replace(/,/g, '');
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(plain)) throw new MetricsFileError(source, `${where}: ${quoteName(text)} is not a number`);
  const n = Number(plain);
  if (!Number.isFinite(n)) throw new MetricsFileError(source, `${where}: ${quoteName(text)} is not a finite number`);
  return n;
}

/** Canonical spellings of the units tools print; a unit not listed is kept as written. */
const UNIT_SPELLINGS: Record<string, string> = {
  ns: 'ns',
  'ns/op': 'ns',
  'ns/iter': 'ns',
  us: 'us',
  'us/op': 'us',
  µs: 'us',
  'µs/op': 'us',
  μs: 'us',
  'μs/op': 'us',
  ms: 'ms',
  'ms/op': 'ms',
  s: 's',
  's/op': 's',
  'ops/s': 'ops/s',
  'ops/sec': 'ops/s',
  'op/s': 'ops/s',
  'ops/ms': 'ops/ms',
  'ops/us': 'ops/us',
  'ops/ns': 'ops/ns',
  bytes: 'bytes',
};

export function canonicalUnit(unit: string): string {
  const key = unit.trim();
  // "B" is bytes; a lower-case "b" would be bits, so case matters here only.
  if (key === 'B' || key === 'B/op') return 'bytes';
  const lower = key.toLowerCase();
  return Object.hasOwn(UNIT_SPELLINGS, lower) ? UNIT_SPELLINGS[lower]! : key;
}

/** A time unit the tool must have written; anything else is an error naming it. */
export function readTimeUnit(value: unknown, source: string, where: string): 'ns' | 'us' | 'ms' | 's' {
  if (typeof value !== 'string') throw new MetricsFileError(source, `${where} must be a time unit string, found ${describeJson(value)}`);
  const unit = canonicalUnit(value);
  if (unit === 'ns' || unit === 'us' || unit === 'ms' || unit === 's') return unit;
  throw new MetricsFileError(source, `${where} ${quoteName(value)} is not a time unit (ns, us, ms or s)`);
}

/** Lines of a text report, without carriage returns; bounded by the file size limit already. */
export function textLines(text: string): string[] {
  return text.split(/\r?\n/);
}

/**
 * The array under `key` at the top of a tool's JSON (pytest-benchmark's and
 * Google Benchmark's "benchmarks", BenchmarkDotNet's "Benchmarks"), not empty.
 */
export function readTopArray(json: unknown, key: string, source: string, tool: string, emptyHint: string): unknown[] {
  if (!isPlainObject(json) || !Array.isArray(json[key])) {
    throw new MetricsFileError(source, `${tool}: the JSON has a "${key}" array at the top, found ${describeJson(json)} without one`);
  }
  const rows = json[key] as unknown[];
  if (rows.length === 0) throw new MetricsFileError(source, `${tool}: the "${key}" array is empty${emptyHint}`);
  checkCount(rows.length, source);
  return rows;
}
