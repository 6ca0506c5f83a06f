/**
 * Filling a document's blanks with the local model, and the writer's review of the fills (accept,
 * reject).
 *
 * A fill works on a snapshot of the text. While it runs, its blanks show the tokens as they unmask
 * (live-fill.ts: decorations, outside the document and the undo history), and the writer may go on
 * typing anywhere. When it is done, each blank becomes a filled blank holding the alternatives,
 * wherever the writer's edits have moved it (live-fill.ts maps the positions through every
 * transaction); the landing is one undo step of its own, and the writer's typing stays theirs. A
 * blank that was itself deleted or changed meanwhile gets nothing: its fill is offered as a notice
 * (every alternative, and the filled version as a new document). Text is never dropped. Nothing
 * generated enters the text until the writer accepts it.
 */
import { closeHistory } from 'prosemirror-history';
import type { Node as ProseNode } from 'prosemirror-model';
import { NodeSelection } from 'prosemirror-state';
import { ApiError, type ApiClient, type ApiEvent, type FillAlternative } from '../../../../src-main/common/api';
import { REMOTE_DEVICE } from '../../../../src-main/common/inference-server';
import { alerts } from '../alerts.svelte';
import { DEVICE_LABELS, fillOptions } from '../fill-settings';
import { models } from '../models.svelte';
import { acceptBlanks, blankAt, CONTINUE_TOKENS, fillText, filledBlanks, findBlanks, insertBlank, rejectBlank, type Accepted } from '../editor/blank-ops';
import { liveFill, liveFillKey, type LiveFillMeta } from '../editor/live-fill';
import { serializeMarkdown } from '../editor/markdown';
import { blankAttrs, isBlank } from '../editor/schema';
import { createEditorState } from '../editor/setup';
import { plural } from '../text';
import type { Autosave } from './autosave.svelte';
import { newRequestId, richTextOf, type SessionCore, type SessionHooks } from './core';

export interface FillState {
  requestId: string;
  blanks: number;
  /** Last step reported by fill.progress; 0 until the first event. */
  step: number;
  /** Total steps, from the first fill.progress event; 0 until then. */
  steps: number;
  cancelling: boolean;
}

/** The fill of blanks the writer deleted or changed while it ran: offered instead of applied. */
export interface FillNotice {
  /** How many of the fill's blanks were deleted or changed. */
  blanks: number;
  /** Per alternative, its text for those blanks (several blanks joined by " … "). */
  alternatives: string[];
  /** The document as it was when the fill started, its blanks filled with every alternative (to review). */
  text: string;
  richText: string | undefined;
}

/** Which blanks a fill is for. */
export type FillScope = { kind: 'all' } | { kind: 'blank'; pos: number } | { kind: 'continue' };

export class Fills {
  /** The fill running now, or null. */
  running = $state<FillState | null>(null);
  /** Outcome of the last fill, for the status line ("Filled 2 blanks."). */
  message = $state('');
  /** A fill whose blank was deleted or changed while it ran: offered, not applied. */
  notice = $state<FillNotice | null>(null);
  /** Why the device the last fill ran on is not the one asked for (FillResult.deviceNotes), or null. */
  deviceNote = $state<string | null>(null);
  /** The engine's own reasons behind deviceNote (inference-library text), shown only behind Details; or null. */
  deviceDetails = $state<string | null>(null);

  readonly #session: SessionCore;
  readonly #autosave: Autosave;
  readonly #api: ApiClient;
  readonly #hooks: SessionHooks;

  constructor(session: SessionCore, autosave: Autosave, api: ApiClient, hooks: SessionHooks) {
    this.#session = session;
    this.#autosave = autosave;
    this.#api = api;
    this.#hooks = hooks;
  }

  // ---- Reviewing the fills -------------------------------------------------------------------

  /** Accept the alternative on display of the filled blank at `pos`: its text enters the document. */
  accept(pos: number): boolean {
    const r = acceptBlanks(this.#session.editorState, [pos]);
    if (!r) return false;
    this.#session.edit(r.tr, true);
    this.#noteAccepted(r.accepted);
    this.message = 'Accepted the fill.';
    return true;
  }

  /** Accept every filled blank as it shows (one undo step). */
  acceptAll(): boolean {
    const state = this.#session.editorState;
    const r = acceptBlanks(
      state,
      filledBlanks(state.doc).map((b) => b.pos),
    );
    if (!r) return false;
    this.#session.edit(r.tr, true);
    this.#noteAccepted(r.accepted);
    this.message = `Accepted ${plural(r.accepted.length, 'fill')}.`;
    return true;
  }

  /** Back to the empty blank. */
  reject(pos: number): boolean {
    if (!this.#session.edit(rejectBlank(this.#session.editorState, pos), true)) return false;
    this.message = 'Rejected the fill.';
    return true;
  }

  /** Record in the generation's provenance which alternative the writer kept. */
  #noteAccepted(accepted: readonly Accepted[]): void {
    const seen: number[] = [];
    for (const a of accepted) {
      if (a.generationId === null || seen.includes(a.generationId)) continue;
      seen.push(a.generationId);
      this.#api.call('generations.accept', { generationId: a.generationId, alternative: a.alternative }).catch((err: unknown) => {
        alerts.push('Could not record which fill was kept', ApiError.from(err));
      });
    }
  }

  // ---- Filling -------------------------------------------------------------------------------

  /** A fill.progress event: the step count, and the live display of the running fill. */
  progress(event: Extract<ApiEvent, { type: 'fill.progress' }>): void {
    const f = this.running;
    if (!f || event.requestId !== f.requestId) return;
    f.step = Math.max(f.step, event.step);
    f.steps = event.steps;
    if (event.unmasked?.length) {
      const meta: LiveFillMeta = { type: 'progress', requestId: f.requestId, unmasked: event.unmasked, ...(event.lengths ? { lengths: event.lengths } : {}) };
      const session = this.#session;
      session.dispatch(session.freshState().tr.setMeta(liveFillKey, meta));
    }
  }

  /**
   * Fill blanks with the local model: every empty blank ('all'), the blank at a position ('blank':
   * also a filled one, which is then regenerated), or a new blank at the cursor ('continue').
   */
  async run(scope: FillScope = { kind: 'all' }): Promise<void> {
    if (this.running) return;
    const session = this.#session;
    let targets: number[];
    if (scope.kind === 'continue') {
      const tr = insertBlank(session.editorState, CONTINUE_TOKENS);
      if (!tr) {
        this.message = 'Put the cursor in the text to continue it.';
        return;
      }
      session.dispatch(tr);
      const cursor = session.editorState.selection.$from;
      targets = isBlank(cursor.nodeBefore) ? [cursor.pos - cursor.nodeBefore.nodeSize] : [];
    } else if (scope.kind === 'blank') {
      const b = blankAt(session.editorState.doc, scope.pos);
      targets = b && b.attrs.status !== 'filling' ? [b.pos] : [];
    } else {
      targets = findBlanks(session.editorState.doc)
        .filter((b) => b.attrs.status === 'idle')
        .map((b) => b.pos);
    }
    if (!targets.length) {
      this.message = session.blankCount.filled
        ? 'There are no empty blanks to fill. Accept, reject or regenerate the filled ones.'
        : 'There are no blanks to fill. Insert one first.';
      return;
    }

    const start = session.editorState.doc;
    const text = fillText(start, targets);
    const requestId = newRequestId();
    const before = targets.map((pos) => blankAttrs(start.nodeAt(pos)!));
    // Not an undo step: the blanks show that they are being filled, and the live display starts.
    const begin = session
      .freshState()
      .tr.setMeta(liveFillKey, { type: 'start', requestId, targets } satisfies LiveFillMeta)
      .setMeta('addToHistory', false);
    targets.forEach((pos, i) => begin.setNodeMarkup(pos, undefined, { ...before[i], status: 'filling' }));
    session.dispatch(begin);
    const body = session.body;
    const count = targets.length;
    this.message = `Filling ${plural(count, 'blank')}…`;
    this.notice = null;
    this.running = { requestId, blanks: count, step: 0, steps: 0, cancelling: false };

    /** Where the fill's blanks are now (null: deleted meanwhile), in the order of the request. */
    const current = (): (number | null)[] => {
      const live = liveFill(session.editorState);
      return live?.requestId === requestId ? live.targets : targets.map(() => null);
    };
    /** The blanks back to how they were before the fill (not an undo step). */
    const settle = (): void => {
      const tr = session.freshState().tr.setMeta('addToHistory', false);
      current().forEach((pos, i) => {
        const node = pos === null ? null : tr.doc.nodeAt(pos);
        if (pos !== null && isBlank(node) && blankAttrs(node).status === 'filling') {
          tr.setNodeMarkup(pos, undefined, { ...blankAttrs(node), status: before[i]!.status });
        }
      });
      if (tr.docChanged) session.dispatch(tr);
    };

    try {
      const { options, skippedModel } = fillOptions(session.settings, models.list);
      const result = await this.#api.call('fill.run', { requestId, text, documentId: session.id, ...options });
      // Said when the writer asked for a device (not 'auto', which passes over absent GPUs every time).
      // A remote fill reports its device as "remote:URL" (runtime/remote-session.ts): the device asked for.
      const ranAsAsked = options.device === result.device || (options.device === REMOTE_DEVICE && result.device.startsWith(`${REMOTE_DEVICE}:`));
      const passedOver = options.device !== 'auto' && !ranAsAsked && result.deviceNotes?.length;
      this.deviceNote =
        [
          skippedModel ? `The model “${skippedModel}” is not installed; the default model ran.` : '',
          passedOver ? `Ran on ${deviceLabel(result.device)} instead of ${deviceLabel(options.device)}: it is not available on this computer.` : '',
        ]
          .filter(Boolean)
          .join(' ') || null;
      this.deviceDetails = passedOver ? result.deviceNotes!.join('; ') : null;
      const alternatives: FillAlternative[] = result.alternatives?.length ? result.alternatives : [{ text: result.text, fills: result.fills }];
      // The text as it is now (the writer may have typed meanwhile) is kept as a revision first.
      await this.#autosave.saveSnapshot('before-fill');
      // Each blank's fill lands on that blank, wherever edits elsewhere have moved it; a blank that
      // was deleted or changed meanwhile (its length) gets nothing: its fill is offered instead.
      const positions = current().map((pos, i) => {
        const node = pos === null ? null : session.editorState.doc.nodeAt(pos);
        return isBlank(node) && blankAttrs(node).status === 'filling' && blankAttrs(node).tokens === before[i]!.tokens ? pos : null;
      });
      settle();
      const lost = positions.flatMap((pos, i) => (pos === null ? [i] : []));
      // The selection goes to the filled blank only when the writer has not typed meanwhile.
      const filled = lost.length < positions.length ? this.#applyFill(positions, alternatives, result.generationId ?? null, session.body === body) : 0;
      if (!lost.length) {
        this.message = `Filled ${plural(filled, 'blank')}.`;
      } else {
        this.notice = this.#filledVersion(start, targets, lost, alternatives, result.generationId ?? null);
        this.message = filled
          ? `Filled ${plural(filled, 'blank')}; ${plural(lost.length, 'other blank')} changed meanwhile: ` +
            `${lost.length === 1 ? 'its fill is' : 'their fills are'} offered below.`
          : 'Fill not applied: the blank changed meanwhile.';
      }
    } catch (err) {
      settle();
      const e = ApiError.from(err);
      if (e.code === 'cancelled') {
        this.message = 'Fill cancelled.';
      } else {
        this.message = 'Fill failed.';
        alerts.push('Could not fill the blanks', e);
      }
    } finally {
      this.running = null;
      session.dispatch(session.freshState().tr.setMeta(liveFillKey, { type: 'end', requestId } satisfies LiveFillMeta));
    }
    await this.#autosave.flush();
  }

  /**
   * The fill's alternatives into its blanks (one undo step); the first of them is selected (the one
   * the model finds most natural, when it ranked them: they then come best first). With `select`,
   * the first of the blanks is selected (its review panel shows); without, the writer's selection
   * stays where it is (they went on typing elsewhere).
   */
  #applyFill(positions: readonly (number | null)[], alternatives: readonly FillAlternative[], generationId: number | null, select: boolean): number {
    const tr = closeHistory(this.#session.freshState().tr);
    const ranked = alternatives.length > 1 && alternatives.every((a) => a.nll !== undefined);
    let filled = 0;
    let first: number | null = null;
    positions.forEach((pos, i) => {
      const node = pos === null ? null : tr.doc.nodeAt(pos);
      if (pos === null || !isBlank(node)) return;
      tr.setNodeMarkup(pos, undefined, {
        tokens: blankAttrs(node).tokens,
        status: 'filled',
        alternatives: alternatives.map((a) => a.fills[i] ?? ''),
        chosen: 0,
        ranked,
        generationId,
      });
      filled++;
      first = first === null ? pos : Math.min(first, pos);
    });
    if (first !== null && select) tr.setSelection(NodeSelection.create(tr.doc, first)).scrollIntoView();
    this.#session.edit(tr, true);
    return filled;
  }

  /**
   * What a fill offers for the blanks it could not land on (`lost`, indexes into `targets`): every
   * alternative's text for them, and the document as it was when the fill started with its blanks
   * filled, holding every alternative to review (saved as a new document on request).
   */
  #filledVersion(
    start: ProseNode,
    targets: readonly number[],
    lost: readonly number[],
    alternatives: readonly FillAlternative[],
    generationId: number | null,
  ): FillNotice {
    const state = createEditorState(start);
    const tr = state.tr;
    const ranked = alternatives.length > 1 && alternatives.every((a) => a.nll !== undefined);
    targets.forEach((pos, i) => {
      const node = tr.doc.nodeAt(pos);
      if (!isBlank(node)) return;
      tr.setNodeMarkup(pos, undefined, {
        tokens: blankAttrs(node).tokens,
        status: 'filled',
        alternatives: alternatives.map((a) => a.fills[i] ?? ''),
        chosen: 0,
        ranked,
        generationId,
      });
    });
    const doc = state.apply(tr).doc;
    return {
      blanks: lost.length,
      alternatives: alternatives.map((a) => lost.map((i) => (a.fills[i] ?? '').trim()).join(' … ')),
      text: serializeMarkdown(doc),
      richText: richTextOf(doc),
    };
  }

  async cancel(): Promise<void> {
    const f = this.running;
    if (!f || f.cancelling) return;
    f.cancelling = true;
    try {
      await this.#api.call('fill.cancel', { requestId: f.requestId });
    } catch (err) {
      if (this.running) this.running.cancelling = false;
      alerts.push('Could not cancel the fill', err);
    }
  }

  /** The fill notice: keep the filled version as a new document. */
  async saveNoticeAsCopy(): Promise<void> {
    const notice = this.notice;
    if (!notice) return;
    try {
      await this.#hooks.createCopy(`${this.#session.title.trim() || 'Untitled'} (filled)`, notice.text, notice.richText);
      this.notice = null;
    } catch (err) {
      alerts.push('Could not save the filled version as a new document', err);
    }
  }
}

/** A device as the writer reads it ("NVIDIA GPU (CUDA)"), its id when it has no label. */
function deviceLabel(id: string | undefined): string {
  return id === undefined ? 'the default device' : ((DEVICE_LABELS as Record<string, string>)[id] ?? id);
}
