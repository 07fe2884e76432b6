// One tar header decoder for everything vmstep reads: outer image archives
// (oci-archive, docker-archive) and layers. ustar, GNU (long names, base-256
// numbers) and pax (including binary SCHILY.xattr values) headers. Input is
// untrusted: every field is bounds-checked and malformed headers are errors.

export const BLOCK = 512;

/** Raw type flags. */
export const TarType = {
  file: 0x30, // '0' (also NUL and '7' contiguous)
  hardlink: 0x31,
  symlink: 0x32,
  char: 0x33,
  block: 0x34,
  dir: 0x35,
  fifo: 0x36,
  contiguous: 0x37,
  paxLocal: 0x78, // 'x'
  paxGlobal: 0x67, // 'g'
  gnuLongName: 0x4c, // 'L'
  gnuLongLink: 0x4b, // 'K'
} as const;

export interface RawHeader {
  /** Names are kept as latin1 strings: one char per byte, so any byte sequence survives. */
  name: string;
  linkname: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  type: number;
  devmajor: number;
  devminor: number;
}

export class TarFormatError extends Error {
  override name = 'TarFormatError';
}

function cstr(buf: Buffer, off: number, len: number): string {
  const end = buf.indexOf(0, off);
  return buf.toString('latin1', off, end < 0 || end > off + len ? off + len : end);
}

function num(buf: Buffer, off: number, len: number, field: string): number {
  const first = buf[off]!;
  if (first & 0x80) {
    // GNU base-256: big-endian two's complement with the top bit as marker.
    if (first === 0xff) throw new TarFormatError(`negative ${field} in tar header`);
    let v = first & 0x7f;
    for (let i = 1; i < len; i++) {
      v = v * 256 + buf[off + i]!;
      if (!Number.isSafeInteger(v)) throw new TarFormatError(`${field} too large in tar header`);
    }
    return v;
  }
  const s = buf.toString('latin1', off, off + len).replace(/[\0 ]+$/, '').replace(/^[ ]+/, '');
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new TarFormatError(`${field} "${s}" is not an octal number in tar header`);
  const v = parseInt(s, 8);
  if (!Number.isSafeInteger(v)) throw new TarFormatError(`${field} too large in tar header`);
  return v;
}

export function isZeroBlock(buf: Buffer, off = 0): boolean {
  for (let i = off; i < off + BLOCK; i++) if (buf[i] !== 0) return false;
  return true;
}

/** Decodes one 512-byte header block at `off`. */
export function decodeHeader(buf: Buffer, off = 0): RawHeader {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : buf[off + i]!;
  let stored: number;
  try {
    stored = num(buf, off + 148, 8, 'checksum');
  } catch {
    stored = -1;
  }
  if (stored !== sum) {
    // Some old writers summed signed bytes.
    let ssum = 0;
    for (let i = 0; i < BLOCK; i++) ssum += i >= 148 && i < 156 ? 32 : (buf[off + i]! << 24) >> 24;
    if (stored !== ssum) throw new TarFormatError('tar header checksum mismatch (not a tar archive, or corrupt)');
  }
  const magic = buf.toString('latin1', off + 257, off + 263);
  let name = cstr(buf, off, 100);
  // POSIX ustar has a 155-byte prefix; old GNU ("ustar  ") uses that space for other fields.
  if (magic === 'ustar\0') {
    const prefix = cstr(buf, off + 345, 155);
    if (prefix) name = `${prefix}/${name}`;
  }
  let type = buf[off + 156]!;
  if (type === 0) type = TarType.file;
  return {
    name,
    linkname: cstr(buf, off + 157, 100),
    mode: num(buf, off + 100, 8, 'mode') & 0o7777,
    uid: num(buf, off + 108, 8, 'uid'),
    gid: num(buf, off + 116, 8, 'gid'),
    size: num(buf, off + 124, 12, 'size'),
    mtime: num(buf, off + 136, 12, 'mtime'),
    type,
    devmajor: magic.startsWith('ustar') ? num(buf, off + 329, 8, 'devmajor') : 0,
    devminor: magic.startsWith('ustar') ? num(buf, off + 337, 8, 'devminor') : 0,
  };
}

export interface PaxRecords {
  path?: string;
  linkpath?: string;
  size?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  mtimeNsec?: number;
  devmajor?: number;
  devminor?: number;
  /** xattr name -> raw value bytes. */
  xattrs: Map<string, Buffer>;
  sparse: boolean;
  /** A record that is well-formed tar but unusable, reported with the entry it belongs to (known only at its header). */
  error?: string;
}

function paxInt(v: Buffer, key: string): number {
  const s = v.toString('latin1');
  if (!/^\d+$/.test(s)) throw new TarFormatError(`pax header ${key}="${s}" is not a number`);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new TarFormatError(`pax header ${key} too large`);
  return n;
}

/**
 * Parses pax extended header records ("LEN key=value\n"). Values stay bytes:
 * SCHILY.xattr values are binary (security.capability), so no UTF-8 decoding
 * may touch them. Paths are kept as latin1 strings of their UTF-8 bytes.
 */
export function parsePax(data: Buffer): PaxRecords {
  const out: PaxRecords = { xattrs: new Map(), sparse: false };
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break; // padding some writers leave
    const sp = data.indexOf(0x20, pos);
    if (sp < 0 || sp - pos > 20) throw new TarFormatError('malformed pax header record (no length)');
    const lenStr = data.toString('latin1', pos, sp);
    if (!/^\d+$/.test(lenStr)) throw new TarFormatError(`malformed pax header record length "${lenStr}"`);
    const len = Number(lenStr);
    const end = pos + len;
    if (len <= sp - pos + 1 || end > data.length || data[end - 1] !== 0x0a) throw new TarFormatError('malformed pax header record (bad length)');
    const rec = data.subarray(sp + 1, end - 1);
    const eq = rec.indexOf(0x3d);
    if (eq < 0) throw new TarFormatError('malformed pax header record (no "=")');
    const key = rec.toString('utf8', 0, eq);
    const value = rec.subarray(eq + 1);
    if (key === 'path') out.path = value.toString('latin1');
    else if (key === 'linkpath') out.linkpath = value.toString('latin1');
    else if (key === 'size') out.size = paxInt(value, key);
    else if (key === 'uid') out.uid = paxInt(value, key);
    else if (key === 'gid') out.gid = paxInt(value, key);
    else if (key === 'SCHILY.devmajor') out.devmajor = paxInt(value, key);
    else if (key === 'SCHILY.devminor') out.devminor = paxInt(value, key);
    else if (key === 'mtime') {
      const m = /^(-?\d+)(?:\.(\d{1,9})\d*)?$/.exec(value.toString('latin1'));
      if (!m) throw new TarFormatError(`pax header mtime="${value.toString('latin1')}" is not a time`);
      out.mtime = Number(m[1]);
      out.mtimeNsec = m[2] ? Number(m[2].padEnd(9, '0')) : 0;
    } else if (key.startsWith('SCHILY.xattr.')) {
      out.xattrs.set(key.slice('SCHILY.xattr.'.length), Buffer.from(value));
    } else if (key.startsWith('LIBARCHIVE.xattr.')) {
      const encoded = key.slice('LIBARCHIVE.xattr.'.length);
      try {
        out.xattrs.set(decodeURIComponent(encoded), Buffer.from(value.toString('latin1'), 'base64'));
      } catch {
        out.error ??= `pax record LIBARCHIVE.xattr.${JSON.stringify(encoded.slice(0, 64))} does not hold a valid percent-encoded attribute name`;
      }
    } else if (key.startsWith('GNU.sparse.')) {
      out.sparse = true;
    }
    pos = end;
  }
  return out;
}

/** Normalises a member name of an outer archive: strips "./" and trailing "/". */
export function archiveMemberName(name: string): string {
  return name.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
}
