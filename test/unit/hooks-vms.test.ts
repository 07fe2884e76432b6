// The hooks' VM interface over the real lifecycle API and the real session
// transfers: a detached keeper, the test double of the VMM running the real
// guest init in its Unix-socket test mode (test/helpers/test-vmm.mjs). In
// test mode the guest's commands and paths are this host's, so the "guest"
// trees below live in the test's directory. What this shows: a VM starts
// and is found by its job name, a step's PATH gets prependPath in front,
// and the workspace sync fetches new and changed files, removes deleted
// ones, and moves nothing for a tree that did not change.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bindVms } from '../../src/hooks/vms-binding.js';
import type { HookVms } from '../../src/hooks/vms.js';
import { pushHostTree, recordGuestTree, syncBack } from '../../src/hooks/transfer.js';
import { waitHealthy } from '../../src/hooks/health.js';
import { writeOciLayout } from '../fixtures/oci-images.js';
import { cliBundle, testVmmEnv } from '../helpers/cli-bundle.js';
import { Capture } from '../helpers/capture.js';

const work = mkdtempSync(join(tmpdir(), 'vmstep-hooks-vms-'));
let vms: HookVms;
let id = '';
let env: NodeJS.ProcessEnv;
const saved: Record<string, string | undefined> = {};

/** Counts what crosses the session connections, by wrapping the real calls. */
function counting(inner: HookVms) {
  const n = { put: 0, get: 0, list: 0 };
  const v: HookVms = {
    ...inner,
    start: inner.start,
    imageConfig: inner.imageConfig,
    exec: inner.exec,
    stop: inner.stop,
    named: inner.named,
    put: (...a) => (n.put++, inner.put(...a)),
    list: (...a) => (n.list++, inner.list(...a)),
    get: (...a) => (n.get++, inner.get(...a)),
  };
  return { vms: v, n };
}

beforeAll(async () => {
  const dir = join(work, 'image');
  writeOciLayout(dir, { layers: [{ entries: [{ path: 'etc/hostname', content: 'img\n' }] }], config: { Env: [`PATH=${process.env.PATH}`], ExposedPorts: { '5432/tcp': {} } } });
  env = { ...testVmmEnv(work), VMSTEP_KEEPER_ENTRY: await cliBundle() };
  // The lifecycle API reads the assets' and the keeper's variables from this process's environment.
  for (const k of ['VMSTEP_CACHE', 'VMSTEP_VMM', 'VMSTEP_INIT', 'VMSTEP_KERNEL', 'VMSTEP_KEEPER_ENTRY', 'VMSTEP_CAPACITY_DIR', 'VMSTEP_MAX_VCPUS', 'VMSTEP_MAX_MEMORY']) {
    saved[k] = process.env[k];
    process.env[k] = env[k];
  }
  vms = bindVms(env);
  id = await vms.start({ name: 'gha-0123456789abcdef-job', image: `oci:${dir}`, credentials: null, vcpus: 1, memoryBytes: 128 * 2 ** 20, env: ['CI_MODE=vm'], user: null, workdir: work, volumes: [] });
}, 120_000);

afterAll(async () => {
  if (id) await vms.stop(id);
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  rmSync(work, { recursive: true, force: true });
});

describe('the hooks\' VMs over the lifecycle API', () => {
  it('finds the job\'s VM by its name prefix, and runs a step with prependPath ahead of the VM\'s PATH and its exit status', async () => {
    expect(await vms.named('gha-0123456789abcdef-')).toEqual([id]);
    expect(await vms.named('gha-fedcba9876543210-')).toEqual([]);
    const out = new Capture();
    const err = new Capture();
    const code = await vms.exec(id, { argv: ['sh', '-c', 'echo "$CI_MODE $STEP ${PATH%%:*}"; exit 7'], env: ['STEP=one'], prependPath: ['/opt/tool/bin'], workdir: work, stdout: out, stderr: err });
    expect(code).toBe(7);
    expect(out.text).toBe('vm one /opt/tool/bin\n');
  });

  it('syncs a workspace back: new, changed and deleted files, and nothing moves for an unchanged tree', async () => {
    const guest = join(work, 'guest-ws');
    const host = join(work, 'host-ws');
    mkdirSync(join(guest, 'keep'), { recursive: true });
    for (let i = 0; i < 200; i++) writeFileSync(join(guest, 'keep', `f${i}`), `${i}`);
    writeFileSync(join(guest, 'doomed'), 'x');
    const manifest = join(work, 'ws.json');
    // As after prepare_job: the first sync brings everything.
    const first = await syncBack(vms, id, guest, host, manifest);
    expect(first.fetched).toBe(202);
    expect(readFileSync(join(host, 'keep', 'f7'), 'utf8')).toBe('7');

    const c = counting(vms);
    const idle = await syncBack(c.vms, id, guest, host, manifest);
    expect(idle).toMatchObject({ fetched: 0, removed: 0 });
    expect(c.n).toEqual({ put: 0, get: 0, list: 1 });

    // A step writes one file, changes one and deletes one.
    await vms.exec(id, { argv: ['sh', '-c', `echo new > ${guest}/new.txt; echo changed > ${guest}/keep/f3; rm ${guest}/doomed`], env: [], prependPath: [], workdir: work, stdout: new Capture(), stderr: new Capture() });
    const c2 = counting(vms);
    const step = await syncBack(c2.vms, id, guest, host, manifest);
    expect(step).toMatchObject({ removed: 1, diff: { fetch: ['keep/f3', 'new.txt'], remove: ['doomed'] } });
    expect(c2.n).toEqual({ put: 0, get: 2, list: 1 });
    expect(readFileSync(join(host, 'new.txt'), 'utf8')).toBe('new\n');
    expect(readFileSync(join(host, 'keep', 'f3'), 'utf8')).toBe('changed\n');
    expect(existsSync(join(host, 'doomed'))).toBe(false);
  });

  it('stops a VM: its keeper and VMM are gone and its state removed', async () => {
    const other = await vms.start({ name: 'gha-0123456789abcdef-step-1', image: `oci:${join(work, 'image')}`, credentials: null, vcpus: 1, memoryBytes: 128 * 2 ** 20, env: [], user: null, workdir: work, volumes: [] });
    const record = JSON.parse(readFileSync(join(work, 'state', 'vms', other, 'vm.json'), 'utf8')) as { keeper: { pid: number }; vmm: { pid: number } | null };
    await vms.stop(other);
    const alive = [record.keeper.pid, record.vmm?.pid].filter((p): p is number => !!p && existsSync(`/proc/${p}`) && !readFileSync(`/proc/${p}/stat`, 'utf8').includes(') Z'));
    expect(alive).toEqual([]);
    expect(existsSync(join(work, 'state', 'vms', other))).toBe(false);
  });

  it('pushes only what changed on the host into the VM, and a missing guest path lists as null', async () => {
    const hostTemp = join(work, 'host-temp');
    const guestTemp = join(work, 'guest-temp');
    mkdirSync(join(hostTemp, '_runner_file_commands'), { recursive: true });
    writeFileSync(join(hostTemp, 'a.sh'), 'echo a');
    const manifest = join(work, 'temp.json');
    expect(await pushHostTree(vms, id, hostTemp, guestTemp, manifest)).toBe(2);
    expect(readFileSync(join(guestTemp, 'a.sh'), 'utf8')).toBe('echo a');
    expect(await pushHostTree(vms, id, hostTemp, guestTemp, manifest)).toBe(0);
    writeFileSync(join(hostTemp, '_runner_file_commands', 'set_output_1'), '');
    expect(await pushHostTree(vms, id, hostTemp, guestTemp, manifest)).toBe(2);
    expect(existsSync(join(guestTemp, '_runner_file_commands', 'set_output_1'))).toBe(true);
    unlinkSync(join(hostTemp, 'a.sh'));
    expect(await vms.list(id, join(work, 'no-such-dir'))).toBeNull();
    await recordGuestTree(vms, id, guestTemp, join(work, 'g.json'));
    expect(JSON.parse(readFileSync(join(work, 'g.json'), 'utf8')).map((e: [string, string]) => e[0]).sort()).toEqual(['_runner_file_commands', '_runner_file_commands/set_output_1', 'a.sh']);
  });

  it("reads the VM's image config, and runs a service's health check in the VM until it passes, killing a check that outlives its timeout", async () => {
    // The keeper kept the config in the VM's record, so the registry is not asked again.
    expect(JSON.parse(readFileSync(join(work, 'state', 'vms', id, 'vm.json'), 'utf8')).imageConfig.exposedPorts).toEqual([5432]);
    expect((await vms.imageConfig(id)).exposedPorts).toEqual([5432]);
    const marker = join(work, 'health-ready');
    const lines: string[] = [];
    const started = Date.now();
    // The first check hangs past its timeout and is killed; the second finds the marker missing; the third passes.
    const check = { argv: ['/bin/sh', '-c', `if [ -e ${marker}.2 ]; then touch ${marker}; elif [ -e ${marker}.1 ]; then touch ${marker}.2; echo "not yet"; exit 3; else touch ${marker}.1; exec sleep 61.2345; fi; test -e ${marker}`], shown: 'ready?', intervalMs: 50, timeoutMs: 1_000, startPeriodMs: 0, startIntervalMs: 50, retries: 3 };
    await waitHealthy(vms, id, 'db', check, { startedAt: started, log: (l) => lines.push(l) });
    expect(lines).toEqual(['service db is not healthy yet: its health check ran longer than its 1 s timeout (1 of 3); next check in 50 ms', 'service db is not healthy yet: its health check exited with status 3 (2 of 3); next check in 50 ms', 'service db is healthy']);
    expect(existsSync(marker)).toBe(true);
    // The check that hung was killed, not left running (in test mode the guest's processes are this host's).
    const sleeping = () => readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8') === 'sleep\u000061.2345\u0000';
      } catch {
        return false;
      }
    });
    for (let i = 0; i < 40 && sleeping().length > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(sleeping()).toEqual([]);
  });
});
