// Uploading the returned files (and the run's logs and result) as a workflow
// artifact. Only possible inside a GitHub Actions job, which provides
// ACTIONS_RUNTIME_TOKEN; elsewhere (act, a self-made runner harness, tests)
// the upload is skipped with a notice and the files stay on disk.
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
