// The one tar reader vmstep has: it walks an archive's members, resolving
// pax, GNU long-name and long-link headers into entries, for both kinds of
// input vmstep reads. Layers arrive as a stream (their bytes are handed to
// a sink as they pass, nothing buffered whole); outer image archives
// (oci-archive, docker-archive) are files, whose members' data is skipped by
// seeking so that indexing a multi-GB archive reads only its headers. Both
// feed the same walk through a TarByteSource. Entries are untrusted: this
// file only decodes them; tree.ts (layers) and archive-index.ts (outer
// archives) decide what they may do.
//
// Why not node-tar's Parser: it only reads streams, so indexing an outer
// archive would read every layer byte twice; it would still need our own
// path, size and pax checks around it; and it buffers whole pax/long-name
// records without the 1 MiB bound below. Our reader is about 200 lines.
import type { FileHandle } from 'node:fs/promises';
import { BLOCK, TarFormatError, TarType, decodeHeader, isZeroBlock, parsePax, type PaxRecords } from './tar-header.js';

export type EntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface TarEntry {
  /** Path as in the archive (latin1 string of its bytes). */
  path: string;
  linkpath: string;
  type: EntryType;
  /** Permission bits including setuid/setgid/sticky. */
  mode: number;
  uid: number;
  gid: number;
  /** Data bytes (regular files only; 0 for every other type). */
  size: number;
  mtime: number;
  mtimeNsec: number;
  devmajor: number;
  devminor: number;
  xattrs: Map<string, Buffer>;
  /** Offset of the entry's data in the archive. */
  offset: number;
}

/** Returned by the entry handler for a regular file to receive its bytes. */
export type DataSink = (chunk: Buffer) => void | Promise<void>;

/** Bytes in order from an archive, wherever they come from. */
export interface TarByteSource {
  /** Offset of the next byte. */
  readonly position: number;
  /** The next `n` bytes; fewer only where the input ends. */
  read(n: number): Promise<Buffer>;
  /** Hands the next `n` bytes to `sink` in pieces, or skips them when there is none; fails where the input ends first. */
  forward(n: number, sink: DataSink | null): Promise<void>;
}

const maxMetaBytes = 1 << 20;

const typeNames: Record<number, EntryType> = {
  [TarType.file]: 'file',
  [TarType.contiguous]: 'file',
  [TarType.hardlink]: 'hardlink',
  [TarType.symlink]: 'symlink',
  [TarType.char]: 'char',
  [TarType.block]: 'block',
  [TarType.dir]: 'dir',
  [TarType.fifo]: 'fifo',
};

/** Shows a latin1-held name as the UTF-8 it most likely is, for messages. */
function shown(s: string): string {
  return Buffer.from(s, 'latin1').toString('utf8');
}

/**
 * Walks an archive to its end marker (what follows it is not read). `onEntry`
 * is awaited for each entry; for a regular file it may return a sink, called
 * with the file's bytes in order (and awaited when it returns a promise, for
 * backpressure); without one the data is skipped.
 */
export async function walkTar(src: TarByteSource, onEntry: (e: TarEntry) => DataSink | null | Promise<DataSink | null>): Promise<void> {
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax: PaxRecords | undefined;
  const padding = (n: number): number => (BLOCK - (n % BLOCK)) % BLOCK;
  for (;;) {
    const block = await src.read(BLOCK);
    // An archive that just ends (no end marker) is accepted, as GNU tar does.
    if (block.length === 0) return;
    if (block.length < BLOCK) throw new TarFormatError('the tar is truncated (ends inside a header)');
    if (isZeroBlock(block)) return;
    const h = decodeHeader(block);
    if (h.type === TarType.paxLocal || h.type === TarType.paxGlobal || h.type === TarType.gnuLongName || h.type === TarType.gnuLongLink) {
      if (h.size > maxMetaBytes) throw new TarFormatError('a tar metadata header is larger than 1 MiB');
      const data = await src.read(h.size);
      if (data.length < h.size) throw new TarFormatError('the tar is truncated (ends inside an entry)');
      await src.forward(padding(h.size), null);
      if (h.type === TarType.paxLocal) pax = parsePax(data);
      else if (h.type === TarType.gnuLongName) longName = data.toString('latin1').replace(/\0.*$/s, '');
      else if (h.type === TarType.gnuLongLink) longLink = data.toString('latin1').replace(/\0.*$/s, '');
      // Global pax headers ('g') only carry defaults no image tool relies on.
      continue;
    }
    const path = pax?.path ?? longName ?? h.name;
    const type = typeNames[h.type];
    if (!type) throw new TarFormatError(`unsupported tar entry type "${String.fromCharCode(h.type)}" for ${shown(path)}`);
    if (pax?.error) throw new TarFormatError(`entry "${shown(path)}": ${pax.error}`);
    if (pax?.sparse) throw new TarFormatError(`GNU sparse file ${shown(path)} is not supported; rebuild the layer without --sparse`);
    // Only regular files carry data; a writer that gives other members data
    // desynchronises the stream, which the next header's checksum catches.
    const size = type === 'file' ? (pax?.size ?? h.size) : 0;
    const entry: TarEntry = {
      path,
      linkpath: pax?.linkpath ?? longLink ?? h.linkname,
      type,
      mode: h.mode,
      uid: pax?.uid ?? h.uid,
      gid: pax?.gid ?? h.gid,
      size,
      mtime: pax?.mtime ?? h.mtime,
      mtimeNsec: pax?.mtimeNsec ?? 0,
      devmajor: pax?.devmajor ?? h.devmajor,
      devminor: pax?.devminor ?? h.devminor,
      xattrs: pax?.xattrs ?? new Map(),
      offset: src.position,
    };
    pax = undefined;
    longName = longLink = undefined;
    const sink = await onEntry(entry);
    await src.forward(size + padding(size), sink ? limitTo(size, sink) : null);
  }
}

/** A sink that takes the first `size` bytes it is offered (the rest is the entry's padding). */
function limitTo(size: number, sink: DataSink): DataSink {
  let left = size;
  return (chunk) => {
    if (left === 0) return;
    const piece = chunk.length <= left ? chunk : chunk.subarray(0, left);
    left -= piece.length;
    return sink(piece);
  };
}

/** A stream as tar bytes: chunks are sliced, never copied, except to join a header that spans two. */
export function streamSource(source: AsyncIterable<Buffer>): TarByteSource {
  const it = source[Symbol.asyncIterator]();
  let buf: Buffer = Buffer.alloc(0);
  let ended = false;
  let position = 0;
  const more = async (): Promise<boolean> => {
    if (ended) return false;
    const r = await it.next();
    if (r.done) {
      ended = true;
      return false;
    }
    buf = buf.length ? Buffer.concat([buf, r.value]) : r.value;
    return true;
  };
  return {
    get position() {
      return position;
    },
    async read(n) {
      while (buf.length < n && (await more()));
      const out = buf.subarray(0, Math.min(n, buf.length));
      buf = buf.subarray(out.length);
      position += out.length;
      return out;
    },
    async forward(n, sink) {
      let left = n;
      for (;;) {
        const piece = buf.subarray(0, Math.min(left, buf.length));
        buf = buf.subarray(piece.length);
        left -= piece.length;
        position += piece.length;
        if (sink && piece.length) {
          const r = sink(piece);
          if (r) await r;
        }
        if (left === 0) return;
        if (!(await more())) throw new TarFormatError('the tar is truncated (ends inside an entry)');
      }
    },
  };
}

/** A file as tar bytes: reads headers where they are and seeks over data nobody wants. */
export function fileSource(fh: FileHandle, size: number): TarByteSource {
  let position = 0;
  return {
    get position() {
      return position;
    },
    async read(n) {
      const b = Buffer.alloc(Math.max(0, Math.min(n, size - position)));
      const { bytesRead } = await fh.read(b, 0, b.length, position);
      position += bytesRead;
      return b.subarray(0, bytesRead);
    },
    async forward(n, sink) {
      if (position + n > size) throw new TarFormatError('the tar is truncated (a member runs past the end of the archive)');
      if (!sink) {
        position += n;
        return;
      }
      for (let left = n; left > 0; ) {
        const piece = await this.read(Math.min(left, 1 << 20));
        left -= piece.length;
        const r = sink(piece);
        if (r) await r;
      }
    },
  };
}

/** Reads a layer tar stream to its end marker (see walkTar). */
export function readTar(source: AsyncIterable<Buffer>, onEntry: (e: TarEntry) => DataSink | null | Promise<DataSink | null>): Promise<void> {
  return walkTar(streamSource(source), onEntry);
}
