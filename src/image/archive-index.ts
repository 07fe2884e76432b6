// A table of contents for an outer image archive (oci-archive, docker
// save output): member name -> byte range in the archive file. Members are
// then read in place, never extracted, so a hostile archive cannot place a
// file anywhere on the host.
import { open } from 'node:fs/promises';
import { openRegularFile } from './bounded-read.js';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { TarFormatError, archiveMemberName } from './tar-header.js';
import { fileSource, walkTar } from './tar-reader.js';
import { ImageError } from './types.js';

interface Member {
  offset: number;
  size: number;
  /** Target of a symlink member (docker save links duplicate layers). */
  link?: string;
}

export class ArchiveIndex {
  private constructor(
    readonly path: string,
    private readonly members: Map<string, Member>,
  ) {}

  static async read(path: string): Promise<ArchiveIndex> {
    const { fh, size: archiveSize } = await openRegularFile(path, `image archive ${path}`);
    try {
      const magic = Buffer.alloc(4);
      await fh.read(magic, 0, 4, 0);
      if (magic[0] === 0x1f && magic[1] === 0x8b) {
        throw new ImageError(`image archive ${path} is gzip-compressed; decompress it first (gunzip), vmstep reads archives in place`);
      }
      const members = new Map<string, Member>();
      await walkTar(fileSource(fh, archiveSize), (e) => {
        const name = archiveMemberName(e.path);
        if (e.type === 'file') members.set(name, { offset: e.offset, size: e.size });
        else if (e.type === 'symlink' || e.type === 'hardlink') members.set(name, { offset: 0, size: 0, link: e.type === 'hardlink' ? `/${archiveMemberName(e.linkpath)}` : e.linkpath });
        return null;
      });
      return new ArchiveIndex(path, members);
    } catch (e) {
      if (e instanceof TarFormatError) throw new ImageError(`image archive ${path} is not a valid tar archive: ${e.message}`);
      throw e;
    } finally {
      await fh.close();
    }
  }

  /** Finds a member, following in-archive links (never outside the archive). */
  find(name: string): Member | undefined {
    let cur = archiveMemberName(name);
    for (let hops = 0; hops < 16; hops++) {
      const m = this.members.get(cur);
      if (!m?.link) return m;
      const base = m.link.startsWith('/') ? [] : cur.split('/').slice(0, -1);
      for (const part of m.link.split('/')) {
        if (part === '' || part === '.') continue;
        if (part === '..') {
          if (base.length === 0) return undefined; // points outside the archive
          base.pop();
        } else base.push(part);
      }
      cur = base.join('/');
    }
    return undefined;
  }

  has(name: string): boolean {
    return this.find(name) !== undefined;
  }

  async readMember(name: string, maxSize: number): Promise<Buffer> {
    const m = this.find(name);
    if (!m) throw new ImageError(`image archive ${this.path} has no ${name}`);
    if (m.size > maxSize) throw new ImageError(`${name} in ${this.path} is ${m.size} bytes, more than the ${maxSize} a metadata file may have`);
    const fh = await open(this.path, 'r');
    try {
      const b = Buffer.alloc(m.size);
      const { bytesRead } = await fh.read(b, 0, m.size, m.offset);
      if (bytesRead !== m.size) throw new ImageError(`image archive ${this.path} is truncated in ${name}`);
      return b;
    } finally {
      await fh.close();
    }
  }

  memberSize(name: string): number | undefined {
    return this.find(name)?.size;
  }

  openMember(name: string): Readable {
    const m = this.find(name);
    if (!m) throw new ImageError(`image archive ${this.path} has no ${name}`);
    if (m.size === 0) return Readable.from([]);
    return createReadStream(this.path, { start: m.offset, end: m.offset + m.size - 1, highWaterMark: 1 << 20 });
  }
}
