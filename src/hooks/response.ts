// The response file: the runner creates it empty before every command and,
// after the hook exits 0, reads one JSON object from it (Newtonsoft, so one
// object, camelCase names). `state` comes back with every later command;
// prepare_job must also say `isAlpine` (the runner picks the Node.js it
// runs JavaScript actions with from it) and may give `context`: the job
// container's id (job.container.id) and one entry per service container,
// in the order they were asked for (the runner indexes them by position, so
// `services` must be present, empty when there are none).
import { constants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { VmstepError } from '../engine/errors.js';
import type { HookState } from './input.js';

export interface ResponseContainer {
  id: string;
  network?: string;
  ports: Record<string, string>;
}

export interface PrepareJobResponse {
  state: HookState;
  context: { container: ResponseContainer; services: ResponseContainer[] };
  isAlpine: boolean;
}

export interface StepResponse {
  state: HookState;
}

/**
 * Writes `response` to the file the runner named. The file must be there
 * (the runner made it) and be a regular file: the hook never creates a file
 * elsewhere or writes through a link on the runner's behalf.
 */
export async function writeResponseFile(path: string, response: PrepareJobResponse | StepResponse): Promise<void> {
  const st = await lstat(path).catch(() => null);
  if (!st || !st.isFile()) {
    throw new VmstepError(`the response file ${path} ${st ? 'is not a regular file' : 'does not exist'}`, 'the runner creates it, empty, before it runs the hook; when replaying, create it first');
  }
  const fh = await open(path, constants.O_WRONLY | constants.O_TRUNC | constants.O_NOFOLLOW);
  try {
    await fh.writeFile(`${JSON.stringify(response)}\n`);
  } finally {
    await fh.close();
  }
}
