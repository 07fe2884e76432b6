// docker://REF and bare references: an image from an OCI distribution
// registry. Manifests are fetched by tag or digest and verified; layers are
// downloaded once into the blob cache and read from there.
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { imageFromManifest, maxManifestBytes, type BlobStore } from './assemble.js';
import { BlobCache } from './blob-cache.js';
import { sha256Digest, verifyBlob } from './digest.js';
import { manifestAccept, type Descriptor } from './manifest.js';
import { formatRegistryRef, type RegistryRef } from './reference.js';
import { RegistryClient } from './registry-client.js';
import { ImageError, type Image, type ResolveOptions } from './types.js';

async function readCapped(res: Response, max: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > max) {
    await res.body?.cancel();
    throw new ImageError(`${what} is ${declared} bytes, more than the ${max} vmstep accepts for it`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  if (res.body) {
    for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
      total += c.length;
      if (total > max) throw new ImageError(`${what} is more than the ${max} bytes vmstep accepts for it`);
      chunks.push(Buffer.from(c));
    }
  }
  return Buffer.concat(chunks);
}

class RegistryStore implements BlobStore {
  private readonly inflight = new Map<string, Promise<string>>();
  constructor(
    private readonly client: RegistryClient,
    private readonly cache: BlobCache,
    private readonly options: ResolveOptions,
  ) {}

  async readManifest(desc: Descriptor): Promise<Buffer> {
    const res = await this.client.get(`${this.repoPath()}/manifests/${desc.digest}`, { accept: manifestAccept }, `manifest ${desc.digest}`);
    return readCapped(res, maxManifestBytes, `manifest ${desc.digest}`);
  }

  private repoPath(): string {
    return this.client.repository;
  }

  async readBlob(desc: Descriptor, max: number): Promise<Buffer> {
    if (desc.size > max) throw new ImageError(`blob ${desc.digest} declares ${desc.size} bytes, more than the ${max} vmstep accepts for it`);
    const res = await this.client.get(`${this.repoPath()}/blobs/${desc.digest}`, {}, `blob ${desc.digest}`);
    return readCapped(res, max, `blob ${desc.digest}`);
  }

  prefetchBlob(desc: Descriptor): Promise<void> {
    return this.download(desc).then(() => {});
  }

  private download(desc: Descriptor): Promise<string> {
    let p = this.inflight.get(desc.digest);
    if (!p) {
      p = (async () => {
        if (await this.cache.has(desc.digest, desc.size)) return this.cache.path(desc.digest);
        const report = this.options.onProgress;
        let path: string | undefined;
        // A connection that breaks mid-blob is retried from the start; a digest mismatch is not.
        for (let attempt = 0; !path; attempt++) {
          const res = await this.client.get(`${this.repoPath()}/blobs/${desc.digest}`, {}, `layer ${desc.digest}`);
          if (!res.body) throw new ImageError(`registry sent no content for layer ${desc.digest}`);
          const body = Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>, { highWaterMark: 1 << 20 });
          try {
            path = await this.cache.put(desc.digest, desc.size, body, 'layer', report ? (bytes) => report({ kind: 'download', digest: desc.digest, bytes, total: desc.size, done: false }) : undefined);
          } catch (e) {
            if (e instanceof ImageError || attempt >= (this.options.retries ?? 4) || this.options.signal?.aborted) {
              throw e instanceof ImageError ? e : new ImageError(`downloading layer ${desc.digest} from ${this.client.registry} failed: ${(e as Error).message}`);
            }
          }
        }
        report?.({ kind: 'download', digest: desc.digest, bytes: desc.size, total: desc.size, done: true });
        return path;
      })();
      this.inflight.set(desc.digest, p);
      p.catch(() => this.inflight.delete(desc.digest));
    }
    return p;
  }

  async openBlob(desc: Descriptor) {
    const path = await this.download(desc);
    return { stream: createReadStream(path, { highWaterMark: 1 << 20 }), verified: true };
  }
}

export async function registryImage(ref: RegistryRef, options: ResolveOptions, cacheRoot: string): Promise<Image> {
  const client = new RegistryClient(ref.registry, ref.repository, options);
  const store = new RegistryStore(client, new BlobCache(cacheRoot), options);
  const target = ref.digest ?? ref.tag ?? 'latest';
  const what = `manifest ${ref.repository}:${target}`.replace(':sha256:', '@sha256:');
  const res = await client.get(`${ref.repository}/manifests/${target}`, { accept: manifestAccept }, what);
  const mediaType = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
  const headerDigest = res.headers.get('docker-content-digest');
  const bytes = await readCapped(res, maxManifestBytes, what);
  const digest = sha256Digest(bytes);
  if (ref.digest) verifyBlob(bytes, ref.digest, undefined, 'manifest');
  else if (headerDigest && headerDigest.startsWith('sha256:') && headerDigest !== digest) {
    throw new ImageError(`${what}: registry ${ref.registry} says its digest is ${headerDigest} but the content has ${digest}; the registry or a proxy is corrupting it`);
  }
  return imageFromManifest(store, { bytes, digest, mediaType, what: `${what} (${ref.registry})` }, formatRegistryRef(ref));
}
