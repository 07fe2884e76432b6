// The history file on disk, for both faces: read (a missing file is a new,
// empty history where the caller says so) and written atomically.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { type History, HistoryFileError, emptyHistory, parseHistory, serializeHistory } from '../bench/history.js';
import { VmstepError } from './errors.js';

export function readHistoryFile(path: string, o: { missing: 'empty' | 'error'; fix: string }): History {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && o.missing === 'empty') return emptyHistory();
    throw new VmstepError(`cannot read the history file ${path} (${code ?? (err as Error).message})`, o.fix, { cause: err });
  }
  try {
    return parseHistory(bytes, path);
  } catch (err) {
    if (err instanceof HistoryFileError) throw new VmstepError(err.message, o.fix, { cause: err });
    throw err;
  }
}

/** Written beside itself and renamed over: a run cut short never leaves half a history. */
export function writeHistoryFile(path: string, history: History): void {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(temp, serializeHistory(history));
    renameSync(temp, path);
  } catch (err) {
    rmSync(temp, { force: true });
    throw new VmstepError(`cannot write the history file ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, 'make its directory writable, or point history-file elsewhere', { cause: err });
  }
}
