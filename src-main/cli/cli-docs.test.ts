/**
 * `lacuna docs show|export|import`, `lacuna backup` and `lacuna restore`, through the real built
 * CLI (node bin/lacuna.js). Build first (npx electron-vite build; npm test does it). No model is
 * needed: none of these fill.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Document } from '../common/api';
import { ROOT, expectFailure, runLacuna, type Outcome } from './cli-test-support';
import { closeDatabase, openDatabase } from '../store/database';
import { DocumentStore } from '../store/documents';

const CLI_JS = join(ROOT, 'out', 'main', 'cli.js');

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'lacuna-cli-docs-'));
  dirs.push(d);
  return d;
}

function lacuna(args: string[], dataDir: string, cwd: string = ROOT): Promise<Outcome> {
  return runLacuna(args, { dataDir, cwd });
}

function seed(dataDir: string, docs: Array<{ title: string; body: string; richText?: string }>): string[] {
  const db = openDatabase({ dataDir });
  try {
    const store = new DocumentStore(db);
    return docs.map((d) => store.create(d).id);
  } finally {
    closeDatabase(db);
  }
}

function titles(dataDir: string): string[] {
  const db = openDatabase({ dataDir });
  try {
    return new DocumentStore(db)
      .list()
      .map((d) => d.title)
      .sort();
  } finally {
    closeDatabase(db);
  }
}

const BODY = 'The ____ sat on {{3}}.\nEscaped \\____ and \\\\____.\n👩‍👩‍👧 שלום مرحبا e\u0301\n\n';

beforeAll(() => {
  if (!existsSync(CLI_JS)) throw new Error(`${CLI_JS} is missing: build first (npx electron-vite build)`);
});
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('lacuna docs show/export/import', () => {
  it('shows, exports and imports back byte for byte', async () => {
    const data = tempDir();
    const work = tempDir();
    const [id] = seed(data, [{ title: 'Draft one', body: BODY }]);

    const show = await lacuna(['docs', 'show', id!], data);
    expect(show).toEqual({ code: 0, stdout: BODY, stderr: '' });
    const json = await lacuna(['docs', 'show', id!, '--json'], data);
    expect(Document.parse(JSON.parse(json.stdout))).toMatchObject({ id, title: 'Draft one', body: BODY });

    const md = await lacuna(['docs', 'export', id!], data);
    expect(md).toEqual({ code: 0, stdout: `# Draft one\n\n${BODY}`, stderr: '' });

    for (const format of ['md', 'txt'] as const) {
      const out = join(work, `out.${format}`);
      // Plain text as stored (--blanks keep): the body, so that import gives it back.
      const exported = await lacuna(['docs', 'export', id!, '--format', format, '--out', out, ...(format === 'txt' ? ['--blanks', 'keep'] : [])], data);
      expect(exported.code).toBe(0);
      expect(exported.stdout).toContain(out);
      expect(readFileSync(out, 'utf8')).toBe(format === 'md' ? `# Draft one\n\n${BODY}` : `Draft one\n\n${BODY}`);
      const imported = await lacuna(['docs', 'import', out, '--json'], data);
      expect(imported.stderr).toBe('');
      const doc = Document.parse(JSON.parse(imported.stdout));
      expect(doc.id).not.toBe(id);
      expect(doc.title).toBe('Draft one');
      expect(Buffer.from(doc.body, 'utf8').equals(Buffer.from(BODY, 'utf8'))).toBe(true);
      expect((await lacuna(['docs', 'show', doc.id], data)).stdout).toBe(BODY);
    }

    // A relative path, a BOM and CRLF, and --title.
    writeFileSync(join(work, 'notes.txt'), '\uFEFFfirst\r\nsecond\r\n');
    const named = await lacuna(['docs', 'import', 'notes.txt', '--title', 'Named'], data, work);
    expect(named.code).toBe(0);
    expect(named.stdout).toMatch(/^[0-9a-f]{32} {2}Named\n$/);
    const namedId = named.stdout.slice(0, 32);
    expect((await lacuna(['docs', 'show', namedId], data)).stdout).toBe('first\nsecond\n');
    expect(titles(data)).toEqual(['Draft one', 'Draft one', 'Draft one', 'Named']);
  });

  it('shows, exports, lists and finds a filled blank not yet accepted as the alternative on screen; --blanks keep as stored', async () => {
    const data = tempDir();
    // As the editor saves it: {{48}}{{16}} filled (the second alternative of the first on screen),
    // ____ still empty, and a line break (a trailing backslash in the body).
    const body = 'The keeper {{48}}{{16}} every *night*.\\\nThe ships passed ____.';
    const blank = (tokens: number | 'auto', alternatives: string[], chosen = 0) => ({
      type: 'blank',
      attrs: { tokens, status: alternatives.length ? 'filled' : 'idle', alternatives, chosen, ranked: true, generationId: null },
    });
    const richText = JSON.stringify({
      type: 'doc',
      content: [
        {
          type: 'paragraph',
          content: [
            { type: 'text', text: 'The keeper ' },
            blank(48, ['slept', 'trimmed the wicks'], 1),
            blank(16, [' and lit the lamp']),
            { type: 'text', text: ' every ' },
            { type: 'text', text: 'night', marks: [{ type: 'em' }] },
            { type: 'text', text: '.' },
            { type: 'hard_break' },
            { type: 'text', text: 'The ships passed ' },
            blank('auto', []),
            { type: 'text', text: '.' },
          ],
        },
      ],
    });
    const [id] = seed(data, [{ title: 'Keeper', body, richText }]);
    const markdown = 'The keeper trimmed the wicks and lit the lamp every *night*.\\\nThe ships passed ____.';
    const plain = 'The keeper trimmed the wicks and lit the lamp every night.\nThe ships passed ____.';

    expect(await lacuna(['docs', 'show', id!], data)).toEqual({ code: 0, stdout: markdown, stderr: '' });
    expect(await lacuna(['docs', 'show', id!, '--blanks', 'shown'], data)).toEqual({ code: 0, stdout: markdown, stderr: '' });
    expect(await lacuna(['docs', 'show', id!, '--blanks', 'keep'], data)).toEqual({ code: 0, stdout: body, stderr: '' });
    expect((await lacuna(['docs', 'export', id!], data)).stdout).toBe(`# Keeper\n\n${markdown}`);
    expect((await lacuna(['docs', 'export', id!, '--format', 'txt'], data)).stdout).toBe(`Keeper\n\n${plain}`);
    expect((await lacuna(['docs', 'export', id!, '--format', 'txt', '--blanks=keep'], data)).stdout).toBe(`Keeper\n\n${body}`);
    expect((await lacuna(['docs', 'export', id!, '--blanks', 'keep'], data)).stdout).toBe(`# Keeper\n\n${body}`);
    // The list's preview: one line of what the writer sees, no `\`, no blank syntax of a filled blank.
    const list = await lacuna(['docs', 'list'], data);
    expect(list.stdout).toContain(`Keeper — The keeper trimmed the wicks and lit the lamp every night. The ships passed ____.\n`);
    expect(list.stdout).not.toMatch(/\\|\{\{/);
    const listed = JSON.parse((await lacuna(['docs', 'list', '--json'], data)).stdout) as Array<{ preview: string }>;
    expect(listed[0]!.preview).toBe('The keeper trimmed the wicks and lit the lamp every night. The ships passed ____.');

    expectFailure(await lacuna(['docs', 'show', id!, '--blanks', 'syntax'], data), 2, /docs show: --blanks must be shown or keep, not "syntax"/);
    expectFailure(await lacuna(['docs', 'show', id!, '--blanks', 'keep', '--json'], data), 2, /--json prints the stored document/);
    expectFailure(await lacuna(['docs', 'export', id!, '--blanks'], data), 2, /--blanks needs a value/);
  });

  it('fails with one line: usage 2, other 1', async () => {
    const data = tempDir();
    const work = tempDir();
    expectFailure(await lacuna(['docs', 'show'], data), 2, /docs show: missing argument/);
    expectFailure(await lacuna(['docs', 'frob'], data), 2, /unknown subcommand "frob"/);
    expectFailure(await lacuna(['docs', 'export', 'f'.repeat(32), '--format', 'html'], data), 2, /--format must be md or txt/);
    expectFailure(await lacuna(['docs', 'import', 'a', 'b'], data), 2, /unexpected argument "b"/);
    expectFailure(await lacuna(['backup'], data), 2, /backup: missing argument/);
    expectFailure(await lacuna(['restore', '--force', 'x'], data), 2, /unknown option "--force"/);
    expectFailure(await lacuna(['docs', 'show', 'f'.repeat(32)], data), 1, /no document with id/);
    expectFailure(await lacuna(['docs', 'import', join(work, 'missing.md')], data), 1, /cannot read .*no such file/);
    writeFileSync(join(work, 'nul.txt'), 'a\u0000b');
    expectFailure(await lacuna(['docs', 'import', join(work, 'nul.txt')], data), 1, /NUL/);
    writeFileSync(join(work, 'latin1.txt'), Buffer.from([0x63, 0x61, 0x66, 0xe9]));
    expectFailure(await lacuna(['docs', 'import', join(work, 'latin1.txt')], data), 1, /not UTF-8/);
  });
});

describe('lacuna backup/restore', () => {
  it('backs up, then restores the backup (documents back, old library kept aside)', async () => {
    const data = tempDir();
    const work = tempDir();
    seed(data, [
      { title: 'alpha', body: 'a ____' },
      { title: 'beta', body: 'b' },
    ]);
    const file = join(work, 'lib.backup');
    const b = await lacuna(['backup', file], data);
    expect(b.stderr).toBe('');
    expect(b.code).toBe(0);
    expect(b.stdout).toMatch(/^Backed up 2 documents to .*lib\.backup \(\d+ bytes\)\n$/);

    seed(data, [{ title: 'gamma (after the backup)', body: '' }]);
    const r = await lacuna(['restore', file], data);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Restored 2 documents from .*; the previous library was kept as .*lacuna\.db\.before-restore-\S+\n$/);
    expect(titles(data)).toEqual(['alpha', 'beta']);
    expect(readdirSync(data).filter((f) => f.startsWith('lacuna.db.before-restore-'))).toHaveLength(1);
    const list = await lacuna(['docs', 'list', '--json'], data);
    expect((JSON.parse(list.stdout) as unknown[]).length).toBe(2);
  });

  it('refuses a corrupt backup and replaces nothing', async () => {
    const data = tempDir();
    const work = tempDir();
    seed(data, [{ title: 'mine', body: 'keep me' }]);
    const before = readdirSync(data).sort();
    const bad = join(work, 'corrupt.db');
    writeFileSync(bad, Buffer.concat([Buffer.from('SQLite format 3\u0000'), Buffer.alloc(8192, 0x5a)]));
    expectFailure(await lacuna(['restore', bad], data), 1, /not a readable Lacuna backup|damaged/);
    expect(readdirSync(data).sort()).toEqual(before);
    expect(titles(data)).toEqual(['mine']);
    expectFailure(await lacuna(['restore', join(work, 'missing.db')], data), 1, /no such file/);
    expect((await lacuna(['docs', 'list'], data)).stdout).toContain('mine');
  });

  it('refuses to restore while the library is open elsewhere', async () => {
    const data = tempDir();
    const work = tempDir();
    seed(data, [{ title: 'one', body: '' }]);
    const file = join(work, 'b.db');
    expect((await lacuna(['backup', file], data)).code).toBe(0);
    const db = openDatabase({ dataDir: data });
    try {
      expectFailure(await lacuna(['restore', file], data), 1, /in use by another process/);
    } finally {
      closeDatabase(db);
    }
  });
});
