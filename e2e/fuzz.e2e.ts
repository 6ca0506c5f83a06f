/**
 * A bounded fuzz of the web mode API (issue 16): ~2,000 requests from a fixed seed over every method
 * of the contract (src-main/common/api.ts `methods`), mixing valid params with missing and extra
 * fields, wrong types, extreme strings, unknown methods, bodies that are not JSON and wrong content
 * types, against a library holding multi-megabyte documents. No answer may be a 5xx, none may take
 * over 5 s; afterwards the server still answers, the big documents are intact, and the library file
 * passes SQLite's integrity check and the search index's.
 *
 * Safety: paths given to library.backup and models.import point inside this test's temp folders (or
 * are relative, which both refuse, or only read); the Hub is a local fake with no repositories, so
 * models.download never reaches the network; fills and scores name the tiny fixture model with few
 * steps and draws, and every long call has a requestId (a client timeout closes its connection, which
 * cancels it).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { methods, type Method } from '../src-main/common/api';
import { startFakeHub, type FakeHub } from '../src-main/engine/model/fake-hub';
import { Random } from '../src-main/engine/random';
import { ROOT, startWebMode, type WebMode } from './helpers';
import { PRECISION_IDS } from '../src-main/common/precision';

const SEED = 0x1ac0a;
const REQUESTS = 2_000;
const CONCURRENCY = 4;
const SLOW_MS = 5_000;
/** A request still unanswered after this is aborted (and counted as slow). */
const CLIENT_TIMEOUT_MS = 15_000;
const MODEL = 'tiny-fixture';
const MODEL_DIR = join(ROOT, 'models', 'fixtures', 'tiny-fixture');

// The engine's seeded generator (engine/random.ts), so a failing seed replays exactly.
const rng = new Random(SEED);
const rand = (): number => rng.uniform();
const int = (n: number): number => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
const chance = (p: number): boolean => rand() < p;

/** Prose with blanks and odd Unicode (emoji, combining marks, RTL, NUL, a lone surrogate), about `chars` long. */
function prose(chars: number, tag: string): string {
  const pieces = [
    'The keeper climbed the stairs to the lamp room and ____ before the storm.',
    'She wrote {{8}} in the margin, then crossed it out.',
    'Café naïve résumé — e\u0301 a\u0308 o\u0323\u0302 🦀🏳️‍🌈👩‍👩‍👧 שלום עולם مرحبا',
    '**Bold** and _italic_ and `code`, \\escaped\\ and {{not a blank}} {braces}.',
    '# A heading\n\n> a quote\n\n- a list item\n- another',
    'NUL here:\u0000 and a lone surrogate here: \ud800 and there: \udfff.',
  ];
  const out: string[] = [`${tag}\n\n`];
  let n = out[0]!.length;
  let i = 0;
  while (n < chars) {
    const p = `${pieces[i % pieces.length]!} (${i})\n\n`;
    out.push(p);
    n += p.length;
    i++;
  }
  return out.join('');
}

/** The string with each lone surrogate replaced by U+FFFD (String.prototype.toWellFormed, ES2024). */
function wellFormed(s: string): string {
  return s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

const MB = 1 << 20;
const BIG_BODIES = [prose(3 * MB, 'Big three'), prose(8 * MB, 'Big eight')];

const ONE_MB = 'x'.repeat(MB);
const EXTREME_STRINGS: readonly string[] = [
  '',
  ' ',
  ONE_MB,
  '\\'.repeat(100_000),
  '_'.repeat(100_000),
  '____ '.repeat(2_000),
  '{'.repeat(50_000) + '}'.repeat(50_000),
  '{{999999999}}',
  '{{0}} {{-1}} {{4097}} {{1e9}}',
  '__proto__',
  'constructor',
  'prototype',
  '../../etc/passwd',
  '..\\..\\windows\\system32',
  'a\u0000b',
  '\u0000',
  `/${'deep/'.repeat(2_000)}x`,
  'a'.repeat(5_000),
  '\ud800',
  '\udfff\ud800',
  '🦀'.repeat(2_000),
  'e\u0301'.repeat(5_000),
  'שלום \u202e evil \u202c',
  '0'.repeat(32),
  'f'.repeat(32),
  'F'.repeat(32),
  'NaN',
  'Infinity',
  '-1',
  '9007199254740993',
  '"',
  '"unbalanced',
  'NEAR(a b, -1)',
  'a OR',
  '* AND NOT',
  'title:x',
  '^x',
  '(((',
  '<script>alert(1)</script>',
  '%00%2e%2e%2f',
  'CON',
  'x'.repeat(101),
];

function weird(): unknown {
  return pick<unknown>([
    null,
    true,
    false,
    0,
    -1,
    -0.5,
    1.5,
    2 ** 53,
    -(2 ** 53),
    2 ** 31,
    2 ** 32,
    1e308,
    -1e308,
    Number.MAX_VALUE,
    Number.MIN_VALUE,
    '1',
    '16',
    'NaN',
    'Infinity',
    '-0',
    '',
    [],
    [1, 2, 3],
    ['a'],
    {},
    { a: { b: { c: { d: [] } } } },
    { __proto__: { polluted: true } },
    JSON.parse('{"__proto__": {"polluted": true}}'),
    { constructor: { prototype: { polluted: true } } },
    pick(EXTREME_STRINGS),
  ]);
}

interface Fixture {
  small: string[];
  big: string[];
  work: string;
  dataDir: string;
  catalogue: string[];
}

const requestIds: string[] = [];
function newRequestId(): string {
  const id = `fuzz-${requestIds.length}-${int(1e6)}`;
  requestIds.push(id);
  return id;
}

/** Valid params for each method (the compiler checks that every method has an entry). */
function validParams(f: Fixture): Record<Method, () => Record<string, unknown>> {
  const small = (): string => pick(f.small);
  const any = (): string => pick([...f.small, ...f.big]);
  const text = (): string => pick(['The keeper ____ every night.', 'It rained {{4}} all night.', 'A {{2}} and a ____.']);
  return {
    'app.info': () => ({}),
    'documents.list': () => ({}),
    'documents.create': () => ({
      title: `Fuzz ${int(1000)}`,
      body: prose(200 + int(2_000), 'created'),
      ...(chance(0.3) ? { richText: '{"type":"doc","content":[]}' } : {}),
    }),
    'documents.open': () => ({ id: any() }),
    'documents.save': () => {
      // Saves go to the small documents, or rewrite a big one with its own text (it must stay intact).
      const b = chance(0.03) ? int(f.big.length) : -1;
      if (b >= 0) return { id: f.big[b]!, title: `Big ${b}`, body: BIG_BODIES[b]! };
      return {
        id: small(),
        title: `Saved ${int(1000)}`,
        body: prose(100 + int(3_000), 'saved'),
        ...(chance(0.3) ? { snapshot: pick(['manual', 'before-fill']) } : {}),
      };
    },
    'models.list': () => ({}),
    'fill.run': () => ({
      requestId: newRequestId(),
      text: text(),
      model: MODEL,
      steps: 1 + int(8),
      seed: int(1000),
      ...(chance(0.3) ? { alternatives: 1 + int(3) } : {}),
      ...(chance(0.3) ? { documentId: small() } : {}),
      ...(chance(0.2) ? { mode: pick(['exact', 'fast']) } : {}),
      ...(chance(0.2)
        ? { temperature: 0.1 + rand() * 1.9, topP: 0.05 + rand() * 0.95, unmasking: pick(['random', 'confident']), lengthBias: rand() * 2 - 1 }
        : {}),
      ...(chance(0.1) ? { device: pick(['cpu', 'remote']) } : {}),
    }),
    'score.run': () => ({ requestId: newRequestId(), text: 'The keeper lit the lamp every night.', model: MODEL, draws: 1 + int(4), seed: int(1000) }),
    'models.import': () => ({ dir: MODEL_DIR, ...(chance(0.3) ? { precision: pick([...PRECISION_IDS]) } : {}) }),
    'models.catalogue': () => ({}),
    'models.download': () => ({ requestId: newRequestId(), id: pick(f.catalogue), ...(chance(0.3) ? { precision: pick([...PRECISION_IDS]) } : {}) }),
    'models.discardDownload': () => ({ id: pick(f.catalogue) }),
    'engine.warm': () => ({ model: MODEL, ...(chance(0.3) ? { device: pick(['auto', 'cpu']) } : {}) }),
    'engine.server': () => ({}),
    // Nothing listens on port 9 here: a remote fill then fails as unreachable, or as "no server set" after url null.
    'engine.setServer': () =>
      chance(0.5)
        ? { url: null }
        : { url: pick(['http://127.0.0.1:9', 'https://127.0.0.1:9/v2root']), ...(chance(0.5) ? { token: `t${int(1e6)}` } : {}), timeoutSeconds: 1 + int(5) },
    'models.verify': () => ({ id: pick([MODEL, 'tiny-ti', 'tiny-uniform']) }),
    'models.remove': () => ({ id: pick([MODEL, 'tiny-fixture-fp16', 'no-such-model']) }),
    'models.quantize': () => ({ id: pick([MODEL, 'no-such-model']) }),
    'models.exportServer': () => ({ id: pick([MODEL, 'no-such-model']), dir: join(f.work, `triton-${int(3)}`) }),
    'engine.devices': () => ({}),
    'fill.cancel': () => ({ requestId: requestIds.length ? pick(requestIds) : 'none' }),
    'revisions.list': () => ({ id: any() }),
    'revisions.get': () => ({ revisionId: 1 + int(30) }),
    'revisions.diff': () => ({ revisionId: 1 + int(30) }),
    // Only the small documents' revisions are restored: the big ones must stay as written.
    'revisions.restore': () => ({ revisionId: 1 + int(30), ...(chance(0.5) ? { baseRevision: int(5) } : {}) }),
    'documents.search': () => ({
      query: pick(['keeper', 'storm', 'שלום', '🦀', 'caf*', '"lamp room"', 'margin OR quote']),
      ...(chance(0.5) ? { limit: 1 + int(200) } : {}),
    }),
    'documents.trash': () => ({ id: small() }),
    'documents.restore': () => ({ id: small() }),
    'documents.listTrash': () => ({}),
    'documents.emptyTrash': () => ({}),
    'documents.export': () => ({ id: any(), format: pick(['md', 'txt']), ...(chance(0.5) ? { blanks: pick(['shown', 'keep']) } : {}) }),
    'documents.import': () => ({ text: prose(100 + int(5_000), 'imported'), format: pick(['md', 'txt']), ...(chance(0.5) ? { title: 'Imported' } : {}) }),
    // A new file, one overwritten, a folder that does not exist, a file that is not SQLite, the library itself.
    'library.backup': () => ({
      file: pick([
        join(f.work, `backup-${int(3)}.db`),
        join(f.work, 'no-such-folder', 'backup.db'),
        join(f.work, 'not-sqlite.db'),
        join(f.dataDir, 'lacuna.db'),
      ]),
    }),
    'generations.list': () => ({ id: any() }),
    'generations.get': () => ({ generationId: 1 + int(20) }),
    'generations.accept': () => ({ generationId: 1 + int(20), alternative: int(4) }),
  };
}

/** Methods whose big-document ids must never reach a destructive valid form (checked after mutation too). */
const DESTRUCTIVE: ReadonlySet<string> = new Set(['documents.save', 'documents.trash', 'revisions.restore']);
/** Methods given a file path: mutated paths stay safe (inside the work folder, relative, or read only). */
const PATH_FIELD: Partial<Record<Method, string>> = { 'library.backup': 'file', 'models.import': 'dir', 'models.exportServer': 'dir' };

interface Planned {
  method: string;
  kind: string;
  /** A short description of the params for failure messages. */
  describe: string;
  body: string;
  contentType: string | null;
}

function short(value: unknown): string {
  const s = typeof value === 'string' ? JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…(${value.length})` : value) : JSON.stringify(value);
  return s === undefined ? String(value) : s.length > 80 ? `${s.slice(0, 80)}…` : s;
}

function describeParams(p: unknown): string {
  if (!p || typeof p !== 'object' || Array.isArray(p)) return short(p);
  return `{${Object.entries(p)
    .map(([k, v]) => `${k}: ${short(v)}`)
    .join(', ')}}`;
}

function safePath(f: Fixture, method: Method, value: unknown): unknown {
  if (typeof value !== 'string') return value;
  if (method === 'library.backup') {
    // Absolute paths only inside the work folder (relative ones are refused without touching anything).
    if (value.startsWith('/') && !value.startsWith(`${f.work}/`) && !value.startsWith(`${f.dataDir}/`)) return join(f.work, 'p', value.replace(/\.\./g, '__'));
    return value;
  }
  return value; // models.import only reads
}

function plan(f: Fixture, valid: Record<Method, () => Record<string, unknown>>): Planned {
  const roll = rand();
  if (roll < 0.03) {
    const method = pick([
      'no.such',
      'documents',
      '__proto__',
      'constructor',
      'toString',
      'documents.list/../app.info',
      '../../etc/passwd',
      'x'.repeat(3_000),
      '%00',
      'hasOwnProperty',
    ]);
    return { method, kind: 'unknown-method', describe: '{}', body: '{}', contentType: 'application/json' };
  }
  const method = pick(methods);
  if (roll < 0.07) {
    const raw = pick([
      '',
      'not json',
      '{',
      '{"a":',
      '[1,2',
      '\u0000',
      'null',
      '1',
      '"s"',
      'true',
      '[]',
      '{"a":1}{"b":2}',
      '\ufeff{}',
      '['.repeat(5_000) + ']'.repeat(5_000),
      '{"__proto__":{"x":1}}',
      ONE_MB,
    ]);
    return { method, kind: 'raw-body', describe: short(raw), body: raw, contentType: 'application/json' };
  }
  if (roll < 0.1) {
    const contentType = pick([
      null,
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/jsonx',
      'APPLICATION/JSON; charset=utf-8',
      '',
    ]);
    const params = valid[method]();
    return { method, kind: 'content-type', describe: `${short(contentType)} ${describeParams(params)}`, body: JSON.stringify(params), contentType };
  }

  let params: unknown = valid[method]();
  let kind = 'valid';
  const obj = params as Record<string, unknown>;
  const keys = Object.keys(obj);
  const m = rand();
  if (m < 0.3) {
    // valid
  } else if (m < 0.4 && keys.length) {
    kind = 'missing-field';
    delete obj[pick(keys)];
  } else if (m < 0.5) {
    kind = 'extra-field';
    const key = pick(['__proto__', 'constructor', 'prototype', 'extra', '', 'x'.repeat(1000), 'id', 'toString']);
    if (key === '__proto__')
      params = JSON.parse(
        JSON.stringify(obj)
          .replace(/^\{/, `{"__proto__":${JSON.stringify(weird()) ?? 'null'},`)
          .replace(/,\}$/, '}'),
      );
    else obj[key] = weird();
  } else if (m < 0.7 && keys.length) {
    kind = 'wrong-type';
    obj[pick(keys)] = weird();
  } else if (m < 0.85 && keys.length) {
    kind = 'extreme-string';
    obj[pick(keys)] = pick(EXTREME_STRINGS);
  } else if (m < 0.92) {
    kind = 'not-an-object';
    params = pick<unknown>([null, [], [obj], 0, 'params', true, 2 ** 53]);
  } else {
    kind = 'all-wrong';
    for (const k of keys) obj[k] = chance(0.5) ? weird() : pick(EXTREME_STRINGS);
  }

  if (params && typeof params === 'object' && !Array.isArray(params)) {
    const p = params as Record<string, unknown>;
    const field = PATH_FIELD[method as Method];
    if (field && field in p) p[field] = safePath(f, method, p[field]);
    // Never let a mutated call damage the big documents the test checks afterwards.
    if (DESTRUCTIVE.has(method) && typeof p.id === 'string' && f.big.includes(p.id) && !(method === 'documents.save' && kind === 'valid')) p.id = f.small[0]!;
    // Long calls: keep them on the tiny model with a requestId, whatever else was mutated.
    if (method === 'fill.run' || method === 'score.run') {
      if (typeof p.model !== 'string' || !chance(0.2)) p.model = MODEL;
      if (typeof p.requestId !== 'string') p.requestId = newRequestId();
      // A valid score of a 1 MB text is long work (minutes of draws with progress), not a malformed call.
      if (method === 'score.run' && typeof p.text === 'string' && p.text.length > 20_000) p.text = p.text.slice(0, 20_000);
    }
  }
  return { method, kind, describe: describeParams(params), body: JSON.stringify(params) ?? 'null', contentType: 'application/json' };
}

interface Outcome {
  method: string;
  kind: string;
  describe: string;
  status: number;
  ms: number;
  message: string;
}

async function send(web: WebMode, p: Planned): Promise<Outcome> {
  const headers: Record<string, string> = { Authorization: `Bearer ${web.token}` };
  if (p.contentType !== null) headers['Content-Type'] = p.contentType;
  const started = performance.now();
  let status = 0;
  let message: string;
  try {
    const res = await fetch(new URL(`api/${encodeURIComponent(p.method).replace(/%2E/gi, '.')}`, web.origin), {
      method: 'POST',
      headers,
      body: p.body,
      signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
    });
    status = res.status;
    const text = await res.text();
    try {
      const json = JSON.parse(text) as { ok: boolean; error?: { code: string; message: string } };
      message = json.ok ? 'ok' : `${json.error?.code}: ${json.error?.message ?? ''}`.slice(0, 200);
    } catch {
      message = text.slice(0, 200);
    }
  } catch (err) {
    message = `client: ${(err as Error).message}`;
  }
  return { method: p.method, kind: p.kind, describe: p.describe, status, ms: performance.now() - started, message };
}

async function call<T>(web: WebMode, method: string, params: object): Promise<{ ms: number; result: T }> {
  const started = performance.now();
  const res = await fetch(new URL(`api/${method}`, web.origin), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${web.token}` },
    body: JSON.stringify(params),
  });
  const body = (await res.json()) as { ok: boolean; result: T; error?: { message: string } };
  expect(body.ok, `${method}: ${body.error?.message}`).toBe(true);
  return { ms: performance.now() - started, result: body.result };
}

describe('API fuzz', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'lacuna-e2e-fuzz-'));
  const work = mkdtempSync(join(tmpdir(), 'lacuna-e2e-fuzz-work-'));
  let web: WebMode | undefined;
  let hub: FakeHub | undefined;
  afterAll(async () => {
    await web?.stop();
    await hub?.close();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  it('~2,000 malformed and extreme requests over every method: no 5xx, none over 5 s, the library intact', { timeout: 120_000 }, async () => {
    const t0 = performance.now();
    // A Hub with no repositories: models.download is answered at once, on this machine.
    hub = await startFakeHub({ repos: {} });
    web = await startWebMode({ dataDir, env: { HF_ENDPOINT: hub.endpoint } });
    mkdirSync(join(work, 'p'), { recursive: true });
    writeFileSync(join(work, 'not-sqlite.db'), 'this is not a SQLite file\n');

    // Seed: small documents, then the big ones (3 MB and 8 MB of prose with blanks and odd Unicode).
    const seedTimes: Outcome[] = [];
    const small: string[] = [];
    for (let i = 0; i < 6; i++) {
      const { ms, result } = await call<{ id: string }>(web, 'documents.create', { title: `Small ${i} \ud800 🦀`, body: prose(500 + i * 300, `small ${i}`) });
      small.push(result.id);
      seedTimes.push({ method: 'documents.create', kind: 'seed', describe: `small ${i}`, status: 200, ms, message: 'ok' });
    }
    const big: string[] = [];
    for (const [i, body] of BIG_BODIES.entries()) {
      const { ms, result } = await call<{ id: string; body: string }>(web, 'documents.create', { title: `Big ${i}`, body });
      big.push(result.id);
      seedTimes.push({ method: 'documents.create', kind: 'seed', describe: `big ${i} (${body.length} chars)`, status: 200, ms, message: 'ok' });
    }
    const catalogue = (await call<{ id: string }[]>(web, 'models.catalogue', {})).result.map((c) => c.id);
    const fixture: Fixture = { small, big, work, dataDir, catalogue: catalogue.length ? catalogue : ['sedd-small'] };
    const valid = validParams(fixture);

    const planned = Array.from({ length: REQUESTS }, () => plan(fixture, valid));
    const outcomes: Outcome[] = [];
    let next = 0;
    const tFuzz = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < planned.length) {
          const p = planned[next++]!;
          outcomes.push(await send(web!, p));
        }
      }),
    );
    const fuzzMs = performance.now() - tFuzz;
    // LACUNA_FUZZ_LOG=FILE: every request's outcome, one JSON line each, in the order answered.
    if (process.env.LACUNA_FUZZ_LOG) writeFileSync(process.env.LACUNA_FUZZ_LOG, outcomes.map((o) => JSON.stringify(o)).join('\n') + '\n');

    // Afterwards: the server answers a valid call, and the big documents are as written.
    const list = (await call<{ id: string }[]>(web, 'documents.list', {})).result;
    for (const id of big) expect(list.map((d) => d.id)).toContain(id);
    for (const [i, id] of big.entries()) {
      const opened = (await call<{ body: string }>(web, 'documents.open', { id })).result;
      expect(opened.body.length, `big document ${i}`).toBe(BIG_BODIES[i]!.length);
      // A lone surrogate cannot be stored as UTF-8: it may come back as U+FFFD; nothing else may differ.
      const same = opened.body === BIG_BODIES[i] || opened.body === wellFormed(BIG_BODIES[i]!);
      expect(same, `big document ${i} content`).toBe(true);
    }
    await web.stop();
    const stderr = web.stderr();
    web = undefined;

    const db = new Database(join(dataDir, 'lacuna.db'), { readonly: false, fileMustExist: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(() => db.prepare("INSERT INTO search_fts(search_fts) VALUES('integrity-check')").run()).not.toThrow();
    } finally {
      db.close();
    }

    // Figures.
    const all = [...seedTimes, ...outcomes];
    const byStatus = new Map<number, number>();
    for (const o of outcomes) byStatus.set(o.status, (byStatus.get(o.status) ?? 0) + 1);
    const byClass = new Map<string, number>();
    for (const o of outcomes) {
      const cls = o.kind === 'unknown-method' ? 'unknown' : o.method.split('.')[0]!;
      byClass.set(cls, (byClass.get(cls) ?? 0) + 1);
    }
    const byKind = new Map<string, number>();
    for (const o of outcomes) byKind.set(o.kind, (byKind.get(o.kind) ?? 0) + 1);
    const slowest = all.reduce((a, b) => (b.ms > a.ms ? b : a));
    const fmt = (m: Map<string | number, number>): string =>
      [...m.entries()]
        .sort((a, b) => String(a[0]).localeCompare(String(b[0])))
        .map(([k, v]) => `${k}=${v}`)
        .join(' ');
    const covered = new Set(outcomes.map((o) => o.method));
    console.log(
      `fuzz: ${outcomes.length} requests (seed ${SEED}, ${CONCURRENCY} at a time) in ${(fuzzMs / 1000).toFixed(1)} s; ` +
        `whole test ${((performance.now() - t0) / 1000).toFixed(1)} s; ` +
        `methods ${methods.filter((mm) => covered.has(mm)).length}/${methods.length}; ` +
        `by class: ${fmt(byClass)}; by kind: ${fmt(byKind)}; status: ${fmt(byStatus)}; ` +
        `slowest ${slowest.ms.toFixed(0)} ms (${slowest.method} ${slowest.kind} ${slowest.describe.slice(0, 100)} → ` +
        `${slowest.status} ${slowest.message.slice(0, 80)}); ` +
        `seed: big creates ${seedTimes
          .filter((s) => s.describe.startsWith('big'))
          .map((s) => s.ms.toFixed(0))
          .join(', ')} ms`,
    );

    const line = (o: Outcome): string => `${o.method} [${o.kind}] ${o.describe.slice(0, 160)} → ${o.status} in ${o.ms.toFixed(0)} ms: ${o.message}`;
    // 502 is the clean answer of a remote fill whose inference server (the fuzz sets 127.0.0.1:9) cannot be reached.
    const unreachable = (o: Outcome): boolean => o.status === 502 && /inference server/.test(o.message);
    const serverErrors = outcomes.filter((o) => (o.status >= 500 && !unreachable(o)) || o.status === 0);
    const slow = all.filter((o) => o.ms > SLOW_MS);
    expect(methods.filter((mm) => !covered.has(mm))).toEqual([]);
    expect(serverErrors.map(line), `5xx or no answer; web mode's stderr:\n${stderr.slice(-4000)}`).toEqual([]);
    expect(slow.map(line)).toEqual([]);
  });
});
