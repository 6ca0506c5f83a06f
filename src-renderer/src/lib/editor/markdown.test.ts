/**
 * The Markdown text form: blanks read and write as the blank syntax, and a document written out
 * reads back as the same document (round trip), for hand-picked cases, odd Unicode, literal blank
 * syntax, and a few hundred random documents built from the characters Markdown and the blank
 * syntax give meaning to. The text must also mean the same to parseBlanks (CLI, fill) as to the
 * editor: same blanks, same lengths.
 */
import { describe, expect, it } from 'vitest';
import type { Mark, Node as ProseNode } from 'prosemirror-model';
import { parseBlanks, type BlankLength } from '../../../../src-main/common/blanks';
import { parseMarkdown, serializeMarkdown, serializeMarkdownWhole } from './markdown';
import { blankAttrs, isBlank, marks, nodes, schema } from './schema';

const { paragraph, heading, blockquote, bulletList, orderedList, listItem, hardBreak, blank } = nodes;
const p = (...content: ProseNode[]): ProseNode => paragraph.create(null, content);
const t = (text: string, ...m: Mark[]): ProseNode => schema.text(text, m);
const b = (tokens: BlankLength = 'auto', extra: object = {}): ProseNode => blank.create({ tokens, ...extra });
const doc = (...content: ProseNode[]): ProseNode => nodes.doc.create(null, content);

/** The blanks of a document, in order, as lengths. */
function blanksOf(d: ProseNode): BlankLength[] {
  const out: BlankLength[] = [];
  d.descendants((n) => {
    if (isBlank(n)) out.push(blankAttrs(n).tokens);
  });
  return out;
}

/** What parseBlanks makes of a text form: its blanks' lengths, in order. */
function blanksByParseBlanks(text: string): BlankLength[] {
  return parseBlanks(text).flatMap((s) => (s.kind === 'blank' ? [s.tokens] : []));
}

function expectRoundTrip(d: ProseNode): string {
  const text = serializeMarkdown(d);
  // Written block by block (cached), the text is what one pass of the serializer writes.
  expect(text).toBe(serializeMarkdownWhole(d));
  const back = parseMarkdown(text);
  if (!back.eq(d)) {
    // toEqual on the JSON shows where they differ.
    expect({ text, doc: back.toJSON() }).toEqual({ text, doc: d.toJSON() });
  }
  expect(blanksByParseBlanks(text)).toEqual(blanksOf(d));
  return text;
}

describe('reading the text form', () => {
  it('reads blanks as parseBlanks does, escapes included', () => {
    const cases = [
      'The keeper ____ every night, until {{8}} arrived.',
      '______ long run, {{ 12 }} spaced, {{1024}} longest',
      '\\____ is text, \\\\____ is a backslash and a blank, \\\\\\____ is a backslash and text',
      '\\{{12}} is text, \\\\{{12}} a backslash and a blank',
      'inside a word: a____b, after underscores: _{{3}}',
      '\\_____ five underscores escaped as a whole',
      '{{auto}} and {{ auto }} written out, \\{{auto}} is text, _{{auto}}_ next to underscores',
    ];
    for (const text of cases) {
      expect(blanksOf(parseMarkdown(text)), text).toEqual(blanksByParseBlanks(text));
    }
    expect(parseMarkdown('\\____ and \\\\____').textContent).toBe('____ and \\____');
  });

  it('keeps blank syntax of an invalid length as text', () => {
    const d = parseMarkdown('{{0}} and {{1025}} and \\{{0}}');
    expect(blanksOf(d)).toEqual([]);
    expect(d.textContent).toBe('{{0}} and {{1025}} and {{0}}');
  });

  it('reads paragraphs, headings, emphasis, lists and quotes', () => {
    const d = parseMarkdown('# Title ____\n\nSome *em* and **strong** text.\n\n- one\n- two {{4}}\n\n3. three\n4. four\n\n> quoted\n> on two lines');
    expect(d.toJSON()).toEqual(
      doc(
        heading.create({ level: 1 }, [t('Title '), b()]),
        p(t('Some '), t('em', marks.em.create()), t(' and '), t('strong', marks.strong.create()), t(' text.')),
        bulletList.create({ tight: true }, [listItem.create(null, p(t('one'))), listItem.create(null, p(t('two '), b(4)))]),
        orderedList.create({ order: 3, tight: true }, [listItem.create(null, p(t('three'))), listItem.create(null, p(t('four')))]),
        blockquote.create(null, p(t('quoted'), hardBreak.create(), t('on two lines'))),
      ).toJSON(),
    );
  });

  it('reads a plain-text draft line for line, with what Markdown does not hold as text', () => {
    const plain = 'Roses are red,\nviolets ____.\n\n<b>not html</b> [not](a link) `not code` ---';
    const d = parseMarkdown(plain);
    expect(d.childCount).toBe(2);
    expect(d.child(0).toJSON()).toEqual(p(t('Roses are red,'), hardBreak.create(), t('violets '), b(), t('.')).toJSON());
    expect(d.child(1).textContent).toBe('<b>not html</b> [not](a link) `not code` ---');
    // A line of underscores is a blank, not a horizontal rule.
    expect(parseMarkdown('____').toJSON()).toEqual(doc(p(b())).toJSON());
  });
});

describe('writing the text form', () => {
  it('leaves out empty paragraphs and keeps what an edit did not touch', () => {
    const a = p(t('One.'));
    const d = doc(
      p(),
      a,
      p(),
      p(),
      p(t('Two '), b()),
      bulletList.create(null, [listItem.create(null, p(t('x')))]),
      bulletList.create(null, [listItem.create(null, p(t('y')))]),
      p(),
    );
    expect(serializeMarkdown(d)).toBe('One.\n\nTwo ____\n\n- x\n\n\n- y');
    // Another document sharing the first paragraph writes it the same.
    expect(serializeMarkdown(doc(a, p(t('Three.'))))).toBe('One.\n\nThree.');
  });

  it('writes blanks in the blank syntax, whatever their state', () => {
    expect(serializeMarkdown(doc(p(t('A '), b(), t(' and '), b(7), t('.'))))).toBe('A ____ and {{7}}.');
    const filled = b('auto', { status: 'filled', alternatives: ['one', 'two'], chosen: 1, ranked: true, generationId: 3 });
    const filling = b(5, { status: 'filling' });
    expect(serializeMarkdown(doc(p(filled, t(' '), filling)))).toBe('____ {{5}}');
  });

  it('writes an auto blank as ____ and an exact one as {{N}}, 16 tokens included', () => {
    expect(expectRoundTrip(doc(p(t('A '), b(), t(' b '), b(16), t(' c '), b(8), t('.'))))).toBe('A ____ b {{16}} c {{8}}.');
    expect(blanksOf(parseMarkdown('____ {{auto}} {{ auto }} {{8}} {{16}}'))).toEqual(['auto', 'auto', 'auto', 8, 16]);
    // {{auto}} written by hand reads back as the same auto blank, written ____.
    expect(serializeMarkdown(parseMarkdown('The {{auto}} keeper.'))).toBe('The ____ keeper.');
    // Two auto blanks in a row: underscores would run together, so the second is written out.
    expect(expectRoundTrip(doc(p(b(), b())))).toBe('____{{auto}}');
    expect(expectRoundTrip(doc(p(b(8), b())))).toBe('{{8}}{{auto}}');
  });

  it('writes a blank that touches an underscore in the explicit form', () => {
    expect(expectRoundTrip(doc(p(t('snake_'), b(), t('_case'))))).toBe('snake\\_{{auto}}\\_case');
    expect(expectRoundTrip(doc(p(b(), t('_'))))).toBe('{{auto}}\\_');
    expect(expectRoundTrip(doc(p(t('_'), b())))).toBe('\\_{{auto}}');
    expect(expectRoundTrip(doc(p(t('snake_'), b(16), t('_case'))))).toBe('snake\\_{{16}}\\_case');
  });

  it('reads documents written before auto blanks with the lengths they had', () => {
    // Numeric lengths only, ____ was 16 tokens then: an exact length still reads as itself.
    expect(blanksOf(parseMarkdown('Old {{8}} and {{48}} and {{16}}.'))).toEqual([8, 48, 16]);
    // Rich text of that time: numeric lengths, no `ranked`; it loads as it was, its blanks exact.
    const json = {
      type: 'doc',
      content: [
        {
          type: 'paragraph',
          content: [
            { type: 'text', text: 'Old ' },
            { type: 'blank', attrs: { tokens: 16, status: 'filled', alternatives: ['x', 'y'], chosen: 1, generationId: 2 } },
            { type: 'text', text: ' and ' },
            { type: 'blank', attrs: { tokens: 48 } },
          ],
        },
      ],
    };
    const old = schema.nodeFromJSON(json);
    old.check();
    expect(blanksOf(old)).toEqual([16, 48]);
    expect(blankAttrs(old.child(0).child(1)).ranked).toBe(false);
    expect(expectRoundTrip(old.type.create(null, p(t('Old '), b(16), t(' and '), b(48))))).toBe('Old {{16}} and {{48}}');
  });

  it('escapes literal blank syntax so that it stays text', () => {
    for (const literal of [
      '____',
      '_____',
      'a____b',
      'x______',
      '{{12}}',
      '{{ 3 }}',
      '{{auto}}',
      '{{ auto }}',
      '\\____',
      '\\\\{{12}}',
      '\\{{auto}}',
      '\\',
      '\\\\',
    ]) {
      const d = doc(p(t(`before ${literal} after`)));
      const text = expectRoundTrip(d);
      expect(blanksByParseBlanks(text), text).toEqual([]);
      const next = doc(p(t(literal), b(), t(literal)));
      expect(blanksByParseBlanks(expectRoundTrip(next))).toEqual(['auto']);
      expect(blanksByParseBlanks(expectRoundTrip(doc(p(t(literal), b(16), t(literal)))))).toEqual([16]);
    }
  });

  it('round-trips odd Unicode', () => {
    const odd = [
      'emoji 😀👩🏽‍💻🏳️‍🌈 and a flag 🇸🇪',
      'RTL: שלום עולם \u200f مرحبا بالعالم \u202eevil\u202c',
      'combining: e\u0301 a\u0308 Z\u0351\u0352\u0353',
      'nbsp\u00a0ZWJ\u200dBOM\ufeffLS\u2028PS\u2029tab\tend',
      'astral: 𝕳𝖊𝖑𝖑𝖔 𐍈 \u{10FFFF} replacement \uFFFD',
      'typography: “quotes” — dashes … ﬁ ligature',
    ];
    const d = doc(
      heading.create({ level: 2 }, [t('Überschrift 😀 '), b(3)]),
      ...odd.map((line, i) => p(t(line), i % 2 ? b(i + 1) : hardBreak.create(), t(`${line} `), t('weiß', marks.strong.create()))),
    );
    expectRoundTrip(d);
  });

  it('round-trips characters that mean something in Markdown', () => {
    const tricky = [
      '# not a heading',
      '- not a list',
      '+ not a list',
      '+',
      '1. not a list',
      '2) not a list either',
      '7.',
      '> not a quote',
      '*not em* and **not strong** and _not em_',
      '[not a link](x) ![not an image](y) <not html>',
      '`not code` ~~not struck~~',
      '&amp; &copy; &#169; & ; &x',
      'back\\slash \\* \\_ \\',
      'a_b_c snake_case __init__',
    ];
    // A heading's trailing "#" run is text, not its closing sequence.
    for (const title of ['#', 'Number #', 'C# ##', '# #']) expectRoundTrip(doc(heading.create({ level: 2 }, [t(title)])));
    for (const line of tricky) {
      expectRoundTrip(doc(p(t(line))));
      expectRoundTrip(doc(p(t('x'), hardBreak.create(), t(line))));
      expectRoundTrip(doc(bulletList.create({ tight: true }, [listItem.create(null, p(t(line)))])));
    }
  });

  it('round-trips random documents', () => {
    let seed = 0x5eed;
    const random = (): number => {
      // mulberry32
      seed = (seed + 0x6d2b79f5) | 0;
      let r = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
      return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
    };
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const alphabet = [
      'a',
      'b',
      'Z',
      '9',
      '1',
      '_',
      '__',
      '____',
      '*',
      '**',
      '\\',
      '{',
      '}',
      '{{3}}',
      '{{auto}}',
      'auto',
      '#',
      '-',
      '+',
      '>',
      '.',
      ')',
      '[',
      ']',
      '`',
      '~',
      '&',
      ';',
      '<',
      'é',
      '😀',
      'ש',
      ' ',
    ];
    const words = ['lamp', 'keeper', 'Sturm', 'île', 'ночь'];

    /** Unmarked text: no whitespace at either end (Markdown trims it at line ends). */
    const plainText = (): string => {
      let s = '';
      const n = 1 + Math.floor(random() * 8);
      for (let i = 0; i < n; i++) s += pick(alphabet);
      return s.trim().replace(/ {2,}/g, ' ') || 'x';
    };
    const inline = (allowBreaks: boolean): ProseNode[] => {
      const out: ProseNode[] = [];
      const n = 1 + Math.floor(random() * 6);
      for (let i = 0; i < n; i++) {
        const r = random();
        if (r < 0.25) out.push(b(pick<BlankLength>(['auto', 'auto', 16, 1, 7, 1024])));
        else if (r < 0.35 && allowBreaks && out.length) out.push(hardBreak.create());
        else if (r < 0.5) {
          // Emphasis around plain words, set off by spaces (Markdown's flanking rules).
          const m = pick([[marks.em.create()], [marks.strong.create()], [marks.em.create(), marks.strong.create()]]);
          out.push(t(' '), t(pick(words), ...m), t(' '));
        } else out.push(t(plainText()));
      }
      // No whitespace next to line ends: trim the edges of each line.
      const lines: ProseNode[][] = [[]];
      for (const node of out) {
        if (node.type === hardBreak) lines.push([]);
        else lines[lines.length - 1]!.push(node);
      }
      const trimmed = lines
        .map((line) => {
          const first = line[0];
          if (first?.isText) line[0] = t(first.text!.trimStart() || 'y', ...first.marks);
          const last = line[line.length - 1];
          if (last?.isText) line[line.length - 1] = t(last.text!.trimEnd() || 'y', ...last.marks);
          return line.length ? line : [t('z')];
        })
        .flatMap((line, i) => (i ? [hardBreak.create(), ...line] : line));
      return trimmed;
    };
    const block = (depth: number): ProseNode => {
      const r = random();
      if (r < 0.5 || depth > 1) return p(...inline(true));
      if (r < 0.65) return heading.create({ level: 1 + Math.floor(random() * 3) }, inline(false));
      if (r < 0.75) return blockquote.create(null, [block(depth + 1)]);
      const items = Array.from({ length: 1 + Math.floor(random() * 3) }, () => listItem.create(null, [p(...inline(true))]));
      // A list of one item reads as tight: Markdown has nothing to tell it apart.
      const tight = items.length === 1 || random() < 0.7;
      return r < 0.88 ? bulletList.create({ tight }, items) : orderedList.create({ order: 1 + Math.floor(random() * 3), tight }, items);
    };
    for (let i = 0; i < 400; i++) {
      const blocks: ProseNode[] = [];
      const n = 1 + Math.floor(random() * 4);
      for (let k = 0; k < n; k++) {
        const next = block(0);
        // Two lists of one kind in a row are one list in Markdown.
        if (blocks.length && blocks[blocks.length - 1]!.type === next.type && (next.type === bulletList || next.type === orderedList)) continue;
        blocks.push(next);
      }
      expectRoundTrip(doc(...blocks));
    }
  });
});
