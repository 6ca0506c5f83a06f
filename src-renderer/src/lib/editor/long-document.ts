/**
 * Long documents: the top-level blocks far from the selection get the class `far` (a node
 * decoration, outside the document), which editor.css gives `content-visibility: auto`: while out
 * of view the browser neither lays them out nor paints them, and its own per-keystroke work on the
 * editable text (caret, text input state) stays small. In a 100,000-word manuscript that is most of
 * a frame per keystroke (`npm run bench:ui`).
 *
 * Blocks near the selection (NEAR either side, and all of a selection's) never get the class: the
 * browser must be able to put the caret into a block the moment it appears (a new paragraph, a
 * heading made by `# `), which it cannot do in one it has not laid out yet. The window follows the
 * selection; while the selection stays well inside it, the decorations are only mapped through
 * each change, so typing costs nothing here.
 */
import type { Node as ProseNode } from 'prosemirror-model';
import { Plugin, PluginKey, type EditorState, type Transaction } from 'prosemirror-state';
import { Decoration, DecorationSet } from 'prosemirror-view';

/** Documents with fewer top-level blocks are left alone. */
export const LONG_DOCUMENT_BLOCKS = 120;
/** Blocks on either side of the selection kept as they are. */
export const NEAR = 40;
/** The window is moved when the selection comes this close to its edge. */
const MARGIN = 10;

export interface FarBlocks {
  /** Positions bracketing the blocks kept near (mapped through changes). */
  nearFrom: number;
  nearTo: number;
  decorations: DecorationSet;
}

export const farBlocksKey = new PluginKey<FarBlocks | null>('lacuna-far-blocks');

const FAR = { class: 'far' };

/** Index of the top-level block holding `pos` (the last one for the end of the document). */
function blockIndex(doc: ProseNode, pos: number): number {
  return Math.min(doc.childCount - 1, doc.resolve(Math.max(0, Math.min(pos, doc.content.size))).index(0));
}

export function computeFarBlocks(doc: ProseNode, selFrom: number, selTo: number): FarBlocks | null {
  if (doc.childCount < LONG_DOCUMENT_BLOCKS) return null;
  const lo = Math.max(0, blockIndex(doc, selFrom) - NEAR);
  const hi = Math.min(doc.childCount - 1, blockIndex(doc, selTo) + NEAR);
  const decos: Decoration[] = [];
  let nearFrom = 0;
  let nearTo = doc.content.size;
  doc.forEach((block, pos, i) => {
    if (i === lo) nearFrom = pos;
    if (i === hi) nearTo = pos + block.nodeSize;
    if (i < lo || i > hi) decos.push(Decoration.node(pos, pos + block.nodeSize, FAR));
  });
  return { nearFrom, nearTo, decorations: DecorationSet.create(doc, decos) };
}

function apply(tr: Transaction, prev: FarBlocks | null, _old: EditorState, state: EditorState): FarBlocks | null {
  const { doc, selection } = state;
  if (doc.childCount < LONG_DOCUMENT_BLOCKS) return null;
  let next = prev;
  if (next && tr.docChanged) {
    next = {
      nearFrom: tr.mapping.map(next.nearFrom, -1),
      nearTo: tr.mapping.map(next.nearTo, 1),
      decorations: next.decorations.map(tr.mapping, doc),
    };
  }
  if (next) {
    const first = blockIndex(doc, next.nearFrom);
    const last = blockIndex(doc, Math.max(next.nearFrom, next.nearTo - 1));
    const a = blockIndex(doc, selection.from);
    const b = blockIndex(doc, selection.to);
    const inside = (a - first >= MARGIN || first === 0) && (last - b >= MARGIN || last === doc.childCount - 1);
    // A window left wide by an earlier selection (select all) shrinks back.
    const tooWide = a - first > NEAR + MARGIN || last - b > NEAR + MARGIN;
    if (inside && !tooWide) return next;
  }
  return computeFarBlocks(doc, selection.from, selection.to);
}

export function farBlocksPlugin(): Plugin<FarBlocks | null> {
  return new Plugin<FarBlocks | null>({
    key: farBlocksKey,
    state: {
      init: (_config, state) => computeFarBlocks(state.doc, state.selection.from, state.selection.to),
      apply,
    },
    props: {
      decorations: (state) => farBlocksKey.getState(state)?.decorations ?? null,
    },
  });
}
