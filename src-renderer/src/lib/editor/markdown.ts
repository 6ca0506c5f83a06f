/**
 * The document's text form: Markdown with blanks in the blank syntax (src-main/common/blanks.ts).
 * This is what documents.save stores as `body` (search, export and the CLI read it) and what the
 * editor reads when a document has no usable rich text.
 *
 * The Markdown is CommonMark restricted to what the editor holds: paragraphs, ATX headings, block
 * quotes, bullet and numbered lists, *emphasis*, **strong**, hard line breaks (a backslash at the
 * end of a line; a plain line break reads as one too, so plain text keeps its lines), character
 * escapes and entities. Everything else (code, links, images, HTML, rules, setext headings, link
 * references) reads as the plain text it is written with.
 *
 * Blanks read exactly as parseBlanks reads them: `____` (four or more underscores) and `{{auto}}`
 * are auto blanks (the model chooses the length), `{{N}}` a blank of exactly N tokens; a backslash
 * before one makes it text, "\\" before one is a backslash and a blank. Blank syntax of an invalid
 * length (`{{0}}`, `{{5000}}`) stays text. Written out, text never reads back as a blank
 * (underscore runs, `{{N}}` and `{{auto}}` are escaped), an auto blank is written `____`
 * (`{{auto}}` next to an underscore or another blank) and an exact one `{{N}}`, so the text means
 * the same to parseBlanks as to this parser.
 *
 * What does not survive the Markdown form (the rich text keeps it): whitespace at the start and end
 * of a paragraph or line, empty paragraphs, NUL characters (U+FFFD), a filled blank's alternatives
 * (it is written as the blank it still is), and the `generated` mark.
 */
import MarkdownIt from 'markdown-it';
import type StateInline from 'markdown-it/lib/rules_inline/state_inline.mjs';
import type Token from 'markdown-it/lib/token.mjs';
import { MarkdownParser, MarkdownSerializer, type MarkdownSerializerState } from 'prosemirror-markdown';
import type { Node as ProseNode } from 'prosemirror-model';
import { blankToken, type BlankLength } from '../../../../src-main/common/blanks';
import { blankAttrs, isBlankLength, nodes, schema } from './schema';

const BACKSLASH = 0x5c;
const UNDERSCORE = 0x5f;
const BRACE = 0x7b;
const EXPLICIT = /^\{\{\s*(\d+|auto)\s*\}\}/;

/** The blank token at `pos` in `src`: its length in characters and in model tokens (null: an invalid length). */
function blankAt(src: string, pos: number, max: number): { chars: number; tokens: BlankLength | null } | null {
  const c = src.charCodeAt(pos);
  if (c === UNDERSCORE) {
    let end = pos;
    while (end < max && src.charCodeAt(end) === UNDERSCORE) end++;
    return end - pos >= 4 ? { chars: end - pos, tokens: 'auto' } : null;
  }
  if (c === BRACE) {
    const m = EXPLICIT.exec(src.slice(pos, Math.min(max, pos + 1_100)));
    if (!m) return null;
    const tokens = m[1] === 'auto' ? 'auto' : Number(m[1]);
    return { chars: m[0].length, tokens: isBlankLength(tokens) ? tokens : null };
  }
  return null;
}

/**
 * markdown-it inline rule for blanks. Runs before the escape rule so that a run of backslashes in
 * front of a blank is read the way parseBlanks reads it (pairs are backslashes, an odd one escapes).
 */
function blankRule(state: StateInline, silent: boolean): boolean {
  const { src, posMax } = state;
  let pos = state.pos;
  let slashes = 0;
  while (pos < posMax && src.charCodeAt(pos) === BACKSLASH) {
    slashes++;
    pos++;
  }
  const found = blankAt(src, pos, posMax);
  // `{{0}}` without backslashes is no blank and no escape: plain text, for the other rules.
  if (!found || (found.tokens === null && slashes === 0)) return false;
  if (!silent) {
    const pairs = '\\'.repeat(Math.floor(slashes / 2));
    if (found.tokens === null || slashes % 2 === 1) {
      state.pending += pairs + src.slice(pos, pos + found.chars);
    } else {
      state.pending += pairs;
      const token = state.push('blank', '', 0);
      token.meta = { tokens: found.tokens };
    }
  }
  state.pos = pos + found.chars;
  return true;
}

const tokenizer = new MarkdownIt('commonmark', { html: false, linkify: false, typographer: false });
tokenizer.disable(['code', 'fence', 'hr', 'reference', 'html_block', 'lheading']);
tokenizer.disable(['backticks', 'link', 'image', 'autolink', 'html_inline']);
tokenizer.inline.ruler.before('escape', 'lacuna_blank', blankRule);

function listIsTight(tokens: readonly Token[], i: number): boolean {
  while (++i < tokens.length) if (tokens[i]!.type !== 'list_item_open') return tokens[i]!.hidden;
  return false;
}

const parser = new MarkdownParser(schema, tokenizer, {
  blockquote: { block: 'blockquote' },
  paragraph: { block: 'paragraph' },
  list_item: { block: 'list_item' },
  bullet_list: { block: 'bullet_list', getAttrs: (_tok, tokens, i) => ({ tight: listIsTight(tokens, i) }) },
  ordered_list: {
    block: 'ordered_list',
    getAttrs: (tok, tokens, i) => ({ order: Number(tok.attrGet('start')) || 1, tight: listIsTight(tokens, i) }),
  },
  heading: { block: 'heading', getAttrs: (tok) => ({ level: Number(tok.tag.slice(1)) }) },
  hardbreak: { node: 'hard_break' },
  // Plain line breaks are kept as line breaks: a draft's lines (a poem, an address) stay lines.
  softbreak: { node: 'hard_break' },
  em: { mark: 'em' },
  strong: { mark: 'strong' },
  blank: { node: 'blank', getAttrs: (tok) => ({ tokens: (tok.meta as { tokens: BlankLength }).tokens }), noCloseToken: true },
});

/** Parse the Markdown text form into a document. Never throws on any input. */
export function parseMarkdown(text: string): ProseNode {
  const doc = parser.parse(text);
  // Headings cannot hold line breaks; the parser puts none there, but be sure the result is valid.
  doc.check();
  return doc;
}

// ---- Writing --------------------------------------------------------------------------------

/**
 * Extra escapes on top of prosemirror-markdown's: `{{N}}` and `{{auto}}`; underscores inside a word, which the
 * default escaping leaves alone (snake_case) but which can still make a blank (a____b) or, next to
 * an escaped one, emphasis (\__init__); `&` where it would read as an entity; and,
 * at the start of a text (harmless elsewhere), `1.` / `1)` / `+` that would start a list when they
 * end the line. Applied after the default escaping, so an escaped `\_` is left alone.
 */
const ESCAPE_EXTRA = /\{(?=\{\s*(?:\d+|auto)\s*\}\})|(?<!\\)_|&(?=#?[0-9A-Za-z]+;)|(?<=^\s*\d+)[.)](?=\s|$)|^\+(?=\s|$)/g;

/** prosemirror-markdown's serializer state, with the fields this file steers. */
interface SerializerInternals {
  atBlockStart: boolean;
  out: string;
}

function internals(state: MarkdownSerializerState): SerializerInternals {
  return state as unknown as SerializerInternals;
}

function writeText(state: MarkdownSerializerState, node: ProseNode, parent: ProseNode, index: number): void {
  const s = internals(state);
  // After a hard break the text starts a line: escape what would start a list, quote or heading there.
  const afterBreak = index > 0 && parent.child(index - 1).type === nodes.hardBreak;
  if (afterBreak) s.atBlockStart = true;
  state.text(node.text ?? '');
  // A heading's trailing " #" run would read as its optional closing sequence and vanish.
  if (parent.type === nodes.heading && index === parent.childCount - 1) s.out = s.out.replace(/(\s)(#+)$/, '$1\\$2');
}

const serializer = new MarkdownSerializer(
  {
    blockquote(state, node) {
      state.wrapBlock('> ', null, node, () => state.renderContent(node));
    },
    heading(state, node) {
      state.write(state.repeat('#', node.attrs.level as number) + ' ');
      state.renderInline(node, false);
      state.closeBlock(node);
    },
    bullet_list(state, node) {
      state.renderList(node, '  ', () => '- ');
    },
    ordered_list(state, node) {
      const start = (node.attrs.order as number | undefined) ?? 1;
      const width = String(start + node.childCount - 1).length;
      const space = state.repeat(' ', width + 2);
      state.renderList(node, space, (i) => {
        const n = String(start + i);
        return state.repeat(' ', width - n.length) + n + '. ';
      });
    },
    list_item(state, node) {
      state.renderContent(node);
    },
    paragraph(state, node) {
      state.renderInline(node);
      state.closeBlock(node);
    },
    hard_break(state, node, parent, index) {
      for (let i = index + 1; i < parent.childCount; i++) {
        if (parent.child(i).type !== node.type) {
          state.write('\\\n');
          return;
        }
      }
    },
    text: writeText,
    blank(state, node, parent, index) {
      const tokens = blankAttrs(node).tokens;
      // Underscores on either side (or a blank just before) would merge with "____" into one run:
      // an auto blank there is written `{{auto}}` (an exact one is always `{{N}}`).
      // (Decided on the neighbouring nodes: reading the output back would make writing quadratic.)
      const prev = index > 0 ? parent.child(index - 1) : null;
      const next = index + 1 < parent.childCount ? parent.child(index + 1) : null;
      const touches =
        (prev?.isText === true && (prev.text ?? '').endsWith('_')) ||
        prev?.type === nodes.blank ||
        (next?.isText === true && (next.text ?? '').startsWith('_'));
      state.write(touches && tokens === 'auto' ? '{{auto}}' : blankToken(tokens));
    },
  },
  {
    em: { open: '*', close: '*', mixable: true, expelEnclosingWhitespace: true },
    strong: { open: '**', close: '**', mixable: true, expelEnclosingWhitespace: true },
    generated: { open: '', close: '', mixable: true },
  },
  { escapeExtraCharacters: ESCAPE_EXTRA, strict: true },
);

/** Each top-level block's text form, by node (nodes never change, and an edit keeps the untouched ones). */
const blockCache = new WeakMap<ProseNode, string>();

function blockMarkdown(block: ProseNode): string {
  let text = blockCache.get(block);
  if (text === undefined) {
    text = serializer.serialize(nodes.doc.create(null, block), { tightLists: true });
    blockCache.set(block, text);
  }
  return text;
}

/**
 * The Markdown text form of a document (blanks in the blank syntax): its top-level blocks, each
 * written on its own and kept, separated by an empty line (two between lists of one kind, as
 * prosemirror-markdown does); blocks with no text (empty paragraphs) are left out. Writing a long
 * document anew after each edit only writes the blocks the edit touched: the serializer reads its
 * own output as it goes, which makes one pass over a whole long document slow.
 */
export function serializeMarkdown(doc: ProseNode): string {
  const parts: string[] = [];
  let previous: ProseNode | null = null;
  doc.forEach((block) => {
    const text = blockMarkdown(block);
    if (!text) return;
    if (parts.length) {
      const lists = previous?.type === block.type && (block.type === nodes.bulletList || block.type === nodes.orderedList);
      parts.push(lists ? '\n\n\n' : '\n\n');
    }
    parts.push(text);
    previous = block;
  });
  return parts.join('');
}

/** The same text form in one pass of prosemirror-markdown's serializer (for tests: the two must agree). */
export function serializeMarkdownWhole(doc: ProseNode): string {
  return serializer.serialize(doc, { tightLists: true });
}
