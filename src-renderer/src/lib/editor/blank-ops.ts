/**
 * What the writer does with blanks, as ProseMirror transactions: insert one, change its length,
 * flip through a filled blank's alternatives, accept one (its text enters the document, marked as
 * generated, in one undo step), reject them (back to the empty blank). Also the text a fill is run
 * on, and the plain-text clipboard form.
 */
import { closeHistory } from 'prosemirror-history';
import { Fragment, Slice, type Node as ProseNode, type ResolvedPos } from 'prosemirror-model';
import { NodeSelection, TextSelection, type EditorState, type Transaction } from 'prosemirror-state';
import { BlankSyntaxError, formatBlanks, parseBlanks, type BlankLength, type Segment } from '../../../../src-main/common/blanks';
import { blankAttrs, createBlank, isBlank, marks, nodes, schema, type BlankAttrs } from './schema';

/** Transactions that accept generated text carry this meta (generated.ts leaves their marks alone). */
export const ACCEPT_META = 'lacuna-accept';

export interface BlankAt {
  pos: number;
  node: ProseNode;
  attrs: BlankAttrs;
}

/** Length presets for a blank: auto (the model chooses; the default), then lengths in tokens. */
export const BLANK_PRESETS: readonly { id: string; label: string; tokens: BlankLength }[] = [
  { id: 'auto', label: 'Auto', tokens: 'auto' },
  { id: 'short', label: 'Short', tokens: 8 },
  { id: 'medium', label: 'Medium', tokens: 16 },
  { id: 'long', label: 'Long', tokens: 48 },
];

/** How long a blank "Continue" appends is. */
export const CONTINUE_TOKENS = 48;

/** Every blank in the document, in document order. */
export function findBlanks(doc: ProseNode): BlankAt[] {
  const out: BlankAt[] = [];
  doc.descendants((node, pos) => {
    if (isBlank(node)) out.push({ pos, node, attrs: blankAttrs(node) });
    return !node.isTextblock || node.childCount > 0;
  });
  return out;
}

export function blankAt(doc: ProseNode, pos: number): BlankAt | null {
  if (pos < 0 || pos >= doc.content.size) return null;
  const node = doc.nodeAt(pos);
  return isBlank(node) ? { pos, node, attrs: blankAttrs(node) } : null;
}

/** The blank the writer is on: the selected one, else the one right after or right before the cursor. */
export function currentBlank(state: EditorState): BlankAt | null {
  const sel = state.selection;
  if (sel instanceof NodeSelection) return blankAt(state.doc, sel.from);
  if (!sel.empty) return null;
  const $pos: ResolvedPos = sel.$from;
  if (isBlank($pos.nodeAfter)) return blankAt(state.doc, $pos.pos);
  if (isBlank($pos.nodeBefore)) return blankAt(state.doc, $pos.pos - $pos.nodeBefore.nodeSize);
  return null;
}

/** Insert an empty blank at the selection (replacing it); the cursor ends up after the blank. */
export function insertBlank(state: EditorState, tokens?: BlankLength): Transaction | null {
  const blank = createBlank(tokens);
  if (!state.selection.$from.parent.inlineContent && !(state.selection instanceof NodeSelection)) return null;
  return state.tr.replaceSelectionWith(blank, false).scrollIntoView();
}

export function setBlankLength(state: EditorState, pos: number, tokens: BlankLength): Transaction | null {
  const b = blankAt(state.doc, pos);
  if (!b || b.attrs.tokens === tokens) return null;
  // A new length makes an empty blank: the alternatives were written for the old one.
  return state.tr.setNodeMarkup(pos, undefined, {
    ...b.attrs,
    tokens,
    status: b.attrs.status === 'filling' ? 'filling' : 'idle',
    alternatives: [],
    chosen: 0,
    ranked: false,
    generationId: null,
  });
}

/** Show the next (delta 1) or previous (−1) alternative of a filled blank. Not an undo step: nothing is written. */
export function cycleAlternative(state: EditorState, pos: number, delta: number): Transaction | null {
  const b = blankAt(state.doc, pos);
  const n = b?.attrs.alternatives.length ?? 0;
  if (!b || b.attrs.status !== 'filled' || n < 2) return null;
  const chosen = (((b.attrs.chosen + delta) % n) + n) % n;
  return state.tr.setNodeMarkup(pos, undefined, { ...b.attrs, chosen }).setMeta('addToHistory', false);
}

/** The nodes a blank's accepted text becomes: text marked generated, line breaks where the place allows them. */
function generatedContent(text: string, generationId: number | null, $at: ResolvedPos): ProseNode[] {
  const mark = marks.generated.create({ generationId });
  const breaks = $at.parent.type.contentMatch.matchType(nodes.hardBreak) !== null && $at.parent.type !== nodes.heading;
  // NUL cannot survive the text form (Markdown reads it as U+FFFD): write that from the start.
  const lines = text.replace(/\r\n?/g, '\n').replace(/\0/g, '\uFFFD').split('\n');
  const out: ProseNode[] = [];
  lines.forEach((line, i) => {
    if (i > 0) {
      // The break carries the mark too: the accepted text stays one run (generated.ts).
      if (breaks) out.push(nodes.hardBreak.create(null, null, [mark]));
      else if (line) out.push(schema.text(' ', [mark]));
    }
    if (line) out.push(schema.text(line, [mark]));
  });
  return out;
}

export interface Accepted {
  generationId: number | null;
  alternative: number;
}

/**
 * Accept the shown alternative of the filled blanks at `positions`: each is replaced by its text,
 * marked as generated. One transaction, kept apart from the undo history's neighbours, so one undo
 * brings the blanks back.
 */
export function acceptBlanks(state: EditorState, positions: readonly number[]): { tr: Transaction; accepted: Accepted[] } | null {
  const found = positions.map((p) => blankAt(state.doc, p)).filter((b): b is BlankAt => b !== null && b.attrs.status === 'filled');
  if (!found.length) return null;
  const tr = closeHistory(state.tr);
  const accepted: Accepted[] = [];
  // Back to front, so earlier positions stay valid.
  for (const b of [...found].sort((x, y) => y.pos - x.pos)) {
    const text = b.attrs.alternatives[b.attrs.chosen] ?? '';
    tr.replaceWith(b.pos, b.pos + b.node.nodeSize, generatedContent(text, b.attrs.generationId, tr.doc.resolve(b.pos)));
    accepted.push({ generationId: b.attrs.generationId, alternative: b.attrs.chosen });
  }
  const first = Math.min(...found.map((b) => b.pos));
  if (found.length === 1) {
    // The cursor goes after the accepted text.
    const end = tr.mapping.map(first + found[0]!.node.nodeSize, -1);
    tr.setSelection(TextSelection.create(tr.doc, Math.max(first, Math.min(end, tr.doc.content.size))));
  }
  tr.setMeta(ACCEPT_META, true).scrollIntoView();
  return { tr, accepted: accepted.reverse() };
}

/** Every filled blank in the document. */
export function filledBlanks(doc: ProseNode): BlankAt[] {
  return findBlanks(doc).filter((b) => b.attrs.status === 'filled');
}

/** Reject a filled blank's alternatives: it is an empty blank of the same length again (one undo step). */
export function rejectBlank(state: EditorState, pos: number): Transaction | null {
  const b = blankAt(state.doc, pos);
  if (!b || b.attrs.status !== 'filled') return null;
  const tr = closeHistory(state.tr);
  tr.setNodeMarkup(pos, undefined, { tokens: b.attrs.tokens, status: 'idle', alternatives: [], chosen: 0, ranked: false, generationId: null });
  return tr.setSelection(NodeSelection.create(tr.doc, pos));
}

/** Select the blank at `pos` (the blank panel then shows it). */
export function selectBlank(state: EditorState, pos: number): Transaction | null {
  return blankAt(state.doc, pos) ? state.tr.setSelection(NodeSelection.create(state.doc, pos)).scrollIntoView() : null;
}

// ---- The text a fill runs on ----------------------------------------------------------------

/**
 * The document as plain text in the blank syntax, for fill.run: the blanks at `targets` are blanks,
 * a filled blank reads as its shown alternative (context for the others), an empty blank that is
 * not a target is left out, and formatting is dropped (the model reads prose). Text blocks are
 * separated by an empty line, line breaks are line breaks. The fill's results come back in document
 * order, one per target.
 */
export function fillText(doc: ProseNode, targets: readonly number[]): string {
  const wanted = new Set(targets);
  const segments: Segment[] = [];
  let text = '';
  let first = true;
  const flush = (): void => {
    if (text) segments.push({ kind: 'text', text });
    text = '';
  };
  doc.descendants((node, pos) => {
    if (!node.isTextblock) return true;
    if (!first) text += '\n\n';
    first = false;
    node.forEach((child, offset) => {
      const at = pos + 1 + offset;
      if (child.isText) text += child.text ?? '';
      else if (child.type === nodes.hardBreak) text += '\n';
      else if (isBlank(child)) {
        const a = blankAttrs(child);
        if (wanted.has(at)) {
          flush();
          segments.push({ kind: 'blank', tokens: a.tokens });
        } else if (a.status === 'filled') {
          text += a.alternatives[a.chosen] ?? '';
        }
      }
    });
    return false;
  });
  flush();
  return formatBlanks(segments);
}

// ---- Clipboard ------------------------------------------------------------------------------

/** The plain-text clipboard form of a selection: blanks in the blank syntax, literal syntax escaped. */
export function clipboardText(slice: Slice): string {
  const segments: Segment[] = [];
  let text = '';
  let first = true;
  const inline = (node: ProseNode): void => {
    if (node.isText) text += node.text ?? '';
    else if (node.type === nodes.hardBreak) text += '\n';
    else if (isBlank(node)) {
      if (text) segments.push({ kind: 'text', text });
      text = '';
      segments.push({ kind: 'blank', tokens: blankAttrs(node).tokens });
    }
  };
  const walk = (fragment: Fragment): void => {
    fragment.forEach((node) => {
      if (node.isTextblock) {
        if (!first) text += '\n\n';
        first = false;
        node.forEach(inline);
      } else if (node.isInline) {
        first = false;
        inline(node);
      } else walk(node.content);
    });
  };
  walk(slice.content);
  if (text) segments.push({ kind: 'text', text });
  return formatBlanks(segments);
}

/**
 * Plain text pasted into the editor: paragraphs at empty lines, line breaks at single ones, and the
 * blank syntax as blanks (text whose blank syntax is malformed is pasted as it is).
 */
export function clipboardSlice(text: string): Slice {
  const normalized = text.replace(/\r\n?/g, '\n');
  const paragraphs = normalized.split(/\n{2,}/).map((block) => {
    const content: ProseNode[] = [];
    const lines = block.split('\n');
    lines.forEach((line, i) => {
      if (i > 0) content.push(nodes.hardBreak.create());
      let segments: Segment[];
      try {
        segments = parseBlanks(line);
      } catch (err) {
        if (!(err instanceof BlankSyntaxError)) throw err;
        segments = line ? [{ kind: 'text', text: line }] : [];
      }
      for (const s of segments) content.push(s.kind === 'blank' ? createBlank(s.tokens) : schema.text(s.text));
    });
    return nodes.paragraph.create(null, content);
  });
  const fragment = Fragment.from(paragraphs);
  // Open on both sides: a single line pastes inline, into the paragraph at the cursor.
  return new Slice(fragment, 1, 1);
}
