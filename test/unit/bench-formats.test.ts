import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseMetricsFile, parseMetricsFormat } from '../../src/bench/formats/parse.js';
import { MAX_METRICS_FILE_BYTES, MetricsFileError } from '../../src/bench/formats/common.js';

const fixture = (name: string): Buffer => readFileSync(fileURLToPath(new URL(`../fixtures/bench/${name}`, import.meta.url)));

describe('hyperfine --export-json (real hyperfine 1.15.0 output)', () => {
  it('reads each command as a latency metric in seconds, valued at its mean', () => {
    const parsed = parseMetricsFile(fixture('hyperfine.json'), { source: '/out/hf.json' });
    expect(parsed.format).toBe('hyperfine');
    expect(parsed.metrics).toEqual([
      { name: 'sleep 0.01', measure: 'latency', unit: 's', direction: 'smaller', value: 0.0115282826 },
      { name: 'sleep 0.02', measure: 'latency', unit: 's', direction: 'smaller', value: 0.0217724112 },
    ]);
    expect(parsed.warnings).toEqual([]);
  });

  it('keeps parameter-scan commands apart by their substituted text', () => {
    const names = parseMetricsFile(fixture('hyperfine-parameters.json')).metrics.map((m) => m.name);
    expect(names).toEqual(['seq 1000', 'seq 2000']);
  });

  it('adds the parameters when --command-name gives every result the same name', () => {
    const names = parseMetricsFile(fixture('hyperfine-duplicate-names.json')).metrics.map((m) => m.name);
    expect(names).toEqual(['count (n=1000)', 'count (n=2000)']);
  });

  it('parses an export that the installed hyperfine writes now', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmstep-hyperfine-'));
    try {
      const out = join(dir, 'export.json');
      try {
        execFileSync('hyperfine', ['-N', '--runs', '3', '--export-json', out, 'true', 'sleep 0.05'], { stdio: 'ignore' });
      } catch (error) {
        throw new Error(`hyperfine failed (install Debian's hyperfine, listed in scripts/lib/deps.mjs): ${(error as Error).message}`);
      }
      const parsed = parseMetricsFile(readFileSync(out), { source: out });
      expect(parsed.format).toBe('hyperfine');
      expect(parsed.metrics.map((m) => m.name)).toEqual(['true', 'sleep 0.05']);
      expect(parsed.metrics[1]!.value).toBeGreaterThan(0.05);
      expect(parsed.metrics[1]!.value).toBeGreaterThan(parsed.metrics[0]!.value);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('falls back to the mean of times, and warns about failed runs', () => {
    const json = JSON.stringify({ results: [{ command: 'x', times: [1, 2, 3], exit_codes: [0, 1, 0] }] });
    const parsed = parseMetricsFile(json, { format: 'hyperfine', source: 'hf.json' });
    expect(parsed.metrics[0]!.value).toBe(2);
    expect(parsed.warnings[0]).toMatch(/hf\.json: hyperfine command "x" had runs with a non-zero exit code/);
  });
});

describe('Bencher Metric Format', () => {
  it('reads every benchmark and measure, with built-in measure units and directions', () => {
    const parsed = parseMetricsFile(fixture('bmf.json'));
    expect(parsed.format).toBe('bmf');
    expect(parsed.metrics).toEqual([
      { name: 'parse_config', measure: 'latency', unit: 'ns', direction: 'smaller', value: 1523.5 },
      { name: 'parse_config', measure: 'throughput', unit: 'ops/s', direction: 'bigger', value: 656380.2 },
      { name: '/bin/sh -c make -j2', measure: 'build-time', unit: 's', direction: 'smaller', value: 41.7 },
      { name: 'vmstep-init', measure: 'file-size', unit: 'bytes', direction: 'smaller', value: 918272 },
      { name: 'cache hit ratio', measure: 'ratio', unit: '', direction: 'smaller', value: 0.93 },
    ]);
  });

  it('names the benchmark and measure whose value is wrong', () => {
    const bad = JSON.stringify({ fib: { latency: { value: 'fast' } } });
    expect(() => parseMetricsFile(bad, { format: 'bmf', source: '/tmp/m.json' })).toThrow(
      'metrics file /tmp/m.json: "fib" / "latency" "value" must be a number, found a string',
    );
    expect(() => parseMetricsFile('{"fib": {"latency": {"lower_value": 1}}}', { format: 'bmf' })).toThrow(/"fib" \/ "latency" has no "value"/);
    expect(() => parseMetricsFile('{"fib": {"latency": {"value": 1, "upper_value": null}}}', { format: 'bmf' })).toThrow(/"upper_value" must be a number, found null/);
    expect(() => parseMetricsFile('{"fib": {"latency": {"value": 1e999}}}', { format: 'bmf' })).toThrow(/finite number, found Infinity/);
    expect(() => parseMetricsFile('[]', { format: 'bmf' })).toThrow(/JSON object of benchmarks at the top, found an array/);
  });

  it('keeps a benchmark called __proto__ as data, not as a prototype', () => {
    const parsed = parseMetricsFile('{"__proto__": {"latency": {"value": 3}}, "constructor": {"latency": {"value": 4}}}', { format: 'bmf' });
    expect(parsed.metrics.map((m) => [m.name, m.value])).toEqual([['__proto__', 3], ['constructor', 4]]);
  });
});

describe("github-action-benchmark's custom formats", () => {
  it('customSmallerIsBetter marks every entry smaller-is-better', () => {
    const parsed = parseMetricsFile(fixture('custom-smaller-is-better.json'), { format: 'customSmallerIsBetter' });
    expect(parsed.metrics).toEqual([
      { name: 'render page - p99 latency', measure: 'value', unit: 'ms', direction: 'smaller', value: 12.75 },
      { name: 'render page - peak RSS', measure: 'value', unit: 'MiB', direction: 'smaller', value: 184 },
    ]);
  });

  it('customBiggerIsBetter marks every entry bigger-is-better and accepts quoted numbers', () => {
    const parsed = parseMetricsFile(fixture('custom-bigger-is-better.json'), { format: 'customBiggerIsBetter' });
    expect(parsed.metrics.map((m) => [m.name, m.direction, m.value])).toEqual([
      ['http server - requests', 'bigger', 48210],
      ['http server - cache hits', 'bigger', 97.5],
    ]);
  });

  it('auto detection guesses the direction from the unit: rates are bigger-is-better', () => {
    const parsed = parseMetricsFile(fixture('custom-bigger-is-better.json'));
    expect(parsed.format).toBe('customSmallerIsBetter');
    expect(parsed.metrics.map((m) => m.direction)).toEqual(['bigger', 'smaller']);
  });

  it('rejects entries without a usable name or value, naming the entry', () => {
    expect(() => parseMetricsFile('[{"name": "a", "value": 1}, {"value": 2}]', { format: 'customSmallerIsBetter' })).toThrow(
      /entry 1 "name" must be a string, found undefined/,
    );
    expect(() => parseMetricsFile('[{"name": "a", "value": "12ms"}]', { format: 'customSmallerIsBetter' })).toThrow(
      /entry 0 \("a"\) "value" must be a number, found a string/,
    );
    expect(() => parseMetricsFile('[{"name": "a", "value": 1}, {"name": "a", "value": 2}]')).toThrow(/metric "a" appears twice/);
  });
});

describe('auto detection and untrusted input', () => {
  it('detects each format from a real file', () => {
    expect(parseMetricsFile(fixture('hyperfine.json')).format).toBe('hyperfine');
    expect(parseMetricsFile(fixture('bmf.json')).format).toBe('bmf');
    expect(parseMetricsFile(fixture('custom-smaller-is-better.json')).format).toBe('customSmallerIsBetter');
  });

  it('says which formats it knows when it recognises none', () => {
    expect(() => parseMetricsFile('{"a": 1}', { source: '/out/m.json' })).toThrow(
      /metrics file \/out\/m\.json: not a metrics format vmstep knows: expected Bencher Metric Format .* set metrics-format to say which/,
    );
  });

  it('reports empty, oversized, binary and malformed files clearly', () => {
    const err = (content: string | Uint8Array): MetricsFileError => {
      try {
        parseMetricsFile(content, { source: 'm.json' });
      } catch (e) {
        return e as MetricsFileError;
      }
      throw new Error('expected a MetricsFileError');
    };
    expect(err('').message).toMatch(/m\.json: the file is empty/);
    expect(err(Buffer.alloc(MAX_METRICS_FILE_BYTES + 1, 0x20)).message).toMatch(/over the 4194304-byte limit/);
    expect(err(Uint8Array.of(0xff, 0xfe, 0x00)).message).toMatch(/not UTF-8 text/);
    expect(err('{"a": ').message).toMatch(/m\.json: not valid JSON/);
    expect(err('{"a": ').name).toBe('MetricsFileError');
  });

  it('survives deeply nested JSON without exhausting the stack', () => {
    const deep = '['.repeat(1_000_000) + ']'.repeat(1_000_000);
    expect(() => parseMetricsFile(deep)).toThrow(MetricsFileError);
    const deepValue = `{"b": {"latency": {"value": ${'['.repeat(100_000)}${']'.repeat(100_000)}}}}`;
    expect(() => parseMetricsFile(deepValue)).toThrow(/must be a number, found an array/);
  });

  it('bounds the number of metrics and the length of names', () => {
    const many = JSON.stringify(Array.from({ length: 1001 }, (_, i) => ({ name: `b${i}`, value: i })));
    expect(() => parseMetricsFile(many)).toThrow(/1001 metrics, over the limit of 1000/);
    const long = JSON.stringify([{ name: 'x'.repeat(1025), value: 1 }]);
    expect(() => parseMetricsFile(long)).toThrow(/1025 characters long, over the limit of 1024/);
  });

  it('accepts a byte order mark', () => {
    expect(parseMetricsFile('\ufeff[{"name": "a", "value": 1}]').metrics).toHaveLength(1);
  });
});

describe('metrics-format input', () => {
  it('accepts the documented names and common spellings', () => {
    expect(parseMetricsFormat('auto')).toBe('auto');
    expect(parseMetricsFormat('BMF')).toBe('bmf');
    expect(parseMetricsFormat('custom-bigger-is-better')).toBe('customBiggerIsBetter');
    expect(parseMetricsFormat('customSmallerIsBetter')).toBe('customSmallerIsBetter');
  });

  it('names the valid values when given another', () => {
    expect(() => parseMetricsFormat('csv')).toThrow('unknown metrics-format "csv": use one of auto, bmf, customSmallerIsBetter, customBiggerIsBetter, hyperfine');
  });
});
