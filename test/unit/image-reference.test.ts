import { describe, expect, it } from 'vitest';
import { parseReference, formatReference } from '../../src/image/reference.js';

describe('image references', () => {
  it('normalises a bare Docker Hub name to docker.io/library/NAME:latest', () => {
    expect(parseReference('busybox')).toEqual({ transport: 'docker', registry: 'docker.io', repository: 'library/busybox', tag: 'latest' });
    expect(formatReference(parseReference('busybox'))).toBe('docker.io/library/busybox:latest');
    expect(formatReference(parseReference('user/app:1.2'))).toBe('docker.io/user/app:1.2');
  });

  it('keeps a registry host with a port and a digest', () => {
    const d = `sha256:${'a'.repeat(64)}`;
    expect(parseReference(`docker://localhost:5000/team/app@${d}`)).toEqual({ transport: 'docker', registry: 'localhost:5000', repository: 'team/app', digest: d });
    expect(parseReference(`ghcr.io/o/r:v1@${d}`)).toEqual({ transport: 'docker', registry: 'ghcr.io', repository: 'o/r', tag: 'v1', digest: d });
  });

  it('parses the local transports with optional tags and names', () => {
    expect(parseReference('oci:/tmp/layout:v2')).toEqual({ transport: 'oci', path: '/tmp/layout', tag: 'v2' });
    expect(parseReference('oci:./a:b/layout')).toEqual({ transport: 'oci', path: './a:b/layout' });
    expect(parseReference('oci-archive:img.tar')).toEqual({ transport: 'oci-archive', path: 'img.tar' });
    expect(parseReference('docker-archive:/x/img.tar:app:1')).toEqual({ transport: 'docker-archive', path: '/x/img.tar', name: 'app:1' });
    expect(parseReference('docker-daemon:alpine:3')).toEqual({ transport: 'docker-daemon', name: 'alpine:3' });
  });

  it('rejects malformed references with a message naming the problem', () => {
    expect(() => parseReference('')).toThrow(/empty image reference/);
    expect(() => parseReference('Busybox')).toThrow(/not a valid image name/);
    expect(() => parseReference('busybox@sha256:123')).toThrow(/not a sha256 digest/);
    expect(() => parseReference('docker:busybox')).toThrow(/docker:\/\/REF/);
    expect(() => parseReference('oci:')).toThrow(/names no path/);
  });
});
