// A stream that keeps what is written to it as text, for tests that hand
// the CLI, the engine or the hooks a stdout or stderr and read it back.
import { Writable } from 'node:stream';

export class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}
