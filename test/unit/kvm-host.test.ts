// The emulated KVM host harness (scripts/kvm-host.mjs), driven as a
// contributor drives it. It needs no KVM on this machine: QEMU's TCG emulates
// the whole host, SVM included.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { repoRoot } from '../helpers/artifacts.js';

function kvmHost(args: string[], env: NodeJS.ProcessEnv = {}) {
  const res = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'kvm-host.mjs'), ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 240_000,
  });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

describe('npm run kvm-host', { timeout: 240_000 }, () => {
  test('runs the command where /dev/kvm is a character device, in the same directory and environment', () => {
    const res = kvmHost(['--', 'sh', '-c', 'test -c /dev/kvm && echo ok; pwd; echo "$VMSTEP_PROBE"; echo to-stderr >&2'], { VMSTEP_PROBE: "it's \"quoted\"\nand two lines" });
    expect(res.stdout).toBe(`ok\n${repoRoot}\nit's "quoted"\nand two lines\n`);
    expect(res.stderr).toContain('to-stderr');
    expect(res.code).toBe(0);
  });

  test("passes the command's exit status through", () => {
    expect(kvmHost(['false']).code).toBe(1);
    expect(kvmHost(['sh', '-c', 'exit 42']).code).toBe(42);
  });

  test('writes files the host sees, and gives the command a tmpfs TMPDIR that Unix sockets work in', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmstep-kvm-host-test-'));
    try {
      const res = kvmHost(['sh', '-c', `echo written-inside > ${dir}/out; stat -f -c %T "$TMPDIR"`]);
      expect(res.code).toBe(0);
      expect(res.stdout.trim()).toBe('tmpfs');
      expect(readFileSync(join(dir, 'out'), 'utf8')).toBe('written-inside\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('kills a command that outlives --timeout and says so', () => {
    const started = Date.now();
    const res = kvmHost(['--timeout', '20', '--', 'sleep', '600']);
    expect(res.code).toBe(124);
    expect(res.stderr).toContain('ran past --timeout 20 s and was killed');
    expect(Date.now() - started).toBeLessThan(120_000);
  });

  test('Ctrl-C stops the emulated host: the harness exits 130 and QEMU is gone', async () => {
    const child = spawn(process.execPath, [join(repoRoot, 'scripts', 'kvm-host.mjs'), 'sh', '-c', 'echo started; sleep 600'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => d.toString().includes('started') && resolve()));
    const qemuPid = Number(execFileSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' }).trim().split('\n')[0]);
    expect(qemuPid).toBeGreaterThan(0);
    child.kill('SIGINT');
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(code).toBe(130);
    expect(stderr).toContain('interrupted (SIGINT)');
    expect(spawnSync('kill', ['-0', String(qemuPid)]).status).not.toBe(0);
  });

  test('refuses an unknown option with the usage line', () => {
    const res = kvmHost(['--frobnicate', 'true']);
    expect(res.code).toBe(125);
    expect(res.stderr).toContain('unknown option --frobnicate');
    expect(res.stderr).toContain('usage: npm run kvm-host');
  });
});
