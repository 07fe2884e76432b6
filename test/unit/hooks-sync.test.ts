// The workspace sync: from the guest's listing and the manifest of the last
// sync, what to fetch and what to remove; writing what the guest sends only
// beneath the host root; the host walk that feeds the copy into the VM.
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, symlinkSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { diffTree, manifestOf, readManifest, relativeToRoot, removeEntry, walkHostTree, writeEntry, writeManifest, type EntryMeta } from '../../src/hooks/sync.js';

const dir = (path: string, mtime = 1n): EntryMeta => ({ path, type: 'dir', mode: 0o755, size: 0, mtimeNs: mtime });
const file = (path: string, size = 3, mtime = 1n): EntryMeta => ({ path, type: 'file', mode: 0o644, size, mtimeNs: mtime });

describe('diffTree', () => {
  const before = [dir('src'), file('src/a.ts'), file('src/b.ts'), dir('docs'), file('docs/x.md'), file('README')];

  it('finds nothing to do for a tree that did not change, however large', () => {
    const big = [dir('d'), ...Array.from({ length: 50_000 }, (_, i) => file(`d/f${i}`))];
    const d = diffTree(manifestOf(big), big);
    expect(d).toEqual({ fetch: [], remove: [], changed: new Set() });
  });

  it('fetches new and changed files, a new directory as one fetch, and removes deleted ones top-most only', () => {
    const after = [
      dir('src', 2n),
      file('src/a.ts', 9, 2n), // changed
      // src/b.ts deleted
      // docs deleted with its file
      file('README'),
      dir('build', 3n), // new tree: one fetch
      dir('build/out', 3n),
      file('build/out/app', 100, 3n),
      file('NEW', 1, 4n),
    ];
    const d = diffTree(manifestOf(before), after);
    expect(d.fetch).toEqual(['src/a.ts', 'build', 'NEW']);
    expect(d.remove.sort()).toEqual(['docs', 'src/b.ts']);
    expect([...d.changed].sort()).toEqual(['NEW', 'build', 'build/out', 'build/out/app', 'src/a.ts']);
  });

  it('replaces an entry whose type changed: removed first, then fetched', () => {
    const after = [dir('src'), file('src/a.ts'), file('src/b.ts'), file('docs', 5, 9n), file('README')];
    const d = diffTree(manifestOf(before), after);
    expect(d.fetch).toEqual(['docs']);
    expect(d.remove).toEqual(['docs']);
  });

  it('strips the root\'s own name from a listing', () => {
    expect(relativeToRoot([dir('repo'), file('repo/a'), dir('repo/b')]).map((e) => e.path)).toEqual(['a', 'b']);
  });
});

describe('writing what the guest sends', () => {
  const root = () => mkdtempSync(join(tmpdir(), 'vmstep-hooks-sync-'));

  it('writes files, directories and links with their modes and replaces what was there', async () => {
    const r = root();
    writeFileSync(join(r, 'old'), 'x');
    await writeEntry(r, 'a/b', { ...dir('a/b'), mode: 0o700 });
    await writeEntry(r, 'a/b/f', { ...file('a/b/f', 5), mode: 0o4755, data: Readable.from([Buffer.from('hello')]) });
    await writeEntry(r, 'old', { path: 'old', type: 'symlink', mode: 0o777, size: 0, linkTarget: '../../etc/passwd' });
    expect(readFileSync(join(r, 'a/b/f'), 'utf8')).toBe('hello');
    expect(lstatSync(join(r, 'a/b/f')).mode & 0o7777).toBe(0o755);
    expect(readlinkSync(join(r, 'old'))).toBe('../../etc/passwd');
  });

  it('never writes through a link the guest made, nor outside the root', async () => {
    const r = root();
    const outside = root();
    symlinkSync(outside, join(r, 'link'));
    await writeEntry(r, 'link/escape', { ...file('link/escape', 1), data: Readable.from([Buffer.from('x')]) });
    expect(existsSync(join(outside, 'escape'))).toBe(false);
    expect(lstatSync(join(r, 'link')).isDirectory()).toBe(true);
    await expect(writeEntry(r, '../up', file('../up', 0))).rejects.toThrow(/not a plain relative path/);
    await expect(writeEntry(r, '/abs', file('/abs', 0))).rejects.toThrow(/not a plain relative path/);
  });

  it('removes an entry but never beneath a link', async () => {
    const r = root();
    const outside = root();
    writeFileSync(join(outside, 'keep'), 'k');
    symlinkSync(outside, join(r, 'link'));
    await removeEntry(r, 'link/keep');
    expect(existsSync(join(outside, 'keep'))).toBe(true);
    await removeEntry(r, 'link');
    expect(existsSync(join(r, 'link'))).toBe(false);
    expect(existsSync(join(outside, 'keep'))).toBe(true);
  });
});

describe('walkHostTree', () => {
  it('sends everything the first time, only what changed (with its parents) next time, and nothing for an unchanged tree', async () => {
    const r = mkdtempSync(join(tmpdir(), 'vmstep-hooks-walk-'));
    mkdirSync(join(r, 'a/b'), { recursive: true });
    writeFileSync(join(r, 'a/b/f'), 'one');
    writeFileSync(join(r, 'top'), 'two');
    mkdirSync(join(r, '_runner_hook_responses'));
    writeFileSync(join(r, '_runner_hook_responses/x.json'), '');
    const skip = (rel: string) => rel === '_runner_hook_responses';
    const first = await walkHostTree(r, new Map(), skip);
    expect(first.entries.map((e) => e.path)).toEqual(['a', 'a/b', 'a/b/f', 'top']);
    for (const e of first.entries) e.data?.resume();
    const again = await walkHostTree(r, first.manifest, skip);
    expect(again.entries).toEqual([]);
    writeFileSync(join(r, 'a/b/f'), 'three');
    utimesSync(join(r, 'a/b/f'), new Date(), new Date(Date.now() + 5000));
    const third = await walkHostTree(r, first.manifest, skip);
    expect(third.entries.map((e) => e.path)).toEqual(['a', 'a/b', 'a/b/f']);
    const chunks: Buffer[] = [];
    for await (const c of third.entries[2]!.data!) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('three');
  });

  it('keeps the manifest across processes', async () => {
    const r = mkdtempSync(join(tmpdir(), 'vmstep-hooks-manifest-'));
    const m = manifestOf([dir('x'), file('x/y', 4, 123456789012345678n)]);
    await writeManifest(join(r, 'm.json'), m);
    expect(await readManifest(join(r, 'm.json'))).toEqual(m);
    expect(await readManifest(join(r, 'none.json'))).toEqual(new Map());
  });
});
