// Layer bytes -> tar stream. The compression is taken from the bytes' magic
// number, not the media type, because registries in the wild mislabel it.
// zstd: Node's zlib has it from Node 22.15/23.8; on Node 20 the pure-JS
// fzstd decoder (no native build, bundles with ncc) does the work.
import { Readable, Transform, type TransformCallback } from 'node:stream';
import * as zlib from 'node:zlib';
import { Decompress as FzstdDecompress } from 'fzstd';
import type { LayerCompression } from './types.js';

const zlibZstd = (zlib as unknown as { createZstdDecompress?: () => Transform }).createZstdDecompress;

export function detectCompression(head: Uint8Array): LayerCompression {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

class FzstdTransform extends Transform {
  private readonly d = new FzstdDecompress((chunk) => {
    this.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  });
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    try {
      this.d.push(chunk);
      cb();
    } catch (e) {
      cb(new Error(`zstd data is corrupt: ${(e as Error).message}`));
    }
  }
  override _flush(cb: TransformCallback): void {
    try {
      this.d.push(new Uint8Array(0), true);
      cb();
    } catch (e) {
      cb(new Error(`zstd data is corrupt or truncated: ${(e as Error).message}`));
    }
  }
}

export function zstdDecompressor(): Transform {
  return zlibZstd ? zlibZstd() : new FzstdTransform();
}

/** Returns the uncompressed tar bytes of a layer stream, whatever its compression. */
export async function decompressedLayer(source: Readable): Promise<{ stream: Readable; compression: LayerCompression }> {
  const it = source[Symbol.asyncIterator]();
  // Peek at the first chunk for the magic number, then put it back in front.
  const first = await it.next();
  const head: Buffer = first.done ? Buffer.alloc(0) : (first.value as Buffer);
  const compression = detectCompression(head);
  const rest = Readable.from(
    (async function* () {
      if (head.length) yield head;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield r.value as Buffer;
      }
    })(),
    { objectMode: false, highWaterMark: 1 << 20 },
  );
  if (compression === 'none') return { stream: rest, compression };
  const d = compression === 'gzip' ? zlib.createGunzip({ chunkSize: 256 << 10 }) : zstdDecompressor();
  rest.on('error', (e) => d.destroy(e));
  return { stream: rest.pipe(d), compression };
}
