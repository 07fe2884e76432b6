// The benchmark report as one pull-request comment per workflow, edited in
// place on every push instead of a new one each time. The comment is found
// again by a hidden marker (an HTML comment naming the workflow) at the top
// of its body. Commenting is a courtesy beside the gate: a token that may
// not write (every pull request from a fork gets a read-only one) or an API
// that fails is one warning line, never a failed step.
import { readFileSync } from 'node:fs';
import { Octokit } from '@octokit/core';
import { restEndpointMethods } from '@octokit/plugin-rest-endpoint-methods';

const RestClient = Octokit.plugin(restEndpointMethods);

/** GitHub refuses comment bodies over 65,536 characters. */
export const MAX_COMMENT_CHARS = 65_536;
/** Pages of 100 comments searched for the marker: a pull request with more than 3,000 comments gets a new one. */
const MAX_PAGES = 30;

export interface PullRequest {
  owner: string;
  repo: string;
  number: number;
}

export interface CommentOutcome {
  action: 'created' | 'updated' | 'skipped';
  /** The comment's address, where one was written. */
  url?: string;
  /** One line for the log when nothing was written. */
  warning?: string;
}

/** The hidden line that finds this workflow's comment again; the name cannot close the HTML comment. */
export function commentMarker(workflow: string): string {
  const name = workflow.replace(/--+/g, '-').replace(/[<>"\r\n]/g, ' ').trim().slice(0, 200) || 'workflow';
  return `<!-- vmstep-bench-comment workflow="${name}" -->`;
}

/**
 * The pull request this job runs for: the event payload's pull_request
 * (pull_request, pull_request_target), else a refs/pull/N/ ref; null outside
 * a pull request.
 */
export function pullRequestOf(env: NodeJS.ProcessEnv): PullRequest | null {
  const [owner, repo] = (env.GITHUB_REPOSITORY ?? '').split('/');
  if (!owner || !repo) return null;
  let number: number | null = null;
  if (env.GITHUB_EVENT_PATH) {
    try {
      const event = JSON.parse(readFileSync(env.GITHUB_EVENT_PATH, 'utf8')) as { pull_request?: { number?: unknown } };
      if (typeof event.pull_request?.number === 'number') number = event.pull_request.number;
    } catch {
      // An unreadable payload leaves the ref to tell.
    }
  }
  const ref = /^refs\/pull\/(\d+)\//.exec(env.GITHUB_REF ?? '');
  if (number === null && ref) number = Number(ref[1]);
  return number !== null && Number.isSafeInteger(number) && number > 0 ? { owner, repo, number } : null;
}

/** The comment's body: marker, report, cut to GitHub's limit with a line that says so. */
export function commentBody(marker: string, report: string): string {
  const body = `${marker}\n${report}`;
  if (body.length <= MAX_COMMENT_CHARS) return body;
  const note = '\n\n_The report was cut to fit a comment; all of it is in the job summary and the artifact._\n';
  return body.slice(0, MAX_COMMENT_CHARS - note.length) + note;
}

export interface CommentOptions {
  token: string;
  pullRequest: PullRequest;
  workflow: string;
  report: string;
  /** GITHUB_API_URL: GitHub Enterprise Server and tests point elsewhere. */
  apiUrl?: string;
}

export async function upsertPullRequestComment(o: CommentOptions): Promise<CommentOutcome> {
  const pr = o.pullRequest;
  const where = `pull request #${pr.number}`;
  if (o.token.trim() === '') return { action: 'skipped', warning: `not commenting on ${where}: input "github-token" is empty (it defaults to the job's token)` };
  const client = new RestClient({ auth: o.token, baseUrl: (o.apiUrl || 'https://api.github.com').replace(/\/+$/, ''), userAgent: 'vmstep' });
  const marker = commentMarker(o.workflow);
  const body = commentBody(marker, o.report);
  try {
    let existing: number | null = null;
    for (let page = 1; page <= MAX_PAGES && existing === null; page++) {
      const { data } = await client.rest.issues.listComments({ owner: pr.owner, repo: pr.repo, issue_number: pr.number, per_page: 100, page });
      existing = data.find((c) => c.body?.startsWith(marker))?.id ?? null;
      if (data.length < 100) break;
    }
    if (existing !== null) {
      const { data } = await client.rest.issues.updateComment({ owner: pr.owner, repo: pr.repo, comment_id: existing, body });
      return { action: 'updated', url: data.html_url };
    }
    const { data } = await client.rest.issues.createComment({ owner: pr.owner, repo: pr.repo, issue_number: pr.number, body });
    return { action: 'created', url: data.html_url };
  } catch (err) {
    const status = (err as { status?: number }).status;
    if (status === 403 || status === 404) {
      return {
        action: 'skipped',
        warning:
          `not commenting on ${where}: the token may not write comments (HTTP ${status}; pull requests from forks get a read-only token). ` +
          'Give the job "permissions: pull-requests: write", or comment from a workflow_run workflow (see the README)',
      };
    }
    const why = status ? `HTTP ${status}: ${(err as Error).message}` : (err as Error).message;
    return { action: 'skipped', warning: `not commenting on ${where}: the GitHub API failed (${why.slice(0, 300)})` };
  }
}
