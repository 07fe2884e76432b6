// Guest init as PID 1 of a real guest kernel, driven by the real host
// session over virtio-vsock. Each VM boot is expensive inside the emulated
// KVM host, so a few runs each check several behaviours, and every test below
// asserts one of them. The VM is our own VMM (test/helpers/guest-vm.ts).
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runSpecFromImage } from '../../src/session/command.js';
import { decodeError } from '../../src/session/messages.js';
import { MessageType, PROTOCOL_VERSION, encodeHello } from '../../src/session/protocol.js';
import { frameReader } from '../helpers/guest-init.js';
import { readFromExt4, removeVmRunDirs, runInVm, type VmRun } from '../helpers/guest-vm.js';

const outputDir = mkdtempSync(join(tmpdir(), 'vmstep-e2e-outputs-'));
afterAll(() => {
  removeVmRunDirs();
  rmSync(outputDir, { recursive: true, force: true });
});
const lines = (b: Buffer) => b.toString('utf8').split('\n');
const field = (run: VmRun, key: string) => lines(run.stdout).find((l) => l.startsWith(`${key}=`))?.slice(key.length + 1);

describe('a root run with image ENTRYPOINT, overridden CMD and env, 2 vCPUs, outputs and a daemon left behind', () => {
  let run: VmRun;
  const script = [
    'echo "pwd=$(pwd)"',
    'echo "env=FROM_IMAGE:$FROM_IMAGE OVERRIDDEN:$OVERRIDDEN ADDED:$ADDED HOME:$HOME"',
    'echo "nproc=$(nproc)"',
    `echo "caps=$(grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status | tr -s '\\t' ' ' | tr '\\n' ',')"`,
    'echo "hostname=$(hostname) hosts=$(grep -c vmstep /etc/hosts)"',
    `echo "mounts=$(awk '{print $3":"$2}' /proc/mounts | sort | tr '\\n' ',')"`,
    'reboot -f; echo "reboot-exit=$?"',
    // Generous waits: everything is emulated, and slow, inside the emulated KVM host.
    'out=$(/bin/ping -c 1 -W 30 127.0.0.1 2>&1); echo "ping-local=$?"; echo "ping-local-output=$out" | tr "\n" " "; echo',
    'out=$(/bin/ping -c 1 -W 30 192.0.2.1 2>&1); echo "ping-outside=$?"; echo "ping-outside-output=$out" | tr "\n" " "; echo',
    'echo written-in-the-vm > /written.txt && echo "write=$?"',
    'mkdir -p results/tree/sub && echo "{}" > results/one.json && echo a > results/tree/a && echo b > results/tree/sub/b',
    'echo 1 > results/x.csv && echo 2 > results/y.csv && chmod 600 results/y.csv',
    'echo to-stderr >&2',
    'setsid sleep 1000 </dev/null >/dev/null 2>&1 &',
    'sleep 1000 &',
    'exit 42',
  ].join('\n');

  beforeAll(async () => {
    const image = { Entrypoint: ['/bin/sh', '-c'], Cmd: ['echo image-cmd'], Env: ['PATH=/bin', 'FROM_IMAGE=1', 'OVERRIDDEN=image'], WorkingDir: '/work/new' };
    const spec = runSpecFromImage(image, {
      cmd: [script],
      env: { OVERRIDDEN: 'run', ADDED: 'yes' },
      outputs: ['results/one.json', 'results/tree', 'results/*.csv', 'results/absent.txt'],
    });
    run = await runInVm(spec, { vcpus: 2, session: { outputDir } });
    if (run.error) throw new Error(`${run.error.message}\nconsole:\n${run.vm.consoleTail}`);
  });

  test('the command is ENTRYPOINT followed by the overriding CMD, in the image workdir (created)', () => {
    expect(field(run, 'pwd')).toBe('/work/new');
    expect(run.stdout.toString()).not.toContain('image-cmd');
  });

  test('the environment is the image Env with the overrides, plus HOME', () => {
    expect(field(run, 'env')).toBe('FROM_IMAGE:1 OVERRIDDEN:run ADDED:yes HOME:/root');
  });

  test('N vCPUs are visible to nproc', () => {
    expect(field(run, 'nproc')).toBe('2');
  });

  test('the workload has no capabilities, no_new_privs and the seccomp filter', () => {
    expect(field(run, 'caps')).toBe('CapEff: 0000000000000000,CapBnd: 0000000000000000,NoNewPrivs: 1,Seccomp: 2,');
  });

  test('reboot -f fails inside the workload and the run goes on', () => {
    expect(field(run, 'reboot-exit')).not.toBe('0');
    expect(run.stderr.toString()).toMatch(/reboot: .*Operation not permitted/);
  });

  test('ping to 127.0.0.1 works without privileges, and any outside address fails', () => {
    expect(field(run, 'ping-local'), field(run, 'ping-local-output')).toBe('0');
    expect(field(run, 'ping-outside'), field(run, 'ping-outside-output')).not.toBe('0');
    expect(field(run, 'ping-outside-output')).toContain('Network is unreachable');
  });

  test('the pseudo filesystems are mounted, the hostname set and /etc/hosts written', () => {
    const mounts = field(run, 'mounts')!.split(',');
    for (const m of ['ext4:/', 'proc:/proc', 'sysfs:/sys', 'devtmpfs:/dev', 'devpts:/dev/pts', 'tmpfs:/dev/shm', 'cgroup2:/sys/fs/cgroup', 'tmpfs:/run']) {
      expect(mounts).toContain(m);
    }
    expect(field(run, 'hostname')).toBe('vmstep hosts=1');
  });

  test('stdout and stderr are kept apart', () => {
    expect(run.stderr.toString()).toContain('to-stderr');
    expect(run.stdout.toString()).not.toContain('to-stderr');
  });

  test('the exit code arrives, and the daemons left behind did not keep the VM up', () => {
    expect(run.result?.exit).toEqual({ code: 42, signal: null, signalName: null, error: null });
    expect(run.vm.reason).toBe('poweroff');
  });

  test('the root filesystem is writable and the write reached the disk', () => {
    expect(field(run, 'write')).toBe('0');
    expect(readFromExt4(run.disk, '/written.txt')).toBe('written-in-the-vm\n');
  });

  test('output files, a directory and a glob come back with their modes; a missing path is reported', () => {
    const base = '/work/new/results';
    expect(run.result!.files.map((f) => [f.guestPath, f.mode.toString(8)])).toEqual([
      [`${base}/one.json`, '644'],
      [`${base}/tree/a`, '644'],
      [`${base}/tree/sub/b`, '644'],
      [`${base}/x.csv`, '644'],
      [`${base}/y.csv`, '600'],
    ]);
    expect(readFileSync(join(outputDir, base, 'tree', 'sub', 'b'), 'utf8')).toBe('b\n');
    expect(run.result!.issues).toEqual([{ request: 'results/absent.txt', path: `${base}/absent.txt`, reason: 'missing', message: `${base}/absent.txt does not exist` }]);
  });

  test('timings come from the guest boot clock, in order', () => {
    const t = run.result!.timings;
    expect(t.initStartNs).toBeGreaterThan(0);
    expect(t.initStartNs).toBeLessThan(t.specReceivedNs);
    expect(t.commandStartNs).toBeLessThan(t.commandEndNs);
    expect(t.commandEndNs).toBeLessThanOrEqual(t.outputsEndNs);
  });
});

describe('a run as a user by name, on 1 vCPU, with 10 MiB of binary output', () => {
  let run: VmRun;
  beforeAll(async () => {
    const script = 'id; echo "nproc=$(nproc)"; head -c 10485760 /dev/urandom > /tmp/r; sha256sum /tmp/r >&2; cat /tmp/r; exit 1';
    run = await runInVm({ argv: ['/bin/sh', '-c', script], env: ['PATH=/bin'], user: 'app' }, { vcpus: 1 });
    if (run.error) throw new Error(`${run.error.message}\nconsole:\n${run.vm.consoleTail}`);
  });

  test('runs with the uid, gid and supplementary groups of the image passwd and group files, primary group included as Docker does', () => {
    expect(lines(run.stdout)[0]).toBe('uid=1000(app) gid=1000(app) groups=29(audio),1000(app)');
  });

  test('sees 1 vCPU', () => {
    expect(lines(run.stdout)[1]).toBe('nproc=1');
  });

  test('10 MiB of binary output arrive intact', () => {
    const header = `${lines(run.stdout)[0]}\n${lines(run.stdout)[1]}\n`;
    const data = run.stdout.subarray(Buffer.byteLength(header));
    expect(data.length).toBe(10 * 1024 * 1024);
    const guestSum = run.stderr.toString().split(' ')[0];
    expect(createHash('sha256').update(data).digest('hex')).toBe(guestSum);
  });

  test('exit code 1 arrives and the VM powers off', () => {
    expect(run.result?.exit.code).toBe(1);
    expect(run.vm.reason).toBe('poweroff');
  });
});

describe('a run as uid:gid with an overridden ENTRYPOINT, killed by a signal', () => {
  let run: VmRun;
  beforeAll(async () => {
    const image = { Entrypoint: ['/bin/false'], Cmd: ['never-run'], Env: ['PATH=/bin'] };
    const script = 'echo "ids=$(id -u):$(id -g)"; sleep 2; echo second; kill -KILL $$';
    run = await runInVm(runSpecFromImage(image, { entrypoint: ['/bin/sh', '-c'], cmd: [script], user: '1000:50' }));
    if (run.error) throw new Error(`${run.error.message}\nconsole:\n${run.vm.consoleTail}`);
  });

  test('runs as the numeric user and group', () => {
    expect(field(run, 'ids')).toBe('1000:50');
  });

  test('output is streamed while the command runs', () => {
    expect(run.firstStdoutMs).not.toBeNull();
    expect(run.exitMs! - run.firstStdoutMs!).toBeGreaterThan(1500);
  });

  test('death by signal is reported as 128+N and by name', () => {
    expect(run.result?.exit).toEqual({ code: 137, signal: 9, signalName: 'SIGKILL', error: null });
    expect(run.vm.reason).toBe('poweroff');
  });
});

test('a run as a bare uid takes its group from the image passwd, and a success exits 0', async () => {
  const run = await runInVm({ argv: ['/bin/sh', '-c', 'echo "ids=$(id -u):$(id -g)"'], env: ['PATH=/bin'], user: '1000' });
  expect(run.error).toBeNull();
  expect(field(run, 'ids')).toBe('1000:1000');
  expect(run.result?.exit).toEqual({ code: 0, signal: null, signalName: null, error: null });
  expect(run.vm.reason).toBe('poweroff');
});

describe('commands that cannot start', () => {
  test('a missing program exits 127 with a clear error, and the VM powers off', async () => {
    const run = await runInVm(runSpecFromImage({ Cmd: ['no-such-program', 'arg'], Env: ['PATH=/bin'] }));
    expect(run.error).toBeNull();
    expect(run.result?.exit).toEqual({ code: 127, signal: null, signalName: null, error: "cannot run 'no-such-program': executable file not found in PATH (/bin)" });
    expect(run.vm.reason).toBe('poweroff');
  });

  test('a file that is not executable exits 126 with a clear error', async () => {
    const run = await runInVm({ argv: ['/etc/passwd'], env: [] });
    expect(run.result?.exit.code).toBe(126);
    expect(run.result?.exit.error).toContain("cannot run '/etc/passwd': permission denied");
    expect(run.vm.reason).toBe('poweroff');
  });
});

test('guest init refuses a host speaking another protocol version, says why, and powers off', async () => {
  let reply: { stage: string; message: string } | null = null;
  const run = await runInVm(
    { argv: ['/bin/true'], env: [] },
    {
      manual: async (socket) => {
        const frames = frameReader(socket);
        expect((await frames.next())?.type).toBe(MessageType.Hello);
        socket.write(encodeHello(99, 'future-host'));
        const frame = await frames.next();
        if (frame?.type === MessageType.Error) reply = decodeError(frame.payload);
        socket.end();
      },
    },
  );
  expect(run.error).toBeNull();
  expect(reply).toEqual({
    stage: 'hello',
    message:
      `protocol version mismatch: the host speaks version 99, this guest init speaks version ${PROTOCOL_VERSION}; use the vmstep-init built with this vmstep (dist/vmstep-init, or rebuild the rootfs cache)`,
  });
  expect(run.vm.reason).toBe('poweroff');
});
