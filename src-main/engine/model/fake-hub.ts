/**
 * Test support (tests, e2e, the dev entry fake-hub-main.ts; never the app): a local server that
 * behaves like the Hugging Face Hub for downloads (its resolve protocol, as huggingface_hub reads it), on 127.0.0.1.
 *
 * Two servers: the "hub" and a "CDN" on another port.
 *  - `HEAD|GET /{repo}/resolve/{revision}/{path}`: X-Repo-Commit always; LFS files answer 302 to the
 *    CDN with X-Linked-Etag (the SHA-256, quoted), X-Linked-Size and ETag; small files answer 200
 *    with ETag (their git blob id) and Content-Length, and the body on GET (Range honoured);
 *  - `GET /api/models/{repo}` (`sha`, `siblings`) and `/api/models/{repo}/tree/{revision}` (entries
 *    with `path`, `size`, `oid`, and `lfs: {oid, size, pointerSize}`);
 *  - 404 with X-Error-Code RepoNotFound / RevisionNotFound / EntryNotFound; gated repos answer 401
 *    (no token) or 403 (a wrong one) with X-Error-Code GatedRepo; a renamed repo answers 307 with
 *    a relative Location;
 *  - the CDN serves `GET /repos/{key}/{sha256}` from disk (streamed) or memory, honours
 *    `Range: bytes=N-` (206 + Content-Range; 416 past the end) and, like a presigned S3 URL,
 *    refuses a request that carries an Authorization header (400);
 *  - faults per file: drop the connection after N body bytes (once or every time), fall silent
 *    after N bytes (once), serve bytes that differ from the advertised hash, throttle to N bytes/s,
 *    answer a status (e.g. 503) N times, ignore Range;
 *  - `requests`: every request seen, with its Range and Authorization headers.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';

export interface FakeHubFault {
  /** Close the connection after this many body bytes of a GET response. */
  dropAfterBytes?: number;
  /** With dropAfterBytes: drop every response (default: only the first). */
  dropEveryTime?: boolean;
  /** Serve bytes that differ from the advertised SHA-256 (same size: one byte flipped). */
  corrupt?: boolean;
  /** Stop sending (the connection stays open, silent) after this many body bytes of the first GET. */
  stallAfterBytes?: number;
  /** Send bodies at about this many bytes per second. */
  throttleBytesPerSecond?: number;
  /** Answer GETs of the file with this status this many times, then normally. */
  failStatus?: { status: number; times: number };
  /** Answer 200 with the whole file whatever the Range. */
  ignoreRange?: boolean;
}

export interface FakeHubFile {
  /** A file on disk (streamed; its hashes computed at start), or the bytes. */
  path?: string;
  data?: Buffer | string;
  /** Stored in LFS: redirected to the CDN with X-Linked-*; default for *.safetensors, *.bin, *.onnx, *.pt, *.pth and files over 1 MB. */
  lfs?: boolean;
  fault?: FakeHubFault;
}

export interface FakeHubRepo {
  /** Path in the repository → file. */
  files: Record<string, FakeHubFile | Buffer>;
  /** 40 hex digits; default derived from the repo id. */
  commit?: string;
  /** Branch and tag names besides 'main' that resolve to the commit. */
  revisions?: string[];
  /** Needs `Authorization: Bearer <token>` (FakeHubOptions.token). */
  gated?: boolean;
}

export interface FakeHubOptions {
  repos: Record<string, FakeHubRepo>;
  /** The token that opens gated repos. */
  token?: string;
  /** Old repo id → new id: resolve URLs of the old one answer 307 with a relative Location. */
  renamed?: Record<string, string>;
  /** Port of the hub (default: any free one); the CDN always takes a free one. */
  port?: number;
  /** Serve both over https with this key and certificate (e.g. FAKE_HUB_TLS; the client then needs it as `ca`). */
  tls?: { key: string; cert: string };
}

/**
 * A self-signed certificate for 127.0.0.1 and localhost (P-256, valid until 2126) for https tests:
 * `startFakeHub({ tls: FAKE_HUB_TLS })`, and the client trusts `FAKE_HUB_TLS.cert`. Test-only: the
 * key is public.
 */
export const FAKE_HUB_TLS = {
  key: `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgCsBYHHaNNrsaQLSj
xXqfQPDVmBvtlfDORb8MNtQiud+hRANCAATdlraqQ+KnNFNFpZFhHMlbdRCYPRsw
m0Myd4nc819EdJ4/9Fc9Jb+gR1KbBJZqxdk4KKsgxS154bCUDmoxOFmn
-----END PRIVATE KEY-----\n`,
  cert: `-----BEGIN CERTIFICATE-----
MIIBpzCCAU2gAwIBAgIUYBhLti4ZW3CDUoJEISH5C8nd0oowCgYIKoZIzj0EAwIw
GjEYMBYGA1UEAwwPTGFjdW5hIGZha2UgaHViMCAXDTI2MTIwMjE4NDE0MFoYDzIx
MjYxMTA4MTg0MTQwWjAaMRgwFgYDVQQDDA9MYWN1bmEgZmFrZSBodWIwWTATBgcq
hkjOPQIBBggqhkjOPQMBBwNCAATdlraqQ+KnNFNFpZFhHMlbdRCYPRswm0Myd4nc
819EdJ4/9Fc9Jb+gR1KbBJZqxdk4KKsgxS154bCUDmoxOFmno28wbTAdBgNVHQ4E
FgQU7towZp3Kfr7bZcLTUJsOqMERqiAwHwYDVR0jBBgwFoAU7towZp3Kfr7bZcLT
UJsOqMERqiAwDwYDVR0TAQH/BAUwAwEB/zAaBgNVHREEEzARhwR/AAABgglsb2Nh
bGhvc3QwCgYIKoZIzj0EAwIDSAAwRQIhAL+dXf7jrXsEddN//nZKOdgGwHvD9IsE
FTc94YR2aeDPAiBJ20JbvME1F/LmXnYFP+gCHjyq0Gshnn0Ac+qzI5C5PA==
-----END CERTIFICATE-----\n`,
};

export interface FakeHubRequest {
  server: 'hub' | 'cdn';
  method: string;
  /** The path and query as received. */
  url: string;
  range?: string;
  authorization?: string;
  status: number;
  /** Body bytes sent (so far). */
  bytesSent: number;
}

export interface FakeHub {
  /** e.g. http://127.0.0.1:41234 — set as HF_ENDPOINT. */
  endpoint: string;
  /** The CDN's origin. */
  cdn: string;
  requests: FakeHubRequest[];
  commitOf(repo: string): string;
  sha256Of(repo: string, path: string): string;
  sizeOf(repo: string, path: string): number;
  /** Set or clear a file's fault (its drop count restarts). */
  setFault(repo: string, path: string, fault: FakeHubFault | undefined): void;
  /** Move 'main' (and the other revisions) to a new commit; older commits still resolve. */
  setCommit(repo: string, commit: string): void;
  close(): Promise<void>;
}

interface Entry {
  repo: string;
  path: string;
  size: number;
  sha256: string;
  /** git blob id of the content (small files) or of the LFS pointer (LFS files). */
  oid: string;
  pointerSize: number;
  lfs: boolean;
  source: { path: string } | { data: Buffer };
  fault: FakeHubFault | undefined;
  dropped: number;
  failed: number;
  stalled: number;
}

interface RepoState {
  id: string;
  commit: string;
  commits: Set<string>;
  revisions: Set<string>;
  gated: boolean;
  files: Map<string, Entry>;
}

const LFS_EXT = /\.(safetensors|bin|onnx|pt|pth|ckpt|h5|msgpack)$/i;

function gitBlobId(size: number, chunks: Buffer[]): string {
  const h = createHash('sha1').update(`blob ${size}\0`);
  for (const c of chunks) h.update(c);
  return h.digest('hex');
}

async function describe(repo: string, path: string, spec: FakeHubFile | Buffer): Promise<Entry> {
  const f: FakeHubFile = Buffer.isBuffer(spec) ? { data: spec } : spec;
  let size: number;
  let sha256: string;
  let blob: string;
  let source: Entry['source'];
  if (f.data !== undefined) {
    const data = Buffer.isBuffer(f.data) ? f.data : Buffer.from(f.data);
    size = data.length;
    sha256 = createHash('sha256').update(data).digest('hex');
    blob = gitBlobId(size, [data]);
    source = { data };
  } else if (f.path !== undefined) {
    size = (await stat(f.path)).size;
    const h = createHash('sha256');
    const b = createHash('sha1').update(`blob ${size}\0`);
    for await (const chunk of createReadStream(f.path, { highWaterMark: 1 << 20 })) {
      h.update(chunk as Buffer);
      b.update(chunk as Buffer);
    }
    sha256 = h.digest('hex');
    blob = b.digest('hex');
    source = { path: f.path };
  } else {
    throw new Error(`fake hub: ${repo}/${path} has neither path nor data`);
  }
  const lfs = f.lfs ?? (LFS_EXT.test(path) || size > 1_000_000);
  const pointer = Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize ${size}\n`);
  return {
    repo,
    path,
    size,
    sha256,
    oid: lfs ? gitBlobId(pointer.length, [pointer]) : blob,
    pointerSize: pointer.length,
    lfs,
    source,
    fault: f.fault,
    dropped: 0,
    failed: 0,
    stalled: 0,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function listen(server: Server, port = 0): Promise<number> {
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => ok((server.address() as AddressInfo).port));
  });
}

function waitDrain(res: ServerResponse): Promise<void> {
  return new Promise((ok) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      ok();
    };
    res.once('drain', done);
    res.once('close', done);
  });
}

/** Start the fake hub; close() it when done. */
export async function startFakeHub(options: FakeHubOptions): Promise<FakeHub> {
  const repos = new Map<string, RepoState>();
  for (const [id, r] of Object.entries(options.repos)) {
    const commit = (r.commit ?? createHash('sha1').update(`commit of ${id}`).digest('hex')).toLowerCase();
    const files = new Map<string, Entry>();
    for (const [path, spec] of Object.entries(r.files)) files.set(path, await describe(id, path, spec));
    repos.set(id, { id, commit, commits: new Set([commit]), revisions: new Set(['main', ...(r.revisions ?? [])]), gated: Boolean(r.gated), files });
  }
  const byHash = new Map<string, Entry>();
  for (const r of repos.values()) for (const e of r.files.values()) byHash.set(`${cdnKey(r.id)}/${e.sha256}`, e);
  const requests: FakeHubRequest[] = [];
  let cdnOrigin = '';

  function record(server: FakeHubRequest['server'], req: IncomingMessage): FakeHubRequest {
    const rec: FakeHubRequest = {
      server,
      method: req.method ?? '',
      url: req.url ?? '',
      ...(req.headers.range ? { range: req.headers.range } : {}),
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      status: 0,
      bytesSent: 0,
    };
    requests.push(rec);
    return rec;
  }

  function answer(res: ServerResponse, rec: FakeHubRequest, status: number, headers: Record<string, string | number>, body?: string): void {
    rec.status = status;
    const buf = body === undefined ? undefined : Buffer.from(body);
    res.writeHead(status, { ...headers, ...(buf ? { 'content-length': buf.length } : {}) });
    res.end(res.req.method === 'HEAD' ? undefined : buf);
  }

  function error(
    res: ServerResponse,
    rec: FakeHubRequest,
    status: number,
    code: string | undefined,
    message: string,
    extra: Record<string, string> = {},
  ): void {
    answer(
      res,
      rec,
      status,
      { 'content-type': 'application/json', ...(code ? { 'x-error-code': code } : {}), 'x-error-message': message, ...extra },
      JSON.stringify({ error: message }),
    );
  }

  /** Authorization for a gated repo; false when an error was sent. */
  function authorised(repo: RepoState, req: IncomingMessage, res: ServerResponse, rec: FakeHubRequest): boolean {
    if (!repo.gated) return true;
    const auth = req.headers.authorization;
    if (!auth) {
      error(
        res,
        rec,
        401,
        'GatedRepo',
        `Access to model ${repo.id} is restricted. You must have access to it and be authenticated to access it. Please log in.`,
      );
      return false;
    }
    if (auth !== `Bearer ${options.token ?? ''}` || !options.token) {
      error(
        res,
        rec,
        403,
        'GatedRepo',
        `Access to model ${repo.id} is restricted and you are not in the authorized list. Visit https://huggingface.co/${repo.id} to ask for access.`,
      );
      return false;
    }
    return true;
  }

  function commitFor(repo: RepoState, revision: string): string | undefined {
    if (repo.revisions.has(revision)) return repo.commit;
    if (repo.commits.has(revision.toLowerCase())) return revision.toLowerCase();
    return undefined;
  }

  /** The file's body (or part of it), with the file's faults. */
  async function serveBody(req: IncomingMessage, res: ServerResponse, rec: FakeHubRequest, e: Entry, headers: Record<string, string | number>): Promise<void> {
    const fault = e.fault ?? {};
    if (req.method === 'GET' && fault.failStatus && e.failed < fault.failStatus.times) {
      e.failed++;
      error(res, rec, fault.failStatus.status, undefined, `injected ${fault.failStatus.status}`);
      return;
    }
    let start = 0;
    let status = 200;
    const range = req.headers.range;
    const m = range && !fault.ignoreRange ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
    let end = e.size - 1;
    const h: Record<string, string | number> = { ...headers, 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' };
    if (m) {
      start = Number(m[1]);
      if (m[2]) end = Math.min(end, Number(m[2]));
      if (start >= e.size || start > end) {
        error(res, rec, 416, undefined, 'Requested Range Not Satisfiable', { 'content-range': `bytes */${e.size}` });
        return;
      }
      status = 206;
      h['content-range'] = `bytes ${start}-${end}/${e.size}`;
    }
    const length = Math.max(0, end - start + 1);
    h['content-length'] = length;
    rec.status = status;
    res.writeHead(status, h);
    if (req.method === 'HEAD' || length === 0) {
      res.end();
      return;
    }
    const drop = req.method === 'GET' && fault.dropAfterBytes !== undefined && (fault.dropEveryTime || e.dropped === 0) ? fault.dropAfterBytes : undefined;
    if (drop !== undefined) e.dropped++;
    const stall = req.method === 'GET' && fault.stallAfterBytes !== undefined && e.stalled === 0 ? fault.stallAfterBytes : undefined;
    if (stall !== undefined) e.stalled++;
    const corruptAt = fault.corrupt ? Math.floor(e.size / 2) : -1;
    const source: Readable =
      'data' in e.source ? Readable.from([e.source.data.subarray(start, end + 1)]) : createReadStream(e.source.path, { start, end, highWaterMark: 256 * 1024 });
    let pos = start;
    let closed = false;
    res.once('close', () => (closed = true));
    try {
      for await (const chunk of source) {
        let buf = chunk as Buffer;
        if (corruptAt >= pos && corruptAt < pos + buf.length) {
          buf = Buffer.from(buf);
          buf[corruptAt - pos] = buf[corruptAt - pos]! ^ 0xff;
        }
        const pieces: Buffer[] = [];
        const step = fault.throttleBytesPerSecond ? Math.max(1, Math.floor(fault.throttleBytesPerSecond / 20)) : buf.length;
        for (let i = 0; i < buf.length; i += step) pieces.push(buf.subarray(i, i + step));
        for (const piece of pieces) {
          if (closed) return;
          if (drop !== undefined && rec.bytesSent + piece.length >= drop) {
            const last = piece.subarray(0, drop - rec.bytesSent);
            rec.bytesSent += last.length;
            res.write(last, () => res.socket?.destroy());
            if (last.length === 0) res.socket?.destroy();
            return;
          }
          if (stall !== undefined && rec.bytesSent + piece.length >= stall) {
            const last = piece.subarray(0, stall - rec.bytesSent);
            rec.bytesSent += last.length;
            if (last.length) res.write(last);
            await new Promise<void>((ok) => (closed ? ok() : res.once('close', () => ok())));
            return;
          }
          rec.bytesSent += piece.length;
          pos += piece.length;
          if (!res.write(piece)) await waitDrain(res);
          if (fault.throttleBytesPerSecond) await sleep(50);
        }
      }
      res.end();
    } finally {
      source.destroy();
    }
  }

  function resolveHeaders(repo: RepoState, commit: string, e: Entry): Record<string, string | number> {
    return e.lfs
      ? {
          'x-repo-commit': commit,
          etag: `"${e.sha256}"`,
          'x-linked-etag': `"${e.sha256}"`,
          'x-linked-size': e.size,
          location:
            `${cdnOrigin}/repos/${cdnKey(repo.id)}/${e.sha256}` +
            `?response-content-disposition=${encodeURIComponent(`attachment; filename="${e.path.split('/').pop()}"`)}&x-signature=fake`,
        }
      : { 'x-repo-commit': commit, etag: `"${e.oid}"` };
  }

  async function hub(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rec = record('hub', req);
    const url = new URL(req.url ?? '/', 'http://hub');
    const path = url.pathname;
    const api = /^\/api\/models\/(.+?)(?:\/(tree|revision)\/([^/]+)(?:\/.*)?)?$/.exec(path);
    if (api && req.method === 'GET') {
      const id = decodeURIComponent(api[1]!);
      const repo = repos.get(id);
      if (!repo) return error(res, rec, 404, 'RepoNotFound', `Repository Not Found for url: ${url.href}.`);
      if (!authorised(repo, req, res, rec)) return;
      const commit = api[3] ? commitFor(repo, decodeURIComponent(api[3])) : repo.commit;
      if (!commit) return error(res, rec, 404, 'RevisionNotFound', `Invalid rev id: ${decodeURIComponent(api[3]!)}`);
      const files = [...repo.files.values()];
      if (api[2] === 'tree') {
        const entries = files.map((e) => ({
          type: 'file',
          oid: e.oid,
          size: e.lfs ? e.size : e.size,
          path: e.path,
          ...(e.lfs ? { lfs: { oid: e.sha256, size: e.size, pointerSize: e.pointerSize } } : {}),
        }));
        return answer(res, rec, 200, { 'content-type': 'application/json' }, JSON.stringify(entries));
      }
      const info = {
        _id: commit.slice(0, 24),
        id,
        modelId: id,
        sha: commit,
        private: false,
        gated: repo.gated ? 'auto' : false,
        disabled: false,
        siblings: files.map((e) => ({ rfilename: e.path })),
      };
      return answer(res, rec, 200, { 'content-type': 'application/json' }, JSON.stringify(info));
    }
    const m = /^\/(.+?)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    if (!m || (req.method !== 'GET' && req.method !== 'HEAD')) return error(res, rec, 404, undefined, 'Not Found');
    const id = m[1]!.split('/').map(decodeURIComponent).join('/');
    const newId = options.renamed?.[id];
    if (newId) return answer(res, rec, 307, { location: `/${newId}/resolve/${m[2]}/${m[3]}${url.search}` }, 'Moved');
    const repo = repos.get(id);
    if (!repo) return error(res, rec, 404, 'RepoNotFound', `Repository Not Found for url: ${url.href}.`);
    if (!authorised(repo, req, res, rec)) return;
    const revision = decodeURIComponent(m[2]!);
    const commit = commitFor(repo, revision);
    if (!commit) return error(res, rec, 404, 'RevisionNotFound', `Invalid rev id: ${revision}`, { 'x-repo-commit': repo.commit });
    const file = m[3]!.split('/').map(decodeURIComponent).join('/');
    const e = repo.files.get(file);
    if (!e) return error(res, rec, 404, 'EntryNotFound', `${file} does not exist on "${revision}"`, { 'x-repo-commit': commit });
    const headers = resolveHeaders(repo, commit, e);
    if (e.lfs) return answer(res, rec, 302, headers, `Found. Redirecting to ${String(headers.location)}`);
    await serveBody(req, res, rec, e, headers);
  }

  async function cdn(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rec = record('cdn', req);
    const url = new URL(req.url ?? '/', 'http://cdn');
    if (req.headers.authorization) {
      rec.status = 400;
      res.writeHead(400, { 'content-type': 'application/xml' });
      res.end('<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed</Message></Error>');
      return;
    }
    const m = /^\/repos\/([^/]+)\/([0-9a-f]{64})$/.exec(url.pathname);
    const e = m ? byHash.get(`${m[1]}/${m[2]}`) : undefined;
    if (!e || (req.method !== 'GET' && req.method !== 'HEAD')) {
      rec.status = 404;
      res.writeHead(404, { 'content-type': 'application/xml' });
      res.end('<Error><Code>NoSuchKey</Code></Error>');
      return;
    }
    await serveBody(req, res, rec, e, { etag: `"${e.sha256}"` });
  }

  const handle =
    (fn: (req: IncomingMessage, res: ServerResponse) => Promise<void>) =>
    (req: IncomingMessage, res: ServerResponse): void => {
      fn(req, res).catch(() => res.destroy());
    };
  const make = (fn: (req: IncomingMessage, res: ServerResponse) => Promise<void>): Server =>
    options.tls ? createTlsServer({ key: options.tls.key, cert: options.tls.cert }, handle(fn)) : createServer(handle(fn));
  const scheme = options.tls ? 'https' : 'http';
  const hubServer = make(hub);
  const cdnServer = make(cdn);
  const cdnPort = await listen(cdnServer);
  cdnOrigin = `${scheme}://127.0.0.1:${cdnPort}`;
  const hubPort = await listen(hubServer, options.port);

  const entry = (repo: string, path: string): Entry => {
    const e = repos.get(repo)?.files.get(path);
    if (!e) throw new Error(`fake hub: no ${repo}/${path}`);
    return e;
  };
  return {
    endpoint: `${scheme}://127.0.0.1:${hubPort}`,
    cdn: cdnOrigin,
    requests,
    commitOf: (repo) => repos.get(repo)!.commit,
    sha256Of: (repo, path) => entry(repo, path).sha256,
    sizeOf: (repo, path) => entry(repo, path).size,
    setFault: (repo, path, fault) => {
      const e = entry(repo, path);
      e.fault = fault;
      e.dropped = 0;
      e.failed = 0;
      e.stalled = 0;
    },
    setCommit: (repo, commit) => {
      const r = repos.get(repo)!;
      r.commit = commit.toLowerCase();
      r.commits.add(r.commit);
    },
    close: async () => {
      for (const s of [hubServer, cdnServer]) {
        s.closeAllConnections();
        await new Promise<void>((ok) => s.close(() => ok()));
      }
    },
  };
}

function cdnKey(repo: string): string {
  return repo.replace(/[^A-Za-z0-9._-]/g, '--');
}
