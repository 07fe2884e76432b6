// Frames read one at a time from a connection, for conversations that pull
// (the service's boot connection, PUT/GET/LIST sessions) rather than react
// to every chunk as a run does. The socket is paused while more than one
// frame's worth is buffered, so a guest that writes faster than we consume
// is stalled by the socket instead of filling host memory.
import type { Duplex } from 'node:stream';
import { FrameDecoder, MAX_FRAME_PAYLOAD, ProtocolError, type Frame } from './protocol.js';

export class FrameSource {
  private readonly decoder = new FrameDecoder();
  private readonly frames: Frame[] = [];
  private buffered = 0;
  private ended = false;
  private failure: Error | null = null;
  private wake: (() => void) | null = null;

  constructor(
    private readonly socket: Duplex,
    /** Names the peer in errors: "guest init". */
    private readonly peer = 'guest init',
  ) {
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const f of this.decoder.push(chunk)) {
          this.frames.push(f);
          this.buffered += f.payload.length;
        }
      } catch (e) {
        this.failure = e instanceof Error ? e : new Error(String(e));
        socket.destroy();
      }
      if (this.buffered > MAX_FRAME_PAYLOAD) socket.pause();
      this.notify();
    });
    socket.on('end', () => {
      this.ended = true;
      this.notify();
    });
    socket.on('close', () => {
      this.ended = true;
      this.notify();
    });
    socket.on('error', (e: Error) => {
      this.failure ??= new ProtocolError(`the connection to ${this.peer} failed: ${e.message}`);
      this.notify();
    });
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** The next frame, or null once the peer has closed and everything before was read. */
  async next(): Promise<Frame | null> {
    for (;;) {
      const f = this.frames.shift();
      if (f) {
        this.buffered -= f.payload.length;
        if (this.buffered <= MAX_FRAME_PAYLOAD && this.socket.isPaused()) this.socket.resume();
        return f;
      }
      if (this.failure) throw this.failure;
      if (this.ended) return null;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}
