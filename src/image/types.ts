// The one image shape every source produces (OCI layout, OCI archive,
// docker-archive, Docker daemon, registry), so that the root filesystem
// builder never knows where an image came from (go-containerregistry's
// v1.Image idea, reduced to what vmstep needs).
import type { Readable } from 'node:stream';

/** The run defaults an image's config carries (OCI image spec, `config` object). */
export interface ImageConfig {
  entrypoint: string[] | null;
  cmd: string[] | null;
  env: string[];
  workingDir: string;
  user: string;
  /** TCP ports the image declares (EXPOSE: config.ExposedPorts, "6379/tcp"), ascending; UDP and SCTP ones are left out. */
  exposedPorts: number[];
  /** The image's HEALTHCHECK (Docker's config.Healthcheck, also in OCI images built by Docker); null when it has none. */
  healthcheck: ImageHealthcheck | null;
}

/** Docker's image health check: durations in milliseconds and retries, each 0 where the image leaves it to the default. */
export interface ImageHealthcheck {
  /** [] (inherit), ["NONE"], ["CMD", argv...] or ["CMD-SHELL", command]. */
  test: string[];
  intervalMs: number;
  timeoutMs: number;
  startPeriodMs: number;
  startIntervalMs: number;
  retries: number;
}

export type LayerCompression = 'gzip' | 'zstd' | 'none';

export interface Layer {
  /** Digest of the blob as stored (compressed bytes for compressed layers). */
  digest: string;
  /** Size of the blob in bytes, as the manifest states it. */
  size: number;
  mediaType: string;
  /**
   * Digest of the uncompressed tar, as the image config's rootfs.diff_ids
   * names it; the builder checks it over every uncompressed byte.
   */
  diffId?: string;
  /**
   * The blob's bytes. Their digest and size are checked as they stream: the
   * stream fails at its end, naming the blob, when they do not match.
   */
  open(): Promise<Readable>;
  /** Starts bringing the blob to local disk (registries), so later opens are local. */
  prefetch?(): Promise<void>;
}

export interface Image {
  /** The reference as the user wrote it, normalised (e.g. docker.io/library/busybox:latest). */
  reference: string;
  /** Digest of the platform (linux/amd64) manifest: the image's identity. */
  digest: string;
  /** Digest of the index or manifest list the platform manifest was chosen from, if any. */
  indexDigest?: string;
  config: ImageConfig;
  /** Digest of the config blob. */
  configDigest: string;
  /** Layers, bottom first. */
  layers: Layer[];
}

export interface Credentials {
  username?: string;
  password?: string;
  /** A bearer token used as is (e.g. a registry token from an OAuth flow). */
  registryToken?: string;
}

export interface ProgressEvent {
  kind: 'download';
  digest: string;
  /** Bytes received so far for this blob. */
  bytes: number;
  total: number;
  done: boolean;
}

export interface ResolveOptions {
  /** Credentials per registry host ("ghcr.io", "docker.io", "localhost:5000"), or for every host. */
  credentials?: Credentials | Record<string, Credentials>;
  /** Registries (host[:port]) that may be reached over plain HTTP besides loopback ones. */
  insecureRegistries?: string[];
  /** Path of the Docker config holding `auths` (default $DOCKER_CONFIG/config.json or ~/.docker/config.json). */
  dockerConfigPath?: string;
  /** Cache root (default $VMSTEP_CACHE or ~/.cache/vmstep). */
  cacheDir?: string;
  onProgress?: (event: ProgressEvent) => void;
  /** Retries for transient registry failures (default 4). */
  retries?: number;
  /** Abort the resolution and downloads. */
  signal?: AbortSignal;
  /** The docker CLI to run `docker save` with (default "docker"). */
  dockerCommand?: string;
  /** Directory for temporary files such as `docker save` output (default the cache's tmp dir). */
  tmpDir?: string;
}

/** An error about an image: bad reference, malformed manifest, digest mismatch, registry refusal. */
export class ImageError extends Error {
  override name = 'ImageError';
}
