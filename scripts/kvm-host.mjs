// @ts-check
// npm run kvm-host -- [--timeout SECONDS] [--memory MIB] [--cpus N] [--debug] [--] COMMAND [ARG...]
//
// Runs COMMAND inside the emulated KVM host: a small Linux booted under QEMU's
// TCG with emulated AMD SVM, whose /dev/kvm runs stock guest kernels even
// where this machine's own KVM cannot. The host's root filesystem is shared in
// over virtio-9p; the command runs in the same working directory with the same
// environment (TMPDIR points at a tmpfs of its own, because Unix sockets cannot
// live on 9p); its stdout and stderr stream back and its exit status becomes
// ours. Everything inside is emulated: use it for correctness, never timings.
//
// Exit status: the command's own; 124 when --timeout ended it; 125 when the
// harness itself failed (with the reason, and the emulated host's console).
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kernel, kvmHostInitramfs } from './lib/artifacts.mjs';
import { ensureDebianPackages } from './lib/deps.mjs';

const usage = 'usage: npm run kvm-host -- [--timeout SECONDS] [--memory MIB] [--cpus N] [--debug] [--] COMMAND [ARG...]';

/** @param {string[]} argv */
export function parseArgs(argv) {
  const opts = { timeoutS: 3600, memoryMiB: 4096, cpus: 2, debug: false, command: /** @type {string[]} */ ([]) };
  let i = 0;
  /** @param {string} name */
  const number = (name) => {
    const v = Number(argv[++i]);
    if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} needs a positive number, got '${argv[i] ?? ''}'\n${usage}`);
    return v;
  };
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') { i++; break; }
    if (a === '--timeout') opts.timeoutS = number(a);
    else if (a === '--memory') opts.memoryMiB = Math.round(number(a));
    else if (a === '--cpus') opts.cpus = Math.round(number(a));
    else if (a === '--debug') opts.debug = true;
    else if (a === '--help' || a === '-h') { process.stdout.write(`${usage}\n`); process.exit(0); }
    else if (a?.startsWith('--')) throw new Error(`unknown option ${a}\n${usage}`);
    else break;
  }
  opts.command = argv.slice(i);
  if (opts.command.length === 0) throw new Error(`no command given\n${usage}`);
  return opts;
}

/** Quotes one word for POSIX sh. @param {string} s */
const shq = (s) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The job the emulated host's init runs in the shared root: enter the same
 * directory and exec the command with exactly this environment.
 * @param {string[]} command @param {string} cwd @param {NodeJS.ProcessEnv} env
 */
function jobScript(command, cwd, env) {
  const vars = Object.entries(env)
    .filter(([k, v]) => v !== undefined && k !== '' && !k.includes('='))
    .map(([k, v]) => shq(`${k}=${v}`));
  return [
    '# written by scripts/kvm-host.mjs',
    `cd -- ${shq(cwd)} || { echo "kvm-host: cannot enter ${cwd.replace(/["$`\\]/g, '')} inside the emulated host" >&2; exit 125; }`,
    `exec /usr/bin/env -i ${vars.join(' ')} ${command.map(shq).join(' ')}`,
    '',
  ].join('\n');
}

/**
 * Copies what was appended to a file since the last call to a stream.
 * The command's output arrives in files on the shared root; polling them is
 * simple, binary-safe and needs nothing extra in the emulated kernel.
 */
class FileTail {
  /** @param {string} path @param {NodeJS.WritableStream} sink */
  constructor(path, sink) {
    this.path = path;
    this.sink = sink;
    this.offset = 0;
    /** @type {number | null} */
    this.fd = null;
  }

  /** @returns {Promise<void>} */
  async pump() {
    if (this.fd === null) {
      if (!existsSync(this.path)) return;
      this.fd = openSync(this.path, 'r');
    }
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = readSync(this.fd, buf, 0, buf.length, this.offset);
      if (n === 0) return;
      this.offset += n;
      if (!this.sink.write(Buffer.from(buf.subarray(0, n)))) {
        await new Promise((resolve) => this.sink.once('drain', resolve));
      }
    }
  }

  close() {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/**
 * Kernel arguments that pin the emulated host's clock. Under TCG the guest's
 * TSC ticks at this machine's TSC rate, but calibrating it against emulated
 * timers on a busy machine gives wild values, and a host that believes its
 * TSC runs ten times slower runs its nested guests' timers ten times late:
 * boots then stall for minutes. So the rate is read here and handed over.
 */
function clockArgs() {
  const mhz = Number(readFileSync('/proc/cpuinfo', 'utf8').match(/^cpu MHz\s*:\s*([\d.]+)/m)?.[1]);
  return Number.isFinite(mhz) && mhz > 100 ? `tsc_early_khz=${Math.round(mhz * 1000)} tsc=reliable` : 'tsc=reliable';
}

/** @param {ReturnType<typeof parseArgs>} opts */
export async function runInKvmHost(opts) {
  await ensureDebianPackages(['kvmHost', 'kernel']);
  const hostKernel = join(await kernel('host'), 'vmlinux');
  const initramfs = join(await kvmHostInitramfs(), 'initramfs.cpio.gz');

  const job = mkdtempSync(join(tmpdir(), 'vmstep-kvm-host-'));
  mkdirSync(join(job, 'tmp'));
  const env = { ...process.env, TMPDIR: join(job, 'tmp'), VMSTEP_IN_KVM_HOST: '1' };
  writeFileSync(join(job, 'job.sh'), jobScript(opts.command, process.cwd(), env));

  const args = [
    '--pdeathsig', 'KILL', '--',
    'qemu-system-x86_64',
    '-M', 'microvm,acpi=off',
    '-accel', 'tcg,thread=multi',
    '-cpu', 'EPYC,+svm',
    '-smp', String(opts.cpus),
    '-m', String(opts.memoryMiB),
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-serial', 'stdio',
    '-kernel', hostKernel,
    '-initrd', initramfs,
    '-append', `console=ttyS0 rdinit=/init panic=-1 reboot=t ${clockArgs()} ${opts.debug ? '' : 'quiet '}vmstep.job=${job}`,
    '-fsdev', 'local,id=host,path=/,security_model=passthrough,multidevs=remap',
    '-device', 'virtio-9p-device,fsdev=host,mount_tag=host',
  ];
  const qemu = spawn('setpriv', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  /** @type {Buffer[]} */
  const consoleChunks = [];
  let consoleBytes = 0;
  /** @param {Buffer} chunk */
  const onConsole = (chunk) => {
    if (opts.debug) process.stderr.write(chunk);
    consoleChunks.push(chunk);
    consoleBytes += chunk.length;
    while (consoleBytes > 64 * 1024 && consoleChunks.length > 1) consoleBytes -= /** @type {Buffer} */ (consoleChunks.shift()).length;
  };
  qemu.stdout.on('data', onConsole);
  qemu.stderr.on('data', onConsole);

  const tails = [new FileTail(join(job, 'stdout'), process.stdout), new FileTail(join(job, 'stderr'), process.stderr)];
  let ending = /** @type {null | { code: number, message: string }} */ (null);
  const end = (/** @type {number} */ code, /** @type {string} */ message) => {
    if (ending) return;
    ending = { code, message };
    qemu.kill('SIGKILL');
  };
  const timer = setTimeout(() => end(124, `kvm-host: the command ran past --timeout ${opts.timeoutS} s and was killed`), opts.timeoutS * 1000);
  const onSignal = (/** @type {NodeJS.Signals} */ sig) => end(sig === 'SIGINT' ? 130 : 143, `kvm-host: interrupted (${sig}); the emulated host was stopped`);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const exited = new Promise((resolve) => {
    qemu.on('exit', (code, signal) => resolve({ code, signal }));
    qemu.on('error', (err) => {
      end(125, `kvm-host: could not start QEMU: ${err.message}`);
      resolve({ code: null, signal: null });
    });
  });
  let done = false;
  exited.then(() => { done = true; });
  while (!done) {
    for (const t of tails) await t.pump();
    await Promise.race([exited, new Promise((r) => setTimeout(r, 100))]);
  }
  const qemuExit = /** @type {{ code: number | null, signal: string | null }} */ (await exited);
  clearTimeout(timer);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  for (const t of tails) { await t.pump(); t.close(); }

  let code;
  const statusFile = join(job, 'status');
  const initError = join(job, 'init-error');
  const consoleTail = () => Buffer.concat(consoleChunks).toString('utf8').split('\n').slice(-40).join('\n');
  const endedByUs = /** @type {null | { code: number, message: string }} */ (ending);
  if (endedByUs) {
    process.stderr.write(`${endedByUs.message}\n`);
    code = endedByUs.code;
  } else if (existsSync(statusFile)) {
    code = Number(readFileSync(statusFile, 'utf8').trim());
  } else {
    const why = existsSync(initError) ? readFileSync(initError, 'utf8').trim() : `QEMU exited (${qemuExit.signal ?? `code ${qemuExit.code}`}) before the command finished`;
    process.stderr.write(`kvm-host: ${why}\n--- emulated host console (last lines) ---\n${consoleTail()}\n`);
    code = 125;
  }
  rmSync(job, { recursive: true, force: true });
  return code;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    process.exitCode = await runInKvmHost(parseArgs(process.argv.slice(2)));
  } catch (err) {
    process.stderr.write(`kvm-host: ${err instanceof Error ? err.message : err}\n`);
    process.exitCode = 125;
  }
}
