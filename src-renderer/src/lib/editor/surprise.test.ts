/**
 * The surprise view's text and its mapping back onto the document; the document's own fill
 * settings surviving a reload (also when only the body still matches); the rich text built from
 * cached blocks being exactly the document's JSON; the far blocks of a long document.
 */
import { describe, expect, it } from 'vitest';
import type { Node as ProseNode } from 'prosemirror-model';
import { TextSelection, type EditorState } from 'prosemirror-state';
import { DEFAULT_FILL_SETTINGS, type FillSettings } from '../fill-settings';
import { parseMarkdown, serializeMarkdown } from './markdown';
import { marks, nodes, schema } from './schema';
import { LONG_DOCUMENT_BLOCKS, NEAR, farBlocksKey } from './long-document';
import { createEditorState, documentSettings, loadDocument, richTextJSON } from './setup';
import { documentRanges, scoringText, surpriseDecorations, surpriseKey, surpriseLevel, surpriseThresholds } from './surprise';

const p = (...content: ProseNode[]): ProseNode => nodes.paragraph.create(null, content);
const t = (text: string, ...m: ReturnType<typeof marks.em.create>[]): ProseNode => schema.text(text, m);
const doc = (...content: ProseNode[]): ProseNode => nodes.doc.create(null, content);

describe('scoringText', () => {
  const d = doc(
    nodes.heading.create({ level: 1 }, [t('Harbour')]),
    p(t('Some '), t('bold', marks.strong.create()), t(' words'), nodes.blank.create({ tokens: 8 }), t('.'), nodes.hardBreak.create(), t('Next')),
    nodes.bulletList.create(null, [nodes.listItem.create(null, [p(t('item'))])]),
  );

  it('is the prose: blocks apart by an empty line, breaks as breaks, no blanks', () => {
    expect(scoringText(d).text).toBe('Harbour\n\nSome bold words.\nNext\n\nitem');
  });

  it('maps any text range back to the document text it came from', () => {
    const map = scoringText(d);
    const textBetween = (from: number, to: number): string => d.textBetween(from, to, '', '');
    for (let start = 0; start < map.text.length; start++) {
      for (let end = start + 1; end <= map.text.length; end++) {
        const { ranges } = documentRanges(map, start, end);
        const expected = map.text.slice(start, end).replace(/\n/g, '');
        expect(ranges.map(([a, b]) => textBetween(a, b)).join('')).toBe(expected);
      }
    }
  });

  it('decorates each token by its level, outside the document, and clears on an edit', () => {
    const map = scoringText(d);
    const at = (word: string): { start: number; end: number } => {
      const start = map.text.indexOf(word);
      return { start, end: start + word.length };
    };
    const thresholds = surpriseThresholds(512);
    expect(thresholds).toEqual([1.6, 3.1, 4.7, 6.2]);
    expect([0, 1.6, 3.5, 6.3, 40].map((n) => surpriseLevel(n, thresholds))).toEqual([0, 1, 2, 4, 4]);
    const set = surpriseDecorations(
      d,
      map,
      [
        { ...at('Harbour'), nll: 0.5 },
        { ...at('bold words'), nll: 7 },
      ],
      thresholds,
    );
    const found = set.find().map((x) => [d.textBetween(x.from, x.to), (x as unknown as { type: { attrs: { class: string } } }).type.attrs.class]);
    expect(found).toEqual([
      ['Harbour', 'surprise surprise-0'],
      ['bold', 'surprise surprise-4'],
      [' words', 'surprise surprise-4'],
    ]);

    let state = createEditorState(d);
    state = state.apply(state.tr.setMeta(surpriseKey, { type: 'show', decorations: set }));
    expect(surpriseKey.getState(state)).toBe(set);
    expect(state.doc).toBe(d);
    // Selection changes and document attributes keep it; typing clears it.
    state = state.apply(state.tr.setSelection(TextSelection.create(state.doc, 3)));
    state = state.apply(state.tr.setDocAttribute('fillSettings', { ...DEFAULT_FILL_SETTINGS }));
    expect(surpriseKey.getState(state)).toBe(set);
    state = state.apply(state.tr.insertText('x', 2));
    expect(surpriseKey.getState(state)).toBeNull();
  });
});

describe('the document’s own fill settings', () => {
  const own: FillSettings = {
    steps: 256,
    seed: 7,
    alternatives: 5,
    mode: 'fast',
    device: 'cpu',
    model: 'sedd-small',
    temperature: 0.8,
    topP: 0.9,
    unmasking: 'confident',
    lengthBias: -0.5,
    context: 128,
  };

  it('travel in the rich text and come back on load, also when the body changed elsewhere', () => {
    const body = 'A draft ____ here.';
    const d = parseMarkdown(body);
    const withOwn = d.type.create({ fillSettings: own }, d.content);
    const rich = richTextJSON(withOwn);
    expect(documentSettings(loadDocument(body, rich).doc)).toEqual(own);
    expect(loadDocument(body, rich).from).toBe('rich-text');
    // The CLI or a revision restore changed the body: the text comes from the body, the settings stay.
    const changed = loadDocument('Another text.', rich);
    expect(changed.from).toBe('body');
    expect(serializeMarkdown(changed.doc)).toBe('Another text.');
    expect(documentSettings(changed.doc)).toEqual(own);
    // Damaged or foreign settings are not trusted.
    const bad = rich.replace('"steps":256', '"steps":-1');
    expect(documentSettings(loadDocument(body, bad).doc)).toBeNull();
    expect(documentSettings(loadDocument(body).doc)).toBeNull();
    const hot = rich.replace('"temperature":0.8', '"temperature":2.5');
    expect(hot).not.toBe(rich);
    expect(documentSettings(loadDocument(body, hot).doc)).toBeNull();
    const narrow = rich.replace('"topP":0.9', '"topP":0.01');
    expect(narrow).not.toBe(rich);
    expect(documentSettings(loadDocument(body, narrow).doc)).toBeNull();
  });

  it('kept by a version before the temperature still apply, with the model’s temperature', () => {
    const body = 'A draft ____ here.';
    const d = parseMarkdown(body);
    const older = { steps: 256, seed: 7, alternatives: 5, mode: 'fast', device: 'cpu', model: 'sedd-small' };
    const rich = richTextJSON(d.type.create({ fillSettings: older }, d.content));
    expect(rich).not.toContain('temperature');
    const loaded = loadDocument(body, rich);
    expect(loaded.from).toBe('rich-text');
    const defaults = { temperature: null, topP: null, unmasking: null, lengthBias: 0, context: null };
    expect(documentSettings(loaded.doc)).toEqual({ ...older, ...defaults });
    expect(documentSettings(loadDocument('Changed.', rich).doc)).toEqual({ ...older, ...defaults });
  });

  it('are a document attribute that editing keeps', () => {
    let state: EditorState = createEditorState(parseMarkdown('Text.'));
    state = state.apply(state.tr.setDocAttribute('fillSettings', own));
    state = state.apply(state.tr.insertText('More ', 1));
    expect(documentSettings(state.doc)).toEqual(own);
    expect(serializeMarkdown(state.doc)).toBe('More Text.');
  });
});

describe('richTextJSON', () => {
  it('is JSON.stringify(doc.toJSON()), also after edits that reuse cached blocks', () => {
    const d = parseMarkdown('# Title\n\nSome **bold** ____ and {{8}}.\n\n- a\n- b\n\n> quote');
    expect(richTextJSON(d)).toBe(JSON.stringify(d.toJSON()));
    let state = createEditorState(d);
    state = state.apply(state.tr.insertText('New ', 1));
    state = state.apply(state.tr.setDocAttribute('fillSettings', { ...DEFAULT_FILL_SETTINGS, steps: 16 }));
    expect(richTextJSON(state.doc)).toBe(JSON.stringify(state.doc.toJSON()));
    expect(loadDocument(serializeMarkdown(state.doc), richTextJSON(state.doc)).doc.eq(state.doc)).toBe(true);
  });
});

describe('far blocks of a long document', () => {
  const long = (n: number): ProseNode => doc(...Array.from({ length: n }, (_, i) => p(t(`Paragraph ${i}.`))));
  const farIndices = (state: EditorState): number[] => {
    const set = farBlocksKey.getState(state)?.decorations;
    if (!set) return [];
    const starts = new Set(set.find().map((d) => d.from));
    const out: number[] = [];
    state.doc.forEach((_b, pos, i) => {
      if (starts.has(pos)) out.push(i);
    });
    return out;
  };
  const range = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, i) => a + i);

  it('leaves short documents alone', () => {
    expect(farBlocksKey.getState(createEditorState(long(LONG_DOCUMENT_BLOCKS - 1)))).toBeNull();
  });

  it('marks the blocks away from the selection, follows the selection, and only maps while typing', () => {
    let state = createEditorState(long(300));
    // The cursor starts in block 0.
    expect(farIndices(state)).toEqual(range(NEAR + 1, 300));
    const posOf = (i: number): number => {
      let at = 0;
      state.doc.forEach((_b, pos, k) => {
        if (k === i) at = pos + 1;
      });
      return at;
    };
    state = state.apply(state.tr.setSelection(TextSelection.create(state.doc, posOf(150))));
    expect(farIndices(state)).toEqual([...range(0, 150 - NEAR), ...range(151 + NEAR, 300)]);
    const before = farBlocksKey.getState(state)!;
    // Typing in the block, and a new block there (Enter): mapped, not recomputed; the new block is near.
    state = state.apply(state.tr.insertText('x'));
    state = state.apply(state.tr.split(state.selection.from));
    const after = farBlocksKey.getState(state)!;
    expect(after.decorations).not.toBe(before.decorations);
    expect(after.decorations.find().length).toBe(before.decorations.find().length);
    expect(farIndices(state)).toEqual([...range(0, 150 - NEAR), ...range(152 + NEAR, 301)]);
    // A selection across many blocks keeps all of them near.
    state = state.apply(state.tr.setSelection(TextSelection.create(state.doc, posOf(10), posOf(280))));
    expect(farIndices(state)).toEqual([]);
    // The end of the document (Ctrl+End).
    state = state.apply(state.tr.setSelection(TextSelection.create(state.doc, state.doc.content.size - 1)));
    expect(farIndices(state)).toEqual(range(0, 300 - NEAR));
  });
});
