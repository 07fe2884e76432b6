// Reading files an image names (index.json, oci-layout, blobs) without
// trusting them: only regular files are read (a symlink to /dev/zero or a
// FIFO is refused at once, never read or waited on), never more than the
// bytes the caller allows, and errors say what is wrong without quoting the
// file's content (a symlink may point at a secret).
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { ImageError } from './types.js';

/**
 * Opens `path` for reading when it is a regular file (following symlinks).
 * O_NONBLOCK: opening a FIFO must not wait for a writer; it has no effect on
 * reads of regular files.
 */
export async function openRegularFile(path: string, what: string, missing = `${what} does not exist`): Promise<{ fh: FileHandle; size: number }> {
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new ImageError(missing);
    throw new ImageError(`cannot open ${what}: ${code ?? (e as Error).message}`);
  }
  const st = await fh.stat().catch(async (e: unknown) => {
    await fh.close();
    throw e;
  });
  if (!st.isFile()) {
    await fh.close();
    throw new ImageError(`${what} is not a regular file; an image layout holds only regular files`);
  }
  return { fh, size: st.size };
}

/**
 * Reads a whole regular file of at most `max` bytes, and of exactly `size`
 * bytes when the size is declared (a descriptor's size), without reading
 * past either bound.
 */
export async function readRegularFile(path: string, opts: { what: string; max: number; size?: number; missing?: string }): Promise<Buffer> {
  const { fh, size } = await openRegularFile(path, opts.what, opts.missing);
  try {
    if (opts.size !== undefined && size !== opts.size) {
      throw new ImageError(`${opts.what} is ${size} bytes, its descriptor says ${opts.size}; the image is corrupt or was changed`);
    }
    if (size > opts.max) throw new ImageError(`${opts.what} is ${size} bytes, more than the ${opts.max} vmstep accepts for it`);
    // Read one byte more than allowed: a file that grew meanwhile is caught, not read on.
    const buf = Buffer.alloc(Math.min(opts.max, size) + 1);
    let got = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
      if (got === buf.length) throw new ImageError(`${opts.what} changed size while being read`);
    }
    if (got !== size) throw new ImageError(`${opts.what} changed size while being read`);
    return buf.subarray(0, got);
  } finally {
    await fh.close();
  }
}
