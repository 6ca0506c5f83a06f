/**
 * Blanks in the editor state (no view needed): the text a fill runs on, accepting as one undo step,
 * rejecting, flipping alternatives outside the history, generated text losing its mark when edited,
 * the live fill following its blanks, the clipboard's plain-text form, and loading what the store
 * keeps.
 */
import { describe, expect, it, vi } from 'vitest';
import { redo, undo } from 'prosemirror-history';
import type { Mark, Node as ProseNode } from 'prosemirror-model';
import { NodeSelection, TextSelection, type Command, type EditorState, type Transaction } from 'prosemirror-state';
import { parseBlanks, type BlankLength } from '../../../../src-main/common/blanks';
import { BLANK_LENGTH_PRESETS } from '../keys';
import {
  acceptBlanks,
  BLANK_PRESETS,
  clipboardSlice,
  clipboardText,
  currentBlank,
  cycleAlternative,
  fillText,
  findBlanks,
  insertBlank,
  rejectBlank,
  setBlankLength,
} from './blank-ops';
import { liveFill, liveFillKey, type LiveFillMeta, type LiveTokens } from './live-fill';
import { serializeMarkdown } from './markdown';
import { blankAttrs, isBlank, marks, nodes, schema } from './schema';
import { createEditorState, loadDocument } from './setup';

const { paragraph, hardBreak, blank, heading } = nodes;
const p = (...content: ProseNode[]): ProseNode => paragraph.create(null, content);
const t = (text: string, ...m: Mark[]): ProseNode => schema.text(text, m);
const b = (tokens: BlankLength = 'auto', extra: object = {}): ProseNode => blank.create({ tokens, ...extra });
const doc = (...content: ProseNode[]): ProseNode => nodes.doc.create(null, content);
const filled = (alternatives: string[], chosen = 0, generationId: number | null = 7): ProseNode =>
  b('auto', { status: 'filled', alternatives, chosen, generationId });

function apply(state: EditorState, tr: Transaction | null): EditorState {
  expect(tr).not.toBeNull();
  return state.apply(tr!);
}

function exec(state: EditorState, command: Command): EditorState {
  let next = state;
  expect(command(state, (tr) => (next = state.apply(tr)))).toBe(true);
  return next;
}

/** Type text at the cursor as a separate user edit (as the view would), `ms` after the previous one. */
function type(state: EditorState, text: string, time: number): EditorState {
  const tr = state.tr.insertText(text);
  tr.setTime(time);
  return state.apply(tr);
}

describe('the text a fill runs on', () => {
  it('has the targets as blanks, filled blanks as their text, other empty blanks left out', () => {
    const d = doc(
      heading.create({ level: 1 }, [t('Title')]),
      p(t('A '), b(), t(' and '), b(5), t(' then '), filled(['kept', 'other'], 1), t(' and literal ____ too.')),
      p(t('line'), hardBreak.create(), t('break '), b(3)),
    );
    const blanks = findBlanks(d);
    expect(blanks.map((x) => x.attrs.tokens)).toEqual(['auto', 5, 'auto', 3]);
    const text = fillText(d, [blanks[0]!.pos, blanks[3]!.pos]);
    expect(text).toBe('Title\n\nA ____ and  then other and literal \\____ too.\n\nline\nbreak {{3}}');
    expect(parseBlanks(text).filter((s) => s.kind === 'blank')).toEqual([
      { kind: 'blank', tokens: 'auto' },
      { kind: 'blank', tokens: 3 },
    ]);
    // An exact blank of 16 tokens is asked for as such.
    const exact = doc(p(t('A '), b(16), t(' b '), b()));
    expect(
      fillText(
        exact,
        findBlanks(exact).map((x) => x.pos),
      ),
    ).toBe('A {{16}} b ____');
  });
});

describe('blank operations', () => {
  const start = (): EditorState => {
    const s = createEditorState(doc(p(t('Before '), filled(['first', 'second', 'third']), t(' after.'))));
    return s;
  };

  it('accepts the alternative on display as one undo step, and undo brings the filled blank back', () => {
    let s = start();
    const pos = findBlanks(s.doc)[0]!.pos;
    s = apply(s, cycleAlternative(s, pos, 1));
    expect(blankAttrs(s.doc.nodeAt(pos)!).chosen).toBe(1);
    // Typed just before accepting: still its own undo step.
    s = s.apply(s.tr.setSelection(TextSelection.create(s.doc, 1)));
    s = type(s, 'Just ', 1_000);
    const at = findBlanks(s.doc)[0]!.pos;
    const r = acceptBlanks(s, [at])!;
    expect(r.accepted).toEqual([{ generationId: 7, alternative: 1 }]);
    r.tr.setTime(1_010);
    s = s.apply(r.tr);
    expect(s.doc.textContent).toBe('Just Before second after.');
    expect(findBlanks(s.doc)).toEqual([]);
    // The accepted text is marked generated, with its generation.
    let generated = '';
    s.doc.descendants((n) => {
      const m = marks.generated.isInSet(n.marks);
      if (m) generated += `${n.text}#${m.attrs.generationId as number}`;
    });
    expect(generated).toBe('second#7');
    expect(serializeMarkdown(s.doc)).toBe('Just Before second after.');

    s = exec(s, undo);
    expect(s.doc.textContent).toBe('Just Before ____ after.');
    expect(blankAttrs(findBlanks(s.doc)[0]!.node)).toMatchObject({ status: 'filled', chosen: 1, alternatives: ['first', 'second', 'third'] });
    s = exec(s, undo);
    expect(s.doc.textContent).toBe('Before ____ after.');
    s = exec(s, redo);
    s = exec(s, redo);
    expect(s.doc.textContent).toBe('Just Before second after.');
  });

  it('turns accepted line breaks into hard breaks, and into spaces in a heading', () => {
    let s = createEditorState(doc(p(filled(['one\ntwo'])), heading.create({ level: 2 }, [filled(['three\nfour'])])));
    const positions = findBlanks(s.doc).map((x) => x.pos);
    s = s.apply(acceptBlanks(s, positions)!.tr);
    const g = marks.generated.create({ generationId: 7 });
    expect(s.doc.child(0).toJSON()).toEqual(p(t('one', g), hardBreak.create(null, null, [g]), t('two', g)).toJSON());
    expect(serializeMarkdown(s.doc)).toBe('one\\\ntwo\n\n## three four');
    expect(s.doc.child(1).textContent).toBe('three four');
  });

  it('rejects back to the empty blank (undoable), and flipping alternatives is not an undo step', () => {
    let s = start();
    const pos = findBlanks(s.doc)[0]!.pos;
    s = type(s.apply(s.tr.setSelection(TextSelection.create(s.doc, 1))), 'X', 0);
    s = apply(s, cycleAlternative(s, pos + 1, -1));
    expect(blankAttrs(s.doc.nodeAt(pos + 1)!).chosen).toBe(2);
    s = apply(s, rejectBlank(s, pos + 1));
    expect(blankAttrs(s.doc.nodeAt(pos + 1)!)).toEqual({ tokens: 'auto', status: 'idle', alternatives: [], chosen: 0, ranked: false, generationId: null });
    expect(currentBlank(s)?.pos).toBe(pos + 1);
    s = exec(s, undo);
    expect(blankAttrs(s.doc.nodeAt(pos + 1)!)).toMatchObject({ status: 'filled', chosen: 2 });
    s = exec(s, undo);
    // The typing is undone; the alternative on display stays as it was chosen.
    expect(s.doc.textContent).toBe('Before ____ after.');
    expect(blankAttrs(s.doc.nodeAt(pos)!)).toMatchObject({ status: 'filled', chosen: 2 });
  });

  it('inserts a blank at the cursor and changes its length', () => {
    let s = createEditorState(doc(p(t('ab'))));
    s = s.apply(s.tr.setSelection(TextSelection.create(s.doc, 2)));
    s = apply(s, insertBlank(s));
    expect(serializeMarkdown(s.doc)).toBe('a____b');
    const cur = currentBlank(s)!;
    expect(cur.pos).toBe(2);
    s = apply(s, setBlankLength(s, cur.pos, 48));
    expect(serializeMarkdown(s.doc)).toBe('a{{48}}b');
    expect(setBlankLength(s, cur.pos, 48)).toBeNull();
    s = s.apply(s.tr.setSelection(NodeSelection.create(s.doc, cur.pos)));
    expect(currentBlank(s)?.attrs.tokens).toBe(48);
    // Back to auto, and an exact length given with insertBlank.
    s = apply(s, setBlankLength(s, cur.pos, 'auto'));
    expect(serializeMarkdown(s.doc)).toBe('a____b');
    expect(setBlankLength(s, cur.pos, 'auto')).toBeNull();
    s = apply(s, insertBlank(s, 8));
    expect(serializeMarkdown(s.doc)).toBe('a{{8}}{{auto}}b');
  });

  it('offers Auto first among the length presets, each with its key', () => {
    expect(BLANK_PRESETS.map((x) => x.tokens)).toEqual(['auto', 8, 16, 48]);
    expect(BLANK_PRESETS[0]!.label).toBe('Auto');
    expect(BLANK_LENGTH_PRESETS.map((k) => k.label)).toEqual(['Alt+0', 'Alt+1', 'Alt+2', 'Alt+3']);
    expect(new Set(BLANK_PRESETS.map((x) => x.id)).size).toBe(BLANK_PRESETS.length);
  });

  it('makes a new length an empty, unranked blank', () => {
    let s = createEditorState(doc(p(b('auto', { status: 'filled', alternatives: ['a', 'b'], chosen: 1, ranked: true, generationId: 4 }))));
    const pos = findBlanks(s.doc)[0]!.pos;
    expect(blankAttrs(s.doc.nodeAt(pos)!).ranked).toBe(true);
    s = apply(s, setBlankLength(s, pos, 16));
    expect(blankAttrs(s.doc.nodeAt(pos)!)).toEqual({ tokens: 16, status: 'idle', alternatives: [], chosen: 0, ranked: false, generationId: null });
  });
});

describe('generated text', () => {
  function accepted(): EditorState {
    const s = createEditorState(doc(p(t('A '), filled(['model words']), t(' z'))));
    return s.apply(acceptBlanks(s, [findBlanks(s.doc)[0]!.pos])!.tr);
  }
  const generatedText = (s: EditorState): string[] => {
    const out: string[] = [];
    s.doc.descendants((n) => {
      if (marks.generated.isInSet(n.marks)) out.push(n.text!);
    });
    return out;
  };

  it('keeps its mark when the writer types next to it', () => {
    let s = accepted();
    // The cursor is after the accepted text; the mark does not extend to what is typed there.
    s = type(s, '!', Date.now() + 1_000);
    expect(s.doc.textContent).toBe('A model words! z');
    expect(generatedText(s)).toEqual(['model words']);
  });

  it('loses its mark over the whole run when the writer types into it or deletes from it', () => {
    let s = accepted();
    s = s.apply(s.tr.setSelection(TextSelection.create(s.doc, 9)));
    s = type(s, 'X', Date.now() + 1_000);
    expect(s.doc.textContent).toBe('A model Xwords z');
    expect(generatedText(s)).toEqual([]);
    // Undo puts the accepted text back as it was, mark included.
    s = exec(s, undo);
    expect(generatedText(s)).toEqual(['model words']);

    s = s.apply(s.tr.delete(4, 5));
    expect(s.doc.textContent).toBe('A mdel words z');
    expect(generatedText(s)).toEqual([]);
  });
});

describe('live fill', () => {
  it('shows unmasked tokens on the fill’s blanks and follows them while the writer types', () => {
    let s = createEditorState(doc(p(t('One '), b(3), t(' two '), b(2))));
    const [first, second] = findBlanks(s.doc).map((x) => x.pos);
    const meta = (m: LiveFillMeta): Transaction => s.tr.setMeta(liveFillKey, m);
    s = s.apply(meta({ type: 'start', requestId: 'r', targets: [second!, first!] }));
    const shown = (): (readonly (string | null)[])[] =>
      liveFill(s)!
        .decorations.find()
        .map((d) => (d.spec as { live: LiveTokens }).live.tokens);
    expect(shown()).toEqual([
      [null, null, null],
      [null, null],
    ]);
    s = s.apply(
      meta({
        type: 'progress',
        requestId: 'r',
        unmasked: [
          { alternative: 0, blank: 0, index: 1, text: ' sea' },
          { alternative: 1, blank: 0, index: 0, text: 'ignored' },
          { alternative: 0, blank: 1, index: 0, text: ' sky' },
          { alternative: 0, blank: 9, index: 0, text: 'no such blank' },
        ],
      }),
    );
    expect(shown()).toEqual([
      [null, ' sea', null],
      [' sky', null],
    ]);
    // Typing before the blanks moves them; the document never holds the tokens.
    s = s.apply(s.tr.insertText('Hey. ', 1));
    expect(liveFill(s)!.targets).toEqual([first! + 5, second! + 5]);
    expect(serializeMarkdown(s.doc)).toBe('Hey. One {{3}} two {{2}}');
    s = s.apply(meta({ type: 'progress', requestId: 'other', unmasked: [{ alternative: 0, blank: 0, index: 0, text: 'x' }] }));
    expect(shown()[0]).toEqual([null, ' sea', null]);
    // A deleted blank drops out.
    s = s.apply(s.tr.delete(first! + 5, first! + 6));
    expect(liveFill(s)!.targets).toEqual([null, second! + 4]);
    expect(shown()).toEqual([[' sky', null]]);
    s = s.apply(meta({ type: 'end', requestId: 'r' }));
    expect(liveFill(s)).toBeNull();
  });

  it('sizes an auto blank by the length being tried, starting over at each new length', () => {
    let s = createEditorState(doc(p(t('One '), b(), t(' two '), b(2))));
    const [first, second] = findBlanks(s.doc).map((x) => x.pos);
    const meta = (m: LiveFillMeta): Transaction => s.tr.setMeta(liveFillKey, m);
    const shown = (): (readonly (string | null)[])[] =>
      liveFill(s)!
        .decorations.find()
        .map((d) => (d.spec as { live: LiveTokens }).live.tokens);
    s = s.apply(meta({ type: 'start', requestId: 'r', targets: [first!, second!] }));
    // No length yet: nothing to show in the auto blank.
    expect(shown()).toEqual([[], [null, null]]);
    const progress = (lengths: number[] | undefined, ...unmasked: [number, number, string][]): void => {
      s = s.apply(
        meta({
          type: 'progress',
          requestId: 'r',
          unmasked: unmasked.map(([blank, index, text]) => ({ alternative: 0, blank, index, text })),
          ...(lengths ? { lengths } : {}),
        }),
      );
    };
    progress([4, 2], [0, 3, ' d'], [1, 0, ' x']);
    expect(shown()).toEqual([
      [null, null, null, ' d'],
      [' x', null],
    ]);
    progress([4, 2], [0, 0, ' a']);
    expect(shown()[0]).toEqual([' a', null, null, ' d']);
    // The next attempt, 8 tokens: every blank starts masked again (the exact one is sampled again too).
    progress([8, 2], [0, 7, ' h']);
    expect(shown()).toEqual([
      [null, null, null, null, null, null, null, ' h'],
      [null, null],
    ]);
    // An event without lengths belongs to the attempt on display.
    progress(undefined, [1, 1, ' y']);
    expect(shown()).toEqual([
      [null, null, null, null, null, null, null, ' h'],
      [null, ' y'],
    ]);
  });
});

describe('clipboard', () => {
  it('copies blanks as the blank syntax and literal syntax escaped', () => {
    const d = doc(p(t('A '), b(), t(' b_'), b(4), t(' ____ {{2}} '), b(16)), p(t('next'), hardBreak.create(), filled(['x'])));
    const s = createEditorState(d);
    const text = clipboardText(s.doc.slice(0, s.doc.content.size));
    expect(text).toBe('A ____ b_{{4}} \\____ \\{{2}} {{16}}\n\nnext\n____');
    expect(parseBlanks(text).flatMap((x) => (x.kind === 'blank' ? [x.tokens] : []))).toEqual(['auto', 4, 16, 'auto']);
  });

  it('pastes plain text with blanks as blanks, lines and paragraphs', () => {
    const slice = clipboardSlice('one ____ two\r\nthree {{5}} {{auto}}\n\n\\____ {{0}}');
    expect(slice.openStart).toBe(1);
    const paragraphs: ProseNode[] = [];
    slice.content.forEach((n) => paragraphs.push(n));
    expect(paragraphs.map((n) => n.toJSON())).toEqual([
      p(t('one '), b(), t(' two'), hardBreak.create(), t('three '), b(5), t(' '), b()).toJSON(),
      p(t('\\____ {{0}}')).toJSON(),
    ]);
  });
});

describe('loading a document', () => {
  const body = 'Before ____ after.';
  const rich = doc(p(t('Before '), filled(['a', 'b'], 1), t(' after.')));

  it('uses the rich text when it matches the body, keeping the alternatives', () => {
    const loaded = loadDocument(body, JSON.stringify(rich.toJSON()));
    expect(loaded.from).toBe('rich-text');
    expect(loaded.doc.eq(rich)).toBe(true);
  });

  it('reads the body when the rich text is missing, stale, damaged or invalid', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    expect(loadDocument(body).from).toBe('body');
    const stale = loadDocument('Changed by the CLI ____.', JSON.stringify(rich.toJSON()));
    expect(stale.from).toBe('body');
    expect(stale.doc.textContent).toBe('Changed by the CLI ____.');
    expect(loadDocument(body, '{not json').from).toBe('body');
    const invalid = JSON.stringify({ type: 'doc', content: [{ type: 'paragraph', content: [{ type: 'blank', attrs: { tokens: 0 } }] }] });
    expect(loadDocument('____', invalid).from).toBe('body');
    expect(loadDocument('x', JSON.stringify({ type: 'doc', content: [{ type: 'nonsense' }] })).from).toBe('body');
    // Damaged or invalid rich text is worth a warning; a stale one is expected (the CLI changed the body).
    expect(warn).toHaveBeenCalledTimes(3);
    warn.mockRestore();
  });

  it('keeps rich text saved before auto blanks, its 16-token blanks (then written ____) now auto', () => {
    // Then: a blank of 16 tokens (the default) was written ____ in the body; others {{N}}.
    const old = doc(p(t('Before '), b(16, { status: 'filled', alternatives: ['a', 'b'], chosen: 1, generationId: 3 }), t(' and '), b(8), t(' after.')));
    const loaded = loadDocument('Before ____ and {{8}} after.', JSON.stringify(old.toJSON()));
    expect(loaded.from).toBe('rich-text');
    expect(findBlanks(loaded.doc).map((x) => x.attrs)).toEqual([
      { tokens: 'auto', status: 'filled', alternatives: ['a', 'b'], chosen: 1, ranked: false, generationId: 3 },
      { tokens: 8, status: 'idle', alternatives: [], chosen: 0, ranked: false, generationId: null },
    ]);
    expect(serializeMarkdown(loaded.doc)).toBe('Before ____ and {{8}} after.');
    // A body that no longer lines up with it is read instead.
    expect(loadDocument('Before ____ and ____ after.', JSON.stringify(old.toJSON())).from).toBe('body');
  });

  it('settles a blank saved while its fill was running', () => {
    const mid = doc(p(b('auto', { status: 'filling' }), t(' '), b('auto', { status: 'filling', alternatives: ['old'], generationId: 2 })));
    const loaded = loadDocument('____ ____', JSON.stringify(mid.toJSON()));
    expect(loaded.from).toBe('rich-text');
    expect(findBlanks(loaded.doc).map((x) => x.attrs.status)).toEqual(['idle', 'filled']);
    expect(isBlank(loaded.doc.firstChild!.firstChild)).toBe(true);
  });
});
