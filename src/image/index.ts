// Image sources: one entry point, one Image shape (see types.ts).
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { defaultCacheDir } from './cache-dir.js';
import { dockerArchiveImage, dockerDaemonImage } from './docker-archive.js';
import { ociArchiveImage, ociLayoutImage } from './oci-layout.js';
import { formatReference, parseReference } from './reference.js';
import { registryImage } from './registry.js';
import { ImageError, type Image, type ResolveOptions } from './types.js';

export type { Image, ImageConfig, ImageHealthcheck, Layer, ResolveOptions, Credentials, ProgressEvent, LayerCompression } from './types.js';
export { ImageError } from './types.js';
export { parseReference, formatReference, type ImageReference, type RegistryRef } from './reference.js';
export { decompressedLayer, detectCompression } from './decompress.js';
export { defaultCacheDir } from './cache-dir.js';
export { BlobCache } from './blob-cache.js';
export { progressReporter } from './progress.js';

/**
 * Resolves an image reference (oci:, oci-archive:, docker-archive:,
 * docker-daemon:, docker:// or a bare registry reference) to its linux/amd64
 * image: manifest and config read and verified, layers ready to open.
 */
/**
 * Checks what can be checked at once, without reading the image: the
 * reference parses, and a local one (oci:, oci-archive:, docker-archive:)
 * names something that exists. So a mistyped path is reported as such even
 * on a host that could not run the image anyway.
 */
export function checkImageReference(ref: string): void {
  const parsed = parseReference(ref);
  if (parsed.transport !== 'oci' && parsed.transport !== 'oci-archive' && parsed.transport !== 'docker-archive') return;
  const path = resolve(parsed.path);
  const st = statSync(path, { throwIfNoEntry: false });
  const wantDirectory = parsed.transport === 'oci';
  if (st && (wantDirectory ? st.isDirectory() : st.isFile())) return;
  const what = wantDirectory ? 'an OCI layout directory' : parsed.transport === 'oci-archive' ? 'an OCI archive (a tar file)' : 'a docker save archive (a tar file)';
  throw new ImageError(`image ${ref}: ${path} ${st ? `is not ${what}` : 'does not exist'}; ${parsed.transport}: names ${what}: check the path`);
}

export async function resolveImage(ref: string, options: ResolveOptions = {}): Promise<Image> {
  const parsed = parseReference(ref);
  const cacheRoot = options.cacheDir ?? defaultCacheDir();
  const shown = formatReference(parsed);
  switch (parsed.transport) {
    case 'oci':
      return ociLayoutImage(resolve(parsed.path), parsed.tag, shown);
    case 'oci-archive':
      return ociArchiveImage(resolve(parsed.path), parsed.tag, shown);
    case 'docker-archive':
      return dockerArchiveImage(resolve(parsed.path), parsed.name, shown);
    case 'docker-daemon':
      return dockerDaemonImage(parsed.name, shown, cacheRoot, options.dockerCommand);
    case 'docker':
      return registryImage(parsed, options, cacheRoot);
  }
}
