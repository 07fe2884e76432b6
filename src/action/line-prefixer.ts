// Prefixes every line of a byte stream, for the guest console in the step
// log: a workflow command is only recognised at the start of a line, so a
// prefix on every line keeps untrusted console text from issuing one.
import { StringDecoder } from 'node:string_decoder';

export class LinePrefixer {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';

  constructor(
    private readonly prefix: string,
    private readonly write: (text: string) => void,
  ) {}

  push(chunk: Buffer): void {
    // A lone carriage return ends a line too, for the log viewer.
    const text = (this.partial + this.decoder.write(chunk)).replace(/\r\n?/g, '\n');
    const end = text.lastIndexOf('\n');
    if (end < 0) {
      this.partial = text;
      return;
    }
    this.partial = text.slice(end + 1);
    this.write(
      text
        .slice(0, end)
        .split('\n')
        .map((l) => `${this.prefix}${l}\n`)
        .join(''),
    );
  }

  /** Writes a last line without its newline, if any. */
  flush(): void {
    const rest = this.partial + this.decoder.end();
    this.partial = '';
    if (rest !== '') this.write(`${this.prefix}${rest}\n`);
  }
}
