/**
 * Live denoising: while a fill runs, each of its blanks shows its tokens as the sampler unmasks
 * them (fill.progress events), the positions still masked as placeholders. All of this lives in
 * plugin state and node decorations, outside the document and its undo history: the document
 * changes only once, when the fill is done (session/fills.svelte.ts).
 *
 * A blank of 'auto' length has no length until the model tries one: the engine samples it once per
 * length tried, one attempt after another, and each progress event says the lengths of the attempt
 * its tokens belong to (FillProgress.lengths); the display starts over at each new length.
 *
 * The blanks a fill is for are tracked by position, mapped through every transaction, so typing
 * elsewhere meanwhile moves them along; a blank that is deleted drops out of the display.
 */
import { Plugin, PluginKey, type EditorState, type Transaction } from 'prosemirror-state';
import { Decoration, DecorationSet } from 'prosemirror-view';
import { blankAttrs, isBlank } from './schema';

/** What the blank view shows of a blank being filled: one entry per token, null while masked. */
export interface LiveTokens {
  tokens: readonly (string | null)[];
}

export interface LiveFill {
  requestId: string;
  /** Current positions of the fill's blanks (document order); null once a blank was deleted. */
  targets: (number | null)[];
  /** Per target: the tokens of the alternative on display (the first). */
  shown: (string | null)[][];
  /** The lengths of the attempt on display (auto blanks: FillProgress.lengths); undefined before the first. */
  lengths: readonly number[] | undefined;
  decorations: DecorationSet;
}

export type LiveFillMeta =
  | { type: 'start'; requestId: string; targets: readonly number[] }
  | {
      type: 'progress';
      requestId: string;
      unmasked: readonly { alternative: number; blank: number; index: number; text: string }[];
      /** The length of each blank (request order) in the attempt these tokens belong to (auto blanks). */
      lengths?: readonly number[];
    }
  | { type: 'end'; requestId: string };

export const liveFillKey = new PluginKey<LiveFill | null>('lacuna-live-fill');

/** Only the first alternative is animated; the others are there when the fill is done. */
const SHOWN_ALTERNATIVE = 0;

function decorate(state: { doc: EditorState['doc'] }, fill: Omit<LiveFill, 'decorations'>): DecorationSet {
  const decos: Decoration[] = [];
  fill.targets.forEach((pos, i) => {
    if (pos === null) return;
    const node = state.doc.nodeAt(pos);
    if (!isBlank(node)) return;
    const live: LiveTokens = { tokens: fill.shown[i] ?? [] };
    decos.push(Decoration.node(pos, pos + node.nodeSize, {}, { live }));
  });
  return DecorationSet.create(state.doc, decos);
}

function sameLengths(a: readonly number[] | undefined, b: readonly number[] | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.length === b.length && a.every((n, i) => n === b[i]));
}

function apply(tr: Transaction, value: LiveFill | null, _old: EditorState, next: EditorState): LiveFill | null {
  const meta = tr.getMeta(liveFillKey) as LiveFillMeta | undefined;
  if (meta?.type === 'start') {
    const targets = [...meta.targets].sort((a, b) => a - b);
    const shown = targets.map((pos) => {
      const node = next.doc.nodeAt(pos);
      const tokens = isBlank(node) ? blankAttrs(node).tokens : 0;
      // An auto blank: nothing to show until the first progress event says the length tried.
      return new Array<string | null>(tokens === 'auto' ? 0 : tokens).fill(null);
    });
    const base = { requestId: meta.requestId, targets, shown, lengths: undefined };
    return { ...base, decorations: decorate(next, base) };
  }
  if (!value) return null;
  if (meta?.type === 'end' && meta.requestId === value.requestId) return null;
  let targets = value.targets;
  if (tr.docChanged) {
    targets = targets.map((pos) => {
      if (pos === null) return null;
      const r = tr.mapping.mapResult(pos, 1);
      return r.deleted || !isBlank(next.doc.nodeAt(r.pos)) ? null : r.pos;
    });
  }
  if (meta?.type === 'progress' && meta.requestId === value.requestId) {
    // A new attempt (auto blanks at other lengths): every blank starts masked again, at the
    // attempt's lengths (exact blanks are sampled again too).
    const lengths = meta.lengths ?? value.lengths;
    const attempt = !sameLengths(lengths, value.lengths);
    const shown = value.shown.map((row, i) => {
      const length = lengths?.[i];
      return attempt && length !== undefined && length >= 0 ? new Array<string | null>(length).fill(null) : row.slice();
    });
    for (const u of meta.unmasked) {
      if (u.alternative !== SHOWN_ALTERNATIVE) continue;
      const row = shown[u.blank];
      if (row && u.index >= 0 && u.index < row.length) row[u.index] = u.text;
    }
    const base = { requestId: value.requestId, targets, shown, lengths };
    return { ...base, decorations: decorate(next, base) };
  }
  if (!tr.docChanged) return value;
  const base = { requestId: value.requestId, targets, shown: value.shown, lengths: value.lengths };
  // A blank's own attributes may have changed (its status): rebuild rather than map.
  return { ...base, decorations: decorate(next, base) };
}

export function liveFillPlugin(): Plugin<LiveFill | null> {
  return new Plugin<LiveFill | null>({
    key: liveFillKey,
    state: {
      init: () => null,
      apply,
    },
    props: {
      decorations: (state) => liveFillKey.getState(state)?.decorations ?? DecorationSet.empty,
    },
  });
}

/** The live fill of this state, if one is running. */
export function liveFill(state: EditorState): LiveFill | null {
  return liveFillKey.getState(state) ?? null;
}

/** The positions of the running fill's blanks that still exist, in document order. */
export function liveTargets(state: EditorState): number[] {
  return (liveFill(state)?.targets ?? []).filter((p): p is number => p !== null);
}
