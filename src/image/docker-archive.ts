// docker-archive:FILE[:NAME] (`docker save` output, read in place) and
// docker-daemon:NAME (exported once with `docker save` into the cache,
// keyed by the engine's image ID).
import { execFile } from 'node:child_process';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ArchiveIndex } from './archive-index.js';
import { maxConfigBytes, maxManifestBytes, makeLayer, type BlobStore } from './assemble.js';
import { checkDigest, sha256Digest } from './digest.js';
import { checkLayerCount, parseImageConfig, parseJson, type Descriptor } from './manifest.js';
import { parseRegistryReference, formatRegistryRef } from './reference.js';
import { ImageError, type Image } from './types.js';

interface SaveEntry {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

function parseSaveManifest(bytes: Buffer, where: string): SaveEntry[] {
  const doc = parseJson(bytes, `${where} manifest.json`);
  if (!Array.isArray(doc)) throw new ImageError(`${where} manifest.json is not a list`);
  return doc.map((e, i) => {
    const ent = e as Record<string, unknown>;
    const ok = typeof ent === 'object' && ent !== null && typeof ent.Config === 'string' && Array.isArray(ent.Layers) && ent.Layers.every((l) => typeof l === 'string');
    if (!ok) throw new ImageError(`${where} manifest.json entry ${i} lacks Config or Layers`);
    const tags = Array.isArray(ent.RepoTags) ? ent.RepoTags.filter((t): t is string => typeof t === 'string') : [];
    return { Config: ent.Config as string, RepoTags: tags, Layers: ent.Layers as string[] };
  });
}

/** Both "busybox" and "docker.io/library/busybox:latest" name the same tag. */
function sameName(a: string, b: string): boolean {
  try {
    return formatRegistryRef(parseRegistryReference(a)) === formatRegistryRef(parseRegistryReference(b));
  } catch {
    return a === b;
  }
}

function digestFromPath(p: string): string | undefined {
  const m = /(?:^|\/)(?:blobs\/sha256\/)?([0-9a-f]{64})(?:\.json)?$/.exec(p);
  return m ? `sha256:${m[1]}` : undefined;
}

class SaveStore implements BlobStore {
  constructor(private readonly archive: ArchiveIndex, private readonly paths: Map<string, string>) {}
  private path(desc: Descriptor): string {
    const p = this.paths.get(desc.digest);
    if (!p) throw new ImageError(`${this.archive.path} has no blob ${desc.digest}`);
    return p;
  }
  readManifest(): Promise<Buffer> {
    throw new ImageError('docker-archive has no registry manifests');
  }
  readBlob(desc: Descriptor, max: number) {
    return this.archive.readMember(this.path(desc), max);
  }
  async openBlob(desc: Descriptor) {
    return { stream: this.archive.openMember(this.path(desc)), verified: false };
  }
}

export async function dockerArchiveImage(file: string, name: string | undefined, reference: string): Promise<Image> {
  const archive = await ArchiveIndex.read(file);
  if (!archive.has('manifest.json')) throw new ImageError(`${file} is not a docker-archive (no manifest.json); was it written by docker save?`);
  const entries = parseSaveManifest(await archive.readMember('manifest.json', maxManifestBytes), file);
  let entry: SaveEntry | undefined;
  if (name !== undefined) {
    entry = entries.find((e) => e.RepoTags.some((t) => sameName(t, name)));
    if (!entry) throw new ImageError(`${file} has no image named "${name}" (it has: ${entries.flatMap((e) => e.RepoTags).join(', ') || 'untagged images only'})`);
  } else if (entries.length === 1) entry = entries[0];
  else throw new ImageError(`${file} holds ${entries.length} images; name one: docker-archive:${file}:NAME (names: ${entries.flatMap((e) => e.RepoTags).join(', ')})`);
  if (!entry) throw new ImageError(`${file} manifest.json lists no images`);

  const configBytes = await archive.readMember(entry.Config, maxConfigBytes);
  const configDigest = sha256Digest(configBytes);
  const named = digestFromPath(entry.Config);
  if (named && named !== configDigest) throw new ImageError(`config ${entry.Config} in ${file}: content has digest ${configDigest}; the archive is corrupt`);
  const { config, diffIds } = parseImageConfig(configBytes, `image config ${entry.Config} in ${file}`);
  // Without diff_ids nothing binds the layer files to the config, whose
  // digest is the image's identity here: refused, as docker load does.
  if (!diffIds) throw new ImageError(`image config ${entry.Config} in ${file} has no rootfs.diff_ids, so its layers cannot be checked; save the image again with docker save`);
  checkLayerCount(entry.Layers.length, diffIds, `${file} manifest.json`);
  const paths = new Map<string, string>();
  const layers = entry.Layers.map((p, i) => {
    const size = archive.memberSize(p);
    if (size === undefined) throw new ImageError(`${file} lacks layer ${p} that its manifest.json lists`);
    // Layers of docker save are uncompressed tars whose digest is the diff_id.
    const digest = checkDigest(digestFromPath(p) ?? diffIds[i], `layer ${p} in ${file}`);
    paths.set(digest, p);
    return { mediaType: 'application/vnd.docker.image.rootfs.diff.tar', digest, size, diffId: diffIds[i]! };
  });
  const store = new SaveStore(archive, paths);
  // No registry manifest exists: the config digest identifies the image, as
  // `docker images` does; it covers the layers because each one is checked
  // against its diff_id while the root filesystem is built.
  return { reference, digest: configDigest, config, configDigest, layers: layers.map((d) => makeLayer(store, d, d.diffId)) };
}

const run = promisify(execFile);

export async function dockerDaemonImage(name: string, reference: string, cacheRoot: string, docker = 'docker'): Promise<Image> {
  let id: string;
  try {
    id = (await run(docker, ['image', 'inspect', '--format', '{{.Id}}', name], { timeout: 60_000 })).stdout.trim();
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') throw new ImageError(`docker-daemon:${name} needs the docker command, which is not installed; save the image elsewhere (docker save -o img.tar ${name}) and use docker-archive:img.tar`);
    throw new ImageError(`docker could not find image ${name}: ${(err.stderr ?? err.message).trim()} (is the Docker engine running, and the image pulled?)`);
  }
  const idDigest = checkDigest(id.startsWith('sha256:') ? id : `sha256:${id}`, `docker image ID of ${name}`);
  const dir = join(cacheRoot, 'docker-save');
  const file = join(dir, `${idDigest.slice(7)}.tar`);
  if (!(await stat(file).catch(() => null))) {
    await mkdir(dir, { recursive: true });
    const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
    try {
      await run(docker, ['save', '-o', tmp, name], { timeout: 30 * 60_000, maxBuffer: 1 << 20 });
      await rename(tmp, file);
    } catch (e) {
      await rm(tmp, { force: true });
      throw new ImageError(`docker save ${name} failed: ${((e as { stderr?: string }).stderr ?? (e as Error).message).trim()}`);
    }
  }
  return dockerArchiveImage(file, undefined, reference);
}
