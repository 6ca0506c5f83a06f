/**
 * Accepted text stays marked `generated` until the writer edits it: a change that deletes from or
 * types into a generated run takes the mark off that whole run (it is the writer's text now).
 * Typing next to a run does not (the mark is not inclusive), and neither do undo/redo, which put
 * back exactly what was there.
 */
import { isHistoryTransaction } from 'prosemirror-history';
import type { Node as ProseNode } from 'prosemirror-model';
import { Plugin, type EditorState, type Transaction } from 'prosemirror-state';
import { ACCEPT_META } from './blank-ops';
import { marks } from './schema';

/** The run of generated text around `pos` in `doc` (adjacent inline nodes carrying the mark), if any. */
function runAround(doc: ProseNode, pos: number): { from: number; to: number } | null {
  const $pos = doc.resolve(pos);
  const parent = $pos.parent;
  if (!parent.inlineContent) return null;
  let at = $pos.start();
  let run: { from: number; to: number } | null = null;
  for (let i = 0; i < parent.childCount; i++) {
    const child = parent.child(i);
    const next = at + child.nodeSize;
    if (marks.generated.isInSet(child.marks)) {
      run = run && run.to === at ? { from: run.from, to: next } : { from: at, to: next };
      if (run.from <= pos && pos <= run.to && (i + 1 === parent.childCount || !marks.generated.isInSet(parent.child(i + 1).marks))) return run;
    } else {
      if (run && run.from <= pos && pos <= run.to) return run;
      run = null;
    }
    at = next;
  }
  return run && run.from <= pos && pos <= run.to ? run : null;
}

/** Positions (in the transaction's final document) where it deleted or typed generated text. */
function editedGeneratedText(tr: Transaction): number[] {
  const touched: number[] = [];
  tr.steps.forEach((step, i) => {
    const before = tr.docs[i]!;
    const after = tr.docs[i + 1] ?? tr.doc;
    const later = tr.mapping.slice(i + 1);
    step.getMap().forEach((oldStart, oldEnd, newStart, newEnd) => {
      const deleted = oldEnd > oldStart && before.rangeHasMark(oldStart, oldEnd, marks.generated);
      const typed = newEnd > newStart && after.rangeHasMark(newStart, newEnd, marks.generated);
      if (deleted || typed) touched.push(later.map(newStart, -1), later.map(newEnd, 1));
    });
  });
  return touched;
}

export function generatedPlugin(): Plugin {
  return new Plugin({
    appendTransaction(trs: readonly Transaction[], _old: EditorState, state: EditorState) {
      const positions: number[] = [];
      for (const [k, tr] of trs.entries()) {
        if (!tr.docChanged || tr.getMeta(ACCEPT_META) || isHistoryTransaction(tr)) continue;
        // Map through the transactions that came after this one.
        for (const pos of editedGeneratedText(tr)) {
          let p = pos;
          for (const later of trs.slice(k + 1)) p = later.mapping.map(p);
          positions.push(p);
        }
      }
      if (!positions.length) return null;
      const out = state.tr;
      for (const pos of positions) {
        if (pos < 0 || pos > out.doc.content.size) continue;
        const run = runAround(out.doc, pos);
        if (run) out.removeMark(run.from, run.to, marks.generated);
      }
      return out.docChanged ? out : null;
    },
  });
}
