// oci:DIR[:TAG] and oci-archive:FILE[:TAG]: an OCI image layout (index.json
// + blobs/sha256/...), either a directory or a tar of one read in place.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ArchiveIndex } from './archive-index.js';
import { openRegularFile, readRegularFile } from './bounded-read.js';
import { imageFromManifest, maxManifestBytes, type BlobStore } from './assemble.js';
import { sha256Digest } from './digest.js';
import { parseManifest, type Descriptor } from './manifest.js';
import { ImageError, type Image } from './types.js';

const refNameKey = 'org.opencontainers.image.ref.name';

function blobPath(digest: string): string {
  // The digest was validated (sha256:<hex>), so this cannot leave blobs/.
  const [alg, hex] = digest.split(':');
  return `blobs/${alg}/${hex}`;
}

/** Reads index.json and picks the manifest named by `tag` (or the only one). */
function pickFromIndex(indexBytes: Buffer, tag: string | undefined, where: string): Descriptor {
  const index = parseManifest(indexBytes, `${where}/index.json`, 'application/vnd.oci.image.index.v1+json');
  if (index.kind !== 'index') throw new ImageError(`${where}/index.json is not an OCI index`);
  const named = index.manifests.filter((m) => m.annotations?.[refNameKey] !== undefined);
  if (tag !== undefined) {
    const hit = index.manifests.find((m) => m.annotations?.[refNameKey] === tag);
    if (!hit) {
      const tags = named.map((m) => m.annotations?.[refNameKey]).join(', ');
      throw new ImageError(`${where} has no image tagged "${tag}" (tags: ${tags || 'none'})`);
    }
    return hit;
  }
  if (index.manifests.length === 1) return index.manifests[0]!;
  if (index.manifests.length === 0) throw new ImageError(`${where}/index.json lists no images`);
  throw new ImageError(`${where} holds ${index.manifests.length} images; name one with :TAG (tags: ${named.map((m) => m.annotations?.[refNameKey]).join(', ') || 'none'})`);
}

class LayoutDirStore implements BlobStore {
  constructor(private readonly dir: string) {}
  private async read(desc: Descriptor, max: number): Promise<Buffer> {
    if (desc.size > max) throw new ImageError(`blob ${desc.digest} in ${this.dir} declares ${desc.size} bytes, more than the ${max} a manifest or config may have`);
    return readRegularFile(join(this.dir, blobPath(desc.digest)), {
      what: `${blobPath(desc.digest)} in OCI layout ${this.dir}`,
      max,
      size: desc.size,
      missing: `OCI layout ${this.dir} is missing blob ${desc.digest}`,
    });
  }
  readManifest(desc: Descriptor) {
    return this.read(desc, maxManifestBytes);
  }
  readBlob(desc: Descriptor, max: number) {
    return this.read(desc, max);
  }
  async openBlob(desc: Descriptor) {
    const what = `layer ${blobPath(desc.digest)} in OCI layout ${this.dir}`;
    const { fh, size } = await openRegularFile(join(this.dir, blobPath(desc.digest)), what, `OCI layout ${this.dir} is missing layer blob ${desc.digest}`);
    if (size !== desc.size) {
      await fh.close();
      throw new ImageError(`layer ${desc.digest} in ${this.dir}: file has ${size} bytes, the manifest says ${desc.size}; the image is corrupt`);
    }
    // Read through the handle just checked, so a file swapped meanwhile is not what is read.
    return { stream: fh.createReadStream({ highWaterMark: 1 << 20 }), verified: false };
  }
}

class LayoutArchiveStore implements BlobStore {
  constructor(private readonly archive: ArchiveIndex) {}
  private async read(desc: Descriptor, max: number): Promise<Buffer> {
    if (desc.size > max) throw new ImageError(`blob ${desc.digest} in ${this.archive.path} declares ${desc.size} bytes, more than the ${max} a manifest or config may have`);
    if (!this.archive.has(blobPath(desc.digest))) throw new ImageError(`OCI archive ${this.archive.path} is missing blob ${desc.digest}`);
    return this.archive.readMember(blobPath(desc.digest), max);
  }
  readManifest(desc: Descriptor) {
    return this.read(desc, maxManifestBytes);
  }
  readBlob(desc: Descriptor, max: number) {
    return this.read(desc, max);
  }
  async openBlob(desc: Descriptor) {
    const size = this.archive.memberSize(blobPath(desc.digest));
    if (size === undefined) throw new ImageError(`OCI archive ${this.archive.path} is missing layer blob ${desc.digest}`);
    if (size !== desc.size) throw new ImageError(`layer ${desc.digest} in ${this.archive.path}: member has ${size} bytes, the manifest says ${desc.size}; the image is corrupt`);
    return { stream: this.archive.openMember(blobPath(desc.digest)), verified: false };
  }
}

async function checkLayoutMarker(bytes: Buffer | undefined, where: string): Promise<void> {
  if (!bytes) throw new ImageError(`${where} is not an OCI image layout (no oci-layout file)`);
  let version: unknown;
  try {
    version = (JSON.parse(bytes.toString('utf8')) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
  } catch {
    // The parser's message quotes the file, which may be anything a symlink points at.
    throw new ImageError(`${where}/oci-layout is not valid JSON; the layout is corrupt`);
  }
  if (typeof version !== 'string') throw new ImageError(`${where}/oci-layout is malformed (no imageLayoutVersion)`);
}

export async function ociLayoutImage(dir: string, tag: string | undefined, reference: string): Promise<Image> {
  const st = await stat(dir).catch(() => null);
  if (!st?.isDirectory()) throw new ImageError(`OCI layout ${dir} does not exist or is not a directory`);
  const marker = await readRegularFile(join(dir, 'oci-layout'), { what: `${dir}/oci-layout`, max: 4096, missing: `${dir} is not an OCI image layout (no oci-layout file)` });
  await checkLayoutMarker(marker, dir);
  const indexBytes = await readRegularFile(join(dir, 'index.json'), { what: `${dir}/index.json`, max: maxManifestBytes, missing: `${dir} is not an OCI image layout (no index.json)` });
  const store = new LayoutDirStore(dir);
  return fromIndex(store, indexBytes, tag, dir, reference);
}

export async function ociArchiveImage(file: string, tag: string | undefined, reference: string): Promise<Image> {
  const archive = await ArchiveIndex.read(file);
  await checkLayoutMarker(archive.has('oci-layout') ? await archive.readMember('oci-layout', 4096) : undefined, file);
  if (!archive.has('index.json')) throw new ImageError(`${file} is not an OCI archive (no index.json)`);
  const indexBytes = await archive.readMember('index.json', maxManifestBytes);
  return fromIndex(new LayoutArchiveStore(archive), indexBytes, tag, file, reference);
}

async function fromIndex(store: BlobStore, indexBytes: Buffer, tag: string | undefined, where: string, reference: string): Promise<Image> {
  const desc = pickFromIndex(indexBytes, tag, where);
  const bytes = await store.readManifest(desc);
  const digest = sha256Digest(bytes);
  if (digest !== desc.digest) throw new ImageError(`manifest ${desc.digest} in ${where}: content has digest ${digest}; the image is corrupt`);
  if (bytes.length !== desc.size) throw new ImageError(`manifest ${desc.digest} in ${where}: ${bytes.length} bytes, index.json says ${desc.size}; the image is corrupt`);
  return imageFromManifest(store, { bytes, digest, mediaType: desc.mediaType, what: `manifest ${desc.digest} in ${where}` }, reference);
}
