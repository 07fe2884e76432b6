// Uploading the returned files (and the run's logs and result) as a workflow
// artifact. Only possible inside a GitHub Actions job, which provides
// ACTIONS_RUNTIME_TOKEN; elsewhere (act, a self-made runner harness, tests)
// the upload is skipped with a notice and the files stay on disk.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as core from '@actions/core';
import { DefaultArtifactClient } from '@actions/artifact';

export type ArtifactUploader = (name: string, files: string[], rootDirectory: string) => Promise<{ id?: number }>;

export const uploadWithActionsArtifact: ArtifactUploader = async (name, files, rootDirectory) => {
  const response = await new DefaultArtifactClient().uploadArtifact(name, files, rootDirectory);
  return response.id !== undefined ? { id: response.id } : {};
};

export function canUploadArtifacts(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.ACTIONS_RUNTIME_TOKEN && env.ACTIONS_RESULTS_URL);
}

/** The artifact's page, when the run can be named. */
export function artifactUrl(env: NodeJS.ProcessEnv, id: number | undefined): string | undefined {
  if (id === undefined || !env.GITHUB_REPOSITORY || !env.GITHUB_RUN_ID) return undefined;
  return `${env.GITHUB_SERVER_URL ?? 'https://github.com'}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}/artifacts/${id}`;
}

/** What became of the artifact, for the job summary. */
export interface ArtifactReport {
  name: string;
  uploaded: boolean;
  url?: string;
}

/**
 * Uploads `files` (below `dir`) as the artifact `name`, or says why not: a
 * notice outside GitHub Actions, a warning when the upload fails. The run
 * itself went well either way, so neither fails the step.
 */
export async function uploadArtifact(name: string, dir: string, files: string[], env: NodeJS.ProcessEnv, upload: ArtifactUploader): Promise<ArtifactReport> {
  if (!canUploadArtifacts(env)) {
    core.notice(`vmstep: artifact upload skipped: not running on GitHub Actions (no ACTIONS_RUNTIME_TOKEN); the files are in ${dir}`);
    return { name, uploaded: false };
  }
  try {
    const { id } = await upload(name, files, dir);
    const url = artifactUrl(env, id);
    core.info(`vmstep: uploaded ${files.length} files as the artifact "${name}"${url ? ` (${url})` : ''}`);
    return { name, uploaded: true, ...(url ? { url } : {}) };
  } catch (e) {
    core.warning(`vmstep: uploading the artifact "${name}" failed: ${(e as Error).message}; the files are in ${dir}`);
    return { name, uploaded: false };
  }
}

/** Every regular file below `dir`. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p, { throwIfNoEntry: false });
    if (st?.isDirectory()) out.push(...listFiles(p));
    else if (st?.isFile()) out.push(p);
  }
  return out;
}
