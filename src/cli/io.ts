// What a CLI command touches, passed in so tests can drive main() with
// captured streams, their own environment, and a stand-in for the engine.
import type { Readable } from 'node:stream';
import { runImage } from '../engine/run.js';
import { formatMs } from '../engine/units.js';
import type { Phase } from '../engine/types.js';

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** The engine; tests pass a stand-in, production the real one. */
  runImage: typeof runImage;
  /** Aborted on Ctrl-C / SIGTERM. */
  signal?: AbortSignal;
  /** vmstep's own stdin, for `run -i` (a function: process.stdin must not be touched unless asked for). */
  stdin?: () => Readable;
}

export function defaultIo(signal?: AbortSignal): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd(), runImage, stdin: () => process.stdin, ...(signal ? { signal } : {}) };
}

const PHASE_LABEL: Record<Phase, string> = {
  image: 'image',
  rootfs: 'rootfs',
  volumes: 'volumes',
  boot: 'boot',
  command: 'command',
};

/** "vmstep: image   docker.io/library/alpine:3.20 sha256:… (812 ms)" */
export function phaseLine(phase: Phase, ms: number, detail: string): string {
  return `vmstep: ${PHASE_LABEL[phase].padEnd(7)} ${detail} (${formatMs(ms)})\n`;
}
