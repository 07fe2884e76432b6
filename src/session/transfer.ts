// Copying files into and out of a serving VM over a session connection
// (docs/protocol.md, "PUT, GET and LIST"). Entries are files, directories
// and symbolic links with relative, normalised paths; a file's bytes follow
// its ENTRY as FILE_DATA frames. Everything the guest sends is untrusted:
// entry paths are checked where they are decoded (messages.ts), the tree
// must arrive parents first under the one root it asked for, and the count
// and bytes are bounded here. Writing entries to the host's disk is the
// caller's (it must not follow links either); this module only carries them.
import { Readable, type Duplex } from 'node:stream';
import { FrameSource } from './frame-source.js';
import { exchangeHello } from './hello.js';
import { decodeDone, decodeEntry, decodeError, encodeEntry, encodePutEnd, encodeTransferRequest, entryPathProblem, type EntryMeta } from './messages.js';
import { MessageType, ProtocolError, describeType, encodeFrame } from './protocol.js';
import { GuestError } from './session.js';

export type { EntryMeta, EntryType } from './messages.js';

/** An entry with its bytes: `data` (a file with size > 0) yields exactly `size` bytes. */
export interface TransferEntry extends EntryMeta {
  data?: Readable;
}

export interface TransferLimits {
  /** The most entries (files, directories, links) accepted. */
  maxEntries: number;
  /** The most file bytes accepted, all files together. */
  maxBytes: number;
}

/** For LIST, which carries no file bytes. */
export const DEFAULT_LIST_LIMITS: TransferLimits = { maxEntries: 1_000_000, maxBytes: Number.MAX_SAFE_INTEGER };

/** Bytes per FILE_DATA frame the host sends. */
const DATA_FRAME_BYTES = 256 * 1024;

async function writeFrame(socket: Duplex, frame: Buffer): Promise<void> {
  if (socket.destroyed || !socket.writable) throw new ProtocolError('the session connection to guest init closed during the copy: the VM may have stopped');
  if (!socket.write(frame)) {
    await new Promise<void>((resolve, reject) => {
      const onDrain = () => (socket.off('close', onClose), resolve());
      const onClose = () => (socket.off('drain', onDrain), reject(new ProtocolError('the session connection to guest init closed during the copy: the VM may have stopped')));
      socket.once('drain', onDrain).once('close', onClose);
    });
  }
}

/** The guest's answer that ends a transfer: DONE, or ERROR. */
function guestFailure(type: number, payload: Buffer): Error | null {
  if (type === MessageType.Error) {
    const e = decodeError(payload);
    return new GuestError(e.stage, e.message);
  }
  return null;
}

/** Reads the guest's DONE (or failure) that ends a transfer. */
async function readDone(frames: FrameSource, what: string): Promise<{ entries: number }> {
  const f = await frames.next();
  if (!f) throw new ProtocolError(`guest init closed the session before ${what} finished: the VM may have stopped`);
  const failure = guestFailure(f.type, f.payload);
  if (failure) throw failure;
  if (f.type !== MessageType.Done) throw new ProtocolError(`guest init sent ${describeType(f.type)} where it should end ${what} with DONE`);
  const done = decodeDone(f.payload);
  if (done.error !== null) throw new Error(`${what} failed in the guest: ${done.error}`);
  return { entries: done.entries };
}

/**
 * PUT: creates `entries` under the guest directory `guestPath` (created when
 * missing), owned by `opts.user` (default root). Directories must come
 * before their contents. Resolves with the number of entries created.
 */
export async function putEntries(
  socket: Duplex,
  guestPath: string,
  entries: AsyncIterable<TransferEntry> | Iterable<TransferEntry>,
  opts: { user?: string } = {},
): Promise<{ entries: number }> {
  const frames = new FrameSource(socket);
  const what = `the copy into ${guestPath}`;
  try {
    await exchangeHello(socket, frames);
    await writeFrame(socket, encodeTransferRequest('put', guestPath, opts.user));
    // The guest answers once, at the end; an answer that comes early (a failure) stops the copy.
    const answer = readDone(frames, what);
    answer.catch(() => {});
    const early = answer.then(() => {
      throw new ProtocolError(`guest init answered before ${what} ended`);
    });
    early.catch(() => {});
    const guarded = (frame: Buffer) => Promise.race([writeFrame(socket, frame), early]);
    for await (const entry of entries) {
      const problem = entryPathProblem(entry.path);
      if (problem) throw new Error(`cannot copy the entry ${JSON.stringify(entry.path)} into the VM: its path is refused (${problem})`);
      await guarded(encodeEntry(entry));
      if (entry.type !== 'file' || entry.size === 0) continue;
      if (!entry.data) throw new Error(`cannot copy ${entry.path} into the VM: the entry has ${entry.size} bytes but no data stream`);
      let written = 0;
      for await (const chunk of entry.data) {
        const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
        if (written + b.length > entry.size) throw new Error(`cannot copy ${entry.path} into the VM: it grew beyond the ${entry.size} bytes announced while being read`);
        for (let at = 0; at < b.length; at += DATA_FRAME_BYTES) await guarded(encodeFrame(MessageType.FileData, b.subarray(at, at + DATA_FRAME_BYTES)));
        written += b.length;
      }
      if (written !== entry.size) throw new Error(`cannot copy ${entry.path} into the VM: it shrank to ${written} of the ${entry.size} bytes announced while being read`);
    }
    await guarded(encodePutEnd());
    const result = await answer;
    socket.end();
    return result;
  } catch (e) {
    socket.destroy();
    throw e;
  }
}

/** Checks the shape of a tree as it arrives: one root, parents (directories) before their contents, within the limits. */
class TreeCheck {
  private readonly dirs = new Set<string>();
  private root: string | null = null;
  private count = 0;
  private bytes = 0;

  constructor(
    private readonly limits: TransferLimits,
    private readonly what: string,
  ) {}

  admit(e: EntryMeta): void {
    if (++this.count > this.limits.maxEntries) {
      throw new Error(`${this.what}: the guest sent more than ${this.limits.maxEntries} entries, the limit; copy a smaller tree`);
    }
    this.bytes += e.size;
    if (this.bytes > this.limits.maxBytes) {
      throw new Error(`${this.what}: the guest sent more than ${this.limits.maxBytes} bytes, the limit; copy a smaller tree`);
    }
    const slash = e.path.lastIndexOf('/');
    if (this.root === null) {
      if (slash >= 0) throw new ProtocolError(`${this.what}: the guest's first entry ${e.path} is not the one it was asked for`);
      this.root = e.path;
    } else {
      const parent = slash < 0 ? null : e.path.slice(0, slash);
      if (parent === null || !this.dirs.has(parent)) {
        throw new ProtocolError(`${this.what}: the guest sent ${e.path} before (or without) its parent directory`);
      }
    }
    if (e.type === 'dir') {
      if (this.dirs.has(e.path)) throw new ProtocolError(`${this.what}: the guest sent the directory ${e.path} twice`);
      this.dirs.add(e.path);
    }
  }
}

async function startReading(socket: Duplex, kind: 'get' | 'list', guestPath: string): Promise<FrameSource> {
  const frames = new FrameSource(socket);
  await exchangeHello(socket, frames);
  await writeFrame(socket, encodeTransferRequest(kind, guestPath));
  return frames;
}

/** The ENTRY records of a GET or LIST up to its DONE, checked as a tree; a file's data is read by the caller between entries. */
async function* receiveEntries(frames: FrameSource, tree: TreeCheck, what: string): AsyncGenerator<EntryMeta> {
  for (;;) {
    const f = await frames.next();
    if (!f) throw new ProtocolError(`guest init closed the session before ${what} finished: the VM may have stopped`);
    const failure = guestFailure(f.type, f.payload);
    if (failure) throw failure;
    if (f.type === MessageType.Done) {
      const done = decodeDone(f.payload);
      if (done.error !== null) throw new Error(`${what}: ${done.error}`);
      return;
    }
    if (f.type !== MessageType.Entry) throw new ProtocolError(`${what}: guest init sent ${describeType(f.type)} where an entry or DONE belongs`);
    const entry = decodeEntry(f.payload);
    tree.admit(entry);
    yield entry;
  }
}

/**
 * GET: the guest path and, for a directory, everything beneath it, parents
 * first, never following links. Entry paths are relative to the guest
 * path's parent (`GET /a/b` yields `b`, `b/c`, ...). A file's `data` must be
 * read before the next entry is asked for; what is left unread is skipped.
 */
export async function* getEntries(socket: Duplex, guestPath: string, opts: { limits: TransferLimits }): AsyncGenerator<TransferEntry> {
  const what = `copying ${guestPath} out of the VM`;
  let complete = false;
  try {
    const frames = await startReading(socket, 'get', guestPath);
    for await (const entry of receiveEntries(frames, new TreeCheck(opts.limits, what), what)) {
      if (entry.type !== 'file' || entry.size === 0) {
        yield entry;
        continue;
      }
      const data = new FileDataStream(frames, entry.size, `${what}: ${entry.path}`);
      yield { ...entry, data };
      await data.skipRest();
    }
    complete = true;
    socket.end();
  } finally {
    if (!complete) socket.destroy();
  }
}

/** LIST: like GET without the bytes, for telling what changed. */
export async function listEntries(socket: Duplex, guestPath: string, opts: { limits?: TransferLimits } = {}): Promise<EntryMeta[]> {
  const what = `listing ${guestPath} in the VM`;
  const out: EntryMeta[] = [];
  try {
    const frames = await startReading(socket, 'list', guestPath);
    const tree = new TreeCheck({ ...(opts.limits ?? DEFAULT_LIST_LIMITS), maxBytes: Number.MAX_SAFE_INTEGER }, what);
    for await (const entry of receiveEntries(frames, tree, what)) out.push(entry);
    socket.end();
    return out;
  } catch (e) {
    socket.destroy();
    throw e;
  }
}

/** One file's FILE_DATA frames as a stream of exactly `size` bytes, pulled as the reader asks. */
class FileDataStream extends Readable {
  private remaining: number;
  private pulling: Promise<void> | null = null;
  private skipping = false;

  constructor(
    private readonly frames: FrameSource,
    size: number,
    private readonly what: string,
  ) {
    super({ highWaterMark: 1 << 20 });
    this.remaining = size;
  }

  override _read(): void {
    if (this.skipping) return;
    this.pulling ??= this.pull().finally(() => (this.pulling = null));
  }

  private async nextChunk(): Promise<Buffer> {
    const f = await this.frames.next();
    if (!f) throw new ProtocolError(`${this.what}: guest init closed the session in the middle of the file`);
    if (f.type !== MessageType.FileData) throw new ProtocolError(`${this.what}: guest init sent ${describeType(f.type)} in the middle of the file`);
    if (f.payload.length > this.remaining) throw new ProtocolError(`${this.what}: guest init sent more bytes than the file's announced size`);
    this.remaining -= f.payload.length;
    return f.payload;
  }

  private async pull(): Promise<void> {
    try {
      while (this.remaining > 0 && !this.destroyed) {
        if (!this.push(await this.nextChunk())) return;
      }
      if (this.remaining === 0) this.push(null);
    } catch (e) {
      this.destroy(e instanceof Error ? e : new Error(String(e)));
    }
  }

  /** Reads past what the consumer left unread, so the next frame is the next entry's. */
  async skipRest(): Promise<void> {
    this.skipping = true;
    await this.pulling;
    if (this.errored) throw this.errored;
    while (this.remaining > 0) await this.nextChunk();
    if (!this.readableEnded) this.destroy();
  }
}
