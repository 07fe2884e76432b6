// Service containers as a workflow written for Docker expects them: the
// health check flags of a service's options (or its image's HEALTHCHECK)
// run in the service's VM until the service is healthy, a service without
// `ports:` is linked on the ports its image exposes, and --entrypoint
// replaces the image's ENTRYPOINT. The health loop runs on a clock that
// does not wait, over a stand-in for the service VM's exec; the images are
// real OCI layouts read by the real image code.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Capture } from '../helpers/capture.js';
import { afterAll, describe, expect, it } from 'vitest';
import { VmstepError } from '../../src/engine/errors.js';
import { resolveImage } from '../../src/image/index.js';
import { parseCreateOptions, parseDuration } from '../../src/hooks/create-options.js';
import { HEALTH_DEFAULTS, resolveHealthCheck, waitHealthy, type Clock, type HealthCheck } from '../../src/hooks/health.js';
import type { HookContext } from '../../src/hooks/context.js';
import type { HookContainer } from '../../src/hooks/input.js';
import { containerStepArgv } from '../../src/hooks/run-container-step.js';
import { planServices, serviceContexts, serviceLinks, servicePorts, startServices } from '../../src/hooks/services.js';
import type { ExecSpec, HookVms, JobVmSpec } from '../../src/hooks/vms.js';
import { writeOciLayout } from '../fixtures/oci-images.js';

/** The one line an error prints: a VmstepError, never more than a line. */
function oneLine(err: unknown): string {
  expect(err).toBeInstanceOf(VmstepError);
  const line = (err as VmstepError).oneLine();
  expect(line).not.toContain('\n');
  return line;
}

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return oneLine(err);
  }
  throw new Error('it was accepted');
}

const rejection = (p: Promise<unknown>): Promise<string> =>
  p.then(() => {
    throw new Error('it resolved');
  }, oneLine);

/**
 * Virtual time: a sleep moves the clock on by its length, after whatever is
 * already settled has run (a check that ends at once beats its timeout). A
 * sleep that is aborted first does not move the clock.
 */
function fakeClock(): Clock & { t: number } {
  const c = {
    t: 0,
    now: () => c.t,
    sleep: (ms: number, signal?: AbortSignal) =>
      new Promise<void>((resolve, reject) =>
        setImmediate(() => {
          if (signal?.aborted) return reject(new Error('aborted'));
          c.t += ms;
          resolve();
        }),
      ),
  };
  return c;
}

interface Run {
  at: number;
  argv: string[];
}

/** The service VM's exec: each call answers with the next scripted result (the last repeats). */
function scriptedExec(clock: Clock, script: ({ code: number; out?: string } | 'hang')[]) {
  const runs: Run[] = [];
  const exec = (_id: string, spec: ExecSpec): Promise<number> => {
    const step = script[Math.min(runs.length, script.length - 1)]!;
    runs.push({ at: clock.now(), argv: spec.argv });
    if (step === 'hang') {
      // Runs until killed, as a check stuck on a dead socket does; killed, it ends with SIGKILL's status.
      return new Promise((resolve) => spec.signal!.addEventListener('abort', () => resolve(137), { once: true }));
    }
    if (step.out) spec.stdout.write(step.out);
    return Promise.resolve(step.code);
  };
  return { exec, runs };
}

const check = (over: Partial<HealthCheck> = {}): HealthCheck => ({
  argv: ['/bin/sh', '-c', 'pg_isready'],
  shown: 'pg_isready',
  intervalMs: 10_000,
  timeoutMs: 5_000,
  startPeriodMs: 0,
  startIntervalMs: 10_000,
  retries: 3,
  ...over,
});

describe('container options for health checks and the entrypoint', () => {
  it("reads Docker's health flags, durations in Docker's syntax", () => {
    const o = parseCreateOptions('--health-cmd "pg_isready -U postgres" --health-interval 10s --health-timeout=1m30s --health-retries 5 --health-start-period 500ms --health-start-interval 1.5s');
    expect(o.health).toEqual({ cmd: 'pg_isready -U postgres', disabled: false, intervalMs: 10_000, timeoutMs: 90_000, startPeriodMs: 500, startIntervalMs: 1_500, retries: 5 });
    expect(o.ignored).toEqual([]);
    expect(parseCreateOptions('--no-healthcheck').health.disabled).toBe(true);
    expect(parseDuration('1h2m3s4ms', '--health-interval')).toBe(3_723_004);
    expect(parseDuration('0', '--health-interval')).toBe(0);
  });

  it('takes 0 for a duration or the retries as "the default", as Docker does', () => {
    expect(parseCreateOptions('--health-interval 0s --health-retries 0').health).toMatchObject({ intervalMs: null, retries: null });
  });

  it('refuses bad health values in one line naming the flag and the fix', () => {
    expect(refusal(() => parseCreateOptions('--health-interval 10'))).toBe('container options: --health-interval "10" is not a duration; write --health-interval as Docker does: 10s, 1m30s or 500ms');
    expect(refusal(() => parseCreateOptions('--health-timeout 5sec'))).toMatch(/^container options: --health-timeout "5sec" is not a duration; /);
    expect(refusal(() => parseCreateOptions('--health-start-period -1s'))).toMatch(/^container options: --health-start-period "-1s" is negative; /);
    expect(refusal(() => parseCreateOptions('--health-interval 25h'))).toMatch(/--health-interval "25h" is longer than a day/);
    expect(refusal(() => parseCreateOptions('--health-interval 10us'))).toMatch(/--health-interval "10us" is shorter than a millisecond/);
    expect(refusal(() => parseCreateOptions('--health-retries three'))).toMatch(/^container options: --health-retries "three" is not a number of retries; write a whole number/);
    expect(refusal(() => parseCreateOptions('--health-retries -2'))).toMatch(/--health-retries "-2" is not a number of retries/);
    expect(refusal(() => parseCreateOptions('--health-cmd'))).toMatch(/--health-cmd needs a value/);
    expect(refusal(() => parseCreateOptions('--no-healthcheck --health-cmd true'))).toBe('container options: --no-healthcheck conflicts with --health-cmd; give either --no-healthcheck or the --health-* options, as Docker requires');
  });

  it('reads --entrypoint as one program, and an empty one as clearing the image\'s', () => {
    expect(parseCreateOptions('--entrypoint /usr/local/bin/docker-entrypoint.sh').entrypoint).toEqual(['/usr/local/bin/docker-entrypoint.sh']);
    expect(parseCreateOptions('--entrypoint ""').entrypoint).toEqual([]);
    expect(parseCreateOptions('--entrypoint=').entrypoint).toEqual([]);
    expect(parseCreateOptions('--cpus 1').entrypoint).toBeNull();
  });
});

describe('the health check a service gets', () => {
  const image = { test: ['CMD', 'redis-cli', 'ping'], intervalMs: 2_000, timeoutMs: 0, startPeriodMs: 0, startIntervalMs: 0, retries: 0 };
  const opts = (text: string) => parseCreateOptions(text).health;

  it("runs --health-cmd as Docker's CMD-SHELL, with Docker's defaults for what is not given", () => {
    expect(resolveHealthCheck(opts('--health-cmd "pg_isready || exit 1"'), null)).toEqual({
      argv: ['/bin/sh', '-c', 'pg_isready || exit 1'],
      shown: 'pg_isready || exit 1',
      intervalMs: HEALTH_DEFAULTS.intervalMs,
      timeoutMs: 30_000,
      startPeriodMs: 0,
      startIntervalMs: 30_000,
      retries: 3,
    });
  });

  it("falls back to the image's HEALTHCHECK field by field, and the options win where both give one", () => {
    expect(resolveHealthCheck(opts(''), image)).toMatchObject({ argv: ['redis-cli', 'ping'], intervalMs: 2_000, timeoutMs: 30_000, retries: 3 });
    expect(resolveHealthCheck(opts('--health-interval 1s --health-retries 9'), image)).toMatchObject({ argv: ['redis-cli', 'ping'], intervalMs: 1_000, retries: 9 });
    expect(resolveHealthCheck(opts('--health-cmd "redis-cli -p 7000 ping"'), image)).toMatchObject({ argv: ['/bin/sh', '-c', 'redis-cli -p 7000 ping'], intervalMs: 2_000 });
  });

  it("has none with --no-healthcheck, with the image's NONE, or without a command anywhere", () => {
    expect(resolveHealthCheck(opts('--no-healthcheck'), image)).toBeNull();
    expect(resolveHealthCheck(opts('--health-interval 1s'), { ...image, test: ['NONE'] })).toBeNull();
    expect(resolveHealthCheck(opts('--health-interval 1s'), null)).toBeNull();
  });
});

describe('the health loop', () => {
  const wait = (exec: HookVms['exec'], c: HealthCheck, clock: Clock, lines: string[] = []) => waitHealthy({ exec }, 'vm1', 'postgres', c, { startedAt: 0, clock, log: (l) => lines.push(l) });

  it('runs the first check at once and passes at the first success after failures', async () => {
    const clock = fakeClock();
    const { exec, runs } = scriptedExec(clock, [{ code: 1 }, { code: 2 }, { code: 0 }]);
    const lines: string[] = [];
    await wait(exec, check(), clock, lines);
    expect(runs.map((r) => r.at)).toEqual([0, 10_000, 20_000]);
    expect(runs[0]!.argv).toEqual(['/bin/sh', '-c', 'pg_isready']);
    expect(lines).toEqual([
      'service postgres is not healthy yet: its health check exited with status 1 (1 of 3); next check in 10 s',
      'service postgres is not healthy yet: its health check exited with status 2 (2 of 3); next check in 10 s',
      'service postgres is healthy',
    ]);
  });

  it('fails after `retries` failures in a row with one line: the service, the command, its status, its last output lines and the fix', async () => {
    const clock = fakeClock();
    const { exec, runs } = scriptedExec(clock, [{ code: 2, out: 'starting\n\n/var/run/postgresql:5432 - no response\n' }]);
    const line = await rejection(wait(exec, check(), clock));
    expect(runs).toHaveLength(3);
    expect(line).toBe(
      'service postgres is unhealthy: its health check `pg_isready` failed 3 times in a row; the last exited with status 2 (output: starting | /var/run/postgresql:5432 - no response); ' +
        'fix the health command or the service so that it passes once the service is ready, or give the service more time with --health-start-period, --health-interval or --health-retries in its options',
    );
  });

  it('kills a check that runs past its timeout and counts it as a failure', async () => {
    const clock = fakeClock();
    const { exec, runs } = scriptedExec(clock, ['hang', 'hang', { code: 0 }]);
    await wait(exec, check({ retries: 3 }), clock);
    // Each hung check took its 5 s timeout before the 10 s interval.
    expect(runs.map((r) => r.at)).toEqual([0, 15_000, 30_000]);

    const clock2 = fakeClock();
    const hung = scriptedExec(clock2, ['hang']);
    expect(await rejection(wait(hung.exec, check({ retries: 2 }), clock2))).toMatch(/^service postgres is unhealthy: its health check `pg_isready` failed 2 times in a row; the last ran longer than its 5 s timeout \(no output\); /);
  });

  it('does not count failures inside the start period', async () => {
    const clock = fakeClock();
    // With retries 1, a counted failure would end the wait at once.
    const { exec, runs } = scriptedExec(clock, [{ code: 1 }, { code: 1 }, { code: 1 }, { code: 1 }, { code: 0 }]);
    await wait(exec, check({ retries: 1, startPeriodMs: 60_000 }), clock);
    expect(runs).toHaveLength(5);

    const clock2 = fakeClock();
    const never = scriptedExec(clock2, [{ code: 1 }]);
    const lines: string[] = [];
    expect(await rejection(wait(never.exec, check({ retries: 1, startPeriodMs: 60_000, startIntervalMs: 20_000 }), clock2, lines))).toMatch(/failed 1 time in a row/);
    // Checks at 0, 20 and 40 s fall in the start period (every 20 s there); the one at 60 s counts.
    expect(never.runs.map((r) => r.at)).toEqual([0, 20_000, 40_000, 60_000]);
    expect(lines[0]).toBe('service postgres is not healthy yet: its health check exited with status 1 (in its start period); next check in 20 s');
  });

  it("fails with the service's name when its VM stops under the check", async () => {
    const clock = fakeClock();
    const exec = () => Promise.reject(new VmstepError('VM gha-x-svc0-postgres stopped while the command ran', 'see `vmstep ps -a`'));
    expect(await rejection(wait(exec, check(), clock))).toMatch(/^service postgres stopped before its health check passed: VM gha-x-svc0-postgres stopped while the command ran/);
  });
});

describe('services in prepare_job', () => {
  const work = mkdtempSync(join(tmpdir(), 'vmstep-hooks-health-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  /** A redis-like image: EXPOSE 6379 and 16379 (TCP) and 5353/udp. */
  const exposing = join(work, 'exposing');
  writeOciLayout(exposing, { layers: [{ entries: [{ path: 'etc/hostname', content: 'svc\n' }] }], config: { Cmd: ['redis-server'], ExposedPorts: { '6379/tcp': {}, '16379': {}, '5353/udp': {} } } });
  /** An image with a HEALTHCHECK and no EXPOSE. */
  const checked = join(work, 'checked');
  writeOciLayout(checked, { layers: [{ entries: [{ path: 'etc/hostname', content: 'svc\n' }] }], config: { Cmd: ['app'], Healthcheck: { Test: ['CMD-SHELL', 'app --ping'], Interval: 1_000_000_000, Retries: 2 } } });

  const service = (contextName: string, image: string, over: Partial<HookContainer> = {}): HookContainer => ({
    contextName,
    image: `oci:${image}`,
    dockerfile: null,
    entryPoint: null,
    entryPointArgs: [],
    workingDirectory: null,
    createOptions: null,
    registry: null,
    environmentVariables: {},
    portMappings: [],
    systemMountVolumes: [],
    userMountVolumes: [],
    ...over,
  });

  /** The service VMs: the image config read by the real image code, ports that accept as told, execs as scripted. */
  function fakeVms(opts: { accepting?: number[]; exec?: HookVms['exec'] } = {}) {
    const started: JobVmSpec[] = [];
    const waited: number[] = [];
    /** Ports whose wait was ended from outside (a cancelled job, a failed sibling). */
    const abandoned: number[] = [];
    const refuse = () => {
      throw new Error('prepare_job reached for a VM call that services do not use');
    };
    const vms: HookVms = {
      start: async (spec) => (started.push(spec), `${started.length}`.padStart(12, '0')),
      imageConfig: async (id) => (await resolveImage(started[Number(id) - 1]!.image)).config,
      // A keeper binds a free port where port 0 was asked for: here 40000 + the guest port.
      published: async (id) => (started[Number(id) - 1]!.ports ?? []).map((p) => ({ ...p, hostPort: p.hostPort || 40000 + p.guestPort })),
      exec: opts.exec ?? refuse,
      waitForPort: (_id, port, _timeout, signal) => {
        waited.push(port);
        if (opts.accepting?.includes(port)) return Promise.resolve();
        if (signal?.aborted) {
          abandoned.push(port);
          return Promise.reject(new VmstepError('the job was cancelled', ''));
        }
        return new Promise((_resolve, reject) =>
          signal?.addEventListener(
            'abort',
            () => {
              abandoned.push(port);
              reject(new VmstepError('the job was cancelled', ''));
            },
            { once: true },
          ),
        );
      },
      put: refuse,
      list: refuse,
      get: refuse,
      stop: refuse,
      named: refuse,
    };
    return { vms, started, waited, abandoned };
  }

  const context = (vms: HookVms) => ({ vms, stdout: new Capture(), stderr: new Capture(), env: {} }) satisfies HookContext;

  it("answers the runner with the host port a keeper bound where ports: gave only the container's", async () => {
    const f = fakeVms({ accepting: [6379, 80] });
    const ctx = context(f.vms);
    const started = await startServices(planServices([service('redis', exposing, { portMappings: ['6379', '8080:80'] })], ctx), 'k', ctx);
    expect(serviceContexts(started)).toEqual([{ id: started[0]!.id, network: 'vmstep', ports: { 6379: '46379', 80: '8080' } }]);
  });

  it('links a service without ports: on the TCP ports its image exposes, and is ready once one of them accepts', async () => {
    const f = fakeVms({ accepting: [16379] });
    const ctx = context(f.vms);
    const started = await startServices(planServices([service('redis', exposing)], ctx), 'k', ctx);
    expect(serviceLinks(started)).toEqual([{ name: 'redis', vm: started[0]!.id, ports: [6379, 16379], address: '127.0.0.2' }]);
    expect(f.waited.sort()).toEqual([16379, 6379]);
    expect(ctx.stdout.text).not.toContain('::warning::');
  });

  it('links the ports: container ports ahead of the exposed ones, and waits for each of those', async () => {
    const f = fakeVms({ accepting: [7000, 6379] });
    const ctx = context(f.vms);
    const started = await startServices(planServices([service('redis', exposing, { portMappings: ['7000', '6379:6379'] })], ctx), 'k', ctx);
    expect(started[0]!.link.ports).toEqual([7000, 6379, 16379]);
    expect(f.waited).toEqual([7000, 6379]);
  });

  it('warns, saying what to add, only when neither ports: nor the image gives a port', async () => {
    const f = fakeVms({ exec: async () => 0 });
    const ctx = context(f.vms);
    const started = await startServices(planServices([service('app', checked)], ctx), 'k', ctx);
    expect(serviceLinks(started)).toEqual([]);
    expect(ctx.stdout.text).toContain("::warning::service app has no ports: in the workflow and its image exposes no TCP port, so the job cannot reach it: add the container port it listens on to the service's ports: (such as ports: [ 8080 ])");
  });

  it("runs the image's HEALTHCHECK in the service's VM instead of waiting for ports, and fails prepare_job when the service is unhealthy", async () => {
    const execs: string[][] = [];
    const f = fakeVms({
      accepting: [],
      exec: async (_id, spec) => {
        execs.push(spec.argv);
        spec.stderr.write('connection refused\n');
        return 1;
      },
    });
    const ctx = context(f.vms);
    const clock = fakeClock();
    const line = await rejection(startServices(planServices([service('app', checked, { portMappings: ['8080'] })], ctx), 'k', ctx, clock));
    expect(line).toMatch(/^service app is unhealthy: its health check `app --ping` failed 2 times in a row; the last exited with status 1 \(output: connection refused\); /);
    expect(execs).toEqual([
      ['/bin/sh', '-c', 'app --ping'],
      ['/bin/sh', '-c', 'app --ping'],
    ]);
    expect(f.waited).toEqual([]);
  });

  it("ends the other services' waits when one service is unhealthy, so that prepare_job exits with its error", async () => {
    const f = fakeVms({
      accepting: [],
      // The check fails only once redis is waiting for its port.
      exec: async () => {
        while (!f.waited.includes(6379)) await new Promise((r) => setImmediate(r));
        return 1;
      },
    });
    const ctx = context(f.vms);
    const line = await rejection(startServices(planServices([service('redis', exposing, { portMappings: ['6379'] }), service('app', checked)], ctx), 'k', ctx, fakeClock()));
    expect(line).toMatch(/^service app is unhealthy: /);
    expect(f.abandoned).toEqual([6379]);
  });

  it('honours --health-cmd from the options over the image, and --no-healthcheck goes back to waiting for ports', async () => {
    const execs: string[][] = [];
    const f = fakeVms({ accepting: [8080], exec: async (_id, spec) => (execs.push(spec.argv), 0) });
    const ctx = context(f.vms);
    await startServices(planServices([service('app', checked, { createOptions: '--health-cmd "curl -f localhost:8080"' }), service('other', checked, { portMappings: ['8080'], createOptions: '--no-healthcheck' })], ctx), 'k', ctx);
    expect(execs).toEqual([['/bin/sh', '-c', 'curl -f localhost:8080']]);
    expect(f.waited).toEqual([8080]);
    expect(ctx.stdout.text).toContain('service app is healthy\n');
  });

  it("starts a service with --entrypoint from its options, the service's own entrypoint winning, and refuses a cleared one with nothing to run", async () => {
    const f = fakeVms({ accepting: [6379] });
    const ctx = context(f.vms);
    await startServices(
      planServices(
        [
          service('a', exposing, { createOptions: '--entrypoint /bin/other', entryPointArgs: ['--port', '6379'] }),
          service('b', exposing, { createOptions: '--entrypoint /bin/other', entryPoint: '/bin/mine' }),
          service('c', exposing, { createOptions: '--entrypoint ""', entryPointArgs: ['redis-server'] }),
          service('d', exposing),
        ],
        ctx,
      ),
      'k',
      ctx,
    );
    expect(f.started.map((s) => s.command)).toEqual([
      { entrypoint: ['/bin/other'], args: ['--port', '6379'] },
      { entrypoint: ['/bin/mine'], args: [] },
      { entrypoint: [], args: ['redis-server'] },
      { entrypoint: null, args: [] },
    ]);
    expect(refusal(() => planServices([service('e', exposing, { createOptions: '--entrypoint ""' })], ctx))).toBe(
      'service e: --entrypoint "" clears its image\'s ENTRYPOINT and the service gives no command to run instead; drop --entrypoint "" from the service\'s options, or give --entrypoint PROGRAM',
    );
  });

  it('keeps a link to 16 ports, ports: first, and names the ones left out', () => {
    const exposed = Array.from({ length: 20 }, (_, i) => 9000 + i);
    const { ports, leftOut } = servicePorts([80], exposed);
    expect(ports).toEqual([80, ...exposed.slice(0, 15)]);
    expect(leftOut).toEqual(exposed.slice(15));
  });
});

describe('a container step with --entrypoint in its options', () => {
  const step = (over: Partial<HookContainer>): HookContainer => ({ contextName: null, image: 'alpine', dockerfile: null, entryPoint: null, entryPointArgs: [], workingDirectory: null, createOptions: null, registry: null, environmentVariables: {}, portMappings: [], systemMountVolumes: [], userMountVolumes: [], ...over });
  const image = { entrypoint: ['/entry'], cmd: ['default'] };

  it("replaces the image's ENTRYPOINT and drops its CMD, as docker run does; the step's own entrypoint wins", () => {
    expect(containerStepArgv(step({ entryPointArgs: ['a', 'b'] }), ['/opt/run'], image)).toEqual(['/opt/run', 'a', 'b']);
    expect(containerStepArgv(step({}), ['/opt/run'], image)).toEqual(['/opt/run']);
    expect(containerStepArgv(step({ entryPoint: '/mine' }), ['/opt/run'], image)).toEqual(['/mine']);
    expect(containerStepArgv(step({ entryPointArgs: ['echo', 'hi'] }), [], image)).toEqual(['echo', 'hi']);
    expect(containerStepArgv(step({}), null, image)).toEqual(['/entry', 'default']);
    expect(refusal(() => containerStepArgv(step({}), [], image))).toMatch(/^the container step alpine has no command: --entrypoint "" cleared the image's ENTRYPOINT and the step gives no args; /);
  });
});
