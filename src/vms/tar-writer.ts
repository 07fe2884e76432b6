// A small tar writer for `vmstep cp VM:PATH -`: ustar headers, with a pax
// header for the names and link targets ustar cannot hold. Files,
// directories and symbolic links only; the bytes stream through.
import type { Writable } from 'node:stream';
import type { TransferEntry } from '../session/index.js';

const BLOCK = 512;

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, '0')}\0`;
}

function header(name: string, type: string, mode: number, size: number, mtime: number, linkname: string): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(mode & 0o7777, 8), 100, 'latin1');
  h.write(octal(0, 8), 108, 'latin1');
  h.write(octal(0, 8), 116, 'latin1');
  h.write(octal(size, 12), 124, 'latin1');
  h.write(octal(Math.max(0, Math.floor(mtime)), 12), 136, 'latin1');
  h.write('        ', 148, 'latin1');
  h.write(type, 156, 'latin1');
  h.write(linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 'latin1');
  h.write('00', 263, 'latin1');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7), 148, 'latin1');
  return h;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

export class TarWriter {
  constructor(private readonly out: Writable) {}

  private async put(chunk: Buffer): Promise<void> {
    if (!this.out.write(chunk)) await new Promise<void>((r) => this.out.once('drain', r));
  }

  async add(e: TransferEntry): Promise<void> {
    const name = e.type === 'dir' ? `${e.path}/` : e.path;
    const link = e.linkTarget ?? '';
    const mtime = e.mtimeNs !== undefined ? Number(e.mtimeNs / 1_000_000_000n) : 0;
    if (Buffer.byteLength(name) > 100 || Buffer.byteLength(link) > 100) {
      const pax = Buffer.from(paxRecord('path', name) + (link ? paxRecord('linkpath', link) : ''));
      await this.put(header('././@PaxHeader', 'x', 0o644, pax.length, mtime, ''));
      await this.put(pax);
      await this.put(padding(pax.length));
    }
    const type = e.type === 'dir' ? '5' : e.type === 'symlink' ? '2' : '0';
    const size = e.type === 'file' ? e.size : 0;
    await this.put(header(name.slice(0, 100), type, e.mode, size, mtime, link.slice(0, 100)));
    if (size > 0 && e.data) {
      let n = 0;
      for await (const chunk of e.data) {
        n += (chunk as Buffer).length;
        await this.put(chunk as Buffer);
      }
      if (n !== size) throw new Error(`the guest sent ${n} of the ${size} bytes of ${e.path}`);
      await this.put(padding(size));
    }
  }

  async finish(): Promise<void> {
    await this.put(Buffer.alloc(BLOCK * 2));
  }
}
