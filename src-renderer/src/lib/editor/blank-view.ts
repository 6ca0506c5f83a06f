/**
 * How a blank looks in the editor (a ProseMirror node view, plain DOM):
 *   empty     a gap whose width grows with its length, its length in tokens inside ("auto" for a
 *             blank whose length the model chooses);
 *   filling   the tokens of the running fill as they unmask (live-fill.ts decorations), the
 *             positions still masked as placeholders (an auto blank: those of the length being
 *             tried, which changes as the model tries the next one);
 *   filled    the alternative on display, styled as generated text, with "1/3".
 * Assistive technology gets one image-like object with a name that says all of this.
 */
import type { Node as ProseNode } from 'prosemirror-model';
import { DEFAULT_BLANK_TOKENS, type BlankLength } from '../../../../src-main/common/blanks';
import type { Decoration, NodeView } from 'prosemirror-view';
import { aboutWords } from '../../../../src-main/common/units';
import { plural } from '../text';
import type { LiveTokens } from './live-fill';
import { blankAttrs } from './schema';

function liveOf(decorations: readonly Decoration[]): LiveTokens | null {
  for (const d of decorations) {
    const live = (d.spec as { live?: LiveTokens }).live;
    if (live) return live;
  }
  return null;
}

/** A blank's length in words: "16 tokens", "auto length". */
export function describeLength(tokens: BlankLength): string {
  return tokens === 'auto' ? 'auto length' : `${plural(tokens, 'token')} (${aboutWords(tokens)})`;
}

function span(className: string, text?: string): HTMLSpanElement {
  const el = document.createElement('span');
  el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

export class BlankView implements NodeView {
  readonly dom: HTMLSpanElement;
  #node: ProseNode;
  #live: LiveTokens | null;

  constructor(node: ProseNode, decorations: readonly Decoration[]) {
    this.dom = document.createElement('span');
    this.dom.setAttribute('data-blank', '');
    this.dom.setAttribute('role', 'img');
    this.dom.setAttribute('aria-roledescription', 'blank');
    this.#node = node;
    this.#live = liveOf(decorations);
    this.#render();
  }

  update(node: ProseNode, decorations: readonly Decoration[]): boolean {
    if (node.type !== this.#node.type) return false;
    const live = liveOf(decorations);
    if (node === this.#node && live === this.#live) return true;
    this.#node = node;
    this.#live = live;
    this.#render();
    return true;
  }

  #render(): void {
    const a = blankAttrs(this.#node);
    const dom = this.dom;
    dom.setAttribute('data-tokens', String(a.tokens));
    dom.setAttribute('data-status', a.status);
    dom.replaceChildren();
    dom.style.removeProperty('--blank-width');
    const live = this.#live;
    if (live && a.status === 'filling' && live.tokens.length) {
      dom.className = 'blank blank-filling';
      const body = span('blank-tokens');
      let unmasked = 0;
      for (const token of live.tokens) {
        if (token === null) body.append(span('blank-mask'));
        else {
          unmasked++;
          body.append(span('blank-token', token));
        }
      }
      dom.append(body);
      const of = plural(live.tokens.length, 'token');
      dom.setAttribute(
        'aria-label',
        a.tokens === 'auto' ? `Blank being filled, auto length, trying ${of}: ${unmasked} so far` : `Blank being filled, ${unmasked} of ${of} so far`,
      );
    } else if (a.status === 'filling') {
      dom.className = 'blank blank-filling';
      dom.append(span('blank-length', '…'));
      dom.setAttribute('aria-label', `Blank being filled, ${describeLength(a.tokens)}`);
    } else if (a.status === 'filled' && a.alternatives.length) {
      const text = a.alternatives[a.chosen] ?? '';
      dom.className = 'blank blank-filled';
      dom.append(span('blank-text', text), span('blank-badge', `${a.chosen + 1}/${a.alternatives.length}`));
      dom.setAttribute('aria-label', `Filled blank, alternative ${a.chosen + 1} of ${a.alternatives.length}: ${text}`);
    } else {
      dom.className = 'blank blank-empty';
      dom.append(span('blank-length', a.tokens === 'auto' ? 'auto' : String(a.tokens)));
      dom.setAttribute('aria-label', `Blank, ${describeLength(a.tokens)}`);
      // Wider for longer blanks, within reason (CSSOM: allowed by the style-src policy); an auto
      // blank as wide as a typical one.
      const width = a.tokens === 'auto' ? DEFAULT_BLANK_TOKENS : a.tokens;
      dom.style.setProperty('--blank-width', `${Math.min(14, 2.5 + Math.sqrt(width) * 1.1).toFixed(2)}em`);
    }
    for (const child of dom.children) child.setAttribute('aria-hidden', 'true');
  }

  /** The view draws itself; nothing inside is editable. */
  ignoreMutation(): boolean {
    return true;
  }
}
