// The host half of stdin streaming (docs/protocol.md, "Stdin"): reads a
// source stream and sends it as STDIN frames, never more than the window
// beyond what guest init has acknowledged, then STDIN_END at the source's
// end. Flow control is the window: when the command reads slowly (or never),
// guest init's buffer fills, its acknowledgements stop, and this pauses the
// source, so neither side buffers more than STDIN_WINDOW bytes. Kept apart
// from the session so that any conversation that feeds a process (a one-shot
// run, a later exec) can reuse it.
import type { Readable } from 'node:stream';
import { encodeStdin, encodeStdinEnd } from './messages.js';
import { ProtocolError, STDIN_WINDOW } from './protocol.js';

/** Bytes per STDIN frame: small enough to keep frames interleaving, large enough to be cheap. */
export const STDIN_FRAME_BYTES = 128 * 1024;

export class StdinPump {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private unacked = 0;
  private sourceEnded = false;
  private stopped = false;
  private endSent = false;
  private readonly onData = (chunk: Buffer | string) => {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (b.length === 0) return;
    this.pending.push(b);
    this.pendingBytes += b.length;
    this.flush();
  };
  private readonly onEnd = () => {
    this.sourceEnded = true;
    this.flush();
  };
  // A source that fails (a closed terminal, a read error) ends the command's stdin: the command sees EOF, as with a pipe.
  private readonly onError = () => this.onEnd();

  /**
   * @param source what the command reads; this reads it in flowing mode and pauses it at the window
   * @param send writes one encoded frame to the guest connection
   */
  constructor(
    private readonly source: Readable,
    private readonly send: (frame: Buffer) => void,
    private readonly window = STDIN_WINDOW,
  ) {}

  start(): void {
    this.source.on('data', this.onData);
    this.source.once('end', this.onEnd);
    this.source.once('error', this.onError);
    this.source.resume();
  }

  /** Guest init wrote (or discarded) `bytes` more bytes: the window opens by that much. */
  ack(bytes: number): void {
    if (this.stopped) return;
    if (bytes > this.unacked) throw new ProtocolError(`guest init acknowledged ${bytes} stdin bytes, but only ${this.unacked} were unacknowledged`);
    this.unacked -= bytes;
    this.flush();
  }

  /** The command ended (or the session did): nothing more is read from the source, which is left paused. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.source.off('data', this.onData);
    this.source.off('end', this.onEnd);
    this.source.off('error', this.onError);
    this.source.pause();
    this.pending = [];
    this.pendingBytes = 0;
  }

  private flush(): void {
    if (this.stopped) return;
    while (this.pendingBytes > 0 && this.unacked < this.window) {
      const n = Math.min(STDIN_FRAME_BYTES, this.window - this.unacked, this.pending[0]!.length);
      const head = this.pending[0]!;
      const part = head.subarray(0, n);
      if (n === head.length) this.pending.shift();
      else this.pending[0] = head.subarray(n);
      this.pendingBytes -= n;
      this.unacked += n;
      this.send(encodeStdin(part));
    }
    // Hold the source while the window is closed: what it has not read stays in its own buffer (or the pipe).
    if (this.pendingBytes > 0) this.source.pause();
    else if (!this.sourceEnded) this.source.resume();
    if (this.sourceEnded && this.pendingBytes === 0 && !this.endSent) {
      this.endSent = true;
      this.send(encodeStdinEnd());
    }
  }
}
