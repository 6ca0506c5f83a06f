/**
 * Formatting commands for the toolbar and the keyboard, and whether each is "on" at the selection
 * (for aria-pressed).
 */
import { lift, setBlockType, toggleMark, wrapIn } from 'prosemirror-commands';
import type { MarkType, NodeType } from 'prosemirror-model';
import { liftListItem, sinkListItem, wrapInList } from 'prosemirror-schema-list';
import type { Command, EditorState } from 'prosemirror-state';
import { marks, nodes } from './schema';

export const toggleStrong: Command = toggleMark(marks.strong);
export const toggleEm: Command = toggleMark(marks.em);

export function markActive(state: EditorState, type: MarkType): boolean {
  const { from, $from, to, empty } = state.selection;
  if (empty) return !!type.isInSet(state.storedMarks ?? $from.marks());
  return state.doc.rangeHasMark(from, to, type);
}

/** The text block the selection starts in. */
function textblockAt(state: EditorState): { type: NodeType; level: number | null } {
  const parent = state.selection.$from.parent;
  return { type: parent.type, level: parent.type === nodes.heading ? (parent.attrs.level as number) : null };
}

export function headingLevel(state: EditorState): number | null {
  return textblockAt(state).level;
}

/** Heading `level`, or back to a paragraph when it already is one. */
export function toggleHeading(level: number): Command {
  return (state, dispatch, view) =>
    headingLevel(state) === level ? setBlockType(nodes.paragraph)(state, dispatch, view) : setBlockType(nodes.heading, { level })(state, dispatch, view);
}

export const setParagraph: Command = setBlockType(nodes.paragraph);

/** The innermost list around the selection, if any. */
export function listAround(state: EditorState): NodeType | null {
  const { $from } = state.selection;
  for (let d = $from.depth; d > 0; d--) {
    const type = $from.node(d).type;
    if (type === nodes.bulletList || type === nodes.orderedList) return type;
  }
  return null;
}

export function inQuote(state: EditorState): boolean {
  const { $from } = state.selection;
  for (let d = $from.depth; d > 0; d--) if ($from.node(d).type === nodes.blockquote) return true;
  return false;
}

/** Make the selection a list of `type`; in one already, take it out (or switch the kind). */
export function toggleList(type: NodeType): Command {
  return (state, dispatch, view) => {
    const current = listAround(state);
    if (current === type) return liftListItem(nodes.listItem)(state, dispatch, view);
    if (current) {
      // Switch the kind of the list the cursor is in.
      const { $from } = state.selection;
      for (let d = $from.depth; d > 0; d--) {
        if ($from.node(d).type === current) {
          if (dispatch)
            dispatch(
              state.tr.setNodeMarkup(
                $from.before(d),
                type,
                type === nodes.orderedList ? { order: 1, tight: $from.node(d).attrs.tight as boolean } : { tight: $from.node(d).attrs.tight as boolean },
              ),
            );
          return true;
        }
      }
    }
    return wrapInList(type)(state, dispatch, view);
  };
}

export const toggleQuote: Command = (state, dispatch, view) => (inQuote(state) ? lift(state, dispatch, view) : wrapIn(nodes.blockquote)(state, dispatch, view));

export const indentListItem: Command = sinkListItem(nodes.listItem);
export const outdentListItem: Command = liftListItem(nodes.listItem);

/** A line break inside the paragraph (Shift+Enter); headings have none. */
export const insertHardBreak: Command = (state, dispatch) => {
  const { $from } = state.selection;
  if (!$from.parent.type.contentMatch.matchType(nodes.hardBreak) || $from.parent.type === nodes.heading) return false;
  if (dispatch) dispatch(state.tr.replaceSelectionWith(nodes.hardBreak.create()).scrollIntoView());
  return true;
};
