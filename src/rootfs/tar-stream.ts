// Streaming reader for layer tars: turns a byte stream into entries, handing
// each regular file's bytes to a sink as they arrive (nothing is buffered
// whole, nothing touches the host filesystem). Entries are untrusted; this
// file only decodes them, tree.ts decides what they may do.
import { showName } from './tree.js';
import { BLOCK, TarFormatError, TarType, decodeHeader, isZeroBlock, parsePax, type PaxRecords } from '../image/tar-header.js';

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
  size: number;
  mtime: number;
  mtimeNsec: number;
  devmajor: number;
  devminor: number;
  xattrs: Map<string, Buffer>;
}

/** Returned by the entry handler for a regular file to receive its bytes. */
export type DataSink = (chunk: Buffer) => void | Promise<void>;

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

/**
 * Reads a tar stream to its end. `onEntry` is awaited for each entry; for a
 * regular file it may return a sink, called with the file's bytes in order
 * (and awaited when it returns a promise, for backpressure).
 */
export async function readTar(source: AsyncIterable<Buffer>, onEntry: (e: TarEntry) => DataSink | null | Promise<DataSink | null>): Promise<void> {
  let pending: Buffer = Buffer.alloc(0);
  type State = 'header' | 'data' | 'meta' | 'skip';
  // Assigned inside startMember too, which TypeScript's narrowing does not see: read through now().
  let state = 'header' as State;
  const now = (): State => state;
  let remaining = 0; // data bytes left in the current member
  let pad = 0; // padding bytes after the data
  let sink = null as DataSink | null;
  const currentSink = (): DataSink | null => sink;
  let metaType = 0;
  let meta: Buffer[] = [];
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax: PaxRecords | undefined;

  const startMember = async (h: ReturnType<typeof decodeHeader>): Promise<void> => {
    if (h.type === TarType.paxLocal || h.type === TarType.gnuLongName || h.type === TarType.gnuLongLink || h.type === TarType.paxGlobal) {
      if (h.size > maxMetaBytes) throw new TarFormatError('a tar metadata header is larger than 1 MiB');
      state = 'meta';
      metaType = h.type;
      meta = [];
      remaining = h.size;
      pad = (BLOCK - (h.size % BLOCK)) % BLOCK;
      return;
    }
    const type = typeNames[h.type];
    if (!type) throw new TarFormatError(`unsupported tar entry type "${String.fromCharCode(h.type)}" for ${pax?.path ?? longName ?? h.name}`);
    if (pax?.error) throw new TarFormatError(`entry "${showName(pax.path ?? longName ?? h.name)}": ${pax.error}`);
    if (pax?.sparse) throw new TarFormatError(`GNU sparse file ${pax.path ?? h.name} is not supported; rebuild the layer without --sparse`);
    const size = type === 'file' ? (pax?.size ?? h.size) : 0;
    const entry: TarEntry = {
      path: pax?.path ?? longName ?? h.name,
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
    };
    pax = undefined;
    longName = longLink = undefined;
    sink = await onEntry(entry);
    // Only regular files carry data here; a writer that adds data to other
    // members desynchronises the stream, which the next checksum catches.
    remaining = size;
    pad = (BLOCK - (remaining % BLOCK)) % BLOCK;
    state = remaining > 0 ? 'data' : 'header';
  };

  const endMeta = (): void => {
    const data = Buffer.concat(meta);
    if (metaType === TarType.paxLocal) pax = parsePax(data);
    else if (metaType === TarType.gnuLongName) longName = data.toString('latin1').replace(/\0.*$/s, '');
    else if (metaType === TarType.gnuLongLink) longLink = data.toString('latin1').replace(/\0.*$/s, '');
    // Global pax headers ('g') only carry defaults no image tool relies on.
  };

  for await (const chunk of source) {
    let buf: Buffer = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    pending = Buffer.alloc(0);
    let off = 0;
    while (off < buf.length) {
      if (state === 'header') {
        if (buf.length - off < BLOCK) break;
        // The end marker: what follows is not read here (openLayerTar's finish() bounds and checks it).
        if (isZeroBlock(buf, off)) return;
        const h = decodeHeader(buf, off);
        off += BLOCK;
        await startMember(h);
        continue;
      }
      if (now() === 'data' || now() === 'meta') {
        const n = Math.min(remaining, buf.length - off);
        const piece = buf.subarray(off, off + n);
        off += n;
        remaining -= n;
        if (now() === 'meta') meta.push(Buffer.from(piece));
        else if (currentSink()) {
          const r = currentSink()!(piece);
          if (r) await r;
        }
        if (remaining === 0) {
          if (now() === 'meta') endMeta();
          state = pad > 0 ? 'skip' : 'header';
        }
        continue;
      }
      // skip padding
      const n = Math.min(pad, buf.length - off);
      off += n;
      pad -= n;
      if (pad === 0) state = 'header';
    }
    if (off < buf.length) pending = Buffer.from(buf.subarray(off));
    buf = pending;
  }
  const end = now();
  if (end === 'data' || end === 'meta' || (end === 'header' && pending.length > 0)) {
    throw new TarFormatError('layer tar is truncated (ends inside an entry)');
  }
  if (end === 'skip' && pad > 0) throw new TarFormatError('layer tar is truncated (ends inside padding)');
}
