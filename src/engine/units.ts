// Sizes and durations as people write them on a command line or in a
// workflow file. One parser for both faces, so `--memory 2G` and
// `memory: 2G` mean the same and fail with the same words.
import { VmstepError } from './errors.js';

// Powers of 1024 for every unit, as docker does for --memory: "512m",
// "512M", "512MB" and "512MiB" are all 512 * 2^20 bytes.
const SIZE_UNITS: Record<string, number> = {
  '': 1,
  k: 2 ** 10,
  m: 2 ** 20,
  g: 2 ** 30,
  t: 2 ** 40,
};

/**
 * Parses a size such as `512M`, `2G`, `1.5GiB`, `64m` or `1073741824` into
 * bytes. `what` names the option in the error (`--memory`, `memory`).
 */
export function parseSize(input: string | number, what: string): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input <= 0) throw badSize(String(input), what);
    return Math.floor(input);
  }
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)\s*$/i.exec(input);
  if (!m) throw badSize(input, what);
  const unit = m[2]!.toLowerCase();
  const u = /^(?:b?|([kmgt])(?:i?b)?)$/.exec(unit);
  if (!u) throw badSize(input, what);
  const scale = SIZE_UNITS[u[1] ?? '']!;
  const bytes = Math.round(Number(m[1]) * scale);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw badSize(input, what);
  return bytes;
}

function badSize(input: string, what: string): VmstepError {
  return new VmstepError(
    `${what} "${input}" is not a size`,
    'write a positive number with a unit, such as 512M, 2G or 1.5GiB (units are powers of 1024: K, M, G, T)',
  );
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a duration into milliseconds: a bare number is seconds (`30`,
 * `1.5`), or units may be combined (`500ms`, `90s`, `5m`, `1h30m`).
 */
export function parseDuration(input: string | number, what: string): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw badDuration(String(input), what);
    return Math.round(input * 1000);
  }
  const s = input.trim();
  if (/^\d+(?:\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = part.exec(s); m; m = part.exec(s)) {
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    consumed = part.lastIndex;
  }
  if (s === '' || consumed !== s.length) throw badDuration(input, what);
  return Math.round(total);
}

function badDuration(input: string, what: string): VmstepError {
  return new VmstepError(
    `${what} "${input}" is not a duration`,
    'write seconds (30, 1.5) or a number with units (500ms, 90s, 5m, 1h30m); 0 means no limit',
  );
}

/** 1536 -> "1.5 KiB"; for people, never parsed back. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  const digits = v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return `${v.toFixed(digits).replace(/\.0+$|(\.\d*?)0+$/, '$1')} ${units[i]}`;
}

/**
 * 1234 -> "1.23 s", 87 -> "87 ms", 25000 -> "25 s", 300000 -> "5 min"; for
 * people, never parsed back. No trailing zeros: a limit the user wrote as 25
 * reads back as "25 s", not "25.00 s".
 */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2).replace(/\.?0+$/, '')} s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return s === 0 ? `${m} min` : `${m} min ${s} s`;
}
