// Parsing and checking the JSON documents of an image: OCI index / Docker
// manifest list (resolved to linux/amd64), OCI / Docker v2 schema 2 image
// manifests, and the image config. Every document is untrusted: each field
// is type-checked and every failure names the document and the field.
import { checkDigest } from './digest.js';
import { ImageError, type ImageConfig, type ImageHealthcheck } from './types.js';

export const MediaTypes = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
} as const;

/** What registries are asked for, in order of preference. */
export const manifestAccept = [MediaTypes.ociIndex, MediaTypes.dockerList, MediaTypes.ociManifest, MediaTypes.dockerManifest].join(', ');

const layerMediaTypes = new Set([
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.docker.image.rootfs.diff.tar',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
]);

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os?: string; architecture?: string; variant?: string };
  annotations?: Record<string, string>;
}

export type ParsedManifest =
  | { kind: 'index'; mediaType: string; manifests: Descriptor[] }
  | { kind: 'image'; mediaType: string; config: Descriptor; layers: Descriptor[] };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parseJson(data: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(Buffer.from(data).toString('utf8'));
  } catch {
    // Not the parser's message: it quotes the document, which may be any file a symlink points at.
    throw new ImageError(`${what} is not valid JSON; the image is corrupt`);
  }
}

export function parseDescriptor(v: unknown, what: string): Descriptor {
  if (!isObject(v)) throw new ImageError(`${what} is not an object`);
  const digest = checkDigest(v.digest, `${what} digest`);
  const size = v.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new ImageError(`${what} (${digest}) has no valid size (got ${JSON.stringify(size)})`);
  }
  const mediaType = typeof v.mediaType === 'string' ? v.mediaType : '';
  const d: Descriptor = { mediaType, digest, size };
  if (isObject(v.platform)) {
    const p = v.platform;
    d.platform = {};
    if (typeof p.os === 'string') d.platform.os = p.os;
    if (typeof p.architecture === 'string') d.platform.architecture = p.architecture;
    if (typeof p.variant === 'string') d.platform.variant = p.variant;
  }
  if (isObject(v.annotations)) {
    d.annotations = {};
    for (const [k, val] of Object.entries(v.annotations)) if (typeof val === 'string') d.annotations[k] = val;
  }
  return d;
}

/**
 * Parses an index or image manifest. `declaredType` is what the transport
 * said (Content-Type, descriptor mediaType); the document's own mediaType
 * field wins when present.
 */
export function parseManifest(data: Uint8Array, what: string, declaredType = ''): ParsedManifest {
  const doc = parseJson(data, what);
  if (!isObject(doc)) throw new ImageError(`${what} is not a JSON object`);
  const mediaType = typeof doc.mediaType === 'string' ? doc.mediaType : declaredType;
  if (doc.schemaVersion === 1 || mediaType === MediaTypes.dockerSchema1 || mediaType === MediaTypes.dockerSchema1Signed) {
    throw new ImageError(`${what} is a Docker schema 1 manifest, which vmstep does not read; push the image again with a current Docker or skopeo (schema 2 or OCI)`);
  }
  if (doc.schemaVersion !== 2) throw new ImageError(`${what}: schemaVersion is ${JSON.stringify(doc.schemaVersion)}, expected 2`);
  const isIndex = mediaType === MediaTypes.ociIndex || mediaType === MediaTypes.dockerList || (!mediaType && Array.isArray(doc.manifests));
  if (isIndex) {
    if (!Array.isArray(doc.manifests)) throw new ImageError(`${what}: an index without a "manifests" array`);
    return { kind: 'index', mediaType, manifests: doc.manifests.map((m, i) => parseDescriptor(m, `${what} manifests[${i}]`)) };
  }
  if (mediaType && mediaType !== MediaTypes.ociManifest && mediaType !== MediaTypes.dockerManifest) {
    throw new ImageError(`${what} has media type "${mediaType}", which is not an image manifest (expected OCI or Docker v2 schema 2)`);
  }
  if (!Array.isArray(doc.layers)) throw new ImageError(`${what}: an image manifest without a "layers" array`);
  const config = parseDescriptor(doc.config, `${what} config`);
  const layers = doc.layers.map((l, i) => {
    const d = parseDescriptor(l, `${what} layers[${i}]`);
    if (!layerMediaTypes.has(d.mediaType)) {
      throw new ImageError(`${what} layers[${i}] (${d.digest}) has media type "${d.mediaType}", which is not a layer vmstep can unpack (tar, tar+gzip, tar+zstd)`);
    }
    return d;
  });
  return { kind: 'image', mediaType, config, layers };
}

/** Picks linux/amd64 out of an index. */
export function selectPlatform(manifests: Descriptor[], what: string): Descriptor {
  const images = manifests.filter((m) => m.platform?.os === 'linux' && m.platform.architecture === 'amd64');
  // Prefer the plain variant; "v2/v3" variants run on any amd64 host KVM runs on only when the CPU has them.
  const chosen = images.find((m) => !m.platform?.variant || m.platform.variant === 'v1') ?? images[0];
  if (!chosen) {
    const have = manifests.map((m) => `${m.platform?.os ?? '?'}/${m.platform?.architecture ?? '?'}${m.platform?.variant ? `/${m.platform.variant}` : ''}`);
    throw new ImageError(`${what} has no linux/amd64 image (it has: ${have.join(', ') || 'nothing'}); vmstep runs x86-64 guests only`);
  }
  return chosen;
}

function stringArray(v: unknown, what: string): string[] | null {
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw new ImageError(`${what} is not a list of strings`);
  return v as string[];
}

/** Entries config.ExposedPorts may hold: more than a real image declares, few enough to check one by one. */
export const MAX_EXPOSED_PORTS = 1024;
/** Words a HEALTHCHECK's Test may have. */
const MAX_HEALTHCHECK_WORDS = 256;

// A malformed ExposedPorts or Healthcheck is refused, as every other config
// field is, rather than skipped: Docker's builder checks EXPOSE and
// HEALTHCHECK when it writes them, so a config that breaks their shape was
// written by hand or damaged, and quietly running it without the ports or
// the check it asked for would fail later and further from the cause.

/** config.ExposedPorts ({"6379/tcp": {}}): the TCP ports, ascending. */
function exposedPorts(v: unknown, what: string): number[] {
  if (v === undefined || v === null) return [];
  if (!isObject(v)) throw new ImageError(`${what}: config.ExposedPorts is not an object of "PORT/PROTOCOL" keys`);
  const keys = Object.keys(v);
  if (keys.length > MAX_EXPOSED_PORTS) throw new ImageError(`${what}: config.ExposedPorts has ${keys.length} entries, more than the ${MAX_EXPOSED_PORTS} vmstep reads`);
  const tcp = new Set<number>();
  for (const key of keys) {
    const m = /^(\d{1,5})(?:\/(tcp|udp|sctp))?$/i.exec(key);
    const port = m ? Number(m[1]) : 0;
    if (!m || port < 1 || port > 65535) throw new ImageError(`${what}: config.ExposedPorts has "${key.slice(0, 40)}", which is not PORT/tcp, PORT/udp or PORT/sctp with a port from 1 to 65535`);
    if ((m[2] ?? 'tcp').toLowerCase() === 'tcp') tcp.add(port);
  }
  return [...tcp].sort((a, b) => a - b);
}

/** config.Healthcheck: Test and the timings (nanoseconds in the config). */
function healthcheck(v: unknown, what: string): ImageHealthcheck | null {
  if (v === undefined || v === null) return null;
  const where = `${what}: config.Healthcheck`;
  if (!isObject(v)) throw new ImageError(`${where} is not an object`);
  const test = stringArray(v.Test, `${where}.Test`) ?? [];
  if (test.length > MAX_HEALTHCHECK_WORDS) throw new ImageError(`${where}.Test has more than ${MAX_HEALTHCHECK_WORDS} words`);
  const kind = test[0];
  if (kind !== undefined && kind !== 'NONE' && !((kind === 'CMD' || kind === 'CMD-SHELL') && test.length >= 2)) {
    throw new ImageError(`${where}.Test is not [], ["NONE"], ["CMD", ...] or ["CMD-SHELL", command]`);
  }
  const ms = (field: string): number => {
    const n = v[field];
    if (n === undefined || n === null) return 0;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new ImageError(`${where}.${field} is not a duration in nanoseconds`);
    return n / 1e6;
  };
  const retries = v.Retries ?? 0;
  if (typeof retries !== 'number' || !Number.isSafeInteger(retries) || retries < 0) throw new ImageError(`${where}.Retries is not a count`);
  return { test, intervalMs: ms('Interval'), timeoutMs: ms('Timeout'), startPeriodMs: ms('StartPeriod'), startIntervalMs: ms('StartInterval'), retries };
}

export interface ParsedConfig {
  config: ImageConfig;
  diffIds: string[] | null;
}

export function parseImageConfig(data: Uint8Array, what: string): ParsedConfig {
  const doc = parseJson(data, what);
  if (!isObject(doc)) throw new ImageError(`${what} is not a JSON object`);
  if (doc.os !== undefined && doc.os !== 'linux') throw new ImageError(`${what}: the image is for os "${String(doc.os)}"; vmstep runs linux images`);
  if (doc.architecture !== undefined && doc.architecture !== 'amd64') {
    throw new ImageError(`${what}: the image is for architecture "${String(doc.architecture)}"; vmstep runs amd64 (x86-64) images`);
  }
  const c = doc.config ?? {};
  if (!isObject(c)) throw new ImageError(`${what}: "config" is not an object`);
  const str = (v: unknown, field: string): string => {
    if (v === undefined || v === null) return '';
    if (typeof v !== 'string') throw new ImageError(`${what}: config.${field} is not a string`);
    return v;
  };
  let diffIds: string[] | null = null;
  if (isObject(doc.rootfs) && Array.isArray(doc.rootfs.diff_ids)) {
    diffIds = doc.rootfs.diff_ids.map((d, i) => checkDigest(d, `${what} rootfs.diff_ids[${i}]`));
  }
  return {
    config: {
      entrypoint: stringArray(c.Entrypoint, `${what}: config.Entrypoint`),
      cmd: stringArray(c.Cmd, `${what}: config.Cmd`),
      env: stringArray(c.Env, `${what}: config.Env`) ?? [],
      workingDir: str(c.WorkingDir, 'WorkingDir'),
      user: str(c.User, 'User'),
      exposedPorts: exposedPorts(c.ExposedPorts, what),
      healthcheck: healthcheck(c.Healthcheck, what),
    },
    diffIds,
  };
}

/** Checks layer count against the config's diff_ids, which every well-formed image has. */
export function checkLayerCount(layers: number, diffIds: string[] | null, what: string): void {
  if (diffIds && diffIds.length !== layers) {
    throw new ImageError(`${what}: the manifest lists ${layers} layers but the config's rootfs.diff_ids lists ${diffIds.length}; the image is corrupt`);
  }
}
