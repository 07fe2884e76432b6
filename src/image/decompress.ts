// Layer bytes -> tar stream, with every byte of the blob checked. The
// compression is taken from the bytes' magic number, not the media type,
// because registries in the wild mislabel it. zstd: Node's zlib has it from
// Node 22.15/23.8; on Node 20 the pure-JS fzstd decoder (no native build,
// bundles with ncc) does the work, fed one zstd block at a time so that its
// memory stays bounded whatever the compression ratio.
//
// Why the raw bytes are pumped by hand rather than piped: a decompressor may
// stop reading before the blob's end (Node's gunzip stops at the end of a
// gzip member followed by zeros), and whatever it leaves unread would never
// reach the digest check upstream. The pump owns the raw stream: it feeds
// the decompressor while it wants bytes, and `finish()` reads the rest of
// the blob through the digest check no matter what the decompressor did.
import { createHash, type Hash } from 'node:crypto';
import { PassThrough, type Readable, Transform, type TransformCallback } from 'node:stream';
import * as zlib from 'node:zlib';
import { Decompress as FzstdDecompress } from 'fzstd';
import { ImageError, type LayerCompression } from './types.js';

const zlibZstd = (zlib as unknown as { createZstdDecompress?: () => Transform }).createZstdDecompress;

/**
 * Uncompressed bytes a compressed layer may carry after the end of its tar
 * (tar writers pad to a 10 KiB record at most; more is an attempt to make
 * the reader decompress for nothing). Read only to check a diff_id.
 */
export const maxTrailingBytes = 1 << 20;
/** The largest zstd window accepted: libzstd's own default limit (ZSTD_WINDOWLOG_LIMIT_DEFAULT = 27). */
export const maxZstdWindow = 1 << 27;

export function detectCompression(head: Uint8Array): LayerCompression {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

/**
 * fzstd decodes every complete block it is given before returning, so a
 * large input chunk of a zstd bomb expands all at once. This transform walks
 * the zstd framing itself (frame headers, block headers, checksums,
 * skippable frames), hands fzstd one block at a time (at most 128 KiB of
 * output each), and waits for the reader whenever its output buffer is full.
 * It also refuses frame windows above libzstd's default limit, which fzstd
 * would otherwise allocate up to 2 GiB for.
 */
class BoundedZstdTransform extends Transform {
  private readonly d = new FzstdDecompress((chunk) => {
    this.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  });
  /** Bytes of the current header (frame, block, skippable size) being gathered. */
  private head = Buffer.alloc(18);
  private headLen = 0;
  private headNeed = 4;
  private state: 'magic' | 'frame' | 'block' | 'body' | 'checksum' | 'skipsize' | 'skip' = 'magic';
  /** Bytes left in the current body, checksum or skipped frame. */
  private left = 0;
  private lastBlock = false;
  private checksum = false;
  private waiter: (() => void) | undefined;

  constructor() {
    super({ readableHighWaterMark: 1 << 20 });
  }

  override _read(n: number): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
    super._read(n);
  }

  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.consume(chunk).then(() => cb(), (e: unknown) => cb(e instanceof ImageError ? e : new Error(`zstd data is corrupt: ${(e as Error).message}`)));
  }

  override _flush(cb: TransformCallback): void {
    if (this.state !== 'magic' || this.headLen !== 0) {
      cb(new Error('zstd data is truncated (ends inside a frame)'));
      return;
    }
    cb();
  }

  /** Reads header bytes into `head`; returns how many of `chunk` from `off` it took. */
  private gather(chunk: Buffer, off: number): number {
    const n = Math.min(this.headNeed - this.headLen, chunk.length - off);
    chunk.copy(this.head, this.headLen, off, off + n);
    this.headLen += n;
    return n;
  }

  private async consume(chunk: Buffer): Promise<void> {
    let off = 0;
    while (off < chunk.length) {
      if (this.destroyed) return;
      if (this.state === 'body' || this.state === 'checksum' || this.state === 'skip') {
        const n = Math.min(this.left, chunk.length - off);
        if (this.state !== 'skip') await this.feed(chunk.subarray(off, off + n));
        off += n;
        this.left -= n;
        if (this.left === 0) this.afterSpan();
        continue;
      }
      off += this.gather(chunk, off);
      if (this.headLen < this.headNeed) return;
      const h = this.head.subarray(0, this.headLen);
      switch (this.state) {
        case 'magic': {
          const magic = h.readUInt32LE(0);
          if (magic === 0xfd2fb528) {
            this.state = 'frame';
            this.headNeed = 5;
          } else if ((magic & 0xfffffff0) === 0x184d2a50) {
            this.state = 'skipsize';
            this.headNeed = 8;
          } else throw new Error('bad zstd frame magic');
          continue;
        }
        case 'frame': {
          const fhd = h[4]!;
          const single = (fhd >> 5) & 1;
          const fcsField = fhd >> 6;
          const dictBytes = [0, 1, 2, 4][fhd & 3]!;
          const fcsBytes = fcsField === 0 ? single : 1 << fcsField;
          const need = 5 + (single ? 0 : 1) + dictBytes + fcsBytes;
          if (this.headNeed < need) {
            this.headNeed = need;
            continue;
          }
          let window: number;
          if (single) {
            const at = 5 + dictBytes;
            window = fcsBytes === 1 ? h[at]! : fcsBytes === 2 ? h.readUInt16LE(at) + 256 : fcsBytes === 4 ? h.readUInt32LE(at) : Number(h.readBigUInt64LE(at));
          } else {
            const wd = h[5]!;
            const base = 2 ** (10 + (wd >> 3));
            window = base + (base / 8) * (wd & 7);
          }
          if (window > maxZstdWindow) throw new ImageError(`zstd frame asks for a ${window}-byte window, more than the ${maxZstdWindow} bytes vmstep (like zstd itself) accepts; recompress the layer with a smaller window`);
          this.checksum = ((fhd >> 2) & 1) === 1;
          await this.feed(Buffer.from(h));
          this.startHeader('block', 3);
          continue;
        }
        case 'block': {
          const b = h[0]! | (h[1]! << 8) | (h[2]! << 16);
          this.lastBlock = (b & 1) === 1;
          const type = (b >> 1) & 3;
          await this.feed(Buffer.from(h));
          this.left = type === 1 ? 1 : b >>> 3;
          this.state = 'body';
          this.headLen = 0;
          if (this.left === 0) this.afterSpan();
          continue;
        }
        case 'skipsize':
          this.left = h.readUInt32LE(4);
          this.state = 'skip';
          this.headLen = 0;
          if (this.left === 0) this.afterSpan();
          continue;
      }
    }
  }

  private startHeader(state: 'magic' | 'block', need: number): void {
    this.state = state;
    this.headLen = 0;
    this.headNeed = need;
  }

  /** A block body, checksum or skipped frame is complete: what comes next. */
  private afterSpan(): void {
    if (this.state === 'body' && !this.lastBlock) this.startHeader('block', 3);
    else if (this.state === 'body' && this.checksum) {
      this.state = 'checksum';
      this.left = 4;
    } else this.startHeader('magic', 4);
  }

  /** Gives fzstd a piece of input, then waits while the reader is behind. */
  private async feed(piece: Buffer): Promise<void> {
    this.d.push(piece);
    while (this.readableLength >= this.readableHighWaterMark && !this.destroyed) {
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
    }
  }
}

/** The pure-JS decoder, used where Node's zlib has no zstd (Node < 22.15); exported so tests run it on any Node. */
export function pureJsZstdDecompressor(): Transform {
  return new BoundedZstdTransform();
}

export function zstdDecompressor(): Transform {
  return zlibZstd ? zlibZstd() : pureJsZstdDecompressor();
}

export interface LayerTarOptions {
  /** Names the layer in errors ("layer 2 of 5 (sha256:...)"). */
  what: string;
  /** The uncompressed digest the image config names (rootfs.diff_ids), checked over every uncompressed byte. */
  diffId?: string | undefined;
  /** Where diffId comes from, for errors ("rootfs.diff_ids[1]"). */
  diffIdSource?: string;
  /** The blob's own digest: an uncompressed blob whose diff_id equals it is not hashed twice. */
  blobDigest?: string;
  /** Stops reading: the tar stream then fails with the signal's reason. */
  signal?: AbortSignal;
}

export interface LayerTar {
  compression: LayerCompression;
  /** The uncompressed tar bytes. Stopping early is fine: finish() deals with the rest. */
  tar: AsyncIterable<Buffer>;
  /**
   * Call once the tar's end was reached: reads the rest of the uncompressed
   * stream when a diff_id must be checked (at most maxTrailingBytes), then
   * the rest of the raw blob, so its digest and size are checked over every
   * byte; rejects when anything does not match.
   */
  finish(): Promise<void>;
  /** Stops decompressing and reads the rest of the raw blob through its digest check (after a failure, to report a changed blob as the cause). */
  checkBlob(): Promise<void>;
  /** Stops reading and decompressing (after a failure). */
  destroy(): void;
}

/**
 * Opens a layer blob (a stream that checks its own digest and size at its
 * end, see Layer.open) as an uncompressed tar.
 */
export async function openLayerTar(raw: Readable, opts: LayerTarOptions): Promise<LayerTar> {
  const it = raw[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const first = await it.next();
  const head: Buffer | undefined = first.done ? undefined : first.value;
  const compression = detectCompression(head ?? Buffer.alloc(0));
  const decoder: Transform =
    compression === 'gzip' ? zlib.createGunzip({ chunkSize: 256 << 10 }) : compression === 'zstd' ? zstdDecompressor() : new PassThrough({ highWaterMark: 1 << 20 });

  // The raw side: feeds the decoder until it ends, then, once stopped,
  // only drains the blob through its digest check.
  let stopped = false;
  let wake: (() => void) | undefined;
  const writable = (): Promise<void> =>
    new Promise((resolve) => {
      const done = (): void => {
        decoder.off('drain', done);
        decoder.off('close', done);
        wake = undefined;
        resolve();
      };
      decoder.once('drain', done);
      decoder.once('close', done);
      wake = done;
    });
  const give = async (chunk: Buffer): Promise<void> => {
    if (stopped || decoder.destroyed || decoder.writableEnded) return;
    if (!decoder.write(chunk)) await writable();
  };
  const pump = (async () => {
    try {
      if (head) await give(head);
      for (;;) {
        const r = await it.next();
        if (r.done) break;
        await give(r.value);
      }
      if (!decoder.destroyed && !decoder.writableEnded) decoder.end();
    } catch (e) {
      decoder.destroy(e as Error);
      throw e;
    }
  })();
  pump.catch(() => {});

  const hash: Hash | undefined = opts.diffId && !(compression === 'none' && opts.diffId === opts.blobDigest) ? createHash('sha256') : undefined;
  const out = decoder[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const pull = async (): Promise<IteratorResult<Buffer>> => {
    opts.signal?.throwIfAborted();
    const r = await out.next();
    if (!r.done) hash?.update(r.value);
    return r;
  };
  const tar: AsyncIterable<Buffer> = {
    [Symbol.asyncIterator]: () => ({
      next: pull,
      // A reader that stops at the tar's end must not tear the stream down: finish() reads on.
      return: () => Promise.resolve({ done: true, value: undefined }),
    }),
  };

  const checkBlob = async (): Promise<void> => {
    stopped = true;
    wake?.();
    if (!decoder.destroyed) decoder.destroy();
    await pump;
  };
  let finished: Promise<void> | undefined;
  const finish = async (): Promise<void> => {
    let trailing: unknown;
    if (hash) {
      try {
        let extra = 0;
        for (let r = await pull(); !r.done; r = await pull()) {
          extra += r.value.length;
          if (compression !== 'none' && extra > maxTrailingBytes) {
            throw new ImageError(`${opts.what}: more than ${maxTrailingBytes} bytes after the end of its tar; the layer is malformed or hostile`);
          }
        }
      } catch (e) {
        trailing = e;
      }
    }
    // The raw blob's digest and size: a mismatch there is the cause of anything else.
    await checkBlob();
    if (trailing) throw trailing;
    if (hash) {
      const actual = `sha256:${hash.digest('hex')}`;
      if (actual !== opts.diffId) {
        throw new ImageError(`${opts.what}: uncompressed content has digest ${actual}, the image config's ${opts.diffIdSource ?? 'rootfs.diff_ids'} says ${opts.diffId}; the image is corrupt or was changed`);
      }
    }
  };
  return {
    compression,
    tar,
    finish: () => (finished ??= finish()),
    checkBlob,
    destroy: () => {
      stopped = true;
      wake?.();
      decoder.destroy();
      raw.destroy();
    },
  };
}

/** The uncompressed tar bytes of a layer stream, whatever its compression (no diff_id check; for tools and tests). */
export async function decompressedLayer(source: Readable): Promise<{ stream: Readable; compression: LayerCompression }> {
  const layer = await openLayerTar(source, { what: 'layer' });
  const stream = new PassThrough({ highWaterMark: 1 << 20 });
  void (async () => {
    try {
      for await (const c of layer.tar) if (!stream.write(c)) await new Promise((r) => stream.once('drain', r));
      await layer.finish();
      stream.end();
    } catch (e) {
      stream.destroy(e as Error);
    }
  })();
  return { stream, compression: layer.compression };
}
