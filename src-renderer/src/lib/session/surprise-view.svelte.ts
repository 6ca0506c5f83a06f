/**
 * The surprise view of a document: the text scored by the model (score.run), each word tinted by
 * how surprising the model finds it (editor/surprise.ts: decorations, outside the document). Any
 * change to the text takes it away.
 */
import { ApiError, type ApiClient, type ApiEvent, type ScoreResult } from '../../../../src-main/common/api';
import { alerts } from '../alerts.svelte';
import { fillOptions } from '../fill-settings';
import { models } from '../models.svelte';
import { scoringText, surpriseDecorations, surpriseKey, surpriseThresholds, type SurpriseMeta } from '../editor/surprise';
import { plural } from '../text';
import { newRequestId, type SessionCore } from './core';

/** The surprise view: being scored (cancellable), or shown (the scores are decorations on the text). */
export type SurpriseState =
  | { status: 'scoring'; requestId: string; cancelling: boolean; done?: number; total?: number }
  | { status: 'shown'; result: Pick<ScoreResult, 'model' | 'tokens' | 'draws' | 'nll' | 'nllStdErr' | 'perplexityBound'>; thresholds: number[] };

export class SurpriseView {
  state = $state<SurpriseState | null>(null);
  /** Outcome of the last surprise view request, for its status line. */
  message = $state('');

  readonly #session: SessionCore;
  readonly #api: ApiClient;

  constructor(session: SessionCore, api: ApiClient) {
    this.#session = session;
    this.#api = api;
  }

  /** Show the surprise view (score.run on the text), or take it away. */
  async toggle(): Promise<void> {
    const current = this.state;
    if (current?.status === 'scoring') return this.cancel();
    if (current?.status === 'shown') {
      this.#clear();
      this.message = '';
      return;
    }
    const session = this.#session;
    const doc = session.editorState.doc;
    const map = scoringText(doc);
    if (!map.text.trim()) {
      this.message = 'There is no text to score yet.';
      return;
    }
    const requestId = newRequestId();
    this.state = { status: 'scoring', requestId, cancelling: false };
    this.message = 'Scoring the text…';
    const s = session.settings;
    const { options } = fillOptions(s, models.list);
    try {
      const result = await this.#api.call('score.run', {
        requestId,
        text: map.text,
        device: s.device,
        ...(options.model !== undefined ? { model: options.model } : {}),
        ...(s.seed !== null ? { seed: s.seed } : {}),
      });
      if (this.state?.status !== 'scoring' || this.state.requestId !== requestId) return;
      if (session.editorState.doc.content !== doc.content) {
        this.state = null;
        this.message = 'The text changed while it was being scored; nothing is shown.';
        return;
      }
      await models.load();
      const thresholds = surpriseThresholds(models.byId(result.model)?.vocabSize ?? null);
      const decorations = surpriseDecorations(session.editorState.doc, map, result.perToken, thresholds);
      this.state = {
        status: 'shown',
        result: {
          model: result.model,
          tokens: result.tokens,
          draws: result.draws,
          nll: result.nll,
          nllStdErr: result.nllStdErr,
          perplexityBound: result.perplexityBound,
        },
        thresholds,
      };
      this.message = `Scored ${plural(result.tokens, 'token')}.`;
      session.dispatch(session.freshState().tr.setMeta(surpriseKey, { type: 'show', decorations } satisfies SurpriseMeta));
    } catch (err) {
      // Not this request's any more (the text changed, and the scoring was cancelled for it).
      if (this.state?.status !== 'scoring' || this.state.requestId !== requestId) return;
      this.state = null;
      const e = ApiError.from(err);
      if (e.code === 'cancelled') {
        this.message = 'Scoring cancelled.';
      } else {
        this.message = 'Scoring failed.';
        alerts.push('Could not score the text', e);
      }
    }
  }

  async cancel(): Promise<void> {
    const s = this.state;
    if (s?.status !== 'scoring' || s.cancelling) return;
    s.cancelling = true;
    try {
      await this.#api.call('fill.cancel', { requestId: s.requestId });
    } catch (err) {
      if (this.state?.status === 'scoring') this.state.cancelling = false;
      alerts.push('Could not cancel the scoring', err);
    }
  }

  /** A score.progress event: how far the scoring is. */
  progress(event: Extract<ApiEvent, { type: 'score.progress' }>): void {
    const s = this.state;
    if (s?.status === 'scoring' && s.requestId === event.requestId) {
      s.done = event.done;
      s.total = event.total;
    }
  }

  #clear(): void {
    this.state = null;
    const session = this.#session;
    if (surpriseKey.getState(session.editorState)) session.dispatch(session.freshState().tr.setMeta(surpriseKey, { type: 'clear' } satisfies SurpriseMeta));
  }

  /** The text changed: the scores no longer apply (the plugin drops its decorations by itself). */
  textChanged(): void {
    const s = this.state;
    this.state = null;
    if (s?.status === 'scoring') {
      this.message = 'Scoring stopped: the text changed.';
      this.#api.call('fill.cancel', { requestId: s.requestId }).catch((err: unknown) => console.warn('Lacuna: could not cancel the scoring', err));
    } else {
      this.message = 'The surprise view was cleared: the text changed.';
    }
  }
}
