// @ts-check
// The built-in demo image, written as an OCI image layout without Docker:
// busybox-static and demo/bench.sh in one gzip'd layer. Cached like every
// other build, keyed by its inputs.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { cachedBuild, hashInputs } from './cache.mjs';
import { toolVersion } from './deps.mjs';

const applets = ['sh', 'echo', 'cat', 'ls', 'mkdir', 'head', 'sha256sum', 'date', 'awk', 'uname', 'nproc', 'sleep', 'env', 'true', 'false'];

/** @param {Buffer} bytes */
const digestOf = (bytes) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** @param {string} layout @param {Buffer} bytes */
function writeBlob(layout, bytes) {
  const digest = digestOf(bytes);
  writeFileSync(join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length)), bytes);
  return { digest, size: bytes.length };
}

/** Returns the directory of the demo image's OCI layout (use it as `oci:DIR`). */
export function demoImage() {
  return cachedBuild({
    name: 'demo-image',
    hash: hashInputs(['demo', 'scripts/lib/demo-image.mjs'], [toolVersion('busybox', ['--help'])]),
    build: (out) => {
      const stage = mkdtempSync(join(tmpdir(), 'vmstep-demo-'));
      try {
        mkdirSync(join(stage, 'bin'));
        mkdirSync(join(stage, 'demo'));
        mkdirSync(join(stage, 'tmp'), { mode: 0o1777 });
        copyFileSync('/bin/busybox', join(stage, 'bin', 'busybox'));
        for (const a of applets) symlinkSync('busybox', join(stage, 'bin', a));
        copyFileSync(join(import.meta.dirname, '..', '..', 'demo', 'bench.sh'), join(stage, 'demo', 'bench.sh'));
        execFileSync('chmod', ['0755', join(stage, 'bin', 'busybox'), join(stage, 'demo', 'bench.sh')]);
        const tar = execFileSync('tar', ['-C', stage, '--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-cf', '-', '.'], { maxBuffer: 1 << 28 });
        mkdirSync(join(out, 'blobs', 'sha256'), { recursive: true });
        const layer = writeBlob(out, gzipSync(tar, { level: 6 }));
        const config = writeBlob(out, Buffer.from(JSON.stringify({
          architecture: 'amd64',
          os: 'linux',
          config: { Cmd: ['/bin/sh', '/demo/bench.sh'], Env: ['PATH=/bin'], WorkingDir: '/' },
          rootfs: { type: 'layers', diff_ids: [digestOf(tar)] },
        })));
        const manifest = writeBlob(out, Buffer.from(JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
          layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
        })));
        writeFileSync(join(out, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
        writeFileSync(join(out, 'index.json'), JSON.stringify({
          schemaVersion: 2,
          manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }],
        }));
      } finally {
        rmSync(stage, { recursive: true, force: true });
      }
    },
  });
}

