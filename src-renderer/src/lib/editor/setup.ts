/**
 * The editor's state: its plugins (undo history, keys, input rules, live fills, generated text,
 * the surprise view, placeholder), loading a document from what the store keeps, and its rich text.
 */
import { baseKeymap } from 'prosemirror-commands';
import { history, redo, undo } from 'prosemirror-history';
import { InputRule, inputRules, textblockTypeInputRule, undoInputRule, wrappingInputRule } from 'prosemirror-inputrules';
import { keymap } from 'prosemirror-keymap';
import { Node as ProseNode, type MarkType } from 'prosemirror-model';
import { splitListItem } from 'prosemirror-schema-list';
import { EditorState, Plugin, Selection, TextSelection, type Command } from 'prosemirror-state';
import { Decoration, DecorationSet } from 'prosemirror-view';
import { clipboardSlice, clipboardText } from './blank-ops';
import { indentListItem, insertHardBreak, outdentListItem, setParagraph, toggleEm, toggleHeading, toggleList, toggleQuote, toggleStrong } from './commands';
import { generatedPlugin } from './generated';
import { liveFillPlugin } from './live-fill';
import { parseMarkdown, serializeMarkdown } from './markdown';
import { DEFAULT_BLANK_TOKENS } from '../../../../src-main/common/blanks';
import { blankAttrs, createBlank, isBlank, isBlankLength, marks, nodes, schema } from './schema';
import { farBlocksPlugin } from './long-document';
import { surprisePlugin } from './surprise';
import { readFillSettings, type FillSettings } from '../fill-settings';
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

/** `{{N}}` typed becomes a blank of N tokens, `{{auto}}` an auto blank; `\{{N}}` stays text (without the backslash). */
const explicitBlankRule = new InputRule(/(^|[^\\])((?:\\\\)*)(\\?)\{\{\s*(\d+|auto)\s*\}\}$/, (state, match, start, end) => {
  const from = start + match[1]!.length + match[2]!.length;
  const tokens = match[4] === 'auto' ? 'auto' : Number(match[4]);
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

/**
 * Ctrl+Home / Ctrl+End: the start or end of the document (extending the selection with Shift).
 * Done here rather than left to the browser, which cannot place the caret in blocks it has not laid
 * out (long documents skip the layout of blocks far from the selection: long-document.ts).
 */
function toDocumentEdge(dir: -1 | 1, extend: boolean): Command {
  return (state, dispatch) => {
    const edge = dir < 0 ? Selection.atStart(state.doc) : Selection.atEnd(state.doc);
    const sel = extend ? TextSelection.between(state.selection.$anchor, dir < 0 ? edge.$from : edge.$to) : edge;
    dispatch?.(state.tr.setSelection(sel).scrollIntoView());
    return true;
  };
}

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
        'Mod-Home': toDocumentEdge(-1, false),
        'Mod-End': toDocumentEdge(1, false),
        'Shift-Mod-Home': toDocumentEdge(-1, true),
        'Shift-Mod-End': toDocumentEdge(1, true),
      }),
      keymap(baseKeymap),
      history(),
      liveFillPlugin(),
      generatedPlugin(),
      surprisePlugin(),
      farBlocksPlugin(),
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
 * (the body may have changed without it: the CLI, a restore), else the body read as Markdown. The
 * document's own fill settings (a document attribute) survive either way: they are taken from the
 * rich text even when its content no longer matches.
 */
export function loadDocument(body: string, richText?: string): { doc: ProseNode; from: 'rich-text' | 'body' } {
  let settings: FillSettings | null = null;
  if (richText !== undefined) {
    try {
      const json: unknown = JSON.parse(richText);
      if (json && typeof json === 'object' && 'attrs' in json && json.attrs && typeof json.attrs === 'object' && 'fillSettings' in json.attrs) {
        settings = readFillSettings(json.attrs.fillSettings);
      }
      const doc = ProseNode.fromJSON(schema, settleFills(json));
      doc.check();
      if (serializeMarkdown(doc) === body) return { doc: withSettings(doc, settings), from: 'rich-text' };
      const migrated = autoBlanksFromBody(doc, body);
      if (migrated && serializeMarkdown(migrated) === body) return { doc: withSettings(migrated, settings), from: 'rich-text' };
    } catch (err) {
      console.warn('Lacuna: the stored rich text could not be read; using the text instead', err);
    }
  }
  return { doc: withSettings(parseMarkdown(body), settings), from: 'body' };
}

/**
 * Rich text saved before auto blanks: a blank of the old default length (16 tokens) was written
 * `____` in the body, which now reads as an auto blank. Where the body has an auto blank and the
 * rich text, at the same place in blank order, a 16-token one, the blank becomes auto, so the rich
 * text (alternatives, generated text, formatting) still matches the body and is kept. Null when
 * the blanks do not line up or nothing changes.
 */
function autoBlanksFromBody(doc: ProseNode, body: string): ProseNode | null {
  const wanted: boolean[] = [];
  parseMarkdown(body).descendants((node) => {
    if (isBlank(node)) wanted.push(blankAttrs(node).tokens === 'auto');
  });
  const found: number[] = [];
  doc.descendants((node, pos) => {
    if (isBlank(node)) found.push(pos);
  });
  if (found.length !== wanted.length) return null;
  const state = EditorState.create({ doc });
  const tr = state.tr;
  found.forEach((pos, i) => {
    const node = doc.nodeAt(pos)!;
    if (wanted[i] && blankAttrs(node).tokens === DEFAULT_BLANK_TOKENS) tr.setNodeMarkup(pos, undefined, { ...blankAttrs(node), tokens: 'auto' });
  });
  return tr.docChanged ? tr.doc : null;
}

function withSettings(doc: ProseNode, settings: FillSettings | null): ProseNode {
  return doc.attrs.fillSettings === settings ? doc : doc.type.create({ ...doc.attrs, fillSettings: settings }, doc.content, doc.marks);
}

/** The document's own fill settings, or null when the writer's defaults apply to it. */
export function documentSettings(doc: ProseNode): FillSettings | null {
  return readFillSettings(doc.attrs.fillSettings);
}

/** Each top-level block's JSON, by node (as markdown.ts caches the text form). */
const blockJSON = new WeakMap<ProseNode, string>();

/**
 * The rich text (Document.richText): JSON.stringify(doc.toJSON()), built from each top-level
 * block's JSON, kept per block, so that saving a long document after an edit only writes out the
 * blocks the edit touched.
 */
export function richTextJSON(doc: ProseNode): string {
  const parts: string[] = [];
  doc.forEach((block) => {
    let json = blockJSON.get(block);
    if (json === undefined) {
      json = JSON.stringify(block.toJSON());
      blockJSON.set(block, json);
    }
    parts.push(json);
  });
  const head = JSON.stringify({ type: doc.type.name, attrs: doc.attrs }).slice(0, -1);
  return `${head},"content":[${parts.join(',')}]}`;
}
