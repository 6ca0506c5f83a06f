/**
 * The document model of the editor (ProseMirror): paragraphs, headings, quotes, bullet and
 * numbered lists, emphasis and strong emphasis, hard line breaks, and blanks.
 *
 * A blank is an inline atom: it moves, deletes, copies and pastes like one character. Its attrs:
 *   tokens        its length: 'auto' (the model chooses among a few lengths; the default) or a
 *                 number of model tokens (1 … MAX_BLANK_TOKENS). Documents saved before auto
 *                 blanks existed hold numbers only, and still load as they were.
 *   status        'idle' (empty), 'filling' (a fill is running for it), 'filled' (alternatives to choose from)
 *   alternatives  the generated texts to choose from (one per alternative of the fill)
 *   chosen        the index of the alternative shown
 *   ranked        whether the alternatives are in the model's order, the one it finds most natural
 *                 first (the fill scored them: FillAlternative.nll); false for older fills
 *   generationId  the fill's generation record (generations.*), to note which alternative was kept
 * A filled blank is still a blank until the writer accepts it: only then does its text enter the
 * document, marked `generated` until the writer edits it.
 *
 * The document node has one attribute, `fillSettings`: the document's own fill settings
 * (fill-settings.ts), or null when the writer's defaults apply. It travels in the rich text only.
 */
import { Schema, type Attrs, type Mark, type Node as ProseNode } from 'prosemirror-model';
import { blankToken, isBlankLength, type BlankLength } from '../../../../src-main/common/blanks';

export { isBlankLength, type BlankLength };

export type BlankStatus = 'idle' | 'filling' | 'filled';

export interface BlankAttrs {
  tokens: BlankLength;
  status: BlankStatus;
  alternatives: readonly string[];
  chosen: number;
  ranked: boolean;
  generationId: number | null;
}

function isStatus(value: unknown): value is BlankStatus {
  return value === 'idle' || value === 'filling' || value === 'filled';
}

function isAlternatives(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function fail(what: string): never {
  throw new RangeError(`blank: invalid ${what}`);
}

/** Reads a blank's attributes back from the HTML the clipboard carries (toDOM below). */
function blankAttrsFromDom(dom: HTMLElement): Attrs {
  const raw = dom.getAttribute('data-tokens');
  const tokens = raw === 'auto' ? raw : Number(raw);
  let alternatives: string[] = [];
  try {
    const parsed: unknown = JSON.parse(dom.getAttribute('data-alternatives') ?? '[]');
    if (isAlternatives(parsed)) alternatives = parsed;
  } catch {
    // not ours, or damaged: an empty blank of that length
  }
  const chosen = Number(dom.getAttribute('data-chosen') ?? 0);
  const generation = Number(dom.getAttribute('data-generation'));
  return {
    tokens: isBlankLength(tokens) ? tokens : 'auto',
    // A copy never carries a running fill.
    status: alternatives.length ? 'filled' : 'idle',
    alternatives,
    chosen: Number.isInteger(chosen) && chosen >= 0 && chosen < alternatives.length ? chosen : 0,
    ranked: alternatives.length > 0 && dom.hasAttribute('data-ranked'),
    generationId: alternatives.length && Number.isInteger(generation) && generation > 0 ? generation : null,
  };
}

export const schema = new Schema({
  nodes: {
    doc: {
      content: 'block+',
      // The document's own fill settings (fill-settings.ts), or null: the writer's defaults apply.
      // Kept with the rich text; read with readFillSettings, never trusted as stored.
      attrs: { fillSettings: { default: null } },
    },
    paragraph: {
      content: 'inline*',
      group: 'block',
      parseDOM: [{ tag: 'p' }],
      toDOM: () => ['p', 0],
    },
    heading: {
      attrs: { level: { default: 1, validate: (v: unknown) => (typeof v === 'number' && v >= 1 && v <= 6 ? undefined : fail('heading level')) } },
      // Markdown headings are one line: no hard breaks.
      content: '(text | blank)*',
      group: 'block',
      defining: true,
      parseDOM: [1, 2, 3, 4, 5, 6].map((level) => ({ tag: `h${level}`, attrs: { level } })),
      toDOM: (node) => [`h${node.attrs.level as number}`, 0],
    },
    blockquote: {
      content: 'block+',
      group: 'block',
      defining: true,
      parseDOM: [{ tag: 'blockquote' }],
      toDOM: () => ['blockquote', 0],
    },
    bullet_list: {
      content: 'list_item+',
      group: 'block',
      attrs: { tight: { default: true } },
      parseDOM: [{ tag: 'ul', getAttrs: (dom: HTMLElement) => ({ tight: dom.hasAttribute('data-tight') }) }],
      toDOM: (node) => ['ul', { 'data-tight': node.attrs.tight ? 'true' : null }, 0],
    },
    ordered_list: {
      content: 'list_item+',
      group: 'block',
      attrs: { order: { default: 1 }, tight: { default: true } },
      parseDOM: [
        {
          tag: 'ol',
          getAttrs: (dom: HTMLElement) => ({
            order: dom.hasAttribute('start') ? Number(dom.getAttribute('start')) || 1 : 1,
            tight: dom.hasAttribute('data-tight'),
          }),
        },
      ],
      toDOM: (node) => ['ol', { start: node.attrs.order === 1 ? null : String(node.attrs.order), 'data-tight': node.attrs.tight ? 'true' : null }, 0],
    },
    list_item: {
      content: 'block+',
      defining: true,
      parseDOM: [{ tag: 'li' }],
      toDOM: () => ['li', 0],
    },
    text: { group: 'inline' },
    hard_break: {
      inline: true,
      group: 'inline',
      selectable: false,
      parseDOM: [{ tag: 'br' }],
      toDOM: () => ['br'],
      leafText: () => '\n',
    },
    blank: {
      inline: true,
      group: 'inline',
      atom: true,
      selectable: true,
      draggable: true,
      // Formatting stays outside blanks: what a blank becomes is decided when it is accepted.
      marks: '',
      attrs: {
        tokens: { default: 'auto', validate: (v: unknown) => (isBlankLength(v) ? undefined : fail('length')) },
        status: { default: 'idle', validate: (v: unknown) => (isStatus(v) ? undefined : fail('status')) },
        alternatives: { default: [], validate: (v: unknown) => (isAlternatives(v) ? undefined : fail('alternatives')) },
        chosen: { default: 0, validate: (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? undefined : fail('chosen')) },
        ranked: { default: false, validate: (v: unknown) => (typeof v === 'boolean' ? undefined : fail('ranked')) },
        generationId: {
          default: null,
          validate: (v: unknown) => (v === null || (typeof v === 'number' && Number.isInteger(v) && v > 0) ? undefined : fail('generation')),
        },
      },
      leafText: (node) => blankToken(node.attrs.tokens as BlankLength),
      parseDOM: [{ tag: 'span[data-blank]', getAttrs: blankAttrsFromDom }],
      // Used for the clipboard's HTML (and by other apps it is pasted into: they see the blank syntax).
      toDOM: (node) => {
        const a = blankAttrs(node);
        return [
          'span',
          {
            'data-blank': '',
            'data-tokens': String(a.tokens),
            'data-alternatives': a.alternatives.length ? JSON.stringify(a.alternatives) : null,
            'data-chosen': a.alternatives.length ? String(a.chosen) : null,
            'data-ranked': a.alternatives.length && a.ranked ? '' : null,
            'data-generation': a.generationId === null ? null : String(a.generationId),
          },
          blankToken(a.tokens),
        ];
      },
    },
  },
  marks: {
    em: {
      parseDOM: [{ tag: 'i' }, { tag: 'em' }, { style: 'font-style=italic' }, { style: 'font-style=normal', clearMark: (m: Mark) => m.type.name === 'em' }],
      toDOM: () => ['em', 0],
    },
    strong: {
      parseDOM: [
        { tag: 'strong' },
        { tag: 'b', getAttrs: (node: HTMLElement) => node.style.fontWeight !== 'normal' && null },
        { style: 'font-weight=400', clearMark: (m: Mark) => m.type.name === 'strong' },
        { style: 'font-weight', getAttrs: (value: string) => /^(bold(er)?|[5-9]\d{2,})$/.test(value) && null },
      ],
      toDOM: () => ['strong', 0],
    },
    /**
     * Text the model wrote and the writer accepted, until the writer edits it (generated.ts).
     * Last in the list, so it is always the innermost mark (Markdown has no syntax for it).
     */
    generated: {
      attrs: { generationId: { default: null } },
      inclusive: false,
      parseDOM: [
        {
          tag: 'span[data-generated]',
          getAttrs: (dom: HTMLElement) => {
            const id = Number(dom.getAttribute('data-generated'));
            return { generationId: Number.isInteger(id) && id > 0 ? id : null };
          },
        },
      ],
      toDOM: (mark) => ['span', { class: 'generated', 'data-generated': mark.attrs.generationId === null ? '' : String(mark.attrs.generationId) }, 0],
    },
  },
});

export const nodes = {
  doc: schema.nodes.doc!,
  paragraph: schema.nodes.paragraph!,
  heading: schema.nodes.heading!,
  blockquote: schema.nodes.blockquote!,
  bulletList: schema.nodes.bullet_list!,
  orderedList: schema.nodes.ordered_list!,
  listItem: schema.nodes.list_item!,
  text: schema.nodes.text!,
  hardBreak: schema.nodes.hard_break!,
  blank: schema.nodes.blank!,
};

export const marks = {
  em: schema.marks.em!,
  strong: schema.marks.strong!,
  generated: schema.marks.generated!,
};

export function isBlank(node: ProseNode | null | undefined): node is ProseNode {
  return node?.type === nodes.blank;
}

export function blankAttrs(node: ProseNode): BlankAttrs {
  return node.attrs as BlankAttrs;
}

/** A new empty blank of that length (default: auto, the model chooses). */
export function createBlank(tokens: BlankLength = 'auto'): ProseNode {
  return nodes.blank.create({ tokens });
}
