// Service health checks as Docker runs them. The runner's Docker
// implementation waits, before the first step, until every service with a
// health check reports healthy, and fails the job when one turns unhealthy;
// a microVM has no Docker daemon to run the check, so prepare_job runs it
// itself in the service's VM: the command from --health-cmd (or the image's
// HEALTHCHECK), as Docker's CMD-SHELL (/bin/sh -c), until it exits 0. A
// check that fails inside the start period does not count; `retries`
// failures in a row after it make the service unhealthy; a check that runs
// past its timeout is killed and counts as a failure. One difference: the
// first check runs at once rather than after one interval, which reaches
// the same answer sooner.
import { setTimeout as sleepFor } from 'node:timers/promises';
import { Writable } from 'node:stream';
import { VmstepError } from '../engine/errors.js';
import type { ImageHealthcheck } from '../image/index.js';
import type { HookVms } from './vms.js';

/** Docker's defaults for what the options and the image leave unset. */
export const HEALTH_DEFAULTS = { intervalMs: 30_000, timeoutMs: 30_000, startPeriodMs: 0, retries: 3 } as const;
/** Longer than any job runs; also keeps every wait within what a timer can hold. */
export const MAX_HEALTH_DURATION_MS = 24 * 60 * 60 * 1000;
export const MAX_HEALTH_RETRIES = 1_000_000;
/** What is kept of a check's output (Docker keeps 4 KiB too). */
const OUTPUT_TAIL_BYTES = 4096;

const cancelled = () => new VmstepError('the job was cancelled', '');

/** The health flags of a container's options, as given (null: not given). */
export interface HealthOptions {
  /** --health-cmd: run as /bin/sh -c CMD. */
  cmd: string | null;
  /** --no-healthcheck: no check, not even the image's. */
  disabled: boolean;
  intervalMs: number | null;
  timeoutMs: number | null;
  startPeriodMs: number | null;
  startIntervalMs: number | null;
  retries: number | null;
}

export const noHealthOptions = (): HealthOptions => ({ cmd: null, disabled: false, intervalMs: null, timeoutMs: null, startPeriodMs: null, startIntervalMs: null, retries: null });

/** What prepare_job runs, and how often. */
export interface HealthCheck {
  argv: string[];
  /** The command as the workflow or image wrote it, for messages. */
  shown: string;
  intervalMs: number;
  timeoutMs: number;
  startPeriodMs: number;
  /** Between checks inside the start period. */
  startIntervalMs: number;
  retries: number;
}

/**
 * The service's check: the options' over the image's, field by field, as
 * Docker merges a container's health config with its image's; null when
 * neither has a command or --no-healthcheck (or the image's NONE) turns it off.
 */
export function resolveHealthCheck(opts: HealthOptions, image: ImageHealthcheck | null): HealthCheck | null {
  if (opts.disabled) return null;
  const test = opts.cmd ? ['CMD-SHELL', opts.cmd] : (image?.test ?? []);
  if (test.length < 2 || (test[0] !== 'CMD' && test[0] !== 'CMD-SHELL')) return null;
  const pick = (given: number | null, fromImage: number | undefined, fallback: number) => {
    const v = given || fromImage || fallback;
    // The image's values come from an untrusted config: keep them to what a timer can hold.
    return Math.min(v, MAX_HEALTH_DURATION_MS);
  };
  const intervalMs = pick(opts.intervalMs, image?.intervalMs, HEALTH_DEFAULTS.intervalMs);
  return {
    // Docker runs CMD-SHELL with the image's SHELL; images that set one other than /bin/sh are rare, and /bin/sh is what the check is written for.
    argv: test[0] === 'CMD-SHELL' ? ['/bin/sh', '-c', ...test.slice(1)] : test.slice(1),
    shown: test.slice(1).join(' '),
    intervalMs,
    timeoutMs: pick(opts.timeoutMs, image?.timeoutMs, HEALTH_DEFAULTS.timeoutMs),
    startPeriodMs: pick(opts.startPeriodMs, image?.startPeriodMs, HEALTH_DEFAULTS.startPeriodMs),
    startIntervalMs: pick(opts.startIntervalMs, image?.startIntervalMs, intervalMs),
    retries: Math.min(opts.retries || image?.retries || HEALTH_DEFAULTS.retries, MAX_HEALTH_RETRIES),
  };
}

/** Time as the health loop sees it; tests give one that does not wait. */
export interface Clock {
  now(): number;
  /** Resolves after ms; rejects when the signal aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: Clock = { now: () => Date.now(), sleep: (ms, signal) => sleepFor(ms, undefined, signal ? { signal } : {}) };

/** Keeps the last bytes written to it. */
class OutputTail extends Writable {
  private buf = Buffer.alloc(0);
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.buf = Buffer.concat([this.buf, chunk]);
    if (this.buf.length > OUTPUT_TAIL_BYTES) this.buf = this.buf.subarray(this.buf.length - OUTPUT_TAIL_BYTES);
    done();
  }

  /** The last lines, on one line. */
  lastLines(): string {
    const lines = this.buf.toString('utf8').split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
    const text = lines.slice(-3).join(' | ');
    return text.length > 300 ? `...${text.slice(-300)}` : text;
  }
}

type CheckResult = { status: number; output: string } | { status: 'timeout'; output: string };

async function runCheck(vms: Pick<HookVms, 'exec'>, id: string, check: HealthCheck, clock: Clock, signal: AbortSignal | undefined): Promise<CheckResult> {
  const out = new OutputTail();
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const exec = vms.exec(id, { argv: check.argv, env: [], prependPath: [], stdout: out, stderr: out, signal: stop.signal });
    // A check killed at its timeout may still settle later; nothing waits for it then.
    exec.catch(() => {});
    const timer = clock.sleep(check.timeoutMs, stop.signal).then(
      () => 'timeout' as const,
      () => 'stopped' as const,
    );
    const first = await Promise.race([exec, timer]);
    if (first === 'timeout') return { status: 'timeout', output: out.lastLines() };
    if (first === 'stopped') throw cancelled();
    return { status: first, output: out.lastLines() };
  } finally {
    // Ends the timer, or kills the check that outlived it.
    stop.abort();
    signal?.removeEventListener('abort', onAbort);
  }
}

const seconds = (ms: number) => (ms < 1000 ? `${ms} ms` : `${Math.round(ms / 100) / 10} s`);

/**
 * Runs the check in the service's VM until it passes; throws one line
 * naming the service, the command, how it last failed and the fix once the
 * service counts as unhealthy. `startedAt` is when the service's VM came up
 * (the start period counts from it).
 */
export async function waitHealthy(
  vms: Pick<HookVms, 'exec'>,
  id: string,
  service: string,
  check: HealthCheck,
  opts: { startedAt: number; signal?: AbortSignal; log(line: string): void; clock?: Clock },
): Promise<void> {
  const clock = opts.clock ?? realClock;
  let streak = 0;
  for (;;) {
    if (opts.signal?.aborted) throw cancelled();
    const began = clock.now();
    let r: CheckResult;
    try {
      r = await runCheck(vms, id, check, clock, opts.signal);
    } catch (err) {
      if (opts.signal?.aborted) throw cancelled();
      throw new VmstepError(`service ${service} stopped before its health check passed: ${(err as Error).message}`, 'see the service\'s output with `vmstep logs` on the runner host, and fix its image, command or options');
    }
    if (r.status === 0) {
      opts.log(`service ${service} is healthy`);
      return;
    }
    const starting = began - opts.startedAt < check.startPeriodMs;
    if (!starting) streak++;
    const how = r.status === 'timeout' ? `ran longer than its ${seconds(check.timeoutMs)} timeout` : `exited with status ${r.status}`;
    const output = r.output ? `output: ${r.output}` : 'no output';
    if (streak >= check.retries) {
      throw new VmstepError(
        `service ${service} is unhealthy: its health check \`${check.shown}\` failed ${streak} time${streak === 1 ? '' : 's'} in a row; the last ${how} (${output})`,
        'fix the health command or the service so that it passes once the service is ready, or give the service more time with --health-start-period, --health-interval or --health-retries in its options',
      );
    }
    const wait = starting ? check.startIntervalMs : check.intervalMs;
    opts.log(`service ${service} is not healthy yet: its health check ${how}${starting ? ' (in its start period)' : ` (${streak} of ${check.retries})`}; next check in ${seconds(wait)}`);
    try {
      await clock.sleep(wait, opts.signal);
    } catch {
      throw cancelled();
    }
  }
}
