// Guest init's service mode as PID 1 of a real guest kernel: the boot
// connection over vsock port 1024, sessions through the VMM's
// `CONNECT 1025` to the port guest init listens on. One VM boot checks
// several behaviours (each boot is minutes inside the emulated KVM host).
import { createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { connectSession } from '../../src/session/connect.js';
import type { EntryMeta } from '../../src/session/messages.js';
import { startService } from '../../src/session/service.js';
import { startGuestSession } from '../../src/session/session.js';
import { getEntries, putEntries } from '../../src/session/transfer.js';
import { collect } from '../helpers/guest-init.js';
import { removeVmRunDirs, runInVm, type VmRun } from '../helpers/guest-vm.js';

afterAll(() => removeVmRunDirs());
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('a serving VM with no main process: concurrent execs, a killed exec, files in and out, POWEROFF', () => {
  let vm: VmRun;
  const seen: {
    execs?: { out: string; code: number }[];
    killed?: { code: number; signalName: string | null };
    after?: string;
    put?: number;
    got?: (EntryMeta & { sha?: string })[];
    blobSha?: string;
  } = {};

  beforeAll(async () => {
    vm = await runInVm(
      { argv: ['-'], env: [] },
      {
        timeoutMs: 400_000,
        manual: async (boot: Socket, udsPath: string) => {
          const service = startService(boot, { env: ['PATH=/bin'] });
          await service.ready;
          const exec = async (argv: string[], onStart?: (s: ReturnType<typeof startGuestSession>) => void) => {
            const s = startGuestSession(await connectSession({ kind: 'vmm', udsPath }), { argv, env: ['PATH=/bin'] });
            if (onStart) void s.started.then(() => onStart(s));
            const [out] = await Promise.all([collect(s.stdout), collect(s.stderr)]);
            const r = await s.result;
            return { out: out.toString(), code: r.exit.code, signalName: r.exit.signalName };
          };
          seen.execs = await Promise.all([1, 2, 3].map((n) => exec(['sh', '-c', `echo exec-${n}; exit ${n}`])));
          seen.killed = await exec(['sleep', '1000'], (s) => s.signal('SIGKILL'));
          seen.after = (await exec(['echo', 'still-serving'])).out;
          const blob = randomBytes(2 * 1024 * 1024);
          seen.blobSha = sha(blob);
          seen.put = (
            await putEntries(await connectSession({ kind: 'vmm', udsPath }), '/tmp/in', [
              { path: 'tree', type: 'dir', mode: 0o755, size: 0 },
              { path: 'tree/blob', type: 'file', mode: 0o600, size: blob.length, data: Readable.from([blob]) },
              { path: 'tree/out', type: 'symlink', mode: 0o777, size: 0, linkTarget: '/etc/passwd' },
            ])
          ).entries;
          seen.got = [];
          for await (const e of getEntries(await connectSession({ kind: 'vmm', udsPath }), '/tmp/in/tree', { limits: { maxEntries: 10, maxBytes: 8 << 20 } })) {
            const { data, mtimeNs: _m, ...meta } = e;
            seen.got.push(data ? { ...meta, sha: sha(await collect(data)) } : meta);
          }
          service.poweroff(1000);
          await service.closed;
        },
      },
    );
    if (vm.error) throw new Error(`${vm.error.message}\nconsole:\n${vm.vm.consoleTail}`);
  }, 600_000);

  test('three execs at once each return their own output and exit code', () => {
    expect(seen.execs?.map((e) => [e.out, e.code])).toEqual([
      ['exec-1\n', 1],
      ['exec-2\n', 2],
      ['exec-3\n', 3],
    ]);
  });

  test('an exec killed by SIGNAL ends alone; the next exec runs', () => {
    expect(seen.killed).toMatchObject({ code: 137, signalName: 'SIGKILL' });
    expect(seen.after).toBe('still-serving\n');
  });

  test('a tree copied in comes back out identical, its link as a link', () => {
    expect(seen.put).toBe(3);
    expect(seen.got).toEqual([
      { path: 'tree', type: 'dir', mode: 0o755, size: 0 },
      { path: 'tree/blob', type: 'file', mode: 0o600, size: 2 * 1024 * 1024, sha: seen.blobSha },
      { path: 'tree/out', type: 'symlink', mode: 0o777, size: 0, linkTarget: '/etc/passwd' },
    ]);
  });

  test('POWEROFF powers the VM off cleanly', () => {
    expect(vm.vm.reason).toBe('poweroff');
  });
});
