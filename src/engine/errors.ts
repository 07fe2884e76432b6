// vmstep's own failures, as opposed to the command's: every one says what
// went wrong and how to fix it, and ends the CLI with exit status 125 (as
// `docker run` does), so that scripts can tell "vmstep broke" from "the
// command failed".

/** Exit status when the time limit ended the command (as coreutils' timeout). */
export const EXIT_TIMEOUT = 124;
/** Exit status when vmstep itself failed (as docker run). */
export const EXIT_VMSTEP_FAILED = 125;

export class VmstepError extends Error {
  override name = 'VmstepError';
  /** What the user can do about it; may be empty when nothing obvious helps. */
  readonly fix: string;

  constructor(message: string, fix: string, options?: { cause?: unknown }) {
    super(message, options);
    this.fix = fix;
  }

  /** One line for a person: "<what went wrong>; <fix>". */
  oneLine(): string {
    return oneLine(this.fix ? `${trimDot(this.message)}; ${this.fix}` : this.message);
  }
}

function trimDot(s: string): string {
  return s.replace(/[.\s]+$/, '');
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * Any thrown value as a VmstepError. Errors from the image, rootfs, VM and
 * guest modules already name the cause and fix in their message; anything
 * else (a bug, an unexpected system error) keeps its message and says so.
 */
export function toVmstepError(err: unknown): VmstepError {
  if (err instanceof VmstepError) return err;
  if (err instanceof Error) {
    const sys = err as NodeJS.ErrnoException;
    if (sys.code === 'ENOSPC') {
      return new VmstepError(`no space left on the device (${err.message})`, 'free disk space, or run `vmstep cache prune`', { cause: err });
    }
    // A raw "EACCES: permission denied, mkdtemp ..." names the path but not
    // what to do. vmstep reads what the user names (images, env files,
    // kernels) and writes where the user points it (the temp dir for
    // scratch, the cache, the output directory).
    if ((sys.code === 'EACCES' || sys.code === 'EPERM' || sys.code === 'EROFS') && sys.path) {
      const what = sys.code === 'EROFS' ? 'read-only file system' : 'permission denied';
      const reading = sys.syscall === 'stat' || sys.syscall === 'lstat' || sys.syscall === 'access' || sys.syscall === 'scandir';
      const fix = reading
        ? 'give this user access to it and to the directories above it'
        : 'give this user write access to it, or point vmstep elsewhere: TMPDIR for scratch files, VMSTEP_CACHE for the cache, --output-dir (CLI) for returned files';
      return new VmstepError(`${what}: ${sys.syscall ? `${sys.syscall} ` : ''}${sys.path}`, fix, { cause: err });
    }
    return new VmstepError(err.message || String(err), '', { cause: err });
  }
  return new VmstepError(String(err), '', { cause: err });
}

/** The one line vmstep prints when it fails. */
export function describeFailure(err: unknown): string {
  return toVmstepError(err).oneLine();
}
