/**
 * A Hugging Face Hub client for model downloads, on node:http/node:https only (the Hub's resolve protocol;
 * huggingface_hub's file_download.py reads the same headers).
 *
 * downloadHubFiles(opts):
 *  1. metadata first, for every file: `HEAD {endpoint}/{repo}/resolve/{revision}/{file}` without
 *     following redirects to another host (relative ones, as for a renamed repo, are followed):
 *     `X-Repo-Commit`; LFS files (weights) answer 302 + `Location` with `X-Linked-Etag` (their
 *     SHA-256) and `X-Linked-Size`; small files answer 200 with `ETag` and `Content-Length`. The
 *     first file's commit pins the rest: every later request names that commit, so all files come
 *     from one commit even if the branch moves meanwhile;
 *  2. free disk space (fs.statfs of the staging folder) for the bytes still to fetch plus
 *     `extraBytesNeeded`, before any transfer;
 *  3. each file is streamed into `<stagingDir>/<file>.part`, described by `<file>.part.json` (what
 *     the Hub said of it). A later call (after a cancel, a crash or a restart) resumes with
 *     `Range: bytes=N-` when the sidecar still matches what the Hub reports now (LFS: the same
 *     SHA-256 and size, whatever the commit; small files: the same ETag, size and commit);
 *     otherwise the file starts over (a finished LFS file already there, from a call whose install
 *     failed, is checked again rather than fetched). A connection that drops mid-file is retried with Range a few
 *     times (bounded backoff; the count restarts whenever bytes arrived), then the call fails and
 *     the .part stays for the next one;
 *  4. every file is checked: its size, and the SHA-256 of the whole file for LFS files (a resumed
 *     prefix is re-hashed from disk); a damaged .part is deleted; then fsync'ed. Only when all
 *     files are good are the .part files renamed to their names (the sidecars removed).
 *
 * The token (`HF_TOKEN`) goes only to the endpoint's origin, never to the CDN it redirects to.
 * Proxies: `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`/`NO_PROXY` (lower case first, as curl): a CONNECT
 * tunnel for https targets, absolute-URI requests for http ones. Every failure is an ApiError with
 * one sentence for a writer: 'cancelled' (the .part stays), 'not_found', 'network_error',
 * 'storage_error', 'model_error' (damaged download, deleted), 'bad_request' (bad arguments).
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, statfs as fsStatfs, writeFile, type FileHandle } from 'node:fs/promises';
import http, { type ClientRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP, type Socket } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import tls from 'node:tls';
import { ApiError } from '../../common/api';
import { formatBytes } from '../../common/units';

export const DEFAULT_HF_ENDPOINT = 'https://huggingface.co';
const SIDECAR_FORMAT = 'lacuna-download/1';
const MAX_REDIRECTS = 5;
const USER_AGENT = 'lacuna-model-download/1 (node)';

export interface DownloadProgress {
  /** The file being transferred (its path in the repository). */
  file: string;
  fileBytesDone: number;
  fileBytesTotal: number;
  /** All files together; bytes kept from an earlier, interrupted download count as done. */
  bytesDone: number;
  bytesTotal: number;
  /** Transfer rate over the last few seconds (0 until known). */
  bytesPerSecond: number;
  secondsLeft?: number;
}

/** What the Hub reports for one file (the HEAD on its resolve URL). */
export interface HubFileInfo {
  path: string;
  size: number;
  /** Stored in LFS (weights): redirected to the CDN, with a SHA-256. */
  lfs: boolean;
  /** The file's SHA-256 (LFS files: X-Linked-Etag). */
  sha256?: string;
  /** ETag without quotes (small files: the git blob id). */
  etag: string;
  commit: string;
}

export interface HubMetadata {
  repo: string;
  revision: string;
  /** The commit the revision pointed at; every file is taken from it. */
  commit: string;
  /** e.g. https://huggingface.co, and its host (for "from huggingface.co, 676 MB"). */
  endpoint: string;
  host: string;
  files: HubFileInfo[];
  bytesTotal: number;
}

export interface HubRequestOptions {
  repo: string;
  /** Branch, tag or commit; default 'main'. */
  revision?: string;
  /** Paths in the repository, e.g. ['config.json', 'model.safetensors']. */
  files: readonly string[];
  /** HF_ENDPOINT, HF_TOKEN, the proxy variables; default process.env. */
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /** No answer on a connection (connect, headers or body) for this long fails it; default 30 s. */
  timeoutMs?: number;
  /** Retries of a dropped or stalled connection, a 5xx or 429 (per file, reset by progress); default 4. */
  retries?: number;
  /** First retry delay, doubling, at most 8× this; default 500 ms. */
  retryDelayMs?: number;
  /** Extra CA certificates to trust (PEM), e.g. an inspecting proxy's; Node also reads NODE_EXTRA_CA_CERTS. */
  ca?: string | Buffer | Array<string | Buffer>;
}

export interface DownloadOptions extends HubRequestOptions {
  /** Where `<file>.part` and `<file>.part.json` live and the finished files end up. */
  stagingDir: string;
  onProgress?: (p: DownloadProgress) => void;
  /** Added to the free-space check (e.g. the size of the installed model made from the files). */
  extraBytesNeeded?: number;
  /** Minimum time between progress events (a final one always comes); default 250 ms. */
  progressIntervalMs?: number;
  /** For tests: fs.statfs. */
  statfs?: (path: string) => Promise<{ bavail: number | bigint; bsize: number | bigint }>;
}

export interface DownloadResult {
  dir: string;
  repo: string;
  commit: string;
  files: { path: string; bytes: number; sha256: string }[];
}

interface Sidecar {
  format: string;
  repo: string;
  file: string;
  commit: string;
  size: number;
  sha256?: string;
  etag: string;
}

// ---------------------------------------------------------------------------------------------
// Settings from the environment

interface Settings {
  endpoint: URL;
  token: string | undefined;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal | undefined;
  timeoutMs: number;
  retries: number;
  retryDelayMs: number;
  ca: HubRequestOptions['ca'];
}

/** The Hub downloads come from: HF_ENDPOINT (a mirror), else huggingface.co; ApiError('bad_request') when it is not an http(s) address. */
export function hubEndpoint(env: NodeJS.ProcessEnv = process.env): URL {
  const raw = (env.HF_ENDPOINT ?? '').trim() || DEFAULT_HF_ENDPOINT;
  try {
    const endpoint = new URL(raw.replace(/\/+$/, ''));
    if (endpoint.protocol === 'https:' || endpoint.protocol === 'http:') return endpoint;
  } catch {
    // said below
  }
  throw new ApiError('bad_request', `HF_ENDPOINT is not an http(s) address: ${JSON.stringify(raw)}.`);
}

function settings(o: HubRequestOptions): Settings {
  const env = o.env ?? process.env;
  const endpoint = hubEndpoint(env);
  const token = (env.HF_TOKEN ?? env.HUGGING_FACE_HUB_TOKEN ?? '').trim() || undefined;
  return {
    endpoint,
    token,
    env,
    signal: o.signal,
    timeoutMs: o.timeoutMs ?? 30_000,
    retries: o.retries ?? 4,
    retryDelayMs: o.retryDelayMs ?? 500,
    ca: o.ca,
  };
}

function checkArgs(o: HubRequestOptions): void {
  if (typeof o.repo !== 'string' || !/^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/.test(o.repo) || o.repo.includes('..')) {
    throw new ApiError('bad_request', `${JSON.stringify(o.repo)} is not a Hugging Face repository name (like louaaron/sedd-small).`);
  }
  if (o.revision !== undefined && (typeof o.revision !== 'string' || !o.revision || o.revision.includes('..'))) {
    throw new ApiError('bad_request', `${JSON.stringify(o.revision)} is not a revision (a branch, tag or commit).`);
  }
  if (!Array.isArray(o.files) || o.files.length === 0) throw new ApiError('bad_request', 'Name at least one file to download.');
  const seen = new Set<string>();
  for (const f of o.files) {
    if (
      typeof f !== 'string' ||
      !f ||
      f.startsWith('/') ||
      f.includes('\\') ||
      f.split('/').some((s) => s === '' || s === '.' || s === '..') ||
      f.endsWith('.part') ||
      f.endsWith('.part.json')
    ) {
      throw new ApiError('bad_request', `${JSON.stringify(f)} is not a file path inside a repository.`);
    }
    if (seen.has(f)) throw new ApiError('bad_request', `${f} is named twice.`);
    seen.add(f);
  }
}

function resolveUrl(s: Settings, repo: string, revision: string, file: string): URL {
  const base = s.endpoint.href.replace(/\/+$/, '');
  const path = file.split('/').map(encodeURIComponent).join('/');
  return new URL(`${base}/${repo}/resolve/${encodeURIComponent(revision)}/${path}`);
}

/** The host a writer knows: huggingface.co, or host:port of a mirror. */
function hostOf(u: URL): string {
  return u.host;
}

// ---------------------------------------------------------------------------------------------
// Proxies

interface Proxy {
  url: URL;
  variable: string;
}

function envVar(env: NodeJS.ProcessEnv, name: string): { name: string; value: string } | undefined {
  for (const n of [name.toLowerCase(), name.toUpperCase()]) {
    const v = env[n]?.trim();
    if (v) return { name: n, value: v };
  }
  return undefined;
}

/** The proxy for a URL per HTTPS_PROXY / HTTP_PROXY / ALL_PROXY and NO_PROXY, or undefined. */
export function proxyFor(target: URL, env: NodeJS.ProcessEnv): Proxy | undefined {
  const chosen = (target.protocol === 'https:' ? envVar(env, 'https_proxy') : envVar(env, 'http_proxy')) ?? envVar(env, 'all_proxy');
  if (!chosen) return undefined;
  if (bypassesProxy(target, envVar(env, 'no_proxy')?.value ?? '')) return undefined;
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(chosen.value) ? chosen.value : `http://${chosen.value}`);
  } catch {
    throw new ApiError('network_error', `The proxy in ${chosen.name} is not an address: ${JSON.stringify(chosen.value)}.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ApiError('network_error', `Only http and https proxies are supported; ${chosen.name} names a ${url.protocol.replace(':', '')} proxy.`);
  }
  return { url, variable: chosen.name };
}

function defaultPort(u: URL): string {
  return u.port || (u.protocol === 'https:' ? '443' : '80');
}

/** NO_PROXY: comma/space-separated host names (a leading "." or "*." matches subdomains too), optional ":port", or "*". */
export function bypassesProxy(target: URL, noProxy: string): boolean {
  const host = target.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  for (const raw of noProxy.split(/[,\s]+/)) {
    let entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') return true;
    let port: string | undefined;
    const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(entry);
    if (m) {
      entry = m[1]!;
      port = m[2];
    }
    entry = entry.replace(/^\[|\]$/g, '').replace(/^\*?\./, '');
    if (port && port !== defaultPort(target)) continue;
    if (host === entry || host.endsWith(`.${entry}`)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// One HTTP exchange: a watchdog for silence, abort, proxies

class TransferError extends Error {
  constructor(
    readonly kind: 'timeout' | 'abort' | 'proxy',
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** Fails the exchange when nothing happens for `ms` (connect, headers, or between body chunks). */
class Watchdog {
  private timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly ms: number,
    private readonly fire: () => void,
  ) {
    this.kick();
  }
  kick(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(this.fire, this.ms);
  }
  stop(): void {
    clearTimeout(this.timer);
  }
}

interface Exchange {
  res: IncomingMessage;
  /** Call on every body chunk (keeps the watchdog quiet). */
  kick(): void;
  /** Stop the watchdog and the abort listener; destroys the response if still open. */
  close(): void;
  proxy: Proxy | undefined;
}

interface Where {
  url: URL;
  proxy: Proxy | undefined;
}

/** An error with where it happened, so that messages can name the host or the proxy. */
class NetError extends Error {
  constructor(
    readonly inner: unknown,
    readonly where: Where,
    readonly phase: 'connect' | 'body',
  ) {
    super(inner instanceof Error ? inner.message : String(inner));
  }
}

function tlsOptions(s: Settings): tls.ConnectionOptions {
  return s.ca ? { ca: [...tls.rootCertificates, ...(Array.isArray(s.ca) ? s.ca : [s.ca]).map((c) => c.toString())] } : {};
}

function openTunnel(proxy: Proxy, target: URL, s: Settings, register: (destroy: (e: Error) => void) => void): Promise<Socket> {
  return new Promise((resolvePromise, reject) => {
    const authority = `${target.hostname}:${defaultPort(target)}`;
    const headers: Record<string, string> = { host: authority, 'user-agent': USER_AGENT };
    const auth = proxyAuth(proxy.url);
    if (auth) headers['proxy-authorization'] = auth;
    const mod = proxy.url.protocol === 'https:' ? https : http;
    const req = mod.request({
      host: proxy.url.hostname,
      port: defaultPort(proxy.url),
      method: 'CONNECT',
      path: authority,
      headers,
      ...(proxy.url.protocol === 'https:' ? tlsOptions(s) : {}),
    });
    register((e) => req.destroy(e));
    req.once('connect', (res: IncomingMessage, socket: Socket) => {
      if (res.statusCode === 200) resolvePromise(socket);
      else {
        socket.destroy();
        reject(new TransferError('proxy', `CONNECT answered ${res.statusCode}`, res.statusCode));
      }
    });
    req.once('error', reject);
    req.end();
  });
}

function proxyAuth(u: URL): string | undefined {
  if (!u.username && !u.password) return undefined;
  return `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
}

/** Send one request (no redirects followed) and wait for the response headers. */
async function exchange(url: URL, method: 'HEAD' | 'GET', extra: Record<string, string>, s: Settings): Promise<Exchange> {
  const proxy = proxyFor(url, s.env);
  const where: Where = { url, proxy };
  let destroyCurrent: (e: Error) => void = () => undefined;
  const dog = new Watchdog(s.timeoutMs, () => destroyCurrent(new TransferError('timeout', `no answer for ${Math.round(s.timeoutMs / 1000)} s`)));
  const onAbort = (): void => destroyCurrent(new TransferError('abort', 'cancelled'));
  let tunnel: Socket | undefined;
  const cleanup = (): void => {
    dog.stop();
    s.signal?.removeEventListener('abort', onAbort);
  };
  if (s.signal?.aborted) {
    cleanup();
    throw new NetError(new TransferError('abort', 'cancelled'), where, 'connect');
  }
  s.signal?.addEventListener('abort', onAbort);
  const headers: Record<string, string> = { 'user-agent': USER_AGENT, 'accept-encoding': 'identity', ...extra };
  try {
    let req: ClientRequest;
    if (!proxy) {
      const mod = url.protocol === 'https:' ? https : http;
      req = mod.request(url, { method, headers, ...(url.protocol === 'https:' ? tlsOptions(s) : {}) });
    } else if (url.protocol === 'http:') {
      const mod = proxy.url.protocol === 'https:' ? https : http;
      const auth = proxyAuth(proxy.url);
      req = mod.request({
        host: proxy.url.hostname,
        port: defaultPort(proxy.url),
        method,
        path: url.href,
        headers: { ...headers, host: url.host, ...(auth ? { 'proxy-authorization': auth } : {}) },
        ...(proxy.url.protocol === 'https:' ? tlsOptions(s) : {}),
      });
    } else {
      let socket: Socket;
      try {
        socket = await openTunnel(proxy, url, s, (d) => (destroyCurrent = d));
      } catch (e) {
        throw e instanceof TransferError && e.kind === 'proxy' ? e : new NetError(e, { url: proxy.url, proxy }, 'connect');
      }
      dog.kick();
      const servername = isIP(url.hostname) ? undefined : url.hostname;
      const secure = tls.connect({ socket, ...(servername ? { servername } : {}), ALPNProtocols: ['http/1.1'], ...tlsOptions(s) });
      tunnel = secure;
      req = https.request(url, { method, headers: { ...headers, connection: 'close' }, createConnection: () => secure });
    }
    destroyCurrent = (e) => req.destroy(e);
    const res = await new Promise<IncomingMessage>((ok, fail) => {
      req.once('response', ok);
      req.once('error', fail);
      req.end();
    });
    dog.kick();
    destroyCurrent = (e) => res.destroy(e);
    return {
      res,
      proxy,
      kick: () => dog.kick(),
      close: () => {
        cleanup();
        if (!res.complete) res.destroy();
        tunnel?.destroy();
      },
    };
  } catch (e) {
    cleanup();
    tunnel?.destroy();
    if (e instanceof NetError) throw e;
    // An absolute-URI request talks to the proxy: a failure to connect is the proxy's.
    throw new NetError(e, proxy && url.protocol === 'http:' && !(e instanceof TransferError) ? { url: proxy.url, proxy } : where, 'connect');
  }
}

function header(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

function unquoteEtag(v: string | undefined): string | undefined {
  return v?.replace(/^W\//, '').replace(/^"|"$/g, '') || undefined;
}

const isRedirect = (status: number | undefined): boolean => status === 301 || status === 302 || status === 303 || status === 307 || status === 308;

/** Authorization only for the endpoint's own origin. */
function authFor(url: URL, s: Settings): Record<string, string> {
  return s.token && url.origin === s.endpoint.origin ? { authorization: `Bearer ${s.token}` } : {};
}

/**
 * Follow redirects: all of them (GET), or only relative ones, same host (HEAD: the absolute
 * Location to the CDN is the metadata).
 */
async function request(url0: URL, method: 'HEAD' | 'GET', extra: Record<string, string>, s: Settings, ctx: ErrorContext): Promise<Exchange> {
  let url = url0;
  for (let hop = 0; ; hop++) {
    const ex = await exchange(url, method, { ...extra, ...authFor(url, s) }, s);
    const location = header(ex.res.headers, 'location');
    if (!isRedirect(ex.res.statusCode) || !location) return ex;
    const relative = !/^[a-z][a-z0-9+.-]*:/i.test(location) && !location.startsWith('//');
    if (method === 'HEAD' && !relative) return ex;
    ex.res.resume();
    ex.close();
    if (hop >= MAX_REDIRECTS) throw new ApiError('network_error', `${hostOf(url0)} sent too many redirects for ${ctx.file}.`);
    url = new URL(location, url);
  }
}

// ---------------------------------------------------------------------------------------------
// Errors in a writer's words

interface ErrorContext {
  repo: string;
  revision: string;
  file: string;
  s: Settings;
}

/** An HTTP status that is not what we asked for → ApiError. */
function httpError(res: IncomingMessage, url: URL, ctx: ErrorContext): ApiError {
  const status = res.statusCode ?? 0;
  const code = header(res.headers, 'x-error-code');
  const host = hostOf(url);
  const hub = hostOf(ctx.s.endpoint);
  const { repo, file, revision } = ctx;
  const hadToken = Boolean(authFor(url, ctx.s).authorization);
  if (code === 'GatedRepo' || (status === 403 && code === undefined && url.origin === ctx.s.endpoint.origin)) {
    return new ApiError(
      'network_error',
      hadToken
        ? `${repo} is gated and the HF_TOKEN given is not allowed to download it: accept its terms on ${hub} with that account, or check the token.`
        : `${repo} is gated: accept its terms on ${hub} and set HF_TOKEN.`,
    );
  }
  if (code === 'RepoNotFound') {
    return new ApiError('not_found', `${repo} does not exist on ${hub}${hadToken ? ' (or HF_TOKEN cannot see it)' : ' (if it is private, set HF_TOKEN)'}.`);
  }
  if (code === 'RevisionNotFound') return new ApiError('not_found', `${repo} has no revision "${revision}" on ${hub}.`);
  if (code === 'EntryNotFound') return new ApiError('not_found', `${repo} has no file ${file} at revision ${revision}.`);
  if (status === 401) {
    return new ApiError(
      'network_error',
      hadToken ? `${host} did not accept HF_TOKEN (HTTP 401); check the token.` : `${host} wants a sign-in to download ${repo} (HTTP 401): set HF_TOKEN.`,
    );
  }
  if (status === 403) return new ApiError('network_error', `${host} refused the download of ${file} (HTTP 403).`);
  if (status === 404 || status === 410) return new ApiError('not_found', `${host} has no ${file} of ${repo} (HTTP ${status}).`);
  if (status === 407)
    return new ApiError('network_error', `The proxy wants a password (HTTP 407): put it in the proxy variable as http://user:password@host:port.`);
  if (status === 429) return new ApiError('network_error', `${host} is limiting downloads for now (HTTP 429); wait a few minutes and try again.`);
  if (status >= 500) return new ApiError('network_error', `${host} is having trouble (HTTP ${status}); try again later.`);
  return new ApiError('network_error', `${host} answered HTTP ${status} for ${file}.`);
}

const OFFLINE = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'ENETDOWN', 'EHOSTUNREACH', 'EHOSTDOWN', 'EAI_FAIL', 'EAI_NODATA']);
const DROPPED = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE', 'HPE_INVALID_CONSTANT', 'ERR_HTTP2_STREAM_ERROR']);

/** A failure on the wire → ApiError; `retriable` for drops, stalls and resets. */
function netError(e: unknown, ctx: ErrorContext): { error: ApiError; retriable: boolean } {
  if (e instanceof ApiError) return { error: e, retriable: false };
  const where = e instanceof NetError ? e.where : undefined;
  const cause = e instanceof NetError ? e.inner : e;
  if (cause instanceof RetriableStatus) return { error: cause.error, retriable: true };
  const host = where ? hostOf(where.url) : hostOf(ctx.s.endpoint);
  const viaProxy = where?.proxy && where.url.href === where.proxy.url.href;
  const who = viaProxy ? `the proxy ${host} (from ${where!.proxy!.variable})` : host;
  if (cause instanceof TransferError) {
    if (cause.kind === 'abort')
      return { error: new ApiError('cancelled', `The download of ${ctx.file} was cancelled; it will resume where it stopped.`), retriable: false };
    if (cause.kind === 'proxy') {
      const status = cause.status ?? 0;
      return {
        error: new ApiError(
          'network_error',
          status === 407
            ? `The proxy wants a password (HTTP 407): put it in the proxy variable as http://user:password@host:port.`
            : `The proxy would not connect to ${host} (HTTP ${status}).`,
        ),
        retriable: status >= 500,
      };
    }
    const body = e instanceof NetError && e.phase === 'body';
    return {
      error: new ApiError(
        'network_error',
        body
          ? `The download of ${ctx.file} stalled: ${host} sent nothing for ${Math.round(ctx.s.timeoutMs / 1000)} s.`
          : `Cannot reach ${who}: it did not answer for ${Math.round(ctx.s.timeoutMs / 1000)} s.`,
      ),
      retriable: true,
    };
  }
  const code = (cause as NodeJS.ErrnoException | undefined)?.code ?? '';
  const message = cause instanceof Error ? cause.message : String(cause);
  if (OFFLINE.has(code)) {
    return {
      error: new ApiError(
        'network_error',
        viaProxy ? `Cannot reach ${who}: its name does not resolve, or this computer is offline.` : `Cannot reach ${host}: this computer seems to be offline.`,
      ),
      retriable: false,
    };
  }
  if (code === 'ECONNREFUSED') return { error: new ApiError('network_error', `Cannot reach ${who}: the connection was refused.`), retriable: false };
  if (code === 'ETIMEDOUT') return { error: new ApiError('network_error', `Cannot reach ${who}: the connection timed out.`), retriable: true };
  if (DROPPED.has(code) || message === 'aborted' || /socket hang up/.test(message)) {
    return {
      error: new ApiError('network_error', `The connection to ${host} broke during the download of ${ctx.file}; try again, it will resume.`),
      retriable: true,
    };
  }
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL/.test(code)) {
    return {
      error: new ApiError(
        'network_error',
        `Cannot make a secure connection to ${host} (${code}); ` +
          'if a proxy or firewall inspects the traffic, give Lacuna its certificate with NODE_EXTRA_CA_CERTS.',
      ),
      retriable: false,
    };
  }
  return { error: new ApiError('network_error', `Cannot download ${ctx.file} from ${host}: ${message}.`), retriable: false };
}

function storageError(e: unknown, dir: string, file: string): ApiError {
  if (e instanceof ApiError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return new ApiError('storage_error', `The disk is full: ${file} could not be written in ${dir}.`);
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return new ApiError('storage_error', `Cannot write ${file} in ${dir}: permission denied.`);
  return new ApiError('storage_error', `Cannot write ${file} in ${dir}: ${(e as Error).message}.`);
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((ok) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      ok();
    }
    signal?.addEventListener('abort', done);
  });

function cancelled(file: string): ApiError {
  return new ApiError('cancelled', `The download of ${file} was cancelled; it will resume where it stopped.`);
}

/** Run `attempt` with retries on retriable failures; `attempt` returns whether it made progress. */
async function withRetries<T>(s: Settings, ctx: ErrorContext, attempt: (madeProgress: () => void) => Promise<T>): Promise<T> {
  let failures = 0;
  for (;;) {
    let progressed = false;
    try {
      return await attempt(() => (progressed = true));
    } catch (e) {
      const { error, retriable } = netError(e, ctx);
      if (progressed) failures = 0;
      if (!retriable || failures >= s.retries || s.signal?.aborted) throw s.signal?.aborted ? cancelled(ctx.file) : error;
      await sleep(Math.min(s.retryDelayMs * 2 ** failures, s.retryDelayMs * 8), s.signal);
      failures++;
      if (s.signal?.aborted) throw cancelled(ctx.file);
    }
  }
}

class RetriableStatus extends Error {
  constructor(readonly error: ApiError) {
    super(error.message);
  }
}

// ---------------------------------------------------------------------------------------------
// Metadata

async function headFile(s: Settings, repo: string, revision: string, file: string, shownRevision: string): Promise<HubFileInfo> {
  const ctx: ErrorContext = { repo, revision: shownRevision, file, s };
  const url = resolveUrl(s, repo, revision, file);
  return withRetries(s, ctx, async () => {
    const ex = await request(url, 'HEAD', {}, s, ctx);
    try {
      ex.res.resume();
      const st = ex.res.statusCode ?? 0;
      if (st !== 200 && !isRedirect(st)) {
        const err = httpError(ex.res, url, ctx);
        if (st >= 500 || st === 429) throw new NetError(new RetriableStatus(err), { url, proxy: ex.proxy }, 'connect');
        throw err;
      }
      const h = ex.res.headers;
      const linked = unquoteEtag(header(h, 'x-linked-etag'));
      const etag = unquoteEtag(linked ?? header(h, 'etag'));
      const sizeRaw = header(h, 'x-linked-size') ?? header(h, 'content-length');
      const size = sizeRaw !== undefined && /^\d+$/.test(sizeRaw) ? Number(sizeRaw) : NaN;
      const commit = header(h, 'x-repo-commit');
      if (!etag || !Number.isSafeInteger(size) || !commit) {
        throw new ApiError(
          'network_error',
          `${hostOf(url)} did not describe ${file} of ${repo} (no ${!commit ? 'X-Repo-Commit' : !etag ? 'ETag' : 'size'}); is HF_ENDPOINT a Hugging Face Hub?`,
        );
      }
      const lfs = header(h, 'x-linked-etag') !== undefined;
      const sha256 = lfs && /^[0-9a-f]{64}$/i.test(etag) ? etag.toLowerCase() : undefined;
      return { path: file, size, lfs, ...(sha256 ? { sha256 } : {}), etag, commit };
    } finally {
      ex.close();
    }
  });
}

/**
 * What the Hub reports for the files (sizes, hashes, the commit), without downloading them: for a
 * dialog that names the host and the size before it starts. The first file's commit pins the rest.
 */
export async function fetchHubMetadata(o: HubRequestOptions): Promise<HubMetadata> {
  checkArgs(o);
  const s = settings(o);
  const revision = o.revision ?? 'main';
  const files: HubFileInfo[] = [];
  let pinned: string | undefined;
  for (const f of o.files) {
    const info = await headFile(s, o.repo, pinned ?? revision, f, revision);
    if (pinned && info.commit !== pinned) {
      throw new ApiError('network_error', `${hostOf(s.endpoint)} reported ${f} at commit ${info.commit} though commit ${pinned} was asked for.`);
    }
    pinned ??= info.commit;
    files.push(info);
  }
  return {
    repo: o.repo,
    revision,
    commit: pinned!,
    endpoint: s.endpoint.href.replace(/\/+$/, ''),
    host: hostOf(s.endpoint),
    files,
    bytesTotal: files.reduce((a, f) => a + f.size, 0),
  };
}

// ---------------------------------------------------------------------------------------------
// Download

function sidecarMatches(sc: Sidecar | undefined, repo: string, f: HubFileInfo): boolean {
  if (!sc || sc.format !== SIDECAR_FORMAT || sc.repo !== repo || sc.file !== f.path || sc.size !== f.size) return false;
  if (f.sha256) return sc.sha256 === f.sha256;
  return sc.etag === f.etag && sc.commit === f.commit;
}

async function readSidecar(path: string): Promise<Sidecar | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Sidecar;
  } catch {
    return undefined;
  }
}

/** Bytes of a .part that can be kept (0 when it must start over). */
async function resumableBytes(part: string, repo: string, f: HubFileInfo): Promise<number> {
  const sc = await readSidecar(`${part}.json`);
  if (!sidecarMatches(sc, repo, f)) return 0;
  const st = await stat(part).catch(() => undefined);
  return st?.isFile() && st.size <= f.size ? st.size : 0;
}

function sidecarFor(repo: string, f: HubFileInfo): string {
  const sc: Sidecar = { format: SIDECAR_FORMAT, repo, file: f.path, commit: f.commit, size: f.size, ...(f.sha256 ? { sha256: f.sha256 } : {}), etag: f.etag };
  return `${JSON.stringify(sc)}\n`;
}

/**
 * A finished LFS file of the right size left in the folder by an earlier call (whose install then
 * failed) becomes a complete .part again: it is checked like a download and not fetched again.
 */
async function adoptFinished(dir: string, repo: string, f: HubFileInfo): Promise<boolean> {
  if (!f.sha256) return false;
  const final = join(dir, f.path);
  const st = await stat(final).catch(() => undefined);
  if (!st?.isFile() || st.size !== f.size) return false;
  try {
    await writeFile(`${final}.part.json`, sidecarFor(repo, f));
    await rename(final, `${final}.part`);
    return true;
  } catch {
    return false;
  }
}

/** Feed the first `n` bytes of a file to a hash (a resumed download is checked as a whole). */
async function hashPrefix(path: string, n: number, hash: Hash, signal: AbortSignal | undefined, file: string): Promise<void> {
  if (n === 0) return;
  const stream = createReadStream(path, { start: 0, end: n - 1, highWaterMark: 1 << 20 });
  try {
    for await (const chunk of stream) {
      if (signal?.aborted) throw cancelled(file);
      hash.update(chunk as Buffer);
    }
  } finally {
    stream.destroy();
  }
}

class Progress {
  private readonly done = new Map<string, number>();
  private readonly window: { t: number; bytes: number }[] = [];
  private transferred = 0;
  private last = -Infinity;
  constructor(
    private readonly total: number,
    private readonly sizes: Map<string, number>,
    private readonly interval: number,
    private readonly sink: ((p: DownloadProgress) => void) | undefined,
  ) {}
  set(file: string, bytes: number): void {
    this.done.set(file, bytes);
  }
  add(file: string, bytes: number): void {
    this.done.set(file, (this.done.get(file) ?? 0) + bytes);
    this.transferred += bytes;
  }
  private rate(now: number): number {
    this.window.push({ t: now, bytes: this.transferred });
    while (this.window.length > 2 && now - this.window[0]!.t > 5000) this.window.shift();
    const first = this.window[0]!;
    const dt = (now - first.t) / 1000;
    return dt >= 0.1 ? (this.transferred - first.bytes) / dt : 0;
  }
  emit(file: string, force = false): void {
    if (!this.sink) return;
    const now = performance.now();
    if (!force && now - this.last < this.interval) return;
    this.last = now;
    const bytesDone = [...this.done.values()].reduce((a, b) => a + b, 0);
    const bytesPerSecond = this.rate(now);
    const left = Math.max(0, this.total - bytesDone);
    const p: DownloadProgress = {
      file,
      fileBytesDone: this.done.get(file) ?? 0,
      fileBytesTotal: this.sizes.get(file) ?? 0,
      bytesDone,
      bytesTotal: this.total,
      bytesPerSecond,
      ...(left === 0 ? { secondsLeft: 0 } : bytesPerSecond > 0 ? { secondsLeft: left / bytesPerSecond } : {}),
    };
    try {
      this.sink(p);
    } catch {
      // A listener's failure is not the download's.
    }
  }
}

async function writeAll(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let off = 0;
  while (off < buf.length) off += (await fh.write(buf, off, buf.length - off, position + off)).bytesWritten;
}

const QUEUE_HIGH = 16 << 20;
const QUEUE_LOW = 4 << 20;

/**
 * Consume a response body chunk by chunk (`take` is awaited in order). The stream flows into a
 * queue rather than pausing at once, so that what arrived before a dropped connection is still
 * written (a paused stream discards its buffer when destroyed); it pauses only past 16 MB queued.
 */
function receive(ex: Exchange, where: Where, take: (buf: Buffer) => Promise<void>): Promise<void> {
  const res = ex.res;
  return new Promise<void>((ok, fail) => {
    const queue: Buffer[] = [];
    let queued = 0;
    let writing = false;
    let ended = false;
    let streamError: unknown;
    let takeError: unknown;
    let settled = false;
    const settle = (): void => {
      if (settled || writing) return;
      if (takeError !== undefined) {
        settled = true;
        fail(takeError);
      } else if (queue.length) {
        return;
      } else if (streamError !== undefined) {
        settled = true;
        fail(new NetError(streamError, where, 'body'));
      } else if (ended) {
        settled = true;
        ok();
      }
    };
    const pump = async (): Promise<void> => {
      if (writing) return;
      writing = true;
      try {
        while (queue.length && takeError === undefined) {
          const buf = queue.shift()!;
          queued -= buf.length;
          await take(buf);
          if (res.isPaused() && queued < QUEUE_LOW && !res.destroyed) res.resume();
        }
      } catch (e) {
        takeError = e;
        queue.length = 0;
        res.destroy();
      }
      writing = false;
      settle();
    };
    res.on('data', (chunk: Buffer) => {
      ex.kick();
      if (takeError !== undefined) return;
      queue.push(chunk);
      queued += chunk.length;
      if (queued > QUEUE_HIGH) res.pause();
      void pump();
    });
    res.once('end', () => {
      ended = true;
      settle();
    });
    res.once('error', (e) => {
      streamError ??= e;
      settle();
    });
    res.once('close', () => {
      if (!ended && streamError === undefined) streamError = Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
      settle();
    });
  });
}

async function downloadOne(s: Settings, repo: string, f: HubFileInfo, dir: string, progress: Progress, start0: number, shownRevision: string): Promise<string> {
  const part = join(dir, `${f.path}.part`);
  const ctx: ErrorContext = { repo, revision: shownRevision, file: f.path, s };
  const url = resolveUrl(s, repo, f.commit, f.path);
  const fail = (e: unknown): never => {
    throw storageError(e, dirname(part), f.path);
  };

  if (start0 === 0) {
    await rm(part, { force: true }).catch(fail);
    await writeFile(`${part}.json`, sidecarFor(repo, f)).catch(fail);
  }
  const fh = await open(part, start0 === 0 ? 'w+' : 'r+').catch(fail);
  let hash = createHash('sha256');
  let pos = start0;
  try {
    await hashPrefix(part, pos, hash, s.signal, f.path);
    progress.set(f.path, pos);
    progress.emit(f.path);
    await withRetries(s, ctx, async (madeProgress) => {
      if (pos >= f.size) return;
      if (s.signal?.aborted) throw cancelled(f.path);
      const ex = await request(url, 'GET', pos > 0 ? { range: `bytes=${pos}-` } : {}, s, ctx);
      try {
        const st = ex.res.statusCode ?? 0;
        const where: Where = { url, proxy: ex.proxy };
        if (st === 416 && pos > 0) {
          // The server has fewer bytes than we kept: start over.
          ex.res.resume();
          pos = 0;
          hash = createHash('sha256');
          await fh.truncate(0).catch(fail);
          progress.set(f.path, 0);
          throw new NetError(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }), where, 'body');
        }
        if (st !== 200 && st !== 206) {
          ex.res.resume();
          const err = httpError(ex.res, url, ctx);
          if (st >= 500 || st === 429) throw new NetError(new RetriableStatus(err), where, 'connect');
          throw err;
        }
        if (st === 206) {
          const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header(ex.res.headers, 'content-range') ?? '');
          if (!m || Number(m[1]) !== pos) {
            ex.res.resume();
            throw new ApiError(
              'network_error',
              `${hostOf(url)} sent the wrong part of ${f.path} ` +
                `(Content-Range ${JSON.stringify(header(ex.res.headers, 'content-range') ?? '')}, asked for bytes ${pos}-).`,
            );
          }
        } else if (pos > 0) {
          // Range ignored: the whole file comes again.
          pos = 0;
          hash = createHash('sha256');
          await fh.truncate(0).catch(fail);
          progress.set(f.path, 0);
        }
        await receive(ex, where, async (buf) => {
          if (pos + buf.length > f.size) {
            throw new ApiError(
              'model_error',
              `The download of ${f.path} was damaged (more than the ${f.size} bytes the Hub reported); it was deleted, try again.`,
            );
          }
          await writeAll(fh, buf, pos).catch(fail);
          hash.update(buf);
          pos += buf.length;
          progress.add(f.path, buf.length);
          progress.emit(f.path);
          madeProgress();
        });
        if (pos < f.size) throw new NetError(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }), where, 'body');
      } finally {
        ex.close();
      }
    });
    await fh.sync().catch(fail);
  } catch (e) {
    await fh.close().catch(() => undefined);
    if (e instanceof ApiError && e.code === 'model_error') {
      await rm(part, { force: true }).catch(() => undefined);
      await rm(`${part}.json`, { force: true }).catch(() => undefined);
    }
    throw e;
  }
  await fh.close().catch(fail);

  const size = (await stat(part).catch(fail)).size;
  const digest = hash.digest('hex');
  const damaged = async (why: string): Promise<never> => {
    await rm(part, { force: true }).catch(() => undefined);
    await rm(`${part}.json`, { force: true }).catch(() => undefined);
    throw new ApiError('model_error', `The download of ${f.path} was damaged (${why}); it was deleted, try again.`);
  };
  if (size !== f.size) await damaged(`${size} bytes instead of ${f.size}`);
  if (f.sha256 && digest !== f.sha256) await damaged('its SHA-256 does not match');
  return digest;
}

/** Download files of a Hub repository into stagingDir (see the module doc). */
export async function downloadHubFiles(o: DownloadOptions): Promise<DownloadResult> {
  checkArgs(o);
  const s = settings(o);
  const dir = resolve(o.stagingDir);
  await mkdir(dir, { recursive: true }).catch((e: unknown) => {
    throw storageError(e, dir, 'the download folder');
  });
  const meta = await fetchHubMetadata(o);
  if (s.signal?.aborted) throw cancelled(meta.files[0]!.path);

  const kept = new Map<string, number>();
  for (const f of meta.files) {
    await mkdir(dirname(join(dir, f.path)), { recursive: true }).catch((e: unknown) => {
      throw storageError(e, dir, f.path);
    });
    let k = await resumableBytes(join(dir, `${f.path}.part`), o.repo, f);
    if (k === 0 && (await adoptFinished(dir, o.repo, f))) k = f.size;
    kept.set(f.path, k);
  }
  const needed = meta.files.reduce((a, f) => a + f.size - kept.get(f.path)!, 0) + Math.max(0, o.extraBytesNeeded ?? 0);
  let free: number;
  try {
    const st = await (o.statfs ?? ((p: string) => fsStatfs(p)))(dir);
    free = Number(st.bavail) * Number(st.bsize);
  } catch {
    free = Infinity;
  }
  if (free < needed) throw new ApiError('storage_error', `Not enough free disk space: ${formatBytes(needed)} needed in ${dir}, ${formatBytes(free)} free.`);

  const progress = new Progress(meta.bytesTotal, new Map(meta.files.map((f) => [f.path, f.size])), o.progressIntervalMs ?? 250, o.onProgress);
  for (const f of meta.files) progress.set(f.path, kept.get(f.path)!);
  const digests = new Map<string, string>();
  for (const f of meta.files) digests.set(f.path, await downloadOne(s, o.repo, f, dir, progress, kept.get(f.path)!, meta.revision));

  for (const f of meta.files) {
    const final = join(dir, f.path);
    await rename(`${final}.part`, final).catch((e: unknown) => {
      throw storageError(e, dir, f.path);
    });
    await rm(`${final}.part.json`, { force: true }).catch(() => undefined);
  }
  try {
    const d = await open(dir, 'r');
    await d.sync().finally(() => d.close());
  } catch {
    // Not every platform can fsync a folder.
  }
  progress.emit(meta.files[meta.files.length - 1]!.path, true);
  return { dir, repo: o.repo, commit: meta.commit, files: meta.files.map((f) => ({ path: f.path, bytes: f.size, sha256: digests.get(f.path)! })) };
}
