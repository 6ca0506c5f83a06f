/** Automatic backups and recovery from a damaged library (store/auto-backup.ts), through the core. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { AppInfo } from '../common/api';
import { createCore, type Core } from '../service/core';
import { closeDatabase, databasePath, openDatabase } from './database';
import { DocumentStore } from './documents';
import { autoBackup, autoBackupName, backupDir, listAutoBackups } from './auto-backup';
import { verify } from './backup';

let dir: string;
let data: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lacuna-autobackup-'));
  data = join(dir, 'data');
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function core(): Core {
  return createCore({ dataDir: data, modelDirs: [], front: 'test', version: '0.0.0' });
}

async function withCore<T>(fn: (c: Core) => Promise<T>): Promise<T> {
  const c = core();
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

/** A library with `n` documents (big enough bodies that damaging middle pages hits data). */
function library(n: number): void {
  const db = openDatabase({ dataDir: data });
  const docs = new DocumentStore(db);
  for (let i = 0; i < n; i++) docs.create({ title: `t${i}`, body: 'x'.repeat(3_000) });
  db.pragma('wal_checkpoint(TRUNCATE)');
  closeDatabase(db);
}

/** Scribble over pages of the library as migrations.test.ts does, so quick_check fails. */
function damage(): void {
  const raw = new BetterSqlite3(databasePath(data));
  const pageSize = raw.pragma('page_size', { simple: true }) as number;
  const pages = raw.pragma('page_count', { simple: true }) as number;
  raw.close();
  const fd = openSync(databasePath(data), 'r+');
  writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, pageSize * Math.floor(pages / 2));
  writeSync(fd, Buffer.alloc(pageSize, 0x5a), 0, pageSize, pageSize * 2);
  closeSync(fd);
}

const DAY = 24 * 60 * 60 * 1000;

describe('automatic backups', () => {
  it('the core writes one when the library is first opened, verified, and not again the same day', async () => {
    library(3);
    await withCore(async (c) => {
      expect(await c.call('documents.list', {})).toHaveLength(3);
    });
    const first = listAutoBackups(data);
    expect(first).toHaveLength(1);
    expect(first[0]!.file).toMatch(/[/\\]backups[/\\]lacuna-\d{8}-\d{6}\.db$/);
    expect(verify(first[0]!.file).documents).toBe(3);
    await withCore((c) => c.call('documents.list', {}));
    expect(listAutoBackups(data)).toEqual(first);
  });

  it('skips an empty library, and a failure never stops the library from opening', async () => {
    await withCore(async (c) => {
      await c.call('documents.list', {});
    });
    expect(existsSync(backupDir(data))).toBe(false);
    library(1);
    writeFileSync(backupDir(data), 'a file in the way of the backups folder');
    await withCore(async (c) => {
      expect(await c.call('documents.list', {})).toHaveLength(1);
      await c.call('documents.create', { title: 'still works' });
    });
  });

  it('writes one when the newest is older than a day and keeps the newest 7', async () => {
    library(1);
    const now = Date.UTC(2026, 5, 15, 12, 0, 0);
    mkdirSync(backupDir(data), { recursive: true });
    const old = Array.from({ length: 8 }, (_, i) => join(backupDir(data), autoBackupName(now - DAY - 1_000 - i * DAY)));
    for (const f of old) writeFileSync(f, 'stand-in');
    const other = join(backupDir(data), 'my-own-copy.db');
    writeFileSync(other, 'not ours');
    const db = openDatabase({ dataDir: data });
    try {
      // Fresh enough: nothing written.
      expect(await autoBackup(db, data, { now: () => now - DAY })).toBeNull();
      const written = await autoBackup(db, data, { now: () => now });
      expect(written?.file).toBe(join(backupDir(data), autoBackupName(now)));
      expect(written?.documents).toBe(1);
    } finally {
      closeDatabase(db);
    }
    const kept = listAutoBackups(data).map((b) => b.file);
    expect(kept).toEqual([join(backupDir(data), autoBackupName(now)), ...old.slice(0, 6)]);
    expect(existsSync(other)).toBe(true);
    expect(readdirSync(backupDir(data)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe('recovery from a damaged library', () => {
  it('restores the newest backup that verifies, reports it through app.info and keeps the damaged file', async () => {
    library(4);
    await withCore((c) => c.call('documents.list', {})); // writes the automatic backup (4 documents)
    const [good] = listAutoBackups(data);
    // A newer "backup" that does not verify is passed over.
    const bad = join(backupDir(data), autoBackupName(Date.now() + 60_000));
    writeFileSync(bad, 'not a database');
    // Work after the backup is lost with the damage; the backup's state comes back.
    const db = openDatabase({ dataDir: data });
    new DocumentStore(db).create({ title: 'after the backup', body: 'x'.repeat(3_000) });
    db.pragma('wal_checkpoint(TRUNCATE)');
    closeDatabase(db);
    damage();

    await withCore(async (c) => {
      expect((await c.call('app.info', {})).recovery).toBeUndefined();
      const docs = await c.call('documents.list', {});
      expect(docs.map((d) => d.title).sort()).toEqual(['t0', 't1', 't2', 't3']);
      const info = AppInfo.parse(await c.call('app.info', {}));
      expect(info.recovery).toMatchObject({ restoredFrom: good!.file });
      expect(info.recovery!.damagedFile).toMatch(/lacuna\.db\.damaged-/);
      expect(existsSync(info.recovery!.damagedFile)).toBe(true);
      expect(Math.abs(info.recovery!.at - Date.now())).toBeLessThan(60_000);
      // The restored library is fully usable.
      await c.call('documents.create', { title: 'new' });
    });
    expect(readdirSync(data).filter((f) => f.startsWith('lacuna.db.damaged-'))).toHaveLength(1);
    expect(existsSync(bad)).toBe(true);
  });

  it('without a backup, the damaged library is moved aside with the clear storage_error as before', async () => {
    library(3);
    damage();
    await withCore(async (c) => {
      await expect(c.call('documents.list', {})).rejects.toMatchObject({
        code: 'storage_error',
        message: expect.stringMatching(/damaged.*moved to .*lacuna\.db\.damaged-/) as unknown,
      });
      expect((await c.call('app.info', {})).recovery).toBeUndefined();
      // The next call starts the empty library, as before.
      expect(await c.call('documents.list', {})).toEqual([]);
    });
    expect(readdirSync(data).filter((f) => f.startsWith('lacuna.db.damaged-'))).toHaveLength(1);
  });
});
