// A lock file per cache entry, so that concurrent runs on one host build an
// entry once: created with O_EXCL, holding the owner's pid. A lock whose
// owner is gone (crashed, killed) is taken over; a live owner is waited for.
import { open, readFile, rm, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface Lock {
  release(): Promise<void>;
}

export async function acquireLock(path: string, opts: { timeoutMs?: number; what?: string } = {}): Promise<Lock> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60 * 60_000);
  for (let delay = 20; ; delay = Math.min(delay * 2, 500)) {
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      return { release: () => rm(path, { force: true }) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    const st = await stat(path).catch(() => null);
    // An empty lock younger than a second is one being written right now.
    const young = st ? Date.now() - st.mtimeMs < 1000 : false;
    if (st && !(owner === 0 && young) && !processAlive(owner)) {
      await rm(path, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for process ${owner} to finish ${opts.what ?? 'its work'} (lock ${path}); if no vmstep is running, remove that file`);
    await sleep(delay);
  }
}
