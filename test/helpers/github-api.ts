// A stand-in for the GitHub REST API's issue comments on one pull request
// (o/r #7), served by node:http on loopback: it records every call and keeps
// the comments it was given, so that a second push finds the first one.
import { createServer, type IncomingMessage } from 'node:http';

export interface ApiCall {
  method: string;
  path: string;
  auth: string | undefined;
  body: { body?: string } | null;
}

export interface CommentsApi {
  url: string;
  calls: ApiCall[];
  comments: { id: number; body: string }[];
  /** Every call answers this status (500: the API is down); 0 for none. */
  refuseWith: number;
  /** Reading works, writing answers 403: the token a pull request from a fork gets. */
  readOnly: boolean;
  reset(): void;
  close(): Promise<void>;
}

async function readJson(req: IncomingMessage): Promise<{ body?: string } | null> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return chunks.length > 0 ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { body?: string }) : null;
}

export async function startCommentsApi(): Promise<CommentsApi> {
  const api = { calls: [], comments: [], refuseWith: 0, readOnly: false } as unknown as CommentsApi;
  const server = createServer(async (req, res) => {
    const url = new URL(req.url!, 'http://x');
    const body = await readJson(req);
    api.calls.push({ method: req.method!, path: `${url.pathname}${url.search}`, auth: req.headers.authorization, body });
    const send = (status: number, data: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(data));
    };
    if (api.refuseWith) return send(api.refuseWith, { message: 'Server Error' });
    const html = (id: number) => `https://github.example/o/r/pull/7#issuecomment-${id}`;
    if (req.method === 'GET' && url.pathname === '/repos/o/r/issues/7/comments') {
      const page = Number(url.searchParams.get('page') ?? '1');
      const per = Number(url.searchParams.get('per_page') ?? '30');
      return send(200, api.comments.slice((page - 1) * per, page * per).map((c) => ({ id: c.id, body: c.body, html_url: html(c.id) })));
    }
    if (api.readOnly) return send(403, { message: 'Resource not accessible by integration' });
    if (req.method === 'POST' && url.pathname === '/repos/o/r/issues/7/comments') {
      const c = { id: 1000 + api.comments.length, body: body!.body! };
      api.comments.push(c);
      return send(201, { ...c, html_url: html(c.id) });
    }
    const edit = /^\/repos\/o\/r\/issues\/comments\/(\d+)$/.exec(url.pathname);
    if (req.method === 'PATCH' && edit) {
      const c = api.comments.find((x) => x.id === Number(edit[1]));
      if (!c) return send(404, { message: 'Not Found' });
      c.body = body!.body!;
      return send(200, { ...c, html_url: html(c.id) });
    }
    send(404, { message: 'Not Found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  api.reset = () => {
    api.calls.length = 0;
    api.comments = [];
    api.refuseWith = 0;
    api.readOnly = false;
  };
  api.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return api;
}
