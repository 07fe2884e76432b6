// Image references in the naming of containers/image (what skopeo accepts):
// oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME],
// docker-daemon:NAME[:TAG], docker://REF and bare REF (Docker Hub
// normalisation: "busybox" is docker.io/library/busybox:latest).
import { ImageError } from './types.js';

export interface RegistryRef {
  transport: 'docker';
  /** Host as written, after normalisation ("docker.io", "localhost:5000"). */
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

export type ImageReference =
  | { transport: 'oci'; path: string; tag?: string }
  | { transport: 'oci-archive'; path: string; tag?: string }
  | { transport: 'docker-archive'; path: string; name?: string }
  | { transport: 'docker-daemon'; name: string }
  | RegistryRef;

const digestRe = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const tagRe = /^[\w][\w.-]{0,127}$/;
const pathComponentRe = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;

/** Splits "PATH[:SUFFIX]" where the suffix cannot contain a slash (so "./a:b/c" is all path). */
function splitPathSuffix(s: string): { path: string; suffix?: string } {
  const i = s.lastIndexOf(':');
  if (i > 0 && !s.slice(i + 1).includes('/')) return { path: s.slice(0, i), suffix: s.slice(i + 1) || undefined };
  return { path: s };
}

export function parseReference(input: string): ImageReference {
  const ref = input.trim();
  if (ref === '') throw new ImageError('empty image reference: give an image such as "busybox", "oci:DIR:TAG" or "docker-archive:FILE"');
  const colon = ref.indexOf(':');
  const scheme = colon > 0 ? ref.slice(0, colon) : '';
  const rest = ref.slice(colon + 1);
  switch (scheme) {
    case 'oci':
    case 'oci-archive': {
      const { path, suffix } = splitPathSuffix(rest);
      if (!path) throw new ImageError(`image reference "${input}" names no path: write ${scheme}:PATH[:TAG]`);
      if (suffix !== undefined && !tagRe.test(suffix)) throw new ImageError(`image reference "${input}": "${suffix}" is not a valid tag`);
      return suffix === undefined ? { transport: scheme, path } : { transport: scheme, path, tag: suffix };
    }
    case 'docker-archive': {
      // FILE[:NAME] where NAME itself may hold a colon (repo:tag): split at
      // the first colon after the last slash of the file part.
      const m = /^([^:]+)(?::(.+))?$/.exec(rest);
      if (!m?.[1]) throw new ImageError(`image reference "${input}" names no file: write docker-archive:FILE[:NAME]`);
      return m[2] ? { transport: 'docker-archive', path: m[1], name: m[2] } : { transport: 'docker-archive', path: m[1] };
    }
    case 'docker-daemon': {
      if (!rest) throw new ImageError(`image reference "${input}" names no image: write docker-daemon:NAME[:TAG]`);
      parseRegistryReference(rest, input); // validates the name
      return { transport: 'docker-daemon', name: rest };
    }
    case 'docker':
      if (!rest.startsWith('//')) throw new ImageError(`image reference "${input}": write docker://REF (two slashes)`);
      return parseRegistryReference(rest.slice(2), input);
    default:
      return parseRegistryReference(ref, input);
  }
}

/** Docker's reference grammar with docker.io/library normalisation. */
export function parseRegistryReference(ref: string, original = ref): RegistryRef {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!digestRe.test(digest)) throw new ImageError(`image reference "${original}": "${digest}" is not a digest (expected sha256:<64 hex digits>)`);
    if (digest.startsWith('sha256:') && !/^sha256:[0-9a-f]{64}$/.test(digest)) {
      throw new ImageError(`image reference "${original}": "${digest}" is not a sha256 digest (64 lowercase hex digits)`);
    }
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > lastSlash) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!tagRe.test(tag)) throw new ImageError(`image reference "${original}": "${tag}" is not a valid tag`);
  }
  const parts = rest.split('/');
  let registry = 'docker.io';
  const first = parts[0] ?? '';
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    registry = first;
    parts.shift();
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = 'docker.io';
  if (registry === 'docker.io' && parts.length === 1) parts.unshift('library');
  if (parts.length === 0 || parts.some((p) => !pathComponentRe.test(p))) {
    throw new ImageError(`image reference "${original}" is not a valid image name (lowercase letters, digits and separators; e.g. "busybox:1.36" or "ghcr.io/owner/repo:tag")`);
  }
  const out: RegistryRef = { transport: 'docker', registry, repository: parts.join('/') };
  if (digest) out.digest = digest;
  if (tag || !digest) out.tag = tag ?? 'latest';
  return out;
}

export function formatRegistryRef(r: RegistryRef): string {
  return `${r.registry}/${r.repository}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}

export function formatReference(r: ImageReference): string {
  switch (r.transport) {
    case 'docker':
      return formatRegistryRef(r);
    case 'oci':
    case 'oci-archive':
      return `${r.transport}:${r.path}${r.tag ? `:${r.tag}` : ''}`;
    case 'docker-archive':
      return `docker-archive:${r.path}${r.name ? `:${r.name}` : ''}`;
    case 'docker-daemon':
      return `docker-daemon:${r.name}`;
  }
}
