// A table of contents for an outer image archive (oci-archive, docker
// save output): member name -> byte range in the archive file. Members are
// then read in place, never extracted, so a hostile archive cannot place a
// file anywhere on the host.
import { open } from 'node:fs/promises';
import { openRegularFile } from './bounded-read.js';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { BLOCK, TarFormatError, TarType, archiveMemberName, decodeHeader, isZeroBlock, parsePax } from './tar-header.js';
import { ImageError } from './types.js';

interface Member {
  offset: number;
  size: number;
  /** Target of a symlink member (docker save links duplicate layers). */
  link?: string;
}

const maxMetaSize = 1 << 20;

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
      const hdr = Buffer.alloc(BLOCK);
      let pos = 0;
      let longName: string | undefined;
      let longLink: string | undefined;
      let pax: ReturnType<typeof parsePax> | undefined;
      const readData = async (size: number): Promise<Buffer> => {
        if (size > maxMetaSize) throw new TarFormatError('tar metadata header larger than 1 MiB');
        const b = Buffer.alloc(size);
        const { bytesRead } = await fh.read(b, 0, size, pos + BLOCK);
        if (bytesRead !== size) throw new TarFormatError('archive truncated');
        return b;
      };
      for (;;) {
        const { bytesRead } = await fh.read(hdr, 0, BLOCK, pos);
        if (bytesRead === 0) break;
        if (bytesRead !== BLOCK) throw new TarFormatError('archive truncated in a header');
        if (isZeroBlock(hdr)) break;
        const h = decodeHeader(hdr);
        const dataSize = pax?.size ?? h.size;
        const next = pos + BLOCK + Math.ceil(dataSize / BLOCK) * BLOCK;
        if (h.type === TarType.gnuLongName) longName = (await readData(h.size)).toString('latin1').replace(/\0.*$/s, '');
        else if (h.type === TarType.gnuLongLink) longLink = (await readData(h.size)).toString('latin1').replace(/\0.*$/s, '');
        else if (h.type === TarType.paxLocal) pax = parsePax(await readData(h.size));
        else if (h.type === TarType.paxGlobal) {
          /* global defaults carry nothing a member lookup needs */
        } else {
          const name = archiveMemberName(pax?.path ?? longName ?? h.name);
          if (pax?.error) throw new TarFormatError(`member ${name}: ${pax.error}`);
          const link = pax?.linkpath ?? longLink ?? h.linkname;
          if (h.type === TarType.file || h.type === TarType.contiguous) {
            if (next > archiveSize) throw new TarFormatError(`member ${name} runs past the end of the archive`);
            members.set(name, { offset: pos + BLOCK, size: dataSize });
          } else if (h.type === TarType.symlink || h.type === TarType.hardlink) {
            members.set(name, { offset: 0, size: 0, link: h.type === TarType.hardlink ? `/${archiveMemberName(link)}` : link });
          }
          longName = longLink = pax = undefined;
        }
        pos = next;
      }
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
