// The pull-request comment against a local stand-in for the GitHub REST API
// (node:http on loopback): it records every call and keeps the comments it
// was given, so that a second push finds the first comment again.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MAX_COMMENT_CHARS, commentBody, commentMarker, pullRequestOf, upsertPullRequestComment } from '../../src/action/pr-comment.js';
import { type CommentsApi, startCommentsApi } from '../helpers/github-api.js';

let api: CommentsApi;
beforeAll(async () => {
  api = await startCommentsApi();
});
afterAll(() => api.close());
afterEach(() => api.reset());

const pullRequest = { owner: 'o', repo: 'r', number: 7 };
const post = (report: string, workflow = 'bench') => upsertPullRequestComment({ token: 'ghs_test', pullRequest, workflow, report, apiUrl: api.url });

describe('the pull-request comment', () => {
  it('creates one comment the first time and edits that same comment on the next push', async () => {
    // Someone else's comments come first: the marker, not the position, finds ours.
    api.comments = Array.from({ length: 120 }, (_, i) => ({ id: i + 1, body: `review comment ${i}` }));
    const first = await post('### report one\n');
    expect(first).toEqual({ action: 'created', url: 'https://github.example/o/r/pull/7#issuecomment-1120' });
    expect(api.calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      'GET /repos/o/r/issues/7/comments?per_page=100&page=1',
      'GET /repos/o/r/issues/7/comments?per_page=100&page=2',
      'POST /repos/o/r/issues/7/comments',
    ]);
    expect(api.calls.every((c) => c.auth === 'token ghs_test')).toBe(true);
    expect(api.calls[2]!.body!.body).toBe(`${commentMarker('bench')}\n### report one\n`);

    api.calls.length = 0;
    const second = await post('### report two\n');
    expect(second).toEqual({ action: 'updated', url: 'https://github.example/o/r/pull/7#issuecomment-1120' });
    expect(api.calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      'GET /repos/o/r/issues/7/comments?per_page=100&page=1',
      'GET /repos/o/r/issues/7/comments?per_page=100&page=2',
      'PATCH /repos/o/r/issues/comments/1120',
    ]);
    expect(api.comments).toHaveLength(121);
    expect(api.comments.at(-1)!.body).toBe(`${commentMarker('bench')}\n### report two\n`);
  });

  it('keeps one comment per workflow: another workflow gets its own', async () => {
    await post('nightly\n', 'nightly');
    await post('bench\n', 'bench');
    await post('bench again\n', 'bench');
    expect(api.comments.map((c) => c.body)).toEqual([`${commentMarker('nightly')}\nnightly\n`, `${commentMarker('bench')}\nbench again\n`]);
  });

  it('turns a read-only token (a pull request from a fork) into one warning line, not a failure', async () => {
    api.readOnly = true;
    const outcome = await post('report\n');
    expect(outcome.action).toBe('skipped');
    expect(outcome.warning).toBe(
      'not commenting on pull request #7: the token may not write comments (HTTP 403; pull requests from forks get a read-only token). ' +
        'Give the job "permissions: pull-requests: write", or comment from a workflow_run workflow (see the README)',
    );
    expect(outcome.warning).not.toContain('\n');
    api.refuseWith = 500;
    expect((await post('report\n')).warning).toMatch(/^not commenting on pull request #7: the GitHub API failed \(HTTP 500: /);
  });

  it('skips with a warning when the token is empty, without calling the API', async () => {
    const outcome = await upsertPullRequestComment({ token: '', pullRequest, workflow: 'bench', report: 'r', apiUrl: api.url });
    expect(outcome).toEqual({ action: 'skipped', warning: 'not commenting on pull request #7: input "github-token" is empty (it defaults to the job\'s token)' });
    expect(api.calls).toHaveLength(0);
  });
});

describe('comment pieces', () => {
  it('hides the workflow name in a marker that its own text cannot close', () => {
    expect(commentMarker('Bench --> <script>"')).toBe('<!-- vmstep-bench-comment workflow="Bench -   script" -->');
  });

  it("cuts a report to GitHub's comment limit and says so", () => {
    const body = commentBody(commentMarker('b'), 'x'.repeat(MAX_COMMENT_CHARS * 2));
    expect(body.length).toBe(MAX_COMMENT_CHARS);
    expect(body).toMatch(/The report was cut to fit a comment; all of it is in the job summary and the artifact\._\n$/);
  });

  it('finds the pull request in the event payload, else in a refs/pull ref, and none on a push', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmstep-event-'));
    try {
      const event = join(dir, 'event.json');
      writeFileSync(event, JSON.stringify({ pull_request: { number: 42 } }));
      expect(pullRequestOf({ GITHUB_REPOSITORY: 'o/r', GITHUB_EVENT_PATH: event })).toEqual({ owner: 'o', repo: 'r', number: 42 });
      expect(pullRequestOf({ GITHUB_REPOSITORY: 'o/r', GITHUB_REF: 'refs/pull/9/merge' })).toEqual({ owner: 'o', repo: 'r', number: 9 });
      writeFileSync(event, '{ not json');
      expect(pullRequestOf({ GITHUB_REPOSITORY: 'o/r', GITHUB_EVENT_PATH: event, GITHUB_REF: 'refs/heads/main' })).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
