// Follows the guest's serial console log as the VMM appends to it, for
// --debug: the console goes to vmstep's stderr while the guest runs, not
// only after it ends (a hung boot is exactly when it is needed).
import { closeSync, openSync, readSync } from 'node:fs';

const POLL_MS = 50;

export class ConsoleFollower {
  private fd: number | null = null;
  private offset = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly buf = Buffer.alloc(64 * 1024);

  constructor(
    private readonly path: string,
    private readonly onChunk: (chunk: Buffer) => void,
  ) {
    this.timer = setInterval(() => {
      try {
        this.poll();
      } catch {
        // A console that cannot be read is not worth failing the run for.
      }
    }, POLL_MS);
    this.timer.unref();
  }

  private poll(): void {
    if (this.fd === null) {
      try {
        this.fd = openSync(this.path, 'r');
      } catch {
        return; // not created yet
      }
    }
    for (;;) {
      const n = readSync(this.fd, this.buf, 0, this.buf.length, this.offset);
      if (n <= 0) return;
      this.offset += n;
      this.onChunk(Buffer.from(this.buf.subarray(0, n)));
    }
  }

  /** Reads what is left and stops. */
  stop(): void {
    clearInterval(this.timer);
    try {
      this.poll();
    } finally {
      if (this.fd !== null) closeSync(this.fd);
      this.fd = null;
    }
  }
}
