// `vmstep doctor`: prints each check with its fix; exit status 1 when any
// check failed (vmstep cannot run here), 0 otherwise (warnings are advice).
import { defaultCacheDir } from '../image/index.js';
import { runDoctor, type Check } from '../engine/doctor.js';
import { capacityStatus, type CapacityHolder, type CapacityStatus } from '../engine/capacity.js';
import { formatBytes } from '../engine/units.js';
import { formatOptions, parseCommandLine, type OptionSpec } from './args.js';
import type { CliIo } from './io.js';

const DOCTOR_OPTIONS: OptionSpec[] = [
  { key: 'json', long: 'json', help: 'Print the checks as JSON' },
  { key: 'help', long: 'help', short: 'h', help: 'Show this help' },
];

export const DOCTOR_HELP = `Usage: vmstep doctor [--json]

Check that this host can run vmstep (/dev/kvm present, usable by this user and
able to run an unmodified Linux guest; e2fsprogs) and how noisy its
benchmark numbers will be (CPU count, cgroup v2, CPU governor, SMT, turbo,
whether benchmark vCPUs get host cores of their own), and the host-wide
capacity budget for VMs: its size, and which VMs hold it now.
Each problem comes with the command that fixes it. Exit status 1 when
vmstep cannot run here.

Options:
${formatOptions(DOCTOR_OPTIONS)}
`;

const MARK: Record<Check['status'], string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' };

/** One line per holder, then per waiter in line order, under the capacity check. */
function holderLines(s: CapacityStatus, indent: string): string {
  const line = (h: CapacityHolder, state: string) => `${indent}${state} ${h.label}: ${h.vcpus} vCPU${h.vcpus === 1 ? '' : 's'}, ${formatBytes(h.memoryMiB * 2 ** 20)} (${h.user}, pid ${h.pid})\n`;
  return [...s.holders.map((h) => line(h, 'held by')), ...s.waiting.map((h) => line(h, 'waiting:'))].join('') + `${indent}pool ${s.dir}\n`;
}

export async function doctorCommand(argv: string[], io: CliIo, probe?: Parameters<typeof runDoctor>[0]): Promise<number> {
  const { values } = parseCommandLine(argv, DOCTOR_OPTIONS, { command: 'vmstep doctor', stopAtPositional: false });
  if (values.help) {
    io.stdout.write(DOCTOR_HELP);
    return 0;
  }
  const checks = runDoctor({ cacheDir: io.env.VMSTEP_CACHE || defaultCacheDir(), env: io.env, ...probe });
  const failed = checks.some((c) => c.status === 'fail');
  // The check said whether the pool can be read; this says who holds it.
  const capacity = checks.find((c) => c.name === 'capacity')?.status === 'ok' ? capacityStatus(io.env) : null;
  if (values.json) {
    io.stdout.write(`${JSON.stringify({ ok: !failed, checks, ...(capacity ? { capacity } : {}) }, null, 2)}\n`);
    return failed ? 1 : 0;
  }
  const width = Math.max(...checks.map((c) => c.name.length));
  for (const c of checks) {
    io.stdout.write(`${MARK[c.status]}  ${c.name.padEnd(width)}  ${c.detail}\n`);
    if (c.fix && c.status !== 'ok') io.stdout.write(`      ${' '.repeat(width)}  fix: ${c.fix}\n`);
    if (c.name === 'capacity' && capacity) io.stdout.write(holderLines(capacity, `      ${' '.repeat(width)}  `));
  }
  const warns = checks.filter((c) => c.status === 'warn').length;
  io.stdout.write(failed ? '\nvmstep cannot run on this host until the failures above are fixed.\n' : `\nvmstep can run here${warns ? `; ${warns} warning${warns === 1 ? '' : 's'} about benchmark noise above` : ''}.\n`);
  return failed ? 1 : 0;
}
