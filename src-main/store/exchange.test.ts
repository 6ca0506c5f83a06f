/** Export/import of single documents (store/exchange.ts), directly and through the core. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError, MAX_BODY_CHARS } from '../common/api';
import { parseBlanks } from '../common/blanks';
import { createCore, type Core } from '../service/core';
import { exportDocument, parseImport, safeFileName } from './exchange';

const TRICKY = [
  'Blanks: ____ and {{12}} and {{ 3 }}; escaped \\____ and \\\\____ stay as written.',
  'Emoji 👩‍👩‍👧‍👦 🇳🇴, RTL: שלום עולם مرحبا, combining: e\u0301 n\u0303 a\u0308\u0304.',
  '',
  '# not a heading of the document, just body text',
  '  indented line\ttab\\',
  '\n\nends with blank lines\n\n',
].join('\n');

function bad(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe('bad_request');
    return err as ApiError;
  }
  throw new Error('expected bad_request');
}

describe('exchange', () => {
  it('exports Markdown and plain text with a body that has no markup unchanged', () => {
    expect(exportDocument({ title: 'My draft', body: 'A ____ b' }, 'md')).toEqual({ filename: 'My draft.md', text: '# My draft\n\nA ____ b' });
    expect(exportDocument({ title: 'My draft', body: 'A ____ b' }, 'txt')).toEqual({ filename: 'My draft.txt', text: 'My draft\n\nA ____ b' });
    expect(exportDocument({ title: '', body: 'x' }, 'md').text).toBe('# Untitled\n\nx');
    expect(exportDocument({ title: 'two\nlines', body: 'x' }, 'txt').text).toBe('two lines\n\nx');
  });

  it('exports a filled blank not yet accepted as the alternative on screen; blanks keep writes the body', () => {
    const body = 'The keeper {{48}}{{16}} every night.\\\nThe ships passed ____.';
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
            blank(48, ['slept', 'trimmed the *wicks*'], 1),
            blank(16, [' and lit the lamp']),
            { type: 'text', text: ' every night.' },
            { type: 'hard_break' },
            { type: 'text', text: 'The ships passed ' },
            blank('auto', []),
            { type: 'text', text: '.' },
          ],
        },
      ],
    });
    const shown = 'The keeper trimmed the \\*wicks\\* and lit the lamp every night.\\\nThe ships passed ____.';
    expect(exportDocument({ title: 'Keeper', body, richText }, 'md').text).toBe(`# Keeper\n\n${shown}`);
    // Plain text: no Markdown, the line break a line break.
    expect(exportDocument({ title: 'Keeper', body, richText }, 'txt').text).toBe(
      'Keeper\n\nThe keeper trimmed the *wicks* and lit the lamp every night.\nThe ships passed ____.',
    );
    // Imported back, the fill is text and the empty blank still a blank.
    expect(parseBlanks(parseImport(`# Keeper\n\n${shown}`, 'md').body).filter((x) => x.kind === 'blank')).toHaveLength(1);
    for (const format of ['md', 'txt'] as const) {
      const kept = exportDocument({ title: 'Keeper', body, richText }, format, 'keep');
      expect(parseImport(kept.text, format)).toEqual({ title: 'Keeper', body });
    }
    // A rich text that no longer matches the body (another number of blanks) is not trusted.
    expect(exportDocument({ title: 'K', body: 'Just {{48}}.', richText }, 'md').text).toBe('# K\n\nJust {{48}}.');
  });

  it('round-trips title and body byte for byte in both formats with blanks kept', () => {
    for (const format of ['md', 'txt'] as const) {
      for (const body of [TRICKY, '', '\nstarts with a newline', 'one line', '____']) {
        const out = exportDocument({ title: 'Tïtle ✍️ עברית', body }, format, format === 'md' ? undefined : 'keep');
        const back = parseImport(out.text, format);
        expect(back).toEqual({ title: 'Tïtle ✍️ עברית', body });
        expect(parseBlanks(back.body)).toEqual(parseBlanks(body));
      }
    }
  });

  it('imports: BOM, CRLF, headings, first-line titles, given titles', () => {
    expect(parseImport('\uFEFF# Hello\r\n\r\nline 1\r\nline 2\r\n', 'md')).toEqual({ title: 'Hello', body: 'line 1\nline 2\n' });
    expect(parseImport('# Hello\nbody', 'md')).toEqual({ title: 'Hello', body: 'body' });
    expect(parseImport('# Hello', 'md')).toEqual({ title: 'Hello', body: '' });
    expect(parseImport('# Hello\n\nbody', 'md', 'Given')).toEqual({ title: 'Given', body: 'body' });
    expect(parseImport('no heading\n\nbody', 'md')).toEqual({ title: 'no heading', body: 'no heading\n\nbody' });
    expect(parseImport('## Sub\nbody', 'md').body).toBe('## Sub\nbody');
    expect(parseImport('\n\n  Title line  \n\nbody', 'txt')).toEqual({ title: 'Title line', body: 'body' });
    expect(parseImport('Title\nbody', 'txt')).toEqual({ title: 'Title', body: 'body' });
    expect(parseImport('Title\nbody', 'txt', 'Given')).toEqual({ title: 'Given', body: 'Title\nbody' });
    const long = 'x'.repeat(101);
    expect(parseImport(`${long}\nmore`, 'txt')).toEqual({ title: 'Untitled', body: `${long}\nmore` });
    expect(parseImport('\n  \n', 'txt')).toEqual({ title: 'Untitled', body: '\n  \n' });
    expect(parseImport('', 'md')).toEqual({ title: 'Untitled', body: '' });
    expect(parseImport('old mac\rline', 'txt', 'T').body).toBe('old mac\nline');
  });

  it('refuses NUL and over-long text', () => {
    expect(bad(() => parseImport('a\u0000b', 'txt')).message).toMatch(/NUL/);
    expect(bad(() => parseImport('x'.repeat(MAX_BODY_CHARS + 1), 'txt', 'T')).message).toMatch(/too long/);
  });

  it('makes safe file names', () => {
    expect(safeFileName('a/b\\c:d*e?"f<g>|h')).toBe('a b c d e f g h');
    expect(safeFileName('...hidden.')).toBe('hidden');
    expect(safeFileName('CON')).toBe('CON_');
    expect(safeFileName('   ')).toBe('Untitled');
    expect(Array.from(safeFileName('é'.repeat(200))).length).toBe(80);
  });
});

describe('exchange through the core', () => {
  let dir: string;
  let core: Core;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lacuna-exchange-'));
    core = createCore({ dataDir: join(dir, 'data'), modelDirs: [], front: 'test', version: '0.0.0' });
  });
  afterEach(async () => {
    await core.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('documents.export and documents.import', async () => {
    const d = await core.call('documents.create', { title: 'Story', body: TRICKY });
    const md = await core.call('documents.export', { id: d.id, format: 'md' });
    expect(md).toEqual({ filename: 'Story.md', text: `# Story\n\n${TRICKY}` });
    const back = await core.call('documents.import', { text: md.text, format: 'md' });
    expect(back.id).not.toBe(d.id);
    expect([back.title, back.body]).toEqual(['Story', TRICKY]);
    expect((await core.call('documents.open', { id: back.id })).body).toBe(TRICKY);
    const txt = await core.call('documents.import', { text: 'Just text', format: 'txt', title: 'Named' });
    expect([txt.title, txt.body]).toEqual(['Named', 'Just text']);
    await expect(core.call('documents.import', { text: 'a\u0000', format: 'txt' })).rejects.toMatchObject({ code: 'bad_request' });
    await expect(core.call('documents.export', { id: d.id, format: 'html' as 'md' })).rejects.toMatchObject({ code: 'bad_request' });
    await expect(core.call('documents.export', { id: d.id, format: 'md', blanks: 'syntax' as 'keep' })).rejects.toMatchObject({ code: 'bad_request' });
    // A filled blank: the alternative on screen by default, the blank syntax with blanks 'keep'.
    const richText = JSON.stringify({
      type: 'doc',
      content: [
        {
          type: 'paragraph',
          content: [
            { type: 'text', text: 'A ' },
            { type: 'blank', attrs: { tokens: 4, status: 'filled', alternatives: ['quiet'], chosen: 0 } },
            { type: 'text', text: ' night' },
          ],
        },
      ],
    });
    const filled = await core.call('documents.create', { title: 'Night', body: 'A {{4}} night', richText });
    expect((await core.call('documents.export', { id: filled.id, format: 'txt' })).text).toBe('Night\n\nA quiet night');
    expect((await core.call('documents.export', { id: filled.id, format: 'txt', blanks: 'keep' })).text).toBe('Night\n\nA {{4}} night');
    expect((await core.call('documents.export', { id: filled.id, format: 'md', blanks: 'shown' })).text).toBe('# Night\n\nA quiet night');
    await expect(core.call('documents.export', { id: 'f'.repeat(32), format: 'md' })).rejects.toMatchObject({ code: 'not_found' });
  });
});
