// What a metric is, in one place. A metric is identified by a benchmark name
// and a measure, as in the Bencher Metric Format ("fib(30)" / "latency"), so
// results from any input format can be written back out as BMF without
// inventing names. Units travel as the strings the benchmark wrote; only time
// units are understood (for display scaling and for BMF's nanosecond latency).

/** Which way is better for a metric. */
export type Direction = 'smaller' | 'bigger';

export interface MetricId {
  /** The benchmark: a BMF benchmark name, a github-action-benchmark `name`, a hyperfine command. */
  name: string;
  /** The quantity measured: BMF measure slug ("latency", "throughput", "file-size", ...). */
  measure: string;
}

export interface Metric extends MetricId {
  /** Unit as written by the benchmark ("ms", "ops/s", "Megabytes"); "" when none was given. */
  unit: string;
  direction: Direction;
}

/** One value of one metric from one run. */
export interface MetricValue extends Metric {
  value: number;
}

/** Every run's value of one metric, in run order. */
export interface MetricSeries extends Metric {
  values: number[];
}

/** The metric vmstep always records: the command's wall time measured inside the guest. */
export const WALL_TIME: Readonly<Metric> = Object.freeze({
  name: 'wall time',
  measure: 'latency',
  unit: 'ms',
  direction: 'smaller' as const,
});

export function wallTimeValue(milliseconds: number): MetricValue {
  return { ...WALL_TIME, value: milliseconds };
}

/** A stable key for maps: name and measure cannot be confused because JSON.stringify quotes both. */
export function metricKey(id: MetricId): string {
  return JSON.stringify([id.name, id.measure]);
}

/** How a person reads the metric: "name" alone for plain latency-like metrics, "name (measure)" otherwise. */
export function metricLabel(id: MetricId): string {
  return id.measure === 'latency' || id.measure === 'value' ? id.name : `${id.name} (${id.measure})`;
}

/** Seconds per unit for the time units benchmarks write; undefined for anything else. */
const TIME_UNITS: Record<string, number> = {
  ns: 1e-9,
  nanoseconds: 1e-9,
  'ns/iter': 1e-9,
  us: 1e-6,
  µs: 1e-6,
  μs: 1e-6,
  microseconds: 1e-6,
  ms: 1e-3,
  milliseconds: 1e-3,
  s: 1,
  sec: 1,
  seconds: 1,
};

export function secondsPerUnit(unit: string): number | undefined {
  const key = unit.trim().toLowerCase();
  return Object.hasOwn(TIME_UNITS, key) ? TIME_UNITS[key] : undefined;
}

/**
 * Direction when the input format does not say: a rate or a throughput is
 * better bigger, everything else (time, size, memory, count of errors) is
 * better smaller. Users override it per metric where this guess is wrong.
 */
export function guessDirection(measure: string, unit: string): Direction {
  const m = measure.toLowerCase();
  const u = unit.toLowerCase().replace(/\s+/g, '');
  if (/throughput|bandwidth|ops|speedup|per-second/.test(m)) return 'bigger';
  if (/(\/|per)(s|sec|second|ms|min|minute)$/.test(u) || /^(hz|khz|mhz|ghz|fps|ops|iops)$/.test(u)) return 'bigger';
  return 'smaller';
}
