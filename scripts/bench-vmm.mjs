// @ts-check
// node scripts/bench-vmm.mjs [--runs N] [--json]
//
// vmstep-vmm against QEMU's microvm (-enable-kvm), side by side on this
// host's /dev/kvm, booting the same tiny guest (native/guests/bench.S): time
// from process start to the guest's first instruction (its first serial
// byte reaching us), time to process exit (the guest triple-faults at once),
// and the process's peak RSS with the same 32 MiB of guest memory (the guest
// touches a few pages of it, so this is the VMM's own overhead). Runs
// alternate between the two so that both see the same machine state.
// Reports medians (p10-p90) and the ratio vmstep/QEMU.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { native } from './lib/artifacts.mjs';

const MEMORY_MIB = 32;

/** @param {string[]} argv */
function parseArgs(argv) {
  const o = { runs: 30, json: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--runs') o.runs = Math.max(3, Number(argv[++i]) || 0);
    else if (argv[i] === '--json') o.json = true;
    else throw new Error(`unknown argument ${argv[i]}; usage: node scripts/bench-vmm.mjs [--runs N] [--json]`);
  }
  return o;
}

/**
 * One boot: spawn → first serial byte, spawn → exit, in milliseconds, and
 * the set-up time the VMM reports itself (vmstep-vmm's status line on stderr).
 * @param {string} cmd @param {string[]} args
 * @returns {Promise<{ firstMs: number, exitMs: number, setupMs: number }>}
 */
function timeOnce(cmd, args) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    let first = -1;
    let err = '';
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (/** @type {Buffer} */ d) => {
      if (first < 0 && d.includes(0x52)) first = Number(process.hrtime.bigint() - t0) / 1e6;
    });
    child.stderr.on('data', (/** @type {Buffer} */ d) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', () => {
      const exitMs = Number(process.hrtime.bigint() - t0) / 1e6;
      const setup = err.match(/"setupMicros":(\d+)/);
      if (first < 0) reject(new Error(`${cmd} never printed the guest's first byte: ${err.slice(-300)}`));
      else resolve({ firstMs: first, exitMs, setupMs: setup ? Number(setup[1]) / 1000 : NaN });
    });
  });
}

/** Spawning a static no-op program, for scale: the part of every figure that is process creation. */
async function spawnBaselineMs() {
  const t0 = process.hrtime.bigint();
  await new Promise((resolve) => spawn('/bin/true', [], { stdio: 'ignore' }).on('close', resolve));
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** Peak RSS in KiB, from GNU time's %M. @param {string} cmd @param {string[]} args */
function peakRssKiB(cmd, args) {
  const res = spawnSync('/usr/bin/time', ['-f', 'VMSTEP_MAXRSS=%M', cmd, ...args], { encoding: 'utf8' });
  const m = res.stderr.match(/VMSTEP_MAXRSS=(\d+)/);
  if (!m) throw new Error(`cannot measure the RSS of ${cmd}: ${res.stderr.slice(-500)}`);
  return Number(m[1]);
}

/** @param {number[]} xs @param {number} q */
function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.round(q * (s.length - 1))))] ?? NaN;
}

async function main() {
  const { runs, json } = parseArgs(process.argv.slice(2));
  if (spawnSync('qemu-system-x86_64', ['--version']).status !== 0) {
    throw new Error('qemu-system-x86_64 is missing: apt-get install qemu-system-x86 (the anchor this benchmark compares against)');
  }
  if (!existsSync('/usr/bin/time')) throw new Error('/usr/bin/time is missing: apt-get install time');
  const dir = process.env.VMSTEP_NATIVE_DIR ?? (await native());
  const vmm = process.env.VMSTEP_VMM ?? join(dir, 'vmstep-vmm');
  const guest = join(dir, 'test-guests', 'bench-guest.elf');
  /** @type {Record<string, [string, string[]]>} */
  const cmds = {
    vmstep: [vmm, ['--kernel', guest, '--memory-mib', String(MEMORY_MIB), '--console-fd', '1', '--status-fd', '2']],
    // -cpu host without arch-capabilities: some KVMs (kvm_pvm) refuse that MSR.
    qemu: ['qemu-system-x86_64', ['-M', 'microvm,accel=kvm', '-cpu', 'host,-arch-capabilities', '-m', String(MEMORY_MIB), '-nodefaults', '-no-user-config',
      '-display', 'none', '-no-reboot', '-serial', 'stdio', '-kernel', guest]],
  };
  /** @type {Record<string, { first: number[], exit: number[], rss: number[], setup: number[] }>} */
  const samples = { vmstep: { first: [], exit: [], rss: [], setup: [] }, qemu: { first: [], exit: [], rss: [], setup: [] } };
  /** @type {number[]} */
  const spawnOnly = [];
  // One warm-up each (page cache, KVM module state), not counted.
  for (const [cmd, args] of Object.values(cmds)) await timeOnce(cmd, args);
  for (let i = 0; i < runs; i++) {
    for (const name of i % 2 ? ['qemu', 'vmstep'] : ['vmstep', 'qemu']) {
      const [cmd, args] = cmds[name];
      const t = await timeOnce(cmd, args);
      samples[name].first.push(t.firstMs);
      samples[name].exit.push(t.exitMs);
      if (name === 'vmstep') samples[name].setup.push(t.setupMs);
    }
    spawnOnly.push(await spawnBaselineMs());
  }
  for (let i = 0; i < Math.min(runs, 10); i++) {
    for (const name of ['vmstep', 'qemu']) samples[name].rss.push(peakRssKiB(...cmds[name]));
  }
  /** @param {number[]} xs */
  const summary = (xs) => ({ median: quantile(xs, 0.5), p10: quantile(xs, 0.1), p90: quantile(xs, 0.9) });
  const report = {
    host: { kvm: existsSync('/sys/module/kvm_pvm') ? 'kvm_pvm' : existsSync('/sys/module/kvm_intel') ? 'kvm_intel' : existsSync('/sys/module/kvm_amd') ? 'kvm_amd' : 'unknown', runs, guestMemoryMiB: MEMORY_MIB },
    /** @type {Record<string, unknown>} */
    metrics: {},
  };
  for (const [metric, unit] of [['first', 'ms'], ['exit', 'ms'], ['rss', 'KiB']]) {
    const v = summary(samples.vmstep[metric]);
    const q = summary(samples.qemu[metric]);
    report.metrics[metric] = { unit, vmstep: v, qemu: q, ratio: v.median / q.median };
  }
  const setup = summary(samples.vmstep.setup);
  const spawnBase = summary(spawnOnly);
  if (json) {
    process.stdout.write(`${JSON.stringify({ ...report, vmstepSetupMs: setup, spawnBaselineMs: spawnBase }, null, 2)}\n`);
    return;
  }
  const names = { first: 'start to first guest instruction', exit: 'start to exit', rss: 'peak RSS (32 MiB guest)' };
  process.stdout.write(`vmstep-vmm vs qemu-system-x86_64 -M microvm (KVM: ${report.host.kvm}, ${runs} runs each, medians, p10-p90)\n`);
  for (const [metric, m] of Object.entries(report.metrics)) {
    const r = /** @type {{unit: string, vmstep: {median:number,p10:number,p90:number}, qemu: {median:number,p10:number,p90:number}, ratio: number}} */ (m);
    const f = (/** @type {{median:number,p10:number,p90:number}} */ s) => `${s.median.toFixed(r.unit === 'ms' ? 2 : 0)} ${r.unit} (${s.p10.toFixed(r.unit === 'ms' ? 2 : 0)}-${s.p90.toFixed(r.unit === 'ms' ? 2 : 0)})`;
    process.stdout.write(`  ${names[/** @type {'first'|'exit'|'rss'} */ (metric)].padEnd(34)} vmstep ${f(r.vmstep).padEnd(28)} qemu ${f(r.qemu).padEnd(28)} ratio ${r.ratio.toFixed(3)}\n`);
  }
  process.stdout.write(`  of which: vmstep-vmm's own set-up (main() to first instruction) ${setup.median.toFixed(2)} ms (${setup.p10.toFixed(2)}-${setup.p90.toFixed(2)}); spawning /bin/true from Node ${spawnBase.median.toFixed(2)} ms\n`);
}

try {
  await main();
} catch (err) {
  process.stderr.write(`bench-vmm: ${err instanceof Error ? err.message : err}\n`);
  process.exitCode = 1;
}
