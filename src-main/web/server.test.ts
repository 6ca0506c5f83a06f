import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ApiEvent, Document, DocumentSummary, FillResult } from '../common/api';
import type { ApiClient } from '../common/api';
import { createCore, type Core } from '../service/core';
import { Engine } from '../engine/engine';
import { appRoot } from '../platform/paths';
import { CONTENT_SECURITY_POLICY, startWebServer, type WebServer } from './server';

const MODELS = join(appRoot(), 'models');
const SECRET = 'top secret: must never be served';

let dir: string;
let core: Core;
let server: WebServer;
/** Every API call the server forwarded, and how fill.run calls ended. */
const forwarded: string[] = [];
/** The params of every forwarded call, as the core got them. */
const forwardedParams: Array<{ method: string; params: unknown }> = [];
/** How score.run calls ended, by requestId. */
const scoreOutcomes = new Map<string, string>();
const fillOutcomes = new Map<string, string>();

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A raw HTTP request: exact path and headers (Host included), no client-side normalisation. */
function send(opts: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer }, port = server.port): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path, headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

function auth(token = server.token): Record<string, string> {
  return { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
}

interface Envelope {
  ok: boolean;
  result?: unknown;
  error?: { code: string; message: string };
}

async function api(method: string, params: unknown, headers: Record<string, string> = auth()): Promise<{ status: number; json: Envelope }> {
  const r = await send({ method: 'POST', path: `/api/${method}`, headers, body: JSON.stringify(params) });
  return { status: r.status, json: JSON.parse(r.body) };
}

/** An SSE subscription: collects ApiEvents until closed. */
function subscribe(path: string, headers: Record<string, string> = {}) {
  const events: ApiEvent[] = [];
  const waiters: Array<{ test: (e: ApiEvent) => boolean; resolve: () => void }> = [];
  let ended!: () => void;
  const endedP = new Promise<void>((r) => (ended = r));
  let close = (): void => {};
  const ready = new Promise<{ status: number; headers: IncomingHttpHeaders }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, headers, agent: false }, (res) => {
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n\n')) !== -1) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          for (const line of frame.split('\n')) {
            if (!line.startsWith('data: ')) continue;
            const e = ApiEvent.parse(JSON.parse(line.slice(6)));
            events.push(e);
            for (const w of [...waiters]) {
              if (w.test(e)) {
                waiters.splice(waiters.indexOf(w), 1);
                w.resolve();
              }
            }
          }
        }
      });
      res.on('end', () => ended());
      res.on('close', () => ended());
    });
    req.on('error', reject);
    req.end();
    close = () => req.destroy();
  });
  return {
    events,
    ready,
    ended: endedP,
    waitFor: (test: (e: ApiEvent) => boolean) =>
      new Promise<void>((resolve) => {
        if (events.some(test)) resolve();
        else waiters.push({ test, resolve });
      }),
    close: () => close(),
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lacuna-web-'));
  const www = join(dir, 'www');
  mkdirSync(join(www, 'assets'), { recursive: true });
  writeFileSync(join(www, 'index.html'), '<!doctype html><title>Lacuna</title>');
  writeFileSync(join(www, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(join(www, 'assets', 'app.css'), 'body{}');
  writeFileSync(join(www, 'assets', 'logo.svg'), '<svg/>');
  writeFileSync(join(dir, 'secret.txt'), SECRET);
  writeFileSync(join(dir, 'www-secret.txt'), SECRET); // shares the "www" prefix
  symlinkSync(join(dir, 'secret.txt'), join(www, 'assets', 'link.txt'));

  core = createCore({ dataDir: join(dir, 'data'), modelDirs: [MODELS], front: 'web', version: '0.0.0-test', engine: new Engine({ threads: 1 }) });
  const spy: ApiClient = {
    call(method, params) {
      forwarded.push(method);
      forwardedParams.push({ method, params });
      const p = core.call(method, params);
      if (method === 'score.run') {
        const id = (params as { requestId: string }).requestId;
        p.then(
          () => scoreOutcomes.set(id, 'ok'),
          (e: { code: string }) => scoreOutcomes.set(id, e.code),
        );
      }
      if (method === 'fill.run') {
        const id = (params as { requestId: string }).requestId;
        p.then(
          () => fillOutcomes.set(id, 'ok'),
          (e: { code: string }) => fillOutcomes.set(id, e.code),
        );
      }
      return p;
    },
    onEvent: (l) => core.onEvent(l),
  };
  server = await startWebServer({ core: spy, staticDir: www, maxRequestBytes: 1 << 20 });
});

afterAll(async () => {
  await server?.close();
  await core?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('web server: API', () => {
  it('listens on 127.0.0.1 with a 64-hex token in the URL fragment', () => {
    expect(server.token).toMatch(/^[0-9a-f]{64}$/);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/#token=${server.token}`);
  });

  it('answers 401 without a token, with a wrong one, and with the token only in the query', async () => {
    const none = await api('documents.list', {}, { 'Content-Type': 'application/json' });
    expect(none.status).toBe(401);
    expect(none.json.ok).toBe(false);
    const wrong = await api('documents.list', {}, auth('0'.repeat(64)));
    expect(wrong.status).toBe(401);
    const short = await api('documents.list', {}, auth('abc'));
    expect(short.status).toBe(401);
    const query = await send({
      method: 'POST',
      path: `/api/documents.list?token=${server.token}`,
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
    });
    expect(query.status).toBe(401);
    const unknownNoToken = await api('no.such', {}, { 'Content-Type': 'application/json' });
    expect(unknownNoToken.status).toBe(401);
    expect(forwarded).not.toContain('documents.list');
    // The same request with the token works, so the 401s above are about the token.
    expect((await api('documents.list', {})).status).toBe(200);
  });

  it('answers 404 for an unknown method', async () => {
    const r = await api('no.such', {});
    expect(r.status).toBe(404);
    expect(r.json).toEqual({ ok: false, error: { code: 'not_found', message: 'unknown method "no.such"' } });
  });

  it('answers 400 for malformed params, naming the field', async () => {
    const r = await api('documents.open', { id: 'not-hex' });
    expect(r.status).toBe(400);
    expect(r.json.error!.code).toBe('bad_request');
    expect(r.json.error!.message).toMatch(/\bid\b/);
    const steps = await api('fill.run', { requestId: 'x', text: 'a ____', steps: 'many' });
    expect(steps.status).toBe(400);
    expect(steps.json.error!.message).toContain('steps');
  });

  it('rejects bodies that are not JSON, too large, or sent with the wrong method', async () => {
    const bad = await send({ method: 'POST', path: '/api/documents.list', headers: auth(), body: '{oops' });
    expect(bad.status).toBe(400);
    expect((JSON.parse(bad.body) as Envelope).error!.message).toMatch(/JSON/);
    const type = await send({ method: 'POST', path: '/api/documents.list', headers: { ...auth(), 'Content-Type': 'text/plain' }, body: '{}' });
    expect(type.status).toBe(415);
    const form = await send({
      method: 'POST',
      path: '/api/documents.list',
      headers: { ...auth(), 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'a=1',
    });
    expect(form.status).toBe(415);
    const big = await send({ method: 'POST', path: '/api/documents.create', headers: auth(), body: JSON.stringify({ body: 'x'.repeat((1 << 20) + 10) }) });
    expect(big.status).toBe(413);
    const get = await send({ method: 'GET', path: '/api/documents.list', headers: auth() });
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
  });

  it('round-trips documents, with conflict and not_found statuses', async () => {
    const body = 'Ünïcödé 😀 שלום\u0000 — The ____ sat.';
    const created = await api('documents.create', { title: 'Web', body });
    expect(created.status).toBe(200);
    const doc = Document.parse(created.json.result);
    const list = await api('documents.list', {});
    expect(
      z
        .array(DocumentSummary)
        .parse(list.json.result)
        .map((d) => d.id),
    ).toContain(doc.id);
    const opened = await api('documents.open', { id: doc.id });
    expect(opened.json).toEqual({ ok: true, result: doc });
    const saved = await api('documents.save', { id: doc.id, title: 'Web', body: body + '!', baseRevision: 0 });
    expect(Document.parse(saved.json.result).revision).toBe(1);
    const stale = await api('documents.save', { id: doc.id, title: 'Web', body: 'stale', baseRevision: 0 });
    expect(stale.status).toBe(409);
    expect(stale.json.error!.code).toBe('conflict');
    const missing = await api('documents.open', { id: 'a'.repeat(32) });
    expect(missing.status).toBe(404);
    expect(missing.json.error!.code).toBe('not_found');
    expect(Document.parse((await api('documents.open', { id: doc.id })).json.result).body).toBe(body + '!');
  });

  it('streams fill.progress over SSE during a real fill (token in the query)', async () => {
    const sse = subscribe(`/api/events?token=${server.token}`);
    const head = await sse.ready;
    expect(head.status).toBe(200);
    expect(head.headers['content-type']).toMatch(/^text\/event-stream/);
    const r = await api('fill.run', { requestId: 'sse-1', text: 'It was a {{6}} night.', steps: 5, seed: 7 });
    expect(r.status).toBe(200);
    const result = FillResult.parse(r.json.result);
    expect(result.requestId).toBe('sse-1');
    await sse.waitFor((e) => e.requestId === 'sse-1' && e.type === 'fill.progress' && e.step === 5);
    const mine = sse.events.filter((e) => e.requestId === 'sse-1').filter((e) => e.type === 'fill.progress');
    expect(mine.map((e) => e.step)).toEqual([1, 2, 3, 4, 5]);
    expect(mine.every((e) => e.type === 'fill.progress' && e.steps === 5)).toBe(true);
    sse.close();
  });

  it('accepts the SSE token as a header and refuses SSE without one', async () => {
    const withHeader = subscribe('/api/events', { Authorization: `Bearer ${server.token}` });
    expect((await withHeader.ready).status).toBe(200);
    withHeader.close();
    const none = subscribe('/api/events');
    expect((await none.ready).status).toBe(401);
    const wrong = subscribe('/api/events?token=' + 'f'.repeat(64));
    expect((await wrong.ready).status).toBe(401);
  });

  it('reports a cancelled fill, and cancels a fill whose request goes away', async () => {
    const sse = subscribe(`/api/events?token=${server.token}`);
    await sse.ready;
    const running = api('fill.run', { requestId: 'c-1', text: 'a ____ b', steps: 4096, seed: 1 });
    await sse.waitFor((e) => e.requestId === 'c-1');
    expect((await api('fill.cancel', { requestId: 'c-1' })).json).toEqual({ ok: true, result: { ok: true } });
    const r = await running;
    expect(r.status).toBe(409);
    expect(r.json.error!.code).toBe('cancelled');

    // Now the requester disappears mid-fill: the server cancels on its behalf.
    const req = request({ host: '127.0.0.1', port: server.port, method: 'POST', path: '/api/fill.run', headers: auth(), agent: false });
    req.on('error', () => {});
    req.end(JSON.stringify({ requestId: 'c-2', text: 'a ____ b', steps: 4096, seed: 2 }));
    await sse.waitFor((e) => e.requestId === 'c-2');
    req.destroy();
    await expect.poll(() => fillOutcomes.get('c-2'), { timeout: 30_000 }).toBe('cancelled');
    expect(forwarded.filter((m) => m === 'fill.cancel')).toHaveLength(2);
    sse.close();
  });

  it('gives a score sent without a requestId one, and cancels it when its client goes away', async () => {
    const sse = subscribe(`/api/events?token=${server.token}`);
    await sse.ready;
    const text = 'The keeper climbed the stair and lit the lamp. '.repeat(400);
    const req = request({ host: '127.0.0.1', port: server.port, method: 'POST', path: '/api/score.run', headers: auth(), agent: false });
    req.on('error', () => {});
    req.end(JSON.stringify({ text, draws: 1000, seed: 1 }));
    await sse.waitFor((e) => e.type === 'score.progress');
    const sent = forwardedParams.filter((f) => f.method === 'score.run').at(-1)!.params as { requestId?: string };
    expect(sent.requestId).toMatch(/^web-[0-9a-f-]{36}$/);
    req.destroy();
    await expect.poll(() => scoreOutcomes.get(sent.requestId!), { timeout: 30_000 }).toBe('cancelled');
    expect(forwardedParams.filter((f) => f.method === 'fill.cancel').at(-1)!.params).toEqual({ requestId: sent.requestId });
    // The engine is free again: a fill answers.
    const r = await api('fill.run', { requestId: 'after-score', text: 'a ____ b', steps: 4, seed: 1 });
    expect(r.status).toBe(200);
    sse.close();
  });
});

describe('web server: origin checks', () => {
  it('refuses a foreign Host header (DNS rebinding) on the API and the page', async () => {
    const evil = await send({ method: 'POST', path: '/api/documents.list', headers: { ...auth(), Host: `evil.example:${server.port}` }, body: '{}' });
    expect(evil.status).toBe(403);
    const otherPort = await send({ path: '/', headers: { Host: `127.0.0.1:${server.port + 1}` } });
    expect(otherPort.status).toBe(403);
    const noPort = await send({ path: '/', headers: { Host: '127.0.0.1' } });
    expect(noPort.status).toBe(403);
    const local = await send({ method: 'POST', path: '/api/documents.list', headers: { ...auth(), Host: `localhost:${server.port}` }, body: '{}' });
    expect(local.status).toBe(200);
  });

  it('refuses cross-origin requests and accepts same-origin ones', async () => {
    const cross = await send({ method: 'POST', path: '/api/documents.list', headers: { ...auth(), Origin: 'http://evil.example' }, body: '{}' });
    expect(cross.status).toBe(403);
    const nullOrigin = await send({ method: 'POST', path: '/api/documents.list', headers: { ...auth(), Origin: 'null' }, body: '{}' });
    expect(nullOrigin.status).toBe(403);
    const site = await send({ method: 'POST', path: '/api/documents.list', headers: { ...auth(), 'Sec-Fetch-Site': 'cross-site' }, body: '{}' });
    expect(site.status).toBe(403);
    const same = await send({ method: 'POST', path: '/api/documents.list', headers: { ...auth(), Origin: `http://127.0.0.1:${server.port}` }, body: '{}' });
    expect(same.status).toBe(200);
  });
});

describe('web server: static files', () => {
  it('serves index.html for / with the security headers', async () => {
    const r = await send({ path: '/' });
    expect(r.status).toBe(200);
    expect(r.body).toContain('<title>Lacuna</title>');
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    expect(CONTENT_SECURITY_POLICY).toContain("frame-ancestors 'none'");
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['referrer-policy']).toBe('no-referrer');
  });

  it('sets content types by extension and answers HEAD', async () => {
    expect((await send({ path: '/assets/app.js' })).headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect((await send({ path: '/assets/app.css' })).headers['content-type']).toBe('text/css; charset=utf-8');
    expect((await send({ path: '/assets/logo.svg' })).headers['content-type']).toBe('image/svg+xml');
    const head = await send({ method: 'HEAD', path: '/assets/app.js' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(head.headers['content-length']).toBe('14');
    expect((await send({ method: 'POST', path: '/' })).status).toBe(405);
    expect((await send({ path: '/missing.js' })).status).toBe(404);
    expect((await send({ path: '/assets' })).status).toBe(404);
  });

  it('blocks directory traversal and symlinks out of the renderer folder', async () => {
    for (const path of [
      '/../secret.txt',
      '/assets/../../secret.txt',
      '/%2e%2e/secret.txt',
      '/..%2fsecret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/..%5csecret.txt',
      '/%2e%2e%5csecret.txt',
      '/../www-secret.txt',
      '/..%2fwww-secret.txt',
      '/assets/link.txt',
      '/index.html%00.js',
      '/%E0%A4%A',
    ]) {
      const r = await send({ path });
      expect(r.status, path).toBeGreaterThanOrEqual(400);
      expect(r.body, path).not.toContain(SECRET);
    }
  });
});

describe('web server: shutdown', () => {
  it('ends event streams and stops listening on close', async () => {
    const other = await startWebServer({ core, staticDir: join(dir, 'www') });
    const sseClient = await new Promise<{ ended: Promise<void> }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: other.port, path: `/api/events?token=${other.token}`, agent: false }, (res) => {
        expect(res.statusCode).toBe(200);
        const ended = new Promise<void>((r) => {
          res.on('end', () => r());
          res.on('close', () => r());
        });
        res.resume();
        resolve({ ended });
      });
      req.on('error', reject);
      req.end();
    });
    await other.close();
    await sseClient.ended;
    await expect(send({ path: '/' }, other.port)).rejects.toThrow(/ECONNREFUSED/);
  });
});
