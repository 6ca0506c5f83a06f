/**
 * The surprise view: how surprising the model finds each token of the text (its contribution to the
 * likelihood bound, score.run's perToken, in nats), shown as a tint on the text. Decorations only:
 * nothing enters the document or its undo history, and any change to the text clears them (the
 * scores were for the old text).
 *
 * The text scored is the document's prose: text blocks separated by an empty line, line breaks as
 * line breaks, blanks left out (an empty blank has no text; a filled one is not the writer's yet).
 * scoringText keeps where each piece of that text is in the document, to map the character offsets
 * score.run answers with back onto it.
 */
import type { Node as ProseNode } from 'prosemirror-model';
import { Plugin, PluginKey, type EditorState } from 'prosemirror-state';
import { Decoration, DecorationSet } from 'prosemirror-view';
import { nodes } from './schema';

export interface ScoringText {
  text: string;
  /** Runs of the text that come from the document, in order: text offset, document position, length. */
  runs: { offset: number; pos: number; length: number }[];
}

export function scoringText(doc: ProseNode): ScoringText {
  let text = '';
  const runs: ScoringText['runs'] = [];
  let first = true;
  doc.descendants((node, pos) => {
    if (!node.isTextblock) return true;
    if (!first) text += '\n\n';
    first = false;
    node.forEach((child, offset) => {
      if (child.isText) {
        const s = child.text ?? '';
        runs.push({ offset: text.length, pos: pos + 1 + offset, length: s.length });
        text += s;
      } else if (child.type === nodes.hardBreak) {
        text += '\n';
      }
    });
    return false;
  });
  return { text, runs };
}

/** Document ranges of the text range [start, end): one per run it touches (runs are in order). */
export function documentRanges(map: ScoringText, start: number, end: number, fromRun = 0): { ranges: [number, number][]; nextRun: number } {
  const { runs } = map;
  let lo = fromRun;
  let hi = runs.length;
  // First run that ends after `start`.
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const r = runs[mid]!;
    if (r.offset + r.length <= start) lo = mid + 1;
    else hi = mid;
  }
  const ranges: [number, number][] = [];
  let i = lo;
  for (; i < runs.length; i++) {
    const r = runs[i]!;
    if (r.offset >= end) break;
    const a = Math.max(start, r.offset);
    const b = Math.min(end, r.offset + r.length);
    if (b > a) ranges.push([r.pos + (a - r.offset), r.pos + (b - r.offset)]);
    if (r.offset + r.length > end) break;
  }
  return { ranges, nextRun: lo };
}

/** Five levels of surprise: thresholds in nats between them (four, increasing). */
export function surpriseThresholds(vocabSize: number | null): number[] {
  // Relative to a uniform guess over the vocabulary (ln V nats), when the model is known.
  const top = vocabSize && vocabSize > 1 ? Math.log(vocabSize) : 10;
  return [0.25, 0.5, 0.75, 1].map((f) => Math.round(top * f * 10) / 10);
}

export function surpriseLevel(nats: number, thresholds: readonly number[]): number {
  let level = 0;
  while (level < thresholds.length && nats >= thresholds[level]!) level++;
  return level;
}

export interface TokenScore {
  start: number;
  end: number;
  nll: number;
}

export function surpriseDecorations(doc: ProseNode, map: ScoringText, perToken: readonly TokenScore[], thresholds: readonly number[]): DecorationSet {
  const decos: Decoration[] = [];
  let run = 0;
  const sorted = perToken.every((t, i) => i === 0 || perToken[i - 1]!.start <= t.start) ? perToken : [...perToken].sort((a, b) => a.start - b.start);
  for (const t of sorted) {
    if (t.end <= t.start) continue;
    const { ranges, nextRun } = documentRanges(map, t.start, t.end, run);
    run = nextRun;
    const level = surpriseLevel(t.nll, thresholds);
    const attrs = { class: `surprise surprise-${level}`, title: `${t.nll.toFixed(2)} nats` };
    for (const [from, to] of ranges) decos.push(Decoration.inline(from, to, attrs));
  }
  return DecorationSet.create(doc, decos);
}

export type SurpriseMeta = { type: 'show'; decorations: DecorationSet } | { type: 'clear' };

export const surpriseKey = new PluginKey<DecorationSet | null>('lacuna-surprise');

export function surprisePlugin(): Plugin<DecorationSet | null> {
  return new Plugin<DecorationSet | null>({
    key: surpriseKey,
    state: {
      init: () => null,
      apply(tr, value, old, next) {
        const meta = tr.getMeta(surpriseKey) as SurpriseMeta | undefined;
        if (meta?.type === 'show') return meta.decorations;
        if (meta?.type === 'clear') return null;
        // The scores were for the text as it was: a change to it clears them.
        if (value && next.doc.content !== old.doc.content) return null;
        return value;
      },
    },
    props: {
      decorations: (state) => surpriseKey.getState(state) ?? null,
    },
  });
}

export function surpriseShown(state: EditorState): boolean {
  return !!surpriseKey.getState(state);
}
