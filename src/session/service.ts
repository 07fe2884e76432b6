// The host side of service mode's boot connection (docs/protocol.md,
// "Service mode"): after the hello it sends SERVE, waits for READY, then
// carries the main process's output and exit (when there is one) and, on
// request, POWEROFF. Sessions (exec, cp) go over connections of their own
// (connect.ts), so this connection carries nothing else.
import { PassThrough, type Duplex, type Readable } from 'node:stream';
import { FrameSource } from './frame-source.js';
import { exchangeHello } from './hello.js';
import { decodeError, decodeExit, decodeReady, encodePoweroff, encodeServe, type ExitMessage, type ServeSpec } from './messages.js';
import { EXEC_VSOCK_PORT, MessageType, ProtocolError, describeType } from './protocol.js';
import { GuestError } from './session.js';

export { EXEC_VSOCK_PORT };
export type { ServeSpec };

export interface ServiceSession {
  /** Resolves at READY (volumes mounted, guest init listening for sessions); rejects with the guest's failure. */
  ready: Promise<void>;
  /** The main process's stdout and stderr; they end at its exit, or at once when there is no main process. */
  mainStdout: Readable;
  mainStderr: Readable;
  /** The main process's exit; null when there is none or the connection ended before it. */
  mainExit: Promise<ExitMessage | null>;
  /** Asks guest init to power the VM off: SIGTERM to every process, SIGKILL after graceMs. */
  poweroff(graceMs: number): void;
  /** Resolves when the boot connection has closed (the VM is powering off or gone). */
  closed: Promise<void>;
}

/** On the boot connection guest init opened: sends SERVE and follows the service. */
export function startService(boot: Duplex, spec: ServeSpec): ServiceSession {
  const serve = encodeServe(spec, EXEC_VSOCK_PORT); // validates before anything is sent
  const frames = new FrameSource(boot);
  const mainStdout = new PassThrough();
  const mainStderr = new PassThrough();
  let readyResolve!: () => void, readyReject!: (e: unknown) => void;
  const ready = new Promise<void>((res, rej) => ((readyResolve = res), (readyReject = rej)));
  let exitResolve!: (e: ExitMessage | null) => void;
  const mainExit = new Promise<ExitMessage | null>((res) => (exitResolve = res));
  let closedResolve!: () => void;
  const closed = new Promise<void>((res) => (closedResolve = res));
  ready.catch(() => {});
  boot.on('close', () => closedResolve());

  const finishStreams = () => {
    mainStdout.end();
    mainStderr.end();
  };
  const write = async (stream: PassThrough, data: Buffer) => {
    // Backpressure: a log writer that falls behind stalls the guest's main process, not host memory.
    if (!stream.write(data)) await new Promise<void>((res) => stream.once('drain', res).once('close', res));
  };

  const follow = async () => {
    await exchangeHello(boot, frames);
    boot.write(serve);
    let isReady = false;
    for (;;) {
      const frame = await frames.next();
      if (!frame) {
        if (!isReady) throw new ProtocolError('guest init closed the boot connection before it was ready: the VM stopped during boot; see its console log');
        return;
      }
      const { type, payload } = frame;
      if (type === MessageType.Error) {
        const e = decodeError(payload);
        throw new GuestError(e.stage, e.message);
      }
      if (!isReady) {
        if (type !== MessageType.Ready) throw new ProtocolError(`guest init sent ${describeType(type)} before READY`);
        decodeReady(payload);
        isReady = true;
        if (!spec.argv || spec.argv.length === 0) finishStreams();
        readyResolve();
        continue;
      }
      if (type === MessageType.Started) continue;
      if (type === MessageType.Stdout) await write(mainStdout, payload);
      else if (type === MessageType.Stderr) await write(mainStderr, payload);
      else if (type === MessageType.Exit) {
        finishStreams();
        exitResolve(decodeExit(payload));
      } else throw new ProtocolError(`guest init sent ${describeType(type)} on the boot connection of a serving VM`);
    }
  };
  follow().then(
    () => {
      // Guest init waits for our close before it powers off: nothing of ours is in flight.
      boot.end();
      readyReject(new ProtocolError('the boot connection ended before READY'));
      finishStreams();
      exitResolve(null);
    },
    (e: unknown) => {
      readyReject(e);
      finishStreams();
      exitResolve(null);
      boot.destroy();
    },
  );

  return {
    ready,
    mainStdout,
    mainStderr,
    mainExit,
    poweroff(graceMs: number) {
      const frame = encodePoweroff(graceMs);
      if (boot.writable) boot.write(frame);
    },
    closed,
  };
}
