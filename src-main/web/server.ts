/**
 * Web mode: the renderer in an ordinary browser, talking to the core over loopback HTTP.
 *
 * Protocol (the renderer's web transport implements the client side):
 *
 *   POST /api/<method>          body: JSON params (Content-Type: application/json)
 *                               header: Authorization: Bearer <token>
 *     200 {"ok":true,"result":…}
 *     4xx/5xx {"ok":false,"error":{"code":…,"message":…}}
 *       400 bad_request · 404 not_found (also an unknown method) · 409 conflict · 409 cancelled
 *       500 model_error, storage_error, internal
 *       401 missing/wrong token · 405 not POST · 413 body over the limit · 415 not JSON
 *       (these four carry error.code "bad_request": the contract has no separate code for them)
 *     403 text/plain: Host header not 127.0.0.1:<port>/localhost:<port>, or a cross-origin request
 *     Clients must branch on error.code, never on the status: 409 is shared by conflict and
 *     cancelled (a cancelled fill is the request conflicting with a cancel issued for it; 499 is
 *     nginx's private code and standard tooling treats it as garbage).
 *     If the connection of a fill.run request closes before the answer, the fill is cancelled.
 *
 *   GET /api/events             Server-Sent Events; each event is one `data:` line holding an
 *                               ApiEvent as JSON (default "message" event type; dispatch on .type).
 *                               Token: Authorization header or ?token=… (EventSource cannot set headers).
 *
 *   GET /, /assets/…            the built renderer (out/renderer), no token needed. The page reads
 *                               its token from the URL fragment #token=…, which never reaches the
 *                               server, its logs or a Referer header.
 *
 * Defences: bound to 127.0.0.1 only; a per-launch 256-bit token compared in constant time; the
 * Host header must be 127.0.0.1:<port> or localhost:<port> (DNS rebinding); a cross-origin Origin
 * or `Sec-Fetch-Site: cross-site` is refused; JSON-only bodies (a cross-site HTML form cannot send
 * application/json without a CORS preflight, which this server never grants); strict CSP on
 * everything; static files only from inside the renderer folder.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';
import { ApiError, isMethod, withRequestId } from '../common/api';
import type { ApiClient, ApiEvent, ErrorCode, Method, Params } from '../common/api';

export const MAX_REQUEST_BYTES = 64 * 1024 * 1024;
const SSE_HEARTBEAT_MS = 15_000;

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.otf': 'font/otf',
  '.wasm': 'application/wasm',
};

const STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  not_found: 404,
  conflict: 409,
  cancelled: 409,
  model_error: 500,
  storage_error: 500,
  // The model download could not reach its host (offline, refused, gated): a bad gateway, not our fault.
  network_error: 502,
  internal: 500,
};

export function httpStatusFor(code: ErrorCode): number {
  return STATUS[code] ?? 500;
}

export interface WebServerOptions {
  /** The core (or any ApiClient) the API forwards to. It validates params itself. */
  core: ApiClient;
  /** Folder with the built renderer (index.html at its root). */
  staticDir: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Fixed token for tests; a fresh random one by default. */
  token?: string;
  maxRequestBytes?: number;
}

export interface WebServer {
  readonly port: number;
  readonly token: string;
  /** http://127.0.0.1:<port>/ */
  readonly origin: string;
  /** The URL to open: origin plus #token=…. */
  readonly url: string;
  /** Stop listening, end event streams and drop open connections. Does not close the core. */
  close(): Promise<void>;
}

export function newToken(): string {
  return randomBytes(32).toString('hex');
}

const HOST = '127.0.0.1';

export async function startWebServer(options: WebServerOptions): Promise<WebServer> {
  const token = options.token ?? newToken();
  const maxBytes = options.maxRequestBytes ?? MAX_REQUEST_BYTES;
  const tokenDigest = sha256(token);
  const sseClients = new Set<ServerResponse>();
  const sockets = new Set<Socket>();
  let staticRoot: string | undefined;
  let port = 0;

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      // Last resort: a bug in a handler. Never leak a stack trace to the page.
      console.error('lacuna web: request failed:', err);
      if (!res.headersSent) sendError(res, new ApiError('internal', 'internal error'));
      else res.destroy();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  const unsubscribe = options.core.onEvent((event: ApiEvent) => {
    const frame = `data: ${JSON.stringify(event)}\n\n`;
    for (const res of sseClients) res.write(frame);
  });

  function allowedHosts(): string[] {
    return [`127.0.0.1:${port}`, `localhost:${port}`];
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);

    // DNS rebinding: a hostile page on evil.example re-pointed at 127.0.0.1 still sends its own Host.
    const host = (req.headers.host ?? '').toLowerCase();
    if (!allowedHosts().includes(host)) return sendPlain(res, 403, 'forbidden: unexpected Host header\n');
    const origin = req.headers.origin;
    if (origin !== undefined && !allowedHosts().some((h) => origin.toLowerCase() === `http://${h}`)) {
      return sendPlain(res, 403, 'forbidden: cross-origin request\n');
    }
    if (req.headers['sec-fetch-site'] === 'cross-site') return sendPlain(res, 403, 'forbidden: cross-site request\n');

    const url = new URL(req.url ?? '/', `http://${host}`);
    if (url.pathname === '/api' || url.pathname.startsWith('/api/')) return handleApi(req, res, url);
    return serveStatic(req, res, url);
  }

  function authorized(req: IncomingMessage, url: URL | undefined): boolean {
    let presented: string | undefined;
    const header = req.headers.authorization;
    if (header !== undefined) {
      const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
      presented = m?.[1];
    } else if (url) {
      presented = url.searchParams.get('token') ?? undefined;
    }
    if (presented === undefined) return false;
    // Hash both sides to equal length, then compare in constant time.
    return timingSafeEqual(sha256(presented), tokenDigest);
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    res.setHeader('Cache-Control', 'no-store');
    const name = url.pathname.slice('/api/'.length);
    if (name === 'events') {
      if (!authorized(req, url)) return sendUnauthorized(res);
      if (req.method !== 'GET') return sendError(res, new ApiError('bad_request', 'use GET for /api/events'), 405, 'GET');
      return openEventStream(req, res);
    }
    // Tokens in URLs are only for EventSource; everything else must use the header.
    if (!authorized(req, undefined)) return sendUnauthorized(res);
    if (!isMethod(name)) return sendError(res, new ApiError('not_found', `unknown method "${name}"`));
    if (req.method !== 'POST') return sendError(res, new ApiError('bad_request', `use POST for /api/${name}`), 405, 'POST');
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') {
      return sendError(res, new ApiError('bad_request', 'the request body must be JSON (Content-Type: application/json)'), 415);
    }

    let raw: Buffer;
    try {
      raw = await readBody(req, maxBytes);
    } catch (err) {
      if (err instanceof BodyTooLarge) {
        sendError(res, new ApiError('bad_request', `request body is larger than ${maxBytes} bytes`), 413, undefined, true);
        return;
      }
      if (err instanceof ClientGone) {
        res.destroy();
        return;
      }
      throw err;
    }
    let params: unknown;
    try {
      params = raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
    } catch {
      return sendError(res, new ApiError('bad_request', 'the request body is not valid JSON'));
    }

    const method: Method = name;
    // A long call (fill, score, download) whose requester went away (tab closed, reload, client
    // gone) is cancelled rather than left burning CPU; one sent without a requestId gets one here.
    const given = withRequestId(method, params, () => `web-${randomUUID()}`);
    params = given.params;
    const requestId = given.requestId;
    const onClose = (): void => {
      if (requestId !== undefined && !res.writableFinished) {
        options.core.call('fill.cancel', { requestId }).catch(() => {});
      }
    };
    res.once('close', onClose);
    try {
      const result = await options.core.call(method, params as Params<typeof method>);
      sendJson(res, 200, { ok: true, result });
    } catch (err) {
      sendError(res, ApiError.from(err));
    }
  }

  function openEventStream(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write('retry: 2000\n: connected\n\n');
    req.socket.setNoDelay(true);
    req.socket.setKeepAlive(true);
    sseClients.add(res);
    const heartbeat = setInterval(() => res.write(': ping\n\n'), SSE_HEARTBEAT_MS);
    heartbeat.unref();
    res.on('close', () => {
      clearInterval(heartbeat);
      sseClients.delete(res);
    });
  }

  async function serveStatic(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return sendPlain(res, 405, 'method not allowed\n');
    }
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      return sendPlain(res, 400, 'bad request\n');
    }
    if (path.includes('\0') || path.includes('\\')) return sendPlain(res, 400, 'bad request\n');
    if (path.endsWith('/')) path += 'index.html';

    staticRoot ??= await realpath(resolve(options.staticDir)).catch(() => resolve(options.staticDir));
    const root = staticRoot;
    const candidate = resolve(root, '.' + path);
    if (!isInside(root, candidate)) return sendPlain(res, 404, 'not found\n');
    let file: string;
    try {
      // Follow symlinks, then check again: a link must not lead out of the renderer folder.
      file = await realpath(candidate);
      if (!isInside(root, file) || !(await stat(file)).isFile()) return sendPlain(res, 404, 'not found\n');
    } catch {
      if (path === '/index.html') {
        return sendPlain(res, 503, 'The renderer is not built. Run `npm run build`, then start web mode again.\n');
      }
      return sendPlain(res, 404, 'not found\n');
    }
    const size = (await stat(file)).size;
    res.writeHead(200, {
      'Content-Type': CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'Content-Length': size,
      'Cache-Control': 'no-cache',
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    await new Promise<void>((done) => {
      const stream = createReadStream(file);
      stream.on('error', () => {
        res.destroy();
        done();
      });
      stream.on('end', () => done());
      res.on('close', () => {
        stream.destroy();
        done();
      });
      stream.pipe(res);
    });
  }

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, HOST, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('web server has no TCP address');
  port = address.port;
  const origin = `http://${HOST}:${port}/`;

  let closing: Promise<void> | undefined;
  return {
    port,
    token,
    origin,
    url: `${origin}#token=${token}`,
    close() {
      closing ??= new Promise<void>((done) => {
        unsubscribe();
        for (const res of sseClients) res.end();
        sseClients.clear();
        server.close(() => done());
        server.closeIdleConnections();
        // Anything still open (a long fill, a stuck client) is cut: the process is going away.
        setImmediate(() => {
          for (const s of sockets) s.destroy();
        });
      });
      return closing;
    },
  };
}

class BodyTooLarge extends Error {}
/** The client went away before sending its whole body: nobody to answer. */
class ClientGone extends Error {}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolveBody, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      reject(new BodyTooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        chunks.length = 0;
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolveBody(Buffer.concat(chunks, size));
    });
    req.on('error', () => {
      if (!failed) reject(new ClientGone());
      failed = true;
    });
    req.on('close', () => {
      if (!failed && !req.complete) reject(new ClientGone());
      failed = true;
    });
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

function sendError(res: ServerResponse, err: ApiError, status = httpStatusFor(err.code), allow?: string, closeConnection = false): void {
  if (allow) res.setHeader('Allow', allow);
  // After an oversized body the rest of it is still in flight: close rather than read it all.
  if (closeConnection) res.setHeader('Connection', 'close');
  sendJson(res, status, { ok: false, error: err.toJSON() });
}

function sendUnauthorized(res: ServerResponse): void {
  res.setHeader('WWW-Authenticate', 'Bearer');
  sendJson(res, 401, { ok: false, error: { code: 'bad_request', message: 'missing or wrong token' } });
}

function sendPlain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function isInside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}
