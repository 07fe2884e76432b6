// Decompression bombs: a small layer blob that expands to 1 GiB of zeros
// must stream through in bounded memory, whatever the codec (the reader of
// the tar is slow on purpose, so a decoder that ignores back-pressure piles
// its output up in memory).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { openLayerTar } from '../../src/image/decompress.js';
import { resolveImage } from '../../src/image/index.js';
import { putBlob, sha256 } from '../fixtures/oci-images.js';
import { fileHeader } from '../fixtures/tar-writer.js';
import { tempDir } from '../helpers/images.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const GiB = 2 ** 30;

/** A tar holding one file of 1 GiB of zeros, compressed by the codec's CLI (made outside this process, so its memory is not counted). */
function bomb(codec: 'gzip' | 'zstd', dir: string): Buffer {
  mkdirSync(dir, { recursive: true });
  const head = join(dir, 'header');
  writeFileSync(head, fileHeader('zeros', GiB));
  const cmd = codec === 'gzip' ? 'gzip -1 -c' : 'zstd -q -3 -c';
  return execFileSync('sh', ['-c', `(cat "$1"; head -c ${GiB} /dev/zero; head -c 1024 /dev/zero) | ${cmd}`, 'sh', head], { maxBuffer: 64 << 20 });
}

function layout(dir: string, blob: Buffer, codec: string): void {
  mkdirSync(dir, { recursive: true });
  const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [`sha256:${'0'.repeat(64)}`] } }));
  putBlob(dir, cfg);
  putBlob(dir, blob);
  const m = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(cfg), size: cfg.length },
    layers: [{ mediaType: `application/vnd.oci.image.layer.v1.tar+${codec}`, digest: sha256(blob), size: blob.length }],
  }));
  putBlob(dir, m);
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(m), size: m.length }] }));
}

describe('decompression bombs stream in bounded memory', () => {
  for (const codec of ['zstd', 'gzip'] as const) {
    it(`a ${codec} layer of 1 GiB of zeros decompresses with under 128 MiB of memory growth`, async () => {
      const dir = join(tmp.path, codec);
      const blob = bomb(codec, join(tmp.path, `${codec}-src`));
      expect(blob.length).toBeLessThan(8 << 20);
      layout(dir, blob, codec);
      const image = await resolveImage(`oci:${dir}`);
      global.gc?.();
      const base = process.memoryUsage().rss;
      let peak = base;
      const layer = await openLayerTar(await image.layers[0]!.open(), { what: 'bomb' });
      let bytes = 0;
      let chunks = 0;
      for await (const c of layer.tar) {
        bytes += c.length;
        // A slow reader: the decoder must wait for it rather than buffer ahead.
        peak = Math.max(peak, process.memoryUsage().rss);
        if (++chunks % 16 === 0) await tick();
      }
      await layer.finish();
      expect(bytes).toBeGreaterThanOrEqual(GiB);
      expect(peak - base).toBeLessThan(128 << 20);
    }, 180_000);
  }
});

describe('the pure-JS zstd decoder (Node 20) walks the framing itself', () => {
  it('decodes several frames, with and without checksums, around a skippable frame, to the same bytes', async () => {
    const { randomBytes } = await import('node:crypto');
    const { Readable } = await import('node:stream');
    const { pureJsZstdDecompressor: zstdDecompressor } = await import('../../src/image/decompress.js');
    const a = Buffer.concat([randomBytes(300_000), Buffer.alloc(300_000, 7)]);
    const b = randomBytes(70_000);
    const skippable = Buffer.alloc(12);
    skippable.writeUInt32LE(0x184d2a53, 0);
    skippable.writeUInt32LE(4, 4);
    const blob = Buffer.concat([
      execFileSync('zstd', ['-q', '-c', '-3'], { input: a }),
      skippable,
      execFileSync('zstd', ['-q', '-c', '--no-check', '-19'], { input: b }),
    ]);
    // Fed in awkward pieces, so every header also arrives split.
    const pieces = Array.from({ length: Math.ceil(blob.length / 7) }, (_, i) => blob.subarray(i * 7, i * 7 + 7));
    const out: Buffer[] = [];
    for await (const c of Readable.from(pieces).pipe(zstdDecompressor())) out.push(c as Buffer);
    expect(Buffer.concat(out).equals(Buffer.concat([a, b]))).toBe(true);
  });

  it('refuses a frame that asks for a window over 128 MiB', async () => {
    const { Readable } = await import('node:stream');
    const { pureJsZstdDecompressor: zstdDecompressor } = await import('../../src/image/decompress.js');
    // Frame header: magic, descriptor (no single segment, no checksum), window descriptor 2^(10+21) = 2 GiB.
    const frame = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 21 << 3, 0x01, 0x00, 0x00]);
    const read = async () => {
      for await (const _ of Readable.from([frame]).pipe(zstdDecompressor())) void _;
    };
    await expect(read()).rejects.toThrow(/zstd frame asks for a 2147483648-byte window, more than the 134217728 bytes/);
  });
});
