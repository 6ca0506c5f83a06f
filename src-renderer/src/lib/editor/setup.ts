/**
 * The editor's state: its plugins (undo history, keys, input rules, live fills, generated text,
 * placeholder) and loading a document from what the store keeps.
 */
import { baseKeymap } from 'prosemirror-commands';
import { history, redo, undo } from 'prosemirror-history';
import { InputRule, inputRules, textblockTypeInputRule, undoInputRule, wrappingInputRule } from 'prosemirror-inputrules';
import { keymap } from 'prosemirror-keymap';
import { Node as ProseNode, type MarkType } from 'prosemirror-model';
import { splitListItem } from 'prosemirror-schema-list';
import { EditorState, Plugin, type Command } from 'prosemirror-state';
import { Decoration, DecorationSet } from 'prosemirror-view';
import { clipboardSlice, clipboardText } from './blank-ops';
import {
  indentListItem,
  insertHardBreak,
  outdentListItem,
  setParagraph,
  toggleEm,
  toggleHeading,
  toggleList,
  toggleQuote,
  toggleStrong,
} from './commands';
import { generatedPlugin } from './generated';
import { liveFillPlugin } from './live-fill';
import { parseMarkdown, serializeMarkdown } from './markdown';
import { createBlank, isBlankLength, marks, nodes, schema } from './schema';
import { BOLD, BULLET_LIST, HEADINGS, INDENT, ITALIC, NUMBERED_LIST, OUTDENT, PARAGRAPH, QUOTE, REDO, UNDO, type Shortcut } from '../keys';

// ---- Input rules: the blank syntax and Markdown shortcuts as you type -------------------------

/** `____` typed (four underscores, not part of a longer run, not after a lone backslash) becomes a blank. */
const blankRule = new InputRule(/(^|[^\\_])((?:\\\\)*)(____)$/, (state, match, start, end) => {
  const from = start + match[1]!.length + match[2]!.length;
  return state.tr.replaceWith(from, end, createBlank());
});

/** `\____` typed stays four underscores (the backslash goes, as in the blank syntax). */
const literalBlankRule = new InputRule(/(^|[^\\_])((?:\\\\)*)\\(____)$/, (state, match, start, end) => {
  const from = start + match[1]!.length + match[2]!.length;
  return state.tr.insertText('____', from, end);
});

/** `{{N}}` typed becomes a blank of N tokens; `\{{N}}` stays text (without the backslash). */
const explicitBlankRule = new InputRule(/(^|[^\\])((?:\\\\)*)(\\?)\{\{\s*(\d+)\s*\}\}$/, (state, match, start, end) => {
  const from = start + match[1]!.length + match[2]!.length;
  const tokens = Number(match[4]);
  if (match[3]) return state.tr.insertText(match[0].slice(match[1]!.length + match[2]!.length + 1), from, end);
  if (!isBlankLength(tokens)) return null;
  return state.tr.replaceWith(from, end, createBlank(tokens));
});

/** `**text**` → strong, `*text*` → emphasis, as you type the closing star(s). */
function markRule(pattern: RegExp, type: MarkType): InputRule {
  return new InputRule(pattern, (state, match, start, end) => {
    const inner = match[2]!;
    const from = start + match[1]!.length;
    const tr = state.tr.insertText(inner, from, end);
    tr.addMark(from, from + inner.length, type.create());
    tr.removeStoredMark(type);
    return tr;
  });
}

const rules = [
  blankRule,
  literalBlankRule,
  explicitBlankRule,
  markRule(/(^|[^*\\])\*\*([^*\s](?:[^*]*[^*\s])?)\*\*$/, marks.strong),
  markRule(/(^|[^*\\])\*([^*\s](?:[^*]*[^*\s])?)\*$/, marks.em),
  textblockTypeInputRule(/^(#{1,3})\s$/, nodes.heading, (m) => ({ level: m[1]!.length })),
  wrappingInputRule(/^\s*>\s$/, nodes.blockquote),
  wrappingInputRule(/^\s*([-+*])\s$/, nodes.bulletList),
  wrappingInputRule(
    /^(\d+)\.\s$/,
    nodes.orderedList,
    (m) => ({ order: Number(m[1]) }),
    (m, node) => node.childCount + (node.attrs.order as number) === Number(m[1]),
  ),
];

// ---- Keys ------------------------------------------------------------------------------------

/** Formatting keys, matched like every other shortcut (keys.ts), so labels and behaviour agree. */
const formattingKeys: [Shortcut, Command][] = [
  [BOLD, toggleStrong],
  [ITALIC, toggleEm],
  [PARAGRAPH, setParagraph],
  ...HEADINGS.map((k, i): [Shortcut, Command] => [k, toggleHeading(i + 1)]),
  [BULLET_LIST, toggleList(nodes.bulletList)],
  [NUMBERED_LIST, toggleList(nodes.orderedList)],
  [QUOTE, toggleQuote],
  [INDENT, indentListItem],
  [OUTDENT, outdentListItem],
  [UNDO, undo],
  [REDO, redo],
];

const formattingPlugin = new Plugin({
  props: {
    handleKeyDown(view, event) {
      for (const [key, command] of formattingKeys) {
        if (key.matches(event)) return command(view.state, view.dispatch, view);
      }
      return false;
    },
  },
});

// ---- Placeholder -----------------------------------------------------------------------------

function placeholderPlugin(text: string): Plugin {
  return new Plugin({
    props: {
      decorations(state) {
        const doc = state.doc;
        const first = doc.firstChild;
        if (doc.childCount !== 1 || !first || first.type !== nodes.paragraph || first.content.size) return null;
        return DecorationSet.create(doc, [Decoration.node(0, first.nodeSize, { class: 'placeholder', 'data-placeholder': text })]);
      },
    },
  });
}

export const PLACEHOLDER = 'Start writing. Leave a blank anywhere and the model will fill it.';

export function createEditorState(doc: ProseNode): EditorState {
  return EditorState.create({
    doc,
    plugins: [
      inputRules({ rules }),
      formattingPlugin,
      keymap({
        Enter: splitListItem(nodes.listItem),
        'Shift-Enter': insertHardBreak,
        Backspace: undoInputRule,
      }),
      keymap(baseKeymap),
      history(),
      liveFillPlugin(),
      generatedPlugin(),
      placeholderPlugin(PLACEHOLDER),
    ],
  });
}

/** Editor props shared by every view on these states: the clipboard's plain-text form. */
export const clipboardProps = {
  clipboardTextSerializer: clipboardText,
  clipboardTextParser: (text: string) => clipboardSlice(text),
};

// ---- Loading ---------------------------------------------------------------------------------

/** A fill cannot be running in a document just opened: a blank saved mid-fill is as it was before. */
function settleFills(json: unknown): unknown {
  if (Array.isArray(json)) return json.map(settleFills);
  if (!json || typeof json !== 'object') return json;
  const o = json as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k] = settleFills(v);
  if (o.type === 'blank' && out.attrs && typeof out.attrs === 'object') {
    const attrs = out.attrs as Record<string, unknown>;
    if (attrs.status === 'filling') {
      out.attrs = { ...attrs, status: Array.isArray(attrs.alternatives) && attrs.alternatives.length ? 'filled' : 'idle' };
    }
  }
  return out;
}

/**
 * The document to edit: the rich text when there is one that is valid and still matches the body
 * (the body may have changed without it: the CLI, a restore), else the body read as Markdown.
 */
export function loadDocument(body: string, richText?: string): { doc: ProseNode; from: 'rich-text' | 'body' } {
  if (richText !== undefined) {
    try {
      const doc = ProseNode.fromJSON(schema, settleFills(JSON.parse(richText)));
      doc.check();
      if (serializeMarkdown(doc) === body) return { doc, from: 'rich-text' };
    } catch (err) {
      console.warn('Lacuna: the stored rich text could not be read; using the text instead', err);
    }
  }
  return { doc: parseMarkdown(body), from: 'body' };
}
