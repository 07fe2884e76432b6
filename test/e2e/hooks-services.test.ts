// Service containers through the runner plugin, driven as the runner drives
// it (dist/hooks.js per command, the runner's JSON, the response file read
// back), on the real guest kernel: a job with a `services:` block of redis
// and postgres (Debian's packages, in a Debian-based image) reaches them by
// name from its steps; redis's `ports:` (a container port alone: a free host
// port) and the job container's are published on the host; postgres
// has no `ports:`, as most workflows write it, and is reached on the port
// its image exposes once its `--health-cmd pg_isready` passes; cleanup_job
// stops them all. Three VMs boot here (two services and the job), so each
// check shares them.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { jobContainerArgs, makeRunnerLayout, runHook, scriptStep, type HookRun, type RunnerLayout } from '../helpers/runner-hooks.js';
import { buildServiceImage } from '../helpers/service-images.js';

const work = mkdtempSync(join(tmpdir(), 'vmstep-e2e-hooksvc-'));
const stateDir = join(work, 'state');
mkdirSync(stateDir, { mode: 0o700 });
const env = { VMSTEP_CACHE: join(work, 'cache'), VMSTEP_STATE_DIR: stateDir };
const imageDir = join(work, 'image');

/** A service as the runner sends it in prepare_job's args.services. */
function service(contextName: string, entryPoint: string, entryPointArgs: string[], portMappings: string[], createOptions: string) {
  return { contextName, image: `oci:${imageDir}`, dockerfile: null, entryPoint, entryPointArgs, workingDirectory: null, createOptions, registry: null, environmentVariables: { TZ: 'UTC' }, portMappings, systemMountVolumes: [], userMountVolumes: [] };
}

beforeAll(async () => {
  await buildServiceImage(imageDir);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('a job with redis and postgres services', () => {
  let l: RunnerLayout;
  let state: unknown;
  let prepare: HookRun;
  const run = (command: string, args: unknown) => runHook(l, { command, args, state }, { env });

  beforeAll(async () => {
    l = makeRunnerLayout(join(work, 'runner'));
    const services = [
      service('redis', 'redis-server', ['--bind', '127.0.0.1', '--port', '6379', '--save', ''], ['6379'], '--cpus 1 --memory 192m'),
      service('postgres', 'bash', ['-c', 'initdb -D /tmp/pg --auth=trust --no-locale -E UTF8 >/dev/null && exec postgres -D /tmp/pg -c listen_addresses=127.0.0.1 -c unix_socket_directories=/tmp -c dynamic_shared_memory_type=mmap'], [], '--cpus 1 --memory 256m --user postgres --health-cmd "pg_isready -h 127.0.0.1 -p 5432" --health-interval 1s --health-timeout 30s --health-retries 5 --health-start-period 10m'),
    ];
    prepare = await runHook(l, { command: 'prepare_job', args: { container: jobContainerArgs(l, `oci:${imageDir}`, { createOptions: '--cpus 1 --memory 192m', portMappings: ['8080/tcp'] }), services }, state: null }, { env });
    state = prepare.response?.state;
  }, 900_000);

  afterAll(async () => {
    if (l) await runHook(l, { command: 'cleanup_job', args: {}, state }, { env });
  }, 120_000);

  /** The host port the context gives for a container port: the runner shows it to the workflow as job.services.<name>.ports[...]. */
  const hostPort = (ports: Record<string, string> | undefined, port: number) => Number(ports?.[port]);
  type Context = { container: { id: string; ports: Record<string, string> }; services: { id: string; ports: Record<string, string> }[] };
  const context = () => (prepare.response as { context: Context }).context;

  test("prepare_job answers with the services' contexts in the order asked, and the host ports bound", () => {
    expect(prepare.code, prepare.stderr).toBe(0);
    const { container, services } = context();
    expect(services).toHaveLength(2);
    for (const s of services) expect(s.id).toMatch(/^[0-9a-f]{12}$/);
    expect(Object.keys(services[0]!.ports)).toEqual(['6379']);
    expect(hostPort(services[0]!.ports, 6379)).toBeGreaterThan(0);
    expect(services[1]!.ports).toEqual({});
    expect(Object.keys(container.ports)).toEqual(['8080']);
    expect(hostPort(container.ports, 8080)).toBeGreaterThan(0);
  });

  test("prepare_job waited for postgres's health check, and warned about neither service's ports", () => {
    expect(prepare.stdout).toContain('service postgres is healthy\n');
    expect(prepare.stdout).not.toMatch(/::warning::service (redis|postgres)/);
  });

  test('a step reaches redis by redis:6379 (SET/GET with redis-cli)', async () => {
    const r = await run('run_script_step', scriptStep(l, 'redis-cli -h redis -p 6379 SET from-step yes\nredis-cli -h redis -p 6379 GET from-step\n', {}));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('OK\nyes\n');
  }, 120_000);

  test("a step reaches postgres by postgres:5432, the port its image exposes (psql -c 'select 1')", async () => {
    const r = await run('run_script_step', scriptStep(l, "psql -h postgres -p 5432 -U postgres -tA -c 'select 1'\n", {}));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('1\n');
  }, 120_000);

  test("redis's published port answers on the runner host", async () => {
    const reply = await new Promise<string>((resolve, reject) => {
      const s = connect({ port: hostPort(context().services[0]?.ports, 6379), host: '127.0.0.1' }, () => s.end('GET from-step\r\n'));
      let text = '';
      s.on('data', (d: Buffer) => (text += d.toString()));
      s.on('end', () => resolve(text));
      s.on('error', reject);
    });
    expect(reply).toBe('$3\r\nyes\r\n');
  }, 60_000);

  test("the job container's published port reaches a server a step left running in the background", async () => {
    const step = "httpd -f -p 127.0.0.1:8080 -h /www >/dev/null 2>&1 &\nfor i in $(seq 300); do grep -qs ':1F90 [0-9A-F:]* 0A ' /proc/net/tcp && exit 0; sleep 1; done; exit 1\n";
    const r = await run('run_script_step', scriptStep(l, step, {}));
    expect(r.code, r.stderr).toBe(0);
    const res = await fetch(`http://127.0.0.1:${hostPort(context().container.ports, 8080)}/index.html`);
    expect(await res.text()).toBe('hello from the guest\n');
  }, 400_000);

  test('cleanup_job stops the services with the job: no VM, state or VMM process is left', async () => {
    const r = await run('cleanup_job', {});
    expect(r.code, r.stderr).toBe(0);
    const vms = join(stateDir, 'vms');
    expect(existsSync(vms) ? readdirSync(vms) : []).toEqual([]);
    const left = readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .map((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ');
        } catch {
          return '';
        }
      })
      .filter((c) => c.includes(stateDir));
    expect(left).toEqual([]);
  }, 120_000);
});
