// ext4 on-disk structures vmstep writes, encoded in one place (layouts from
// the kernel's fs/ext4/ext4.h, ext4_extents.h and xattr.h). The image is
// laid out by ext4-writer.ts; this file only turns values into bytes.
//
// Features used: filetype, extents, flex_bg (so bitmaps and inode tables may
// sit anywhere: vmstep puts them after the data), sparse_super2 with no
// backup superblocks (nothing else is placed in the data area), large_file,
// dir_nlink, extra_isize, ext_attr. No journal: every run gets a throw-away
// copy, so crash consistency buys nothing and a journal costs space and time.

export const BLOCK_SIZE = 4096;
export const INODE_SIZE = 256;
export const BLOCKS_PER_GROUP = 32768;
export const EXTRA_ISIZE = 32;
export const ROOT_INO = 2;
export const LOST_FOUND_INO = 11;
export const FIRST_INO = 11;
/** Longest fast symlink (target stored in the inode's i_block). */
export const FAST_SYMLINK_MAX = 59;
export const MAX_EXTENT_LEN = 32768;

const COMPAT_EXT_ATTR = 0x8;
const COMPAT_SPARSE_SUPER2 = 0x200;
const INCOMPAT_FILETYPE = 0x2;
const INCOMPAT_EXTENTS = 0x40;
const INCOMPAT_FLEX_BG = 0x200;
const RO_COMPAT_LARGE_FILE = 0x2;
const RO_COMPAT_DIR_NLINK = 0x20;
const RO_COMPAT_EXTRA_ISIZE = 0x40;

export const EXTENTS_FL = 0x80000;

export const S_IF = { file: 0x8000, dir: 0x4000, symlink: 0xa000, char: 0x2000, block: 0x6000, fifo: 0x1000 } as const;
export const DIRENT_TYPE = { file: 1, dir: 2, char: 3, block: 4, fifo: 5, symlink: 7 } as const;

export interface SuperblockFields {
  inodesCount: number;
  blocksCount: number;
  freeBlocks: number;
  freeInodes: number;
  inodesPerGroup: number;
  time: number;
  uuid: Buffer;
  volumeName: string;
}

/** The 1024-byte superblock (written at byte 1024). */
export function encodeSuperblock(f: SuperblockFields): Buffer {
  const b = Buffer.alloc(1024);
  b.writeUInt32LE(f.inodesCount, 0x0);
  b.writeUInt32LE(f.blocksCount, 0x4);
  b.writeUInt32LE(0, 0x8); // no reserved blocks: the guest's root owns the whole disk anyway
  b.writeUInt32LE(f.freeBlocks, 0xc);
  b.writeUInt32LE(f.freeInodes, 0x10);
  b.writeUInt32LE(0, 0x14); // first data block (0 for 4 KiB blocks)
  b.writeUInt32LE(2, 0x18); // log2(block size) - 10
  b.writeUInt32LE(2, 0x1c);
  b.writeUInt32LE(BLOCKS_PER_GROUP, 0x20);
  b.writeUInt32LE(BLOCKS_PER_GROUP, 0x24);
  b.writeUInt32LE(f.inodesPerGroup, 0x28);
  b.writeUInt32LE(0, 0x2c); // mtime
  b.writeUInt32LE(f.time, 0x30); // wtime
  b.writeUInt16LE(0, 0x34);
  b.writeUInt16LE(0xffff, 0x36); // max mount count: -1, no forced checks
  b.writeUInt16LE(0xef53, 0x38);
  b.writeUInt16LE(1, 0x3a); // state: clean
  b.writeUInt16LE(1, 0x3c); // errors: continue
  b.writeUInt32LE(f.time, 0x40); // lastcheck
  b.writeUInt32LE(0, 0x48); // creator OS: Linux
  b.writeUInt32LE(1, 0x4c); // dynamic revision
  b.writeUInt32LE(FIRST_INO, 0x54);
  b.writeUInt16LE(INODE_SIZE, 0x58);
  b.writeUInt32LE(COMPAT_EXT_ATTR | COMPAT_SPARSE_SUPER2, 0x5c);
  b.writeUInt32LE(INCOMPAT_FILETYPE | INCOMPAT_EXTENTS | INCOMPAT_FLEX_BG, 0x60);
  b.writeUInt32LE(RO_COMPAT_LARGE_FILE | RO_COMPAT_DIR_NLINK | RO_COMPAT_EXTRA_ISIZE, 0x64);
  f.uuid.copy(b, 0x68, 0, 16);
  b.write(f.volumeName.slice(0, 16), 0x78, 'latin1');
  f.uuid.copy(b, 0xec, 0, 16); // directory hash seed
  b.writeUInt8(1, 0xfc); // default hash: half_md4
  b.writeUInt32LE(f.time, 0x108); // mkfs time
  b.writeUInt16LE(EXTRA_ISIZE, 0x15c); // min extra isize
  b.writeUInt16LE(EXTRA_ISIZE, 0x15e); // want extra isize
  b.writeUInt32LE(0x1, 0x160); // flags: signed directory hash (x86)
  b.writeUInt8(4, 0x174); // log2 groups per flex group
  // s_backup_bgs (0x24c) stay 0: sparse_super2 with no backup superblocks.
  return b;
}

export interface GroupDesc {
  blockBitmap: number;
  inodeBitmap: number;
  inodeTable: number;
  freeBlocks: number;
  freeInodes: number;
  usedDirs: number;
}

export function encodeGroupDesc(g: GroupDesc, out: Buffer, off: number): void {
  out.writeUInt32LE(g.blockBitmap, off);
  out.writeUInt32LE(g.inodeBitmap, off + 4);
  out.writeUInt32LE(g.inodeTable, off + 8);
  out.writeUInt16LE(g.freeBlocks, off + 12);
  out.writeUInt16LE(g.freeInodes, off + 14);
  out.writeUInt16LE(g.usedDirs, off + 16);
}

/** ext4 time: 32 low bits of seconds in the base field, epoch bits and nanoseconds in the extra field. */
export function encodeTime(sec: number, nsec: number): { base: number; extra: number } {
  const base = ((sec % 2 ** 32) + 2 ** 32) % 2 ** 32;
  const signedBase = base >= 2 ** 31 ? base - 2 ** 32 : base;
  const epoch = Math.round((sec - signedBase) / 2 ** 32) & 3;
  return { base, extra: ((nsec << 2) | epoch) >>> 0 };
}

/** Extent tree root or node header + entries. */
export function encodeExtentHeader(out: Buffer, off: number, entries: number, max: number, depth: number): void {
  out.writeUInt16LE(0xf30a, off);
  out.writeUInt16LE(entries, off + 2);
  out.writeUInt16LE(max, off + 4);
  out.writeUInt16LE(depth, off + 6);
  out.writeUInt32LE(0, off + 8);
}

export function encodeExtent(out: Buffer, off: number, logical: number, len: number, start: number): void {
  out.writeUInt32LE(logical, off);
  out.writeUInt16LE(len, off + 4);
  out.writeUInt16LE(Math.floor(start / 2 ** 32), off + 6);
  out.writeUInt32LE(start % 2 ** 32, off + 8);
}

export function encodeExtentIndex(out: Buffer, off: number, logical: number, leaf: number): void {
  out.writeUInt32LE(logical, off);
  out.writeUInt32LE(leaf % 2 ** 32, off + 4);
  out.writeUInt16LE(Math.floor(leaf / 2 ** 32), off + 8);
  out.writeUInt16LE(0, off + 10);
}

/** Size of a directory entry for a name of `nameLen` bytes. */
export function direntSize(nameLen: number): number {
  return (8 + nameLen + 3) & ~3;
}

export function encodeDirent(out: Buffer, off: number, ino: number, recLen: number, name: Buffer, type: number): void {
  out.writeUInt32LE(ino, off);
  out.writeUInt16LE(recLen, off + 4);
  out.writeUInt8(name.length, off + 6);
  out.writeUInt8(type, off + 7);
  name.copy(out, off + 8);
}

// Extended attributes: names are stored as an index for their prefix plus the rest.
const xattrPrefixes: [string, number][] = [
  ['user.', 1],
  ['trusted.', 4],
  ['security.', 6],
];

export interface XattrEntry {
  index: number;
  name: Buffer;
  value: Buffer;
}

/** The POSIX ACLs, which ext4 keeps under their own name indexes with an empty name. */
export const ACL_XATTRS: Record<string, number> = { 'system.posix_acl_access': 2, 'system.posix_acl_default': 3 };

/**
 * Maps "security.capability" to (6, "capability") and the POSIX ACLs to
 * their indexes; undefined for what ext4 cannot hold (other system.* names).
 */
export function splitXattrName(full: string): { index: number; name: Buffer } | undefined {
  const acl = ACL_XATTRS[full];
  if (acl !== undefined) return { index: acl, name: Buffer.alloc(0) };
  for (const [prefix, index] of xattrPrefixes) {
    if (full.startsWith(prefix) && full.length > prefix.length) return { index, name: Buffer.from(full.slice(prefix.length), 'utf8') };
  }
  return undefined;
}

/** The kernel looks entries up in sorted order in xattr blocks: by index, name length, then name. */
export function sortXattrs(list: XattrEntry[]): XattrEntry[] {
  return list.sort((a, b) => a.index - b.index || a.name.length - b.name.length || Buffer.compare(a.name, b.name));
}

function xattrEntryHash(e: XattrEntry, valueInBlock: boolean): number {
  let h = 0;
  for (const c of e.name) {
    const sc = (c << 24) >> 24; // the kernel hashes names as signed chars
    h = ((h << 5) ^ (h >>> 27) ^ sc) >>> 0;
  }
  if (valueInBlock && e.value.length) {
    const padded = Buffer.alloc((e.value.length + 3) & ~3);
    e.value.copy(padded);
    for (let i = 0; i < padded.length; i += 4) h = ((h << 16) ^ (h >>> 16) ^ padded.readUInt32LE(i)) >>> 0;
  }
  return h;
}

function entrySize(e: XattrEntry): number {
  return (16 + e.name.length + 3) & ~3;
}
function valueSize(e: XattrEntry): number {
  return (e.value.length + 3) & ~3;
}

/** Bytes needed in the inode body (after i_extra_isize) for these xattrs, or Infinity when they do not fit. */
export function inodeXattrSpace(list: XattrEntry[]): number {
  let n = 4 + 4; // magic + terminating zero entry
  for (const e of list) n += entrySize(e) + valueSize(e);
  return n;
}

export const INODE_XATTR_ROOM = INODE_SIZE - 128 - EXTRA_ISIZE;

/** Writes xattrs into the inode's extra space (offset 128 + EXTRA_ISIZE of the inode). */
export function encodeInodeXattrs(list: XattrEntry[], out: Buffer, off: number): void {
  const room = INODE_XATTR_ROOM;
  out.writeUInt32LE(0xea020000, off);
  const base = off + 4; // value offsets count from the first entry
  let ep = base;
  let vend = off + room;
  for (const e of list) {
    vend -= valueSize(e);
    out.writeUInt8(e.name.length, ep);
    out.writeUInt8(e.index, ep + 1);
    out.writeUInt16LE(vend - base, ep + 2);
    out.writeUInt32LE(0, ep + 4);
    out.writeUInt32LE(e.value.length, ep + 8);
    out.writeUInt32LE(0, ep + 12); // in-inode entries carry no hash
    e.name.copy(out, ep + 16);
    e.value.copy(out, vend);
    ep += entrySize(e);
  }
}

/** Bytes an xattr block needs for these entries. */
export function blockXattrSpace(list: XattrEntry[]): number {
  return inodeXattrSpace(list) + 32;
}

/** A whole external xattr block (one per inode, reference count 1). */
export function encodeXattrBlock(list: XattrEntry[]): Buffer {
  const b = Buffer.alloc(BLOCK_SIZE);
  b.writeUInt32LE(0xea020000, 0);
  b.writeUInt32LE(1, 4); // refcount
  b.writeUInt32LE(1, 8); // blocks
  let ep = 32;
  let vend = BLOCK_SIZE;
  let blockHash = 0;
  for (const e of list) {
    vend -= valueSize(e);
    const h = xattrEntryHash(e, true);
    b.writeUInt8(e.name.length, ep);
    b.writeUInt8(e.index, ep + 1);
    b.writeUInt16LE(vend, ep + 2);
    b.writeUInt32LE(0, ep + 4);
    b.writeUInt32LE(e.value.length, ep + 8);
    b.writeUInt32LE(h, ep + 12);
    e.name.copy(b, ep + 16);
    e.value.copy(b, vend);
    ep += entrySize(e);
    blockHash = ((blockHash << 16) ^ (blockHash >>> 16) ^ h) >>> 0;
  }
  b.writeUInt32LE(blockHash, 12);
  return b;
}

// POSIX ACL tags (include/uapi/linux/posix_acl.h).
const ACL_USER_OBJ = 0x01;
const ACL_USER = 0x02;
const ACL_GROUP_OBJ = 0x04;
const ACL_GROUP = 0x08;
const ACL_MASK = 0x10;
const ACL_OTHER = 0x20;

/**
 * Converts a POSIX ACL as tar carries it (the kernel's xattr format:
 * version 2, then 8-byte tag/perm/id entries; posix_acl_xattr.h) into
 * ext4's on-disk format (version 1, 4-byte entries for the tags that carry
 * no id, 8-byte ones for named users and groups; fs/ext4/acl.h). Throws,
 * saying why, on a malformed value.
 */
export function posixAclToExt4(value: Buffer): Buffer {
  if (value.length < 4 || (value.length - 4) % 8 !== 0) throw new Error(`an ACL of ${value.length} bytes is not a whole number of entries`);
  if (value.readUInt32LE(0) !== 2) throw new Error(`ACL version ${value.readUInt32LE(0)} is not 2`);
  const parts: Buffer[] = [Buffer.from([1, 0, 0, 0])];
  for (let off = 4; off < value.length; off += 8) {
    const tag = value.readUInt16LE(off);
    const perm = value.readUInt16LE(off + 2);
    if (perm & ~7) throw new Error(`ACL entry with permission bits ${perm}`);
    if (tag === ACL_USER || tag === ACL_GROUP) parts.push(value.subarray(off, off + 8));
    else if (tag === ACL_USER_OBJ || tag === ACL_GROUP_OBJ || tag === ACL_MASK || tag === ACL_OTHER) parts.push(value.subarray(off, off + 4));
    else throw new Error(`ACL entry with unknown tag ${tag}`);
  }
  return Buffer.concat(parts);
}

/** The seconds ext4 can store with its two epoch bits: 1901-12-13 to 2446-05-10. */
export const MIN_TIME = -(2 ** 31);
export const MAX_TIME = 2 ** 31 - 1 + 3 * 2 ** 32;
