/** Backup and restore of the library file (store/backup.ts). */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { ApiError } from '../../common/api';
import { createCore } from '../core';
import { closeDatabase, databasePath, openDatabase } from './database';
import type { Database } from './database';
import { DocumentStore } from './documents';
import { backupLibrary, restoreLibrary, verify } from './backup';
import { migrations } from './migrations';

let dir: string;
let data: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lacuna-backup-'));
  data = join(dir, 'data');
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function withLibrary<T>(fn: (db: Database, store: DocumentStore) => T): T {
  const db = openDatabase({ dataDir: data });
  try {
    return fn(db, new DocumentStore(db));
  } finally {
    closeDatabase(db);
  }
}

function titles(): string[] {
  return withLibrary((_, s) => s.list().map((d) => d.title).sort());
}

async function code(p: Promise<unknown> | (() => unknown)): Promise<ApiError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    return err as ApiError;
  }
  throw new Error('expected an ApiError');
}

describe('backupLibrary', () => {
  it('writes a verified, self-contained copy while the library is open', async () => {
    const db = openDatabase({ dataDir: data });
    try {
      const store = new DocumentStore(db);
      store.create({ title: 'A', body: 'one ____' });
      store.create({ title: 'B', body: 'two' });
      const file = join(dir, 'backup.lacuna');
      const r = await backupLibrary(db, file);
      expect(r).toEqual({ file, bytes: readFileSync(file).length, documents: 2 });
      expect(existsSync(`${file}.tmp`)).toBe(false);
      expect(existsSync(`${file}-wal`)).toBe(false);
      expect(verify(file)).toEqual({ version: migrations.at(-1)!.version, documents: 2 });
      // Overwriting an earlier backup is fine; overwriting anything else is not.
      store.create({ title: 'C', body: '' });
      expect((await backupLibrary(db, file)).documents).toBe(3);
      const text = join(dir, 'novel.txt');
      writeFileSync(text, 'precious');
      expect((await code(backupLibrary(db, text))).code).toBe('bad_request');
      expect(readFileSync(text, 'utf8')).toBe('precious');
      expect((await code(backupLibrary(db, databasePath(data)))).code).toBe('bad_request');
      expect((await code(backupLibrary(db, join(dir, 'missing', 'x.db')))).code).toBe('storage_error');
    } finally {
      closeDatabase(db);
    }
  });

  it('library.backup through the core', async () => {
    const core = createCore({ dataDir: data, modelDirs: [], front: 'test', version: '0.0.0' });
    try {
      await core.call('documents.create', { title: 'X', body: 'y' });
      const file = join(dir, 'b.db');
      expect(await core.call('library.backup', { file })).toMatchObject({ file, documents: 1 });
      await expect(core.call('library.backup', { file: 'relative.db' })).rejects.toMatchObject({ code: 'bad_request' });
    } finally {
      await core.close();
    }
  });
});

describe('restoreLibrary', () => {
  async function makeBackup(): Promise<string> {
    const file = join(dir, 'good.db');
    const db = openDatabase({ dataDir: data });
    try {
      const s = new DocumentStore(db);
      s.create({ title: 'kept', body: 'in the backup' });
      s.create({ title: 'also kept', body: '{{3}}' });
      await backupLibrary(db, file);
    } finally {
      closeDatabase(db);
    }
    return file;
  }

  it('replaces the library with the backup and keeps the old one aside', async () => {
    const file = await makeBackup();
    withLibrary((_, s) => s.create({ title: 'written after the backup' }));
    const r = restoreLibrary(data, file);
    expect(r).toMatchObject({ file, documents: 2, fromVersion: migrations.at(-1)!.version });
    expect(r.previous).toMatch(/lacuna\.db\.before-restore-\d{8}T\d{6}-\d{3}Z$/);
    expect(titles()).toEqual(['also kept', 'kept']);
    // The old library is intact where it was put.
    const old = new BetterSqlite3(r.previous!, { readonly: true });
    expect((old.prepare('SELECT count(*) AS n FROM documents').get() as { n: number }).n).toBe(3);
    old.close();
    expect(readdirSync(data).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('restores into an empty data folder and migrates an old backup', async () => {
    const file = join(dir, 'v1.db');
    const old = new BetterSqlite3(file);
    migrations[0]!.up(old);
    old.pragma('user_version = 1');
    old.prepare('INSERT INTO documents VALUES (?, ?, ?, 1, 1, 0)').run('a'.repeat(32), 'from v1', 'body');
    old.close();
    mkdirSync(data);
    const r = restoreLibrary(data, file);
    expect(r).toMatchObject({ documents: 1, fromVersion: 1, previous: null });
    expect(titles()).toEqual(['from v1']);
  });

  it('touches nothing when the file is not a usable backup', async () => {
    withLibrary((_, s) => s.create({ title: 'mine' }));
    const before = readdirSync(data).sort();
    const cases: Array<[string, Buffer | string]> = [
      ['garbage.db', 'this is not a database at all, just some text'.repeat(200)],
      ['empty.db', ''],
    ];
    const good = await (async () => {
      const f = join(dir, 'g.db');
      const db = openDatabase({ dataDir: join(dir, 'other') });
      await backupLibrary(db, f);
      closeDatabase(db);
      return readFileSync(f);
    })();
    // A real SQLite file with damaged pages.
    const damaged = Buffer.from(good);
    damaged.fill(0xa5, 4096, Math.min(damaged.length, 4096 * 3));
    cases.push(['damaged.db', damaged]);
    for (const [name, content] of cases) {
      const f = join(dir, name);
      writeFileSync(f, content);
      const err = await code(() => restoreLibrary(data, f));
      expect(err.code, name).toBe('bad_request');
      expect(readdirSync(data).sort()).toEqual(before);
      expect(titles()).toEqual(['mine']);
    }
    // Not a Lacuna library: no schema version, or a newer one.
    const plain = join(dir, 'plain.db');
    const p = new BetterSqlite3(plain);
    p.exec('CREATE TABLE t (x)');
    p.close();
    expect((await code(() => restoreLibrary(data, plain))).message).toMatch(/not a Lacuna library/);
    const newer = join(dir, 'newer.db');
    writeFileSync(newer, good);
    const n = new BetterSqlite3(newer);
    n.pragma('user_version = 999');
    n.close();
    expect((await code(() => restoreLibrary(data, newer))).message).toMatch(/newer Lacuna/);
    expect((await code(() => restoreLibrary(data, join(dir, 'nope.db')))).message).toMatch(/no such file/);
    expect(titles()).toEqual(['mine']);
  });

  it('refuses while another connection has the library open', async () => {
    const file = await makeBackup();
    const db = openDatabase({ dataDir: data });
    try {
      new DocumentStore(db).create({ title: 'open elsewhere' });
      const err = await code(() => restoreLibrary(data, file));
      expect(err.code).toBe('storage_error');
      expect(err.message).toMatch(/in use by another process/);
    } finally {
      closeDatabase(db);
    }
    expect(titles()).toEqual(['also kept', 'kept', 'open elsewhere']);
    expect(readdirSync(data).filter((f) => f.includes('restore'))).toEqual([]);
  });
});
