// Copy-on-write overlays for the VMM's virtio-blk (`--disk-cow BASE OVERLAY`):
// the guest reads a read-only base image and its writes land in a sparse
// per-run overlay. The format is the VMM's and is specified once, in
// native/src/virtio/overlay.h; this file writes new overlays and reads them
// back (flattenOverlay: base + overlay -> one image, for inspecting what a
// run wrote). Making an overlay writes one 4 KiB header and sets the file's
// size: the same cost for any disk size.
import { closeSync, constants, ftruncateSync, openSync, writeSync } from 'node:fs';
import { copyFile, open, stat } from 'node:fs/promises';

const MAGIC = Buffer.from('VMSTEPOV', 'ascii');
const VERSION = 1;
const HEADER_BYTES = 4096;
const MIN_CLUSTER_BITS = 12;
const MAX_CLUSTER_BITS = 20;
const MAX_DISK_BYTES = 2 ** 42;
/** 4 KiB, ext4's block: a guest's block write then never needs the base's bytes first. */
export const DEFAULT_CLUSTER_BYTES = 4096;

export interface OverlayLayout {
  clusterBits: number;
  diskBytes: number;
  baseBytes: number;
  clusters: number;
  bitmapOffset: number;
  bitmapBytes: number;
  dataOffset: number;
}

export class OverlayError extends Error {}

function layoutOf(clusterBits: number, diskBytes: number, baseBytes: number): OverlayLayout {
  const clusters = Math.ceil(diskBytes / 2 ** clusterBits);
  const bitmapBytes = Math.ceil(clusters / 8);
  return { clusterBits, diskBytes, baseBytes, clusters, bitmapOffset: HEADER_BYTES, bitmapBytes, dataOffset: HEADER_BYTES + Math.ceil(bitmapBytes / 4096) * 4096 };
}

/** Checks an overlay header (the VMM makes the same checks) and derives the layout. */
export function parseOverlayHeader(header: Buffer): OverlayLayout {
  if (header.length < 32 || !header.subarray(0, 8).equals(MAGIC)) throw new OverlayError('not a vmstep overlay (no VMSTEPOV magic)');
  const version = header.readUInt32LE(8);
  if (version !== VERSION) throw new OverlayError(`overlay format version ${version}; this vmstep reads version ${VERSION}`);
  const clusterBits = header.readUInt32LE(12);
  const diskBytes = Number(header.readBigUInt64LE(16));
  const baseBytes = Number(header.readBigUInt64LE(24));
  if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) throw new OverlayError(`overlay cluster size 2^${clusterBits} is outside 4 KiB..1 MiB`);
  if (diskBytes <= 0 || diskBytes % 512 !== 0 || diskBytes > MAX_DISK_BYTES) throw new OverlayError(`overlay disk size ${diskBytes} is not a multiple of 512 up to 4 TiB`);
  if (baseBytes > diskBytes) throw new OverlayError(`overlay base size ${baseBytes} is larger than its disk size ${diskBytes}`);
  return layoutOf(clusterBits, diskBytes, baseBytes);
}

/** The layout of the overlay file at `path`. */
export async function readOverlayLayout(path: string): Promise<OverlayLayout> {
  const fh = await open(path, 'r');
  try {
    const header = Buffer.alloc(HEADER_BYTES);
    const { bytesRead } = await fh.read(header, 0, HEADER_BYTES, 0);
    return parseOverlayHeader(header.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

export interface CreateOverlayOptions {
  /** The base image's size in bytes (the VMM refuses a base of another size). */
  baseBytes: number;
  /** The guest-visible disk size; default: the base's. Bytes past the base read as zeros. */
  diskBytes?: number;
  clusterBytes?: number;
}

/**
 * Creates a new, empty overlay at `path` (which must not exist). Synchronous
 * on purpose: four small system calls on a warm run's critical path cost
 * less than four trips through libuv's thread pool, which on a loaded host
 * are what makes the slow tail.
 */
export function createOverlay(path: string, o: CreateOverlayOptions): OverlayLayout {
  const diskBytes = o.diskBytes ?? o.baseBytes;
  const clusterBits = Math.log2(o.clusterBytes ?? DEFAULT_CLUSTER_BYTES);
  if (!Number.isInteger(clusterBits) || clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) throw new OverlayError(`overlay cluster size ${o.clusterBytes} is not a power of two from 4 KiB to 1 MiB`);
  if (o.baseBytes % 512 !== 0 || diskBytes % 512 !== 0 || diskBytes < o.baseBytes || diskBytes > MAX_DISK_BYTES) {
    throw new OverlayError(`an overlay needs a base and a disk size that are multiples of 512, the disk at least the base and at most 4 TiB (base ${o.baseBytes}, disk ${diskBytes})`);
  }
  const layout = layoutOf(clusterBits, diskBytes, o.baseBytes);
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeUInt32LE(VERSION, 8);
  header.writeUInt32LE(clusterBits, 12);
  header.writeBigUInt64LE(BigInt(diskBytes), 16);
  header.writeBigUInt64LE(BigInt(o.baseBytes), 24);
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    writeSync(fd, header, 0, HEADER_BYTES, 0);
    // The bitmap and the data area are holes until the guest writes.
    ftruncateSync(fd, layout.dataOffset + diskBytes);
  } finally {
    closeSync(fd);
  }
  return layout;
}

/**
 * Writes base + overlay as one raw image at `dest` (which must not exist):
 * what the guest saw as its disk when the VM ended.
 */
export async function flattenOverlay(basePath: string, overlayPath: string, dest: string): Promise<void> {
  const l = await readOverlayLayout(overlayPath);
  const ov = await open(overlayPath, 'r');
  try {
    const baseBytes = (await stat(basePath)).size;
    if (baseBytes !== l.baseBytes) throw new OverlayError(`${overlayPath} was made for a base of ${l.baseBytes} bytes, ${basePath} has ${baseBytes}`);
    const bitmap = Buffer.alloc(l.bitmapBytes);
    await ov.read(bitmap, 0, l.bitmapBytes, l.bitmapOffset);
    await copyFile(basePath, dest, constants.COPYFILE_EXCL);
    const out = await open(dest, 'r+');
    try {
      await out.truncate(l.diskBytes);
      const cluster = 2 ** l.clusterBits;
      const buf = Buffer.alloc(cluster);
      for (let c = 0; c < l.clusters; c++) {
        if (!((bitmap[c >> 3]! >> (c & 7)) & 1)) continue;
        const at = c * cluster;
        const len = Math.min(cluster, l.diskBytes - at);
        buf.fill(0);
        await ov.read(buf, 0, len, l.dataOffset + at);
        await out.write(buf, 0, len, at);
      }
    } finally {
      await out.close();
    }
  } finally {
    await ov.close();
  }
}
