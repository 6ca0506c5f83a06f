/**
 * The built web mode (out/main/web.js) as a real process: the URL line, the API with the real
 * engine process behind it (EngineClient → out/main/engine-host.js), and a clean shutdown.
 * `npm test` builds before vitest; run `npx electron-vite build` first when running this alone.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { createServer } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ApiEvent, AppInfo, Document, FillResult, ModelInfo } from '../common/api';
import { appRoot } from '../platform/paths';
import { openDatabase } from '../store/database';
import { DocumentStore } from '../store/documents';

const ROOT = appRoot();
const WEB_JS = join(ROOT, 'out', 'main', 'web.js');
const HOST_JS = join(ROOT, 'out', 'main', 'engine-host.js');
const URL_LINE = /^Lacuna web mode: (http:\/\/127\.0\.0\.1:(\d+)\/)#token=([0-9a-f]{64})$/;
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

type Child = ChildProcessByStdio<null, Readable, Readable>;

interface Running {
  child: Child;
  origin: string;
  port: number;
  token: string;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const dirs: string[] = [];
const children: Child[] = [];

beforeAll(() => {
  for (const f of [WEB_JS, HOST_JS]) {
    if (!existsSync(f)) throw new Error(`${f} is missing: build first (npx electron-vite build; npm test does it before vitest)`);
  }
});

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'lacuna-webmain-'));
  dirs.push(d);
  return d;
}

function launch(args: string[], env: Record<string, string>): { child: Child; stdout: () => string; stderr: () => string; exit: Running['exit'] } {
  const child = spawn(process.execPath, [WEB_JS, ...args], { cwd: ROOT, env: { ...process.env, LACUNA_PORT: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  return { child, stdout: () => out, stderr: () => err, exit };
}

async function start(args: string[], dataDir: string, env: Record<string, string> = {}): Promise<Running> {
  const l = launch(args, { LACUNA_DATA_DIR: dataDir, ...env });
  const line = await new Promise<string>((resolve, reject) => {
    const check = (): void => {
      const nl = l.stdout().indexOf('\n');
      if (nl !== -1) resolve(l.stdout().slice(0, nl));
    };
    l.child.stdout.on('data', check);
    void l.exit.then(({ code, signal }) => reject(new Error(`web mode exited (${signal ?? code}) before its URL; stderr: ${l.stderr()}`)));
  });
  const m = URL_LINE.exec(line);
  if (!m) throw new Error(`unexpected first stdout line: ${JSON.stringify(line)}`);
  return { ...l, origin: m[1]!, port: Number(m[2]), token: m[3]! };
}

async function call(w: Running, method: string, params: unknown): Promise<unknown> {
  const res = await fetch(new URL(`api/${method}`, w.origin), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${w.token}` },
    body: JSON.stringify(params),
  });
  const json = (await res.json()) as { ok: boolean; result?: unknown; error?: unknown };
  if (!json.ok) throw new Error(`${method}: HTTP ${res.status} ${JSON.stringify(json.error)}`);
  return json.result;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

describe('web mode (out/main/web.js)', () => {
  it('prints one URL line, serves the API with a real engine process, and shuts down cleanly', async () => {
    const data = tempDir();
    const w = await start([], data);

    const info = AppInfo.parse(await call(w, 'app.info', {}));
    const models = z.array(ModelInfo).parse(await call(w, 'models.list', {}));
    expect(models.map((m) => m.id)).toContain('tiny-fixture');
    const defaultModel = models.find((m) => m.isDefault)?.id;
    expect(info).toEqual({ version: VERSION, dataDir: data, defaultModel, front: 'web' });
    const page = await fetch(w.origin);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");

    const doc = Document.parse(await call(w, 'documents.create', { title: 'from web mode', body: 'The ____ sat.' }));

    // Progress over SSE from a fill that runs in the engine host process.
    const controller = new AbortController();
    const res = await fetch(new URL(`api/events?token=${w.token}`, w.origin), { signal: controller.signal });
    expect(res.status).toBe(200);
    const events: ApiEvent[] = [];
    const reading = (async () => {
      const decoder = new TextDecoder();
      let buf = '';
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buf += decoder.decode(chunk, { stream: true });
          for (let i = buf.indexOf('\n\n'); i !== -1; i = buf.indexOf('\n\n')) {
            const frame = buf.slice(0, i);
            buf = buf.slice(i + 2);
            for (const l of frame.split('\n')) if (l.startsWith('data: ')) events.push(ApiEvent.parse(JSON.parse(l.slice(6))));
          }
          if (events.some((e) => e.requestId === 'wm-1' && e.type === 'fill.progress' && e.step === 4)) return;
        }
      } catch (e) {
        if ((e as Error).name !== 'AbortError') throw e;
      }
    })();
    const result = FillResult.parse(await call(w, 'fill.run', { requestId: 'wm-1', text: 'Hello {{6}} world', model: 'tiny-fixture', steps: 4, seed: 3 }));
    expect(result.text.startsWith('Hello ')).toBe(true);
    expect(result.text.endsWith(' world')).toBe(true);
    await reading;
    controller.abort();
    expect(events.filter((e) => e.requestId === 'wm-1').flatMap((e) => (e.type === 'fill.progress' ? [e.step] : []))).toEqual([1, 2, 3, 4]);

    w.child.kill('SIGTERM');
    expect(await w.exit).toEqual({ code: 0, signal: null });
    expect(w.stdout().split('\n')).toHaveLength(2); // one line, then the final newline
    expect(w.stdout().endsWith('\n')).toBe(true);

    // The library was closed properly and holds the document.
    const db = openDatabase({ dataDir: data });
    try {
      expect(new DocumentStore(db).open(doc.id).title).toBe('from web mode');
    } finally {
      db.close();
    }
  });

  it('takes the port from --port, else LACUNA_PORT, and stops on SIGINT', async () => {
    const p1 = await freePort();
    const a = await start(['--port', String(p1)], tempDir());
    expect(a.port).toBe(p1);
    a.child.kill('SIGINT');
    expect((await a.exit).code).toBe(0);

    const p2 = await freePort();
    const b = await start([], tempDir(), { LACUNA_PORT: String(p2) });
    expect(b.port).toBe(p2);
    expect((await call(b, 'documents.list', {})) as unknown[]).toEqual([]);

    // The port is taken now: a second instance on it fails with one clear line.
    const c = launch([`--port=${p2}`], { LACUNA_DATA_DIR: tempDir() });
    expect((await c.exit).code).toBe(1);
    expect(c.stdout()).toBe('');
    expect(c.stderr()).toMatch(/^lacuna web: cannot start the server: port \d+ is already in use\n$/);
    b.child.kill('SIGTERM');
    expect((await b.exit).code).toBe(0);
  });

  it('refuses a bad port with a usage error', async () => {
    for (const [args, env] of [
      [['--port', 'abc'], {}],
      [['--port', '70000'], {}],
      [['--port'], {}],
      [['--bogus'], {}],
      [[], { LACUNA_PORT: '-1' }],
    ] as Array<[string[], Record<string, string>]>) {
      const l = launch(args, { LACUNA_DATA_DIR: tempDir(), ...env });
      expect((await l.exit).code, args.join(' ')).toBe(2);
      expect(l.stdout()).toBe('');
      expect(l.stderr()).toMatch(/^lacuna web: [^\n]+\n$/);
    }
  });
});
