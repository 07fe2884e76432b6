// Run order for benchmark mode. With a baseline image the two arms alternate
// (A B A B ...) so that slow drift on the host, such as thermal throttling or
// a neighbour's load, lands on both alike instead of on whichever ran second.
// Warm-up runs come first, alternate the same way, and are discarded.

export type Arm = 'baseline' | 'head';

export interface ScheduledRun {
  arm: Arm;
  /** Warm-up runs fill caches and are discarded. */
  warmup: boolean;
  /** 0-based index among this arm's runs of the same kind (warm-up or measured). */
  index: number;
}

export interface ScheduleOptions {
  /** Measured runs per arm. */
  repeat: number;
  /** Discarded runs per arm before the measured ones. */
  warmup?: number;
  /** Arms to run: ['baseline', 'head'] with a baseline image, ['head'] with a baseline file or none. */
  arms?: readonly Arm[];
}

/** Bounds that keep a mistyped input (repeat: 10000) from holding a runner for days. */
export const MAX_REPEAT = 1000;
export const MAX_WARMUP = 100;

export function validateRunCounts(repeat: number, warmup: number): void {
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > MAX_REPEAT) {
    throw new Error(`repeat must be a whole number from 1 to ${MAX_REPEAT}, got ${repeat}`);
  }
  if (!Number.isInteger(warmup) || warmup < 0 || warmup > MAX_WARMUP) {
    throw new Error(`warmup must be a whole number from 0 to ${MAX_WARMUP}, got ${warmup}`);
  }
}

export function interleavedSchedule(options: ScheduleOptions): ScheduledRun[] {
  const warmup = options.warmup ?? 0;
  const arms = options.arms ?? ['baseline', 'head'];
  validateRunCounts(options.repeat, warmup);
  if (arms.length === 0 || new Set(arms).size !== arms.length) throw new Error('the schedule needs one or more distinct arms');
  const runs: ScheduledRun[] = [];
  for (let i = 0; i < warmup; i++) for (const arm of arms) runs.push({ arm, warmup: true, index: i });
  for (let i = 0; i < options.repeat; i++) for (const arm of arms) runs.push({ arm, warmup: false, index: i });
  return runs;
}
