// Turns "where the blobs are" into an Image: resolves an index to
// linux/amd64, reads the manifest and config (each verified against its
// digest), and wraps the layers. Every transport supplies a BlobStore and
// shares this code, so they all verify the same way.
import type { Readable } from 'node:stream';
import { DigestVerifier, verifyBlob } from './digest.js';
import { checkLayerCount, parseImageConfig, parseManifest, selectPlatform, type Descriptor } from './manifest.js';
import { ImageError, type Image, type Layer } from './types.js';

/** Manifests and configs are small; a huge one is an attack, not an image. */
export const maxManifestBytes = 4 << 20;
export const maxConfigBytes = 16 << 20;

export interface BlobStore {
  /** A manifest by digest, its bytes verified here by the caller. */
  readManifest(desc: Descriptor): Promise<Buffer>;
  readBlob(desc: Descriptor, maxBytes: number): Promise<Buffer>;
  /** Raw layer bytes; the caller verifies. `verified` says they were checked already (a cache). */
  openBlob(desc: Descriptor): Promise<{ stream: Readable; verified: boolean }>;
  prefetchBlob?(desc: Descriptor): Promise<void>;
}

export interface TopManifest {
  bytes: Buffer;
  digest: string;
  mediaType: string;
  what: string;
}

export async function imageFromManifest(store: BlobStore, top: TopManifest, reference: string): Promise<Image> {
  let parsed = parseManifest(top.bytes, top.what, top.mediaType);
  let digest = top.digest;
  let indexDigest: string | undefined;
  let what = top.what;
  // An index may (rarely) point at another index; two levels is plenty.
  for (let depth = 0; parsed.kind === 'index'; depth++) {
    if (depth >= 2) throw new ImageError(`${what}: indexes nested more than two deep; the image is malformed`);
    const chosen = selectPlatform(parsed.manifests, what);
    indexDigest ??= digest;
    const bytes = await store.readManifest(chosen);
    what = `manifest ${chosen.digest} (linux/amd64 in ${reference})`;
    verifyBlob(bytes, chosen.digest, chosen.size, 'manifest');
    parsed = parseManifest(bytes, what, chosen.mediaType);
    digest = chosen.digest;
  }
  const manifest = parsed;
  const configBytes = await store.readBlob(manifest.config, maxConfigBytes);
  verifyBlob(configBytes, manifest.config.digest, manifest.config.size, 'config');
  const { config, diffIds } = parseImageConfig(configBytes, `image config ${manifest.config.digest}`);
  checkLayerCount(manifest.layers.length, diffIds, what);
  const layers = manifest.layers.map((d, i) => makeLayer(store, d, diffIds?.[i]));
  const image: Image = { reference, digest, config, configDigest: manifest.config.digest, layers };
  if (indexDigest) image.indexDigest = indexDigest;
  return image;
}

export function makeLayer(store: BlobStore, d: Descriptor, diffId: string | undefined): Layer {
  const layer: Layer = {
    ...(diffId ? { diffId } : {}),
    digest: d.digest,
    size: d.size,
    mediaType: d.mediaType,
    async open() {
      const { stream, verified } = await store.openBlob(d);
      if (verified) return stream;
      const v = new DigestVerifier(d.digest, d.size, 'layer');
      stream.on('error', (e) => v.destroy(e));
      // pipe() does not pass a destroy upstream: a reader that stops early must still close the file.
      v.on('close', () => stream.destroy());
      return stream.pipe(v);
    },
  };
  if (store.prefetchBlob) {
    const prefetch = store.prefetchBlob.bind(store);
    layer.prefetch = () => prefetch(d);
  }
  return layer;
}
