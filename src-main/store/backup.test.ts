/** Backup and restore of the library file (store/backup.ts). */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { ApiError } from '../common/api';
import { createCore } from '../service/core';
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
  return withLibrary((_, s) =>
    s
      .list()
      .map((d) => d.title)
      .sort(),
  );
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
      expect((await code(backupLibrary(db, join(dir, 'missing', 'x.db')))).code).toBe('bad_request');
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

/**
 * Issue 16, item 6: the backup writes only where it should. Each case compares real files (device
 * and inode), not path strings, and checks that the live library is the same file, unchanged.
 */
describe('backupLibrary: where it may write', () => {
  const symlinks = process.platform !== 'win32'; // creating links needs privileges on Windows

  /** The library file's identity and its documents, to show it was not replaced. */
  function identity(): string {
    const st = statSync(databasePath(data));
    return `${st.dev}:${st.ino}`;
  }

  async function withOpenLibrary(fn: (db: Database, store: DocumentStore) => Promise<void>): Promise<void> {
    const db = openDatabase({ dataDir: data });
    try {
      const store = new DocumentStore(db);
      store.create({ title: 'live', body: 'the writer’s text' });
      await fn(db, store);
    } finally {
      closeDatabase(db);
    }
  }

  function ownTemporaries(folder: string): string[] {
    return readdirSync(folder).filter((f) => f.endsWith('.tmp') || f.includes('.tmp-'));
  }

  it.runIf(symlinks)('refuses the library reached through a symlinked folder, and leaves it in place', async () => {
    await withOpenLibrary(async (db, store) => {
      const before = identity();
      const link = join(dir, 'link-to-data');
      symlinkSync(data, link, 'dir');
      for (const name of ['lacuna.db', 'lacuna.db-wal', 'lacuna.db-shm']) {
        const err = await code(backupLibrary(db, join(link, name)));
        expect(err.code, name).toBe('bad_request');
        expect(err.message, name).toContain(join(link, name));
      }
      expect(identity()).toBe(before);
      // The server's connection still writes to the file that is the library.
      store.create({ title: 'written afterwards' });
      expect(ownTemporaries(data)).toEqual([]);
    });
    expect(titles()).toEqual(['live', 'written afterwards']);
  });

  it('refuses names beside the library that SQLite or Lacuna use for it, even when no such file exists', async () => {
    await withOpenLibrary(async (db) => {
      const before = readdirSync(data).sort();
      // A stray lacuna.db-journal would be taken for the library's own hot journal and replayed.
      for (const name of ['lacuna.db-journal', 'lacuna.db.before-restore-20260101T000000-000Z', 'LACUNA.DB-journal']) {
        const err = await code(backupLibrary(db, join(data, name)));
        expect(err.code, name).toBe('bad_request');
        expect(err.message, name).toContain(join(data, name));
      }
      expect(readdirSync(data).sort()).toEqual(before);
      // Elsewhere in the data folder is fine (automatic backups go to data/backups).
      mkdirSync(join(data, 'backups'));
      expect((await backupLibrary(db, join(data, 'backups', 'lacuna-20260101-000000.db'))).documents).toBe(1);
    });
  });

  it.runIf(symlinks)('refuses a symlink to the library (or to one of its files) as the destination', async () => {
    await withOpenLibrary(async (db) => {
      const before = identity();
      for (const target of ['lacuna.db', 'lacuna.db-wal']) {
        const link = join(dir, `link-${target}`);
        symlinkSync(join(data, target), link);
        const err = await code(backupLibrary(db, link));
        expect(err.code, target).toBe('bad_request');
        expect(err.message, target).toMatch(/library itself/);
        expect(lstatSync(link).isSymbolicLink(), target).toBe(true);
      }
      expect(identity()).toBe(before);
    });
    expect(titles()).toEqual(['live']);
  });

  it('refuses a hard link to the library (the same file under another name)', async () => {
    await withOpenLibrary(async (db) => {
      const before = identity();
      const hard = join(dir, 'hard.db');
      linkSync(databasePath(data), hard);
      const err = await code(backupLibrary(db, hard));
      expect(err.code).toBe('bad_request');
      expect(err.message).toMatch(/library itself/);
      expect(identity()).toBe(before);
      expect(`${statSync(hard).dev}:${statSync(hard).ino}`).toBe(before);
      expect(ownTemporaries(dir)).toEqual([]);
    });
  });

  it('never touches a file it did not create: an unrelated <dest>.tmp survives', async () => {
    await withOpenLibrary(async (db) => {
      const file = join(dir, 'backup.db');
      writeFileSync(`${file}.tmp`, 'someone else’s file');
      await backupLibrary(db, file);
      expect(readFileSync(`${file}.tmp`, 'utf8')).toBe('someone else’s file');
      expect(verify(file).documents).toBe(1);
      expect(readdirSync(dir).sort()).toEqual(['backup.db', 'backup.db.tmp', 'data']);
    });
    // A backup that fails after making its temporary file removes that file, and only that one.
    const closed = openDatabase({ dataDir: data });
    closeDatabase(closed);
    await expect(backupLibrary(closed, join(dir, 'failed.db'))).rejects.toThrow();
    expect(readdirSync(dir).sort()).toEqual(['backup.db', 'backup.db.tmp', 'data']);
    expect(readFileSync(join(dir, 'backup.db.tmp'), 'utf8')).toBe('someone else’s file');
  });

  it('runs 20 backups at once, to the same file and to different files, without collisions', async () => {
    await withOpenLibrary(async (db, store) => {
      for (let i = 0; i < 20; i++) store.create({ title: `doc ${i}`, body: 'x'.repeat(2000) });
      const out = join(dir, 'out');
      mkdirSync(out);
      const same = join(out, 'same.db');
      const jobs = Array.from({ length: 20 }, (_, i) => backupLibrary(db, i % 2 ? same : join(out, `b${i}.db`)));
      const results = await Promise.allSettled(jobs);
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      for (const r of results) expect(r.status === 'fulfilled' && r.value.documents).toBe(21);
      expect(verify(same).documents).toBe(21);
      expect(readdirSync(out).sort()).toEqual([...Array.from({ length: 10 }, (_, i) => `b${2 * i}.db`), 'same.db'].sort());
    });
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

  it.runIf(process.platform !== 'win32')('refuses a symlink to the live library as the backup, open in another process or not', async () => {
    withLibrary((_, s) => s.create({ title: 'the library' }));
    const link = join(dir, 'looks-like-a-backup.db');
    symlinkSync(databasePath(data), link);
    const hard = join(dir, 'hard-link.db');
    linkSync(databasePath(data), hard);
    // Another process (a web server) has the library open and writes to it.
    const holder = await holdOpen(databasePath(data));
    try {
      for (const f of [link, hard]) {
        const err = await code(() => restoreLibrary(data, f));
        expect(err.code, f).toBe('bad_request');
        expect(err.message, f).toMatch(/is the library itself/);
        expect(err.message, f).toContain(f);
      }
      expect(readdirSync(data).filter((f) => f.includes('restore'))).toEqual([]);
      await holder.write('written while the server runs');
    } finally {
      await holder.close();
    }
    // Closed: still the library itself, not a backup.
    expect((await code(() => restoreLibrary(data, link))).message).toMatch(/is the library itself/);
    expect(titles()).toEqual(['the library', 'written while the server runs']);
    expect(readdirSync(data).filter((f) => f.includes('restore'))).toEqual([]);
  });
});

/**
 * A child process with the library open in WAL mode, as the desktop app or web server has it:
 * `write(title)` inserts a document through it; `close()` ends it.
 */
async function holdOpen(file: string): Promise<{ write(title: string): Promise<void>; close(): Promise<void> }> {
  const sqlite = createRequire(import.meta.url).resolve('better-sqlite3');
  const script = `
    const db = new (require(${JSON.stringify(sqlite)}))(${JSON.stringify(file)});
    db.pragma('journal_mode = WAL');
    const ins = db.prepare("INSERT INTO documents (id, title, body, created_at, updated_at, revision) VALUES (lower(hex(randomblob(16))), ?, '', 1, 1, 0)");
    process.stdin.setEncoding('utf8');
    let buf = '';
    process.stdin.on('data', (c) => {
      buf += c;
      for (let i; (i = buf.indexOf('\\n')) >= 0; buf = buf.slice(i + 1)) { ins.run(buf.slice(0, i)); process.stdout.write('ok\\n'); }
    });
    process.stdin.on('end', () => { db.close(); process.exit(0); });
    process.stdout.write('open\\n');`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdout.setEncoding('utf8');
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  child.stdout.on('data', (c: string) => {
    lines.push(...c.split('\n').filter(Boolean));
    waiters.splice(0).forEach((w) => w());
  });
  const next = (): Promise<string> =>
    new Promise((done, fail) => {
      const take = (): void => (lines.length ? done(lines.shift()!) : void waiters.push(take));
      child.once('exit', (c) => fail(new Error(`holder exited (${c})`)));
      take();
    });
  expect(await next()).toBe('open');
  return {
    async write(title) {
      child.stdin.write(`${title}\n`);
      expect(await next()).toBe('ok');
    },
    close: () =>
      new Promise((done) => {
        child.once('exit', () => done());
        child.stdin.end();
      }),
  };
}
