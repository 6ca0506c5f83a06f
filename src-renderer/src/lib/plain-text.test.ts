/**
 * Display text from Markdown: previews and search snippets show the words, not the syntax, and a
 * highlight stays on the words it was on.
 */
import { describe, expect, it } from 'vitest';
import { parseMarkdown, serializeMarkdown } from './editor/markdown';
import { plainPieces, plainText, previewOf } from './plain-text';

/** What the store's makePreview does to a body: whitespace runs collapsed to one space. */
const flatten = (s: string): string => s.replace(/\s+/g, ' ').trim();

describe('plainText', () => {
  it('drops block markers, emphasis, escapes and entities from a body with its lines', () => {
    const body = '# Harbour\n\nSome **bold** and *italic* words.\n\n- first item\n- second item\n\n> quoted ____\n\n1. one\n2. two';
    expect(plainText(body)).toBe('Harbour Some bold and italic words. first item second item quoted ____ one two');
  });

  it('reads what the editor writes: escaped syntax is text again', () => {
    const body = serializeMarkdown(parseMarkdown('\\# not a heading, 2\\*3, a\\_b, \\____ and {{8}} & &amp;'));
    expect(body).toContain('\\');
    expect(plainText(body)).toBe('# not a heading, 2*3, a_b, ____ and ____ & &');
  });

  it('guesses line starts in a flattened preview, and leaves prose alone', () => {
    expect(plainText(flatten('# Harbour\n\nSome **bold** words.\n\n- first\n- second\n\n> quoted'))).toBe('Harbour Some bold words. first - second quoted');
    expect(plainText('In 1999. It was 5 - 3 = 2, snake_case and a * b.')).toBe('In 1999. It was 5 - 3 = 2, snake_case and a * b.');
    expect(plainText('Line one\\\nline two')).toBe('Line one line two');
    expect(plainText('x &lt;img src=x onerror=alert(1)&gt; &#65;&#x42;')).toBe('x <img src=x onerror=alert(1)> AB');
  });

  it('keeps search highlights on the words they mark', () => {
    const snippet = '…the **lamp** keeper\\_s *harbour* light';
    const start = snippet.indexOf('lamp');
    const h2 = snippet.indexOf('harbour');
    const pieces = plainPieces(snippet, [
      { start, end: start + 4 },
      { start: h2, end: h2 + 7 },
    ]);
    expect(pieces).toEqual([
      { text: '…the ', hit: false },
      { text: 'lamp', hit: true },
      { text: ' keeper_s ', hit: false },
      { text: 'harbour', hit: true },
      { text: ' light', hit: false },
    ]);
    // Adjacent highlighted words stay one piece, with the space between them.
    expect(plainPieces('a b c', [{ start: 0, end: 1 }, { start: 2, end: 3 }])).toEqual([
      { text: 'a b', hit: true },
      { text: ' c', hit: false },
    ]);
  });

  it('makes previews of at most the given length', () => {
    const p = previewOf(`# Title\n\n${'word '.repeat(100)}`, 40);
    expect(Array.from(p)).toHaveLength(40);
    expect(p.startsWith('Title word word')).toBe(true);
    expect(p.endsWith('…')).toBe(true);
    expect(previewOf('')).toBe('');
  });
});
