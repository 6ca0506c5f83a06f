/**
 * Issue 5's part in the app: "Back up library…" writes a verified copy where the writer says (web
 * mode: a path field, a dated name suggested) and says what it wrote, or why it could not; and when
 * the core had to restore the last good automatic backup of a damaged library (app.info recovery),
 * the app says so, with where the damaged file was kept.
 */
import { existsSync, mkdirSync, mkdtempSync, openSync, readSync, closeSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { apiCall, screenshot, useBrowser } from './app';
import { startWebMode, type WebMode } from './helpers';

const chromium = useBrowser();
const running: WebMode[] = [];
const dirs: string[] = [];

afterAll(async () => {
  await chromium.closeContexts(); // the pages close before web mode stops
  for (const w of running) await w.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'lacuna-e2e-backup-'));
  dirs.push(d);
  return d;
}

function sqliteHeader(file: string): string {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(16);
    readSync(fd, buf, 0, 16, 0);
    return buf.toString('latin1');
  } finally {
    closeSync(fd);
  }
}

describe('backup', () => {
  it('backs the library up to a file the writer names, and says what it wrote or why not', async () => {
    const web = await startWebMode();
    running.push(web);
    for (const title of ['One', 'Two', 'Three']) await apiCall(web, 'documents.create', { title, body: `${title} body.` });
    const { page, problems } = await chromium.open(web);

    await page.keyboard.press('Control+Alt+KeyB');
    const dialog = page.getByRole('dialog', { name: 'Back up library' });
    await dialog.waitFor();
    const field = dialog.getByRole('textbox', { name: 'Backup file' });
    // A dated file name is suggested, next to the data folder.
    await expect.poll(() => field.inputValue()).toMatch(/[\\/]lacuna-backup-\d{4}-\d{2}-\d{2}-\d{4}\.db$/);

    // Somewhere it cannot write: the reason, and no file.
    const out = tempDir();
    await field.fill(join(out, 'no-such-folder', 'x', 'backup.db'));
    await dialog.getByRole('button', { name: 'Back up', exact: true }).click();
    await dialog
      .getByRole('alert')
      .filter({ hasText: /^Could not back up the library: / })
      .waitFor();

    const target = join(out, 'lacuna-backup.db');
    await field.fill(target);
    await dialog.getByRole('button', { name: 'Back up', exact: true }).click();
    const result = dialog.getByRole('status', { name: 'Backup result' });
    await result.filter({ hasText: `Backed up 3 documents` }).waitFor();
    expect(await result.textContent()).toMatch(new RegExp(`^Backed up 3 documents \\(.+\\) to ${target.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.$`));
    expect(await dialog.getByRole('alert').count()).toBe(0);
    expect(existsSync(target)).toBe(true);
    expect(sqliteHeader(target)).toBe('SQLite format 3\0');
    await screenshot(page, 'backup-light');
    await page.emulateMedia({ colorScheme: 'dark' });
    await screenshot(page, 'backup-dark');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    expect(problems.filter((p) => !/Failed to load resource: .* 5\d\d|Failed to load resource: .* 4\d\d/.test(p))).toEqual([]);
  });
});

describe('recovery notice', () => {
  it('tells the writer when a damaged library was replaced by the last good backup', async () => {
    const dataDir = tempDir();
    let web = await startWebMode({ dataDir });
    running.push(web);
    await apiCall(web, 'documents.create', { title: 'Kept safe', body: 'This survives the damage.' });
    // An automatic backup, named as the core names them (store/auto-backup.ts).
    const stamp = new Date().toISOString().replace(/[-:]/g, '').slice(0, 15).replace('T', '-');
    const backup = join(dataDir, 'backups', `lacuna-${stamp}.db`);
    mkdirSync(join(dataDir, 'backups'), { recursive: true });
    await apiCall(web, 'library.backup', { file: backup });
    await web.stop();
    running.splice(running.indexOf(web), 1);

    // The library file is damaged while the app is closed.
    writeFileSync(join(dataDir, 'lacuna.db'), 'this is not a database '.repeat(400));
    for (const f of ['lacuna.db-wal', 'lacuna.db-shm']) rmSync(join(dataDir, f), { force: true });

    web = await startWebMode({ dataDir });
    running.push(web);
    for (const scheme of ['light', 'dark'] as const) {
      const { page, problems } = await chromium.open(web, { colorScheme: scheme });
      const notice = page.getByRole('region', { name: 'Your library was repaired from a backup' });
      await notice.waitFor();
      const damaged = readdirSync(dataDir).find((f) => f.startsWith('lacuna.db.damaged-'));
      expect(damaged).toBeDefined();
      const text = (await notice.textContent()) ?? '';
      expect(text).toContain(backup);
      expect(text).toContain(join(dataDir, damaged!));
      // The backup's documents are there.
      await page
        .getByRole('navigation', { name: 'Documents' })
        .getByRole('button', { name: /^Kept safe/ })
        .waitFor();
      await screenshot(page, `recovery-${scheme}`);
      await notice.getByRole('button', { name: 'I understand' }).click();
      await notice.waitFor({ state: 'detached' });
      expect(problems).toEqual([]);
    }
    await web.stop();
    running.splice(running.indexOf(web), 1);

    // The next start finds a sound library: no notice.
    web = await startWebMode({ dataDir });
    running.push(web);
    const { page } = await chromium.open(web);
    await page
      .getByRole('navigation', { name: 'Documents' })
      .getByRole('button', { name: /^Kept safe/ })
      .waitFor();
    expect(await page.getByRole('region', { name: 'Your library was repaired from a backup' }).count()).toBe(0);
  });
});
