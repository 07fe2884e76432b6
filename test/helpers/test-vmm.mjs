#!/usr/bin/env node
// A TEST DOUBLE for vmstep-vmm, for unit tests of long-lived VMs on hosts
// whose KVM cannot boot Linux: point VMSTEP_VMM at this file. It keeps the
// VMM's contract with the keeper (docs/vmm-status.md): it takes the VMM's
// options, reports {"event":"ready"} and, last, {"event":"exit",...} on
// --status-fd, serves host `CONNECT <port>` on --vsock-uds, ends at
// --timeout-ms, and dies with its parent. Instead of a guest it runs guest
// init ($VMSTEP_INIT) in its Unix-socket test mode on this host: the boot
// connection goes to `<uds>_1024` (VMSTEP_INIT_SOCKET) and every CONNECT is
// joined to guest init's session socket (VMSTEP_INIT_EXEC_SOCKET).
import { spawn } from 'node:child_process';
import { appendFileSync, rmSync, writeSync } from 'node:fs';
import { connect, createServer } from 'node:net';

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const uds = opt('--vsock-uds');
const consoleLog = opt('--console-log');
const timeoutMs = Number(opt('--timeout-ms') ?? 0);
const statusFd = Number(opt('--status-fd') ?? 3);
const execSocket = `${uds}.exec`;
const parent = process.ppid;

const status = (o) => {
  try {
    writeSync(statusFd, `${JSON.stringify(o)}\n`);
  } catch {
    // The keeper went away.
  }
};
const log = (text) => consoleLog && appendFileSync(consoleLog, text);

let ended = false;
const end = (reason, detail) => {
  if (ended) return;
  ended = true;
  init.kill('SIGKILL');
  status({ event: 'exit', reason, detail, consoleTail: '' });
  server.close();
  rmSync(execSocket, { force: true });
  process.exit(0);
};

const server = createServer((host) => {
  host.once('error', () => {});
  let line = Buffer.alloc(0);
  const onData = (chunk) => {
    line = Buffer.concat([line, chunk]);
    const nl = line.indexOf(10);
    if (nl < 0) return;
    host.off('data', onData);
    const m = /^CONNECT (\d+)$/.exec(line.subarray(0, nl).toString());
    if (!m) return host.destroy();
    const rest = line.subarray(nl + 1);
    const guest = connect(execSocket);
    guest.once('error', () => host.destroy());
    guest.once('connect', () => {
      host.write(`OK ${m[1]}\n`);
      if (rest.length) guest.write(rest);
      host.pipe(guest);
      guest.pipe(host);
    });
    // A side that closed in order may leave its last bytes queued on the
    // other (a reader slower than the writer): end that one, which sends
    // them first; destroying it would cut the stream short. Errors still cut.
    host.once('close', (hadError) => (hadError ? guest.destroy() : guest.end()));
    guest.once('close', (hadError) => (hadError ? host.destroy() : host.end()));
  };
  host.on('data', onData);
});
server.listen(uds);

log('test-vmm: guest init in Unix-socket test mode\n');
const init = spawn(process.env.VMSTEP_INIT, [], {
  env: { ...process.env, VMSTEP_INIT_SOCKET: `${uds}_1024`, VMSTEP_INIT_EXEC_SOCKET: execSocket, VMSTEP_INIT_LINK_SOCKET: `${uds}_1026` },
  stdio: ['ignore', 'pipe', 'pipe'],
});
init.stdout.on('data', (d) => log(d));
init.stderr.on('data', (d) => log(d));
init.on('close', (code, signal) => end(code === 0 ? 'poweroff' : 'error', code === 0 ? '' : `guest init ended (${signal ?? `exit ${code}`})`));
status({ event: 'ready' });

if (timeoutMs > 0) setTimeout(() => end('timeout', `the VM ran past its timeout of ${timeoutMs} ms`), timeoutMs);
process.on('SIGTERM', () => end('killed', 'SIGTERM'));
// The real VMM asks the kernel for SIGKILL when its parent dies; Node cannot, so it looks.
setInterval(() => {
  if (process.ppid !== parent) end('killed', 'the parent died');
}, 100);
