// Writes an ext4 filesystem image straight from the layer streams, without
// mke2fs and without extracting anything on the host: file bytes are
// appended to the image as the tars stream past (each file gets one
// contiguous run of blocks), and once every layer is applied the metadata
// (directories, inodes, bitmaps, group descriptors, superblock) is laid out
// after the data. Ownership, modes, devices and xattrs come from the tree,
// so an unprivileged runner builds the same image root would.
import { randomBytes } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import {
  BLOCKS_PER_GROUP,
  BLOCK_SIZE,
  DIRENT_TYPE,
  EXTENTS_FL,
  EXTRA_ISIZE,
  FAST_SYMLINK_MAX,
  FIRST_INO,
  INODE_SIZE,
  INODE_XATTR_ROOM,
  LOST_FOUND_INO,
  MAX_EXTENT_LEN,
  ROOT_INO,
  S_IF,
  blockXattrSpace,
  direntSize,
  encodeDirent,
  encodeExtent,
  encodeExtentHeader,
  encodeExtentIndex,
  encodeGroupDesc,
  encodeInodeXattrs,
  encodeSuperblock,
  encodeTime,
  encodeXattrBlock,
  inodeXattrSpace,
  sortXattrs,
  splitXattrName,
  type XattrEntry,
} from './ext4-format.js';
import { RootfsError, newInode, showName, type FsTree, type Inode, type Node } from './tree.js';

/** Blocks kept after the superblock for group descriptors: enough for 4 TiB (32768 groups). */
const GDT_RESERVE = 256;
const WRITE_BUFFER = 8 << 20;

export interface LayoutOptions {
  /** Total size wanted; the image is at least content plus headroom. */
  diskBytes?: number;
  /** Free space to leave for the guest when diskBytes is not given. */
  headroomBytes?: number;
  /** Filesystem creation time (seconds); fixed for reproducible images. */
  time?: number;
}

export interface Ext4Result {
  /** Logical size of the image file in bytes. */
  bytes: number;
  blocks: number;
  usedBlocks: number;
  inodes: number;
}

interface Run {
  start: number;
  len: number;
}

export class Ext4Writer {
  /** Next free block in the append area. */
  private next = 1 + GDT_RESERVE;
  private buf = Buffer.allocUnsafe(WRITE_BUFFER);
  private spare = Buffer.allocUnsafe(WRITE_BUFFER);
  private fill = 0;
  private bufPos = (1 + GDT_RESERVE) * BLOCK_SIZE;
  private inflight: Promise<unknown> = Promise.resolve();
  /** A failed background write (a full disk), thrown by the next flush or finish: never left unhandled. */
  private failure: Error | undefined;
  /** Runs of blocks holding file data that may still be live (filtered at the end). */
  private readonly dataStart = 1 + GDT_RESERVE;
  private dataEnd = 0;

  constructor(private readonly fh: FileHandle) {}

  /**
   * Starts a regular file of `size` bytes: returns its first block and a sink
   * for its bytes. The sink pads to a block boundary after the last byte.
   */
  beginFile(size: number): { firstBlock: number; sink: (chunk: Buffer) => void | Promise<void> } {
    const firstBlock = this.next;
    const blocks = Math.ceil(size / BLOCK_SIZE);
    this.next += blocks;
    let left = size;
    const sink = (chunk: Buffer): void | Promise<void> => {
      left -= chunk.length;
      let r = this.append(chunk);
      if (left === 0 && size % BLOCK_SIZE) {
        const pad = BLOCK_SIZE - (size % BLOCK_SIZE);
        r = r ? r.then(() => this.append(Buffer.alloc(pad))) : this.append(Buffer.alloc(pad));
      }
      return r;
    };
    return { firstBlock, sink };
  }

  private append(chunk: Buffer): void | Promise<void> {
    let off = 0;
    while (off < chunk.length) {
      const n = Math.min(chunk.length - off, WRITE_BUFFER - this.fill);
      chunk.copy(this.buf, this.fill, off, off + n);
      this.fill += n;
      off += n;
      if (this.fill === WRITE_BUFFER) {
        const rest = chunk.subarray(off);
        return this.flush().then(() => (rest.length ? this.append(rest) : undefined));
      }
    }
  }

  /** Starts writing the full buffer (double-buffered: waits only for the previous write). */
  private async flush(): Promise<void> {
    await this.inflight;
    if (this.failure) throw this.failure;
    const full = this.buf;
    const len = this.fill;
    const pos = this.bufPos;
    this.buf = this.spare;
    this.spare = full;
    this.fill = 0;
    this.bufPos += len;
    if (len) {
      this.inflight = this.writeDense(full, len, pos).catch((e: unknown) => {
        this.failure ??= e as Error;
      });
    }
  }

  /**
   * Writes a buffer but for its whole blocks of zeros, which stay holes in
   * the (sparse, freshly created) image file and read back as zeros: a
   * layer of zeros costs no disk. The buffer starts on a block boundary.
   */
  private async writeDense(buf: Buffer, len: number, pos: number): Promise<void> {
    let runStart = -1;
    for (let off = 0; off < len; off += BLOCK_SIZE) {
      const end = Math.min(off + BLOCK_SIZE, len);
      const zero = end - off === BLOCK_SIZE && buf.compare(ZERO_BLOCK, 0, BLOCK_SIZE, off, end) === 0;
      if (!zero && runStart < 0) runStart = off;
      if (zero && runStart >= 0) {
        await this.fh.write(buf, runStart, off - runStart, pos + runStart);
        runStart = -1;
      }
    }
    if (runStart >= 0) await this.fh.write(buf, runStart, len - runStart, pos + runStart);
  }

  /** Appends whole metadata blocks at the end of the append area; returns the first block. */
  private appendBlocks(data: Buffer): number | Promise<number> {
    const first = this.next;
    this.next += data.length / BLOCK_SIZE;
    const r = this.append(data);
    return r ? r.then(() => first) : first;
  }

  /** Lays out and writes all metadata. The tree must not change afterwards. */
  async finish(tree: FsTree, opts: LayoutOptions = {}): Promise<Ext4Result> {
    this.dataEnd = this.next;
    const time = opts.time ?? 0;
    // 1. Inode numbers (breadth first: a directory's entries sit close together).
    const inodes: Inode[] = [];
    const lostFound = ensureLostFound(tree.root);
    const assign = (ino: Inode, num: number): void => {
      ino.ino = num;
      inodes[num] = ino;
    };
    assign(tree.root.inode, ROOT_INO);
    if (lostFound) assign(lostFound.inode, LOST_FOUND_INO);
    // Inode 11 is lost+found's; when the image has a non-directory of that name it is an ordinary inode.
    let nextIno = lostFound ? FIRST_INO + 1 : FIRST_INO;
    const dirs: Node[] = [];
    const queue: Node[] = [tree.root];
    const seen = new Set<Inode>([tree.root.inode]);
    if (lostFound) seen.add(lostFound.inode);
    for (let qi = 0; qi < queue.length; qi++) {
      const dir = queue[qi]!;
      dirs.push(dir);
      dir.inode.nlink = 2;
      for (const child of dir.children!.values()) {
        if (!seen.has(child.inode)) {
          seen.add(child.inode);
          child.inode.nlink = 0;
          assign(child.inode, nextIno++);
        }
        if (child.children) {
          dir.inode.nlink++;
          queue.push(child);
        } else child.inode.nlink++;
      }
    }
    const maxIno = nextIno - 1;
    for (const ino of inodes) {
      if (ino && ino.kind !== 'dir' && ino.nlink > 65000) throw new RootfsError(`inode ${ino.ino} has ${ino.nlink} hard links; ext4 allows 65000`);
    }
    const table = Buffer.alloc(maxIno * INODE_SIZE);
    // 2. Directory blocks, slow symlinks, extent leaves, xattr blocks: appended after the data.
    const parentOf = new Map<Inode, Inode>([[tree.root.inode, tree.root.inode]]);
    for (const d of dirs) for (const c of d.children!.values()) if (c.children) parentOf.set(c.inode, d.inode);
    const metaStart = this.next;
    for (const d of dirs) {
      const blocks = encodeDirectory(d, parentOf.get(d.inode)!.ino);
      const first = await this.appendBlocks(blocks);
      d.inode.size = blocks.length;
      d.inode.firstBlock = first;
    }
    for (let num = 1; num <= maxIno; num++) {
      const ino = inodes[num];
      if (!ino) continue;
      await this.writeInode(ino, table, num);
    }
    await this.flush();
    await this.inflight;
    if (this.failure) throw this.failure;
    const usedEnd = this.next;

    // 3. Geometry: groups, inodes per group, where bitmaps and inode tables go.
    const headroom = Math.ceil((opts.headroomBytes ?? Math.max(128 << 20, (usedEnd * BLOCK_SIZE) / 2)) / BLOCK_SIZE);
    let total = Math.max(usedEnd + headroom, Math.ceil((opts.diskBytes ?? 0) / BLOCK_SIZE));
    let groups = 0;
    let ipg = 0;
    let meta = 0;
    for (let i = 0; i < 20; i++) {
      groups = Math.ceil(total / BLOCKS_PER_GROUP);
      const wantInodes = Math.max(maxIno + 4096, Math.ceil(maxIno * 1.5), Math.floor((total * BLOCK_SIZE) / 65536));
      ipg = Math.min(BLOCKS_PER_GROUP, Math.ceil(wantInodes / groups / 16) * 16);
      if (ipg * groups < maxIno) {
        total = Math.ceil(maxIno / BLOCKS_PER_GROUP) * BLOCKS_PER_GROUP;
        continue;
      }
      meta = groups * 2 + (groups * ipg * INODE_SIZE) / BLOCK_SIZE;
      const need = Math.max(usedEnd + meta + headroom, Math.ceil((opts.diskBytes ?? 0) / BLOCK_SIZE));
      if (Math.ceil(need / BLOCKS_PER_GROUP) === groups && need <= total) break;
      total = Math.max(need, total);
    }
    const gdtBlocks = Math.ceil((groups * 32) / BLOCK_SIZE);
    if (gdtBlocks > GDT_RESERVE || total >= 2 ** 32) throw new RootfsError(`the root filesystem would need ${total} blocks, more than vmstep's ext4 layout supports (4 TiB)`);
    const itableBlocks = (ipg * INODE_SIZE) / BLOCK_SIZE;
    const bbStart = usedEnd;
    const ibStart = bbStart + groups;
    const itStart = ibStart + groups;

    // 4. Block bitmap: superblock + descriptors, live file data, everything appended after the data.
    const used = new Uint8Array(Math.ceil(total / 8) + 1);
    const mark = (start: number, len: number): void => {
      for (let b = start; b < start + len; b++) used[b >> 3]! |= 1 << (b & 7);
    };
    mark(0, 1 + gdtBlocks);
    for (let num = 1; num <= maxIno; num++) {
      const ino = inodes[num];
      if (ino?.kind === 'file' && ino.size > 0 && ino.firstBlock < this.dataEnd) mark(ino.firstBlock, Math.ceil(ino.size / BLOCK_SIZE));
    }
    mark(metaStart, itStart + groups * itableBlocks - metaStart);

    const gdt = Buffer.alloc(gdtBlocks * BLOCK_SIZE);
    const bitmaps = Buffer.alloc(groups * 2 * BLOCK_SIZE);
    let freeBlocks = 0;
    let freeInodes = 0;
    const dirsPerGroup = new Array<number>(groups).fill(0);
    for (const d of dirs) dirsPerGroup[Math.floor((d.inode.ino - 1) / ipg)]!++;
    for (let g = 0; g < groups; g++) {
      const gStart = g * BLOCKS_PER_GROUP;
      const gLen = Math.min(BLOCKS_PER_GROUP, total - gStart);
      const bb = bitmaps.subarray(g * BLOCK_SIZE, (g + 1) * BLOCK_SIZE);
      // A group's 32768 blocks are exactly one bitmap block: copy the bytes, count the bits.
      bb.set(used.subarray(g * BLOCK_SIZE, g * BLOCK_SIZE + Math.ceil(gLen / 8)));
      if (gLen % 8) bb[gLen >> 3]! &= (1 << (gLen % 8)) - 1;
      let gUsed = 0;
      for (let i = 0; i < Math.ceil(gLen / 8); i++) gUsed += popcount[bb[i]!]!;
      for (let i = gLen; i < BLOCK_SIZE * 8; i++) bb[i >> 3]! |= 1 << (i & 7); // past the end: marked used
      const ib = bitmaps.subarray((groups + g) * BLOCK_SIZE, (groups + g + 1) * BLOCK_SIZE);
      const firstIno = g * ipg + 1;
      const gInodesUsed = Math.max(0, Math.min(ipg, maxIno - firstIno + 1));
      for (let i = 0; i < gInodesUsed; i++) ib[i >> 3]! |= 1 << (i & 7);
      for (let i = ipg; i < BLOCK_SIZE * 8; i++) ib[i >> 3]! |= 1 << (i & 7);
      freeBlocks += gLen - gUsed;
      freeInodes += ipg - gInodesUsed;
      encodeGroupDesc(
        { blockBitmap: bbStart + g, inodeBitmap: ibStart + g, inodeTable: itStart + g * itableBlocks, freeBlocks: gLen - gUsed, freeInodes: ipg - gInodesUsed, usedDirs: dirsPerGroup[g]! },
        gdt,
        g * 32,
      );
    }
    // 5. Write: bitmaps, inode tables (only the parts holding inodes; the rest stays a hole), descriptors, superblock.
    await this.fh.truncate(total * BLOCK_SIZE);
    await this.fh.write(bitmaps, 0, bitmaps.length, bbStart * BLOCK_SIZE);
    for (let g = 0; g * ipg < maxIno; g++) {
      const slice = table.subarray(g * ipg * INODE_SIZE, Math.min(maxIno, (g + 1) * ipg) * INODE_SIZE);
      await this.fh.write(slice, 0, slice.length, (itStart + g * itableBlocks) * BLOCK_SIZE);
    }
    await this.fh.write(gdt, 0, gdt.length, BLOCK_SIZE);
    const sb = encodeSuperblock({ inodesCount: groups * ipg, blocksCount: total, freeBlocks, freeInodes, inodesPerGroup: ipg, time, uuid: randomBytes(16), volumeName: 'vmstep-rootfs' });
    await this.fh.write(sb, 0, sb.length, 1024);
    return { bytes: total * BLOCK_SIZE, blocks: total, usedBlocks: total - freeBlocks, inodes: maxIno };
  }

  /** Encodes one inode into the table, appending whatever blocks it needs. */
  private async writeInode(ino: Inode, table: Buffer, num: number): Promise<void> {
    const off = (num - 1) * INODE_SIZE;
    let flags = 0;
    let blocks512 = 0;
    let size = ino.size;
    const iblock = table.subarray(off + 0x28, off + 0x28 + 60);
    const runs: Run[] = [];
    if (ino.kind === 'file' || ino.kind === 'dir') {
      const nblocks = Math.ceil(size / BLOCK_SIZE);
      for (let b = 0; b < nblocks; b += MAX_EXTENT_LEN) runs.push({ start: ino.firstBlock + b, len: Math.min(MAX_EXTENT_LEN, nblocks - b) });
    } else if (ino.kind === 'symlink') {
      const target = ino.symlinkTarget ?? Buffer.alloc(0);
      size = target.length;
      if (target.length <= FAST_SYMLINK_MAX) target.copy(iblock);
      else {
        const data = Buffer.alloc(Math.ceil(target.length / BLOCK_SIZE) * BLOCK_SIZE);
        target.copy(data);
        runs.push({ start: await this.appendBlocks(data), len: data.length / BLOCK_SIZE });
      }
    } else if (ino.kind === 'char' || ino.kind === 'block') {
      const { devmajor: ma, devminor: mi } = ino;
      if (ma < 256 && mi < 256) iblock.writeUInt32LE((ma << 8) | mi, 0);
      else iblock.writeUInt32LE(((mi & 0xff) | (ma << 8) | ((mi & ~0xff) << 12)) >>> 0, 4);
    }
    if (runs.length || ino.kind === 'file' || ino.kind === 'dir' || (ino.kind === 'symlink' && size > FAST_SYMLINK_MAX)) {
      flags |= EXTENTS_FL;
      for (const r of runs) blocks512 += r.len * 8;
      if (runs.length <= 4) {
        encodeExtentHeader(iblock, 0, runs.length, 4, 0);
        let logical = 0;
        runs.forEach((r, i) => {
          encodeExtent(iblock, 12 + i * 12, logical, r.len, r.start);
          logical += r.len;
        });
      } else {
        // One level of index: leaves of up to 340 extents each, at most 4 leaves.
        const perLeaf = (BLOCK_SIZE - 12) / 12;
        const leaves = Math.ceil(runs.length / perLeaf);
        if (leaves > 4) throw new RootfsError(`a file of ${size} bytes is too large for vmstep's ext4 layout`);
        const data = Buffer.alloc(leaves * BLOCK_SIZE);
        let logical = 0;
        const leafLogical: number[] = [];
        for (let l = 0; l < leaves; l++) {
          const part = runs.slice(l * perLeaf, (l + 1) * perLeaf);
          leafLogical.push(logical);
          encodeExtentHeader(data, l * BLOCK_SIZE, part.length, perLeaf, 0);
          part.forEach((r, i) => {
            encodeExtent(data, l * BLOCK_SIZE + 12 + i * 12, logical, r.len, r.start);
            logical += r.len;
          });
        }
        const first = await this.appendBlocks(data);
        blocks512 += leaves * 8;
        encodeExtentHeader(iblock, 0, leaves, 4, 1);
        for (let l = 0; l < leaves; l++) encodeExtentIndex(iblock, 12 + l * 12, leafLogical[l]!, first + l);
      }
    }
    // Extended attributes: in the inode when they fit, else in one block of their own.
    const xattrs: XattrEntry[] = [];
    for (const [name, value] of ino.xattrs) {
      const split = splitXattrName(name);
      if (split) xattrs.push({ ...split, value });
    }
    sortXattrs(xattrs);
    if (xattrs.length) {
      if (inodeXattrSpace(xattrs) <= INODE_XATTR_ROOM) encodeInodeXattrs(xattrs, table, off + 128 + EXTRA_ISIZE);
      else if (blockXattrSpace(xattrs) <= BLOCK_SIZE) {
        const blk = await this.appendBlocks(encodeXattrBlock(xattrs));
        table.writeUInt32LE(blk % 2 ** 32, off + 0x68);
        blocks512 += 8;
      } else throw new RootfsError(`inode ${num}: extended attributes larger than one block (${blockXattrSpace(xattrs)} bytes)`);
    }
    const t = encodeTime(ino.mtime, ino.mtimeNsec);
    const typeBits = S_IF[ino.kind];
    table.writeUInt16LE(typeBits | (ino.mode & 0o7777), off);
    table.writeUInt16LE(ino.uid & 0xffff, off + 0x2);
    table.writeUInt32LE(size % 2 ** 32, off + 0x4);
    table.writeUInt32LE(t.base, off + 0x8);
    table.writeUInt32LE(t.base, off + 0xc);
    table.writeUInt32LE(t.base, off + 0x10);
    table.writeUInt16LE(ino.gid & 0xffff, off + 0x18);
    // dir_nlink: a directory with more links than fit is recorded as 1.
    table.writeUInt16LE(ino.kind === 'dir' && ino.nlink >= 65000 ? 1 : ino.nlink, off + 0x1a);
    table.writeUInt32LE(blocks512 % 2 ** 32, off + 0x1c);
    table.writeUInt32LE(flags, off + 0x20);
    table.writeUInt32LE(Math.floor(size / 2 ** 32), off + 0x6c);
    table.writeUInt16LE(Math.floor(blocks512 / 2 ** 32), off + 0x74);
    table.writeUInt16LE(ino.uid >>> 16, off + 0x78);
    table.writeUInt16LE(ino.gid >>> 16, off + 0x7a);
    table.writeUInt16LE(EXTRA_ISIZE, off + 0x80);
    table.writeUInt32LE(t.extra, off + 0x84);
    table.writeUInt32LE(t.extra, off + 0x88);
    table.writeUInt32LE(t.extra, off + 0x8c);
    table.writeUInt32LE(t.base, off + 0x90);
    table.writeUInt32LE(t.extra, off + 0x94);
  }
}

const ZERO_BLOCK = Buffer.alloc(BLOCK_SIZE);

const popcount = Uint8Array.from({ length: 256 }, (_, i) => {
  let n = 0;
  for (let v = i; v; v >>= 1) n += v & 1;
  return n;
});

/** e2fsck expects /lost+found; use the image's own when it has one. */
function ensureLostFound(root: Node): Node | undefined {
  const name = 'lost+found';
  const have = root.children!.get(name);
  if (have) return have.children ? have : undefined;
  const node: Node = { inode: newInode('dir', { mode: 0o700 }), children: new Map(), touched: 0, own: 0 };
  root.children!.set(name, node);
  return node;
}

/** Linear directory blocks: ".", "..", then the entries sorted by name. */
function encodeDirectory(dir: Node, parentIno: number): Buffer {
  const names = [...dir.children!.keys()].sort();
  const entries: { ino: number; name: Buffer; type: number }[] = [
    { ino: dir.inode.ino, name: Buffer.from('.'), type: DIRENT_TYPE.dir },
    { ino: parentIno, name: Buffer.from('..'), type: DIRENT_TYPE.dir },
  ];
  for (const n of names) {
    const c = dir.children!.get(n)!;
    entries.push({ ino: c.inode.ino, name: Buffer.from(n, 'latin1'), type: DIRENT_TYPE[c.inode.kind] });
  }
  const blocks: Buffer[] = [];
  let cur = Buffer.alloc(BLOCK_SIZE);
  let pos = 0;
  let lastOff = -1;
  for (const e of entries) {
    const need = direntSize(e.name.length);
    if (pos + need > BLOCK_SIZE) {
      cur.writeUInt16LE(BLOCK_SIZE - lastOff, lastOff + 4);
      blocks.push(cur);
      cur = Buffer.alloc(BLOCK_SIZE);
      pos = 0;
    }
    encodeDirent(cur, pos, e.ino, need, e.name, e.type);
    lastOff = pos;
    pos += need;
  }
  cur.writeUInt16LE(BLOCK_SIZE - lastOff, lastOff + 4);
  blocks.push(cur);
  return Buffer.concat(blocks);
}
