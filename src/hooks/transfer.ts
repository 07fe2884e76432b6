// The syncs between the runner's host directories and a job's VM, on top of
// the diff in sync.ts: the runner's _temp into the VM before a step (only
// what changed since the last push), the file command files and the
// workspace's changes back after it.
import { lstat, mkdir } from 'node:fs/promises';
import { posix } from 'node:path';
import { diffTree, manifestOf, readManifest, relativeToRoot, removeEntry, walkHostTree, writeEntry, writeManifest, type TransferEntry } from './sync.js';
import { HOOK_RESPONSES_DIR } from './mounts.js';
import type { HookVms } from './vms.js';

/** Past this many separate fetches, one GET of the whole tree (writing only what changed) costs less than a session each. */
const MANY_FETCHES = 64;

/** Drops the first component: GET /x/NAME names entries NAME/...; the root itself yields ''. */
function stripRoot(path: string): string {
  const slash = path.indexOf('/');
  return slash < 0 ? '' : path.slice(slash + 1);
}

async function drain(e: TransferEntry): Promise<void> {
  if (e.data) for await (const _ of e.data) void _;
}

/** Pushes what changed in the host tree since the last push (manifest at manifestPath) into the VM. */
export async function pushHostTree(vms: HookVms, id: string, hostRoot: string, guestRoot: string, manifestPath: string): Promise<number> {
  const previous = await readManifest(manifestPath);
  const walk = await walkHostTree(hostRoot, previous, (rel) => rel === HOOK_RESPONSES_DIR);
  if (walk.entries.length > 0) await vms.put(id, guestRoot, walk.entries);
  await writeManifest(manifestPath, walk.manifest);
  return walk.entries.length;
}

/** Records the host tree as pushed (after a copy in that made host and guest the same). */
export async function recordHostTree(hostRoot: string, manifestPath: string): Promise<void> {
  const walk = await walkHostTree(hostRoot, new Map(), (rel) => rel === HOOK_RESPONSES_DIR);
  await writeManifest(manifestPath, walk.manifest);
}

/** Records the VM's tree as synced (after a copy in that made host and guest the same). */
export async function recordGuestTree(vms: HookVms, id: string, guestRoot: string, manifestPath: string): Promise<void> {
  const listing = (await vms.list(id, guestRoot)) ?? [];
  await writeManifest(manifestPath, manifestOf(relativeToRoot(listing)));
}

export interface SyncBackResult {
  fetched: number;
  removed: number;
  /** The top-most paths fetched and removed (relative to the root). */
  diff: { fetch: string[]; remove: string[] };
}

/**
 * Brings the VM tree's changes since the last sync to the host: the guest
 * lists it, new and changed entries are fetched, entries gone in the guest
 * are removed on the host. Everything from the guest is written only beneath
 * hostRoot (sync.ts's writeEntry).
 */
export async function syncBack(vms: HookVms, id: string, guestRoot: string, hostRoot: string, manifestPath: string): Promise<SyncBackResult> {
  const listing = (await vms.list(id, guestRoot)) ?? [];
  const current = relativeToRoot(listing);
  const diff = diffTree(await readManifest(manifestPath), current);
  await mkdir(hostRoot, { recursive: true });
  for (const rel of diff.remove) await removeEntry(hostRoot, rel);
  let fetched = 0;
  if (diff.fetch.length > MANY_FETCHES) {
    for await (const e of vms.get(id, guestRoot)) {
      const rel = stripRoot(e.path);
      if (rel !== '' && diff.changed.has(rel)) {
        await writeEntry(hostRoot, rel, e);
        fetched++;
      } else await drain(e);
    }
  } else {
    for (const p of diff.fetch) {
      const base = posix.dirname(p);
      try {
        for await (const e of vms.get(id, posix.join(guestRoot, p))) {
          await writeEntry(hostRoot, base === '.' ? e.path : posix.join(base, e.path), e);
          fetched++;
        }
      } catch (err) {
        // Removed between the listing and the fetch: the next sync removes it on the host.
        if (!/no such file/i.test(String((err as Error).message))) throw err;
      }
    }
  }
  await writeManifest(manifestPath, manifestOf(current));
  return { fetched, removed: diff.remove.length, diff: { fetch: diff.fetch, remove: diff.remove } };
}

/** Copies the files of a guest directory (the step's file command files) over the host's. */
export async function pullFiles(vms: HookVms, id: string, guestDir: string, hostDir: string): Promise<void> {
  await mkdir(hostDir, { recursive: true });
  for await (const e of vms.get(id, guestDir)) {
    const rel = stripRoot(e.path);
    if (rel !== '' && e.type === 'file' && !rel.includes('/')) await writeEntry(hostDir, rel, e);
    else await drain(e);
  }
}

/**
 * Copies the host entries at `rels` (relative to hostRoot; a directory with
 * everything beneath it) to the same places under guestRoot: how a change
 * one VM made reaches another VM of the job.
 */
export async function pushPaths(vms: HookVms, id: string, hostRoot: string, guestRoot: string, rels: readonly string[]): Promise<void> {
  for (const rel of rels) {
    const base = posix.basename(rel);
    const parentGuest = posix.join(guestRoot, posix.dirname(rel));
    const st = await lstat(posix.join(hostRoot, rel)).catch(() => null);
    if (!st) continue;
    const sub = st.isDirectory() ? await walkHostTree(posix.join(hostRoot, rel), new Map()) : null;
    // The entry itself, from a walk of its parent that skips everything else.
    const top = await walkHostTree(posix.join(hostRoot, posix.dirname(rel)), new Map(), (r) => r !== base);
    const entries: TransferEntry[] = [...top.entries, ...(sub ? sub.entries.map((e) => ({ ...e, path: `${base}/${e.path}` })) : [])];
    if (entries.length > 0) await vms.put(id, parentGuest, entries);
  }
}
