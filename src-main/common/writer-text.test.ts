import { describe, expect, it } from 'vitest';
import { parseBlanks } from './blanks';
import { escapeMarkdownText, markdownToPlain, richTextBlanks, shownMarkdown, writerText } from './writer-text';

type Inline = { type: string; text?: string; attrs?: object };

/** A rich text of one paragraph per array; a string is text, a number a blank of that length, an array a filled blank. */
function rich(...paragraphs: Array<Array<string | number | { alts: string[]; chosen?: number } | 'BR'>>): string {
  const inline = (x: string | number | { alts: string[]; chosen?: number }): Inline => {
    if (x === 'BR') return { type: 'hard_break' };
    if (typeof x === 'string') return { type: 'text', text: x };
    if (typeof x === 'number') return { type: 'blank', attrs: { tokens: x, status: 'idle', alternatives: [], chosen: 0 } };
    return { type: 'blank', attrs: { tokens: 16, status: 'filled', alternatives: x.alts, chosen: x.chosen ?? 0, ranked: true, generationId: 3 } };
  };
  return JSON.stringify({ type: 'doc', content: paragraphs.map((p) => ({ type: 'paragraph', content: p.map(inline) })) });
}

describe('the text as the writer sees it', () => {
  it('writes a filled blank as the alternative on screen, an empty one as it is', () => {
    const body = 'The keeper {{48}}{{16}} every ____.';
    const r = rich(['The keeper ', { alts: ['lit', 'fed'], chosen: 1 }, { alts: [' the lamp'] }, ' every ', 4, '.']);
    expect(richTextBlanks(r)).toEqual(['fed', ' the lamp', null]);
    expect(shownMarkdown(body, r)).toBe('The keeper fed the lamp every ____.');
    expect(writerText(body, r)).toBe('The keeper fed the lamp every ____.');
    // keep: the body as stored.
    expect(shownMarkdown(body, r, 'keep')).toBe(body);
    // No rich text, a damaged one, or one that no longer matches the body: the body.
    expect(shownMarkdown(body, undefined)).toBe(body);
    expect(shownMarkdown(body, '{not json')).toBe(body);
    expect(shownMarkdown('The keeper {{48}}.', r)).toBe('The keeper {{48}}.');
    // A preview's head: the first blanks only.
    expect(writerText('The keeper {{48}}{{1', r, true)).toBe('The keeper fed{{1');
  });

  it('escapes generated text so that it reads back as itself, never as markup or a blank', () => {
    for (const alt of [
      '*not emphasis* and _this_',
      '____ {{12}} \\____ \\',
      '# not a heading',
      '1. not a list',
      '- nor this',
      '> nor a quote',
      'A &amp; B',
      'two\n\nparagraphs\n- list?',
    ]) {
      const body = '____';
      const md = shownMarkdown(body, rich([{ alts: [alt] }]));
      expect(parseBlanks(md).every((s) => s.kind === 'text')).toBe(true);
      expect(markdownToPlain(md)).toBe(alt);
    }
    expect(escapeMarkdownText('1. x', false)).toBe('1. x');
    expect(escapeMarkdownText('1. x', true)).toBe('1\\. x');
  });

  it('drops the Markdown, keeps line breaks and lists', () => {
    expect(markdownToPlain('# Title\n\nA *very* **bold** line\\\nand the next, with snake_case.\n\n> quoted\n\n- one\n- two\n\n1. first')).toBe(
      'Title\n\nA very bold line\nand the next, with snake_case.\n\nquoted\n\none\ntwo\n\nfirst',
    );
    // A plain-text file keeps its list markers (nested ones too), not those of quotes.
    expect(markdownToPlain('- one\n  - *two*\n\n> 1. first', true)).toBe('- one\n  - two\n\n1. first');
    expect(markdownToPlain('Escaped \\____ and \\\\____, \\{{3}}, {{0}}, a \\* star, 5 * 3, &lt;tag&gt;')).toBe(
      'Escaped ____ and \\____, {{3}}, {{0}}, a * star, 5 * 3, <tag>',
    );
    expect(writerText('Line one\\\nLine two {{16}}', rich(['Line one', 'BR', 'Line two ', { alts: ['ends here.'] }]))).toBe('Line one\nLine two ends here.');
  });
});
