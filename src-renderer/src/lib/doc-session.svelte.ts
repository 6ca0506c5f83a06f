/**
 * One open document: its title, its editor state (ProseMirror: text, blanks, undo history, live
 * fill), autosave, and filling its blanks.
 *
 * The session owns the editor state, not the view: a document keeps its undo history and a fill
 * keeps running (and lands) while another document is on screen. The editor view, when mounted,
 * shows the session's state and sends its transactions back through dispatch().
 *
 * Saving is debounced (SAVE_DELAY_MS after the last edit, but no later than SAVE_MAX_WAIT_MS after
 * the first unsaved one, so that continuous typing is saved too and a crash loses under a second),
 * serialised (one save in flight; edits made meanwhile are saved right after) and optimistic (each
 * save names the revision it was based on, so a change made elsewhere is reported as a conflict
 * instead of being overwritten). A save sends the text form (Markdown with the blank syntax, the
 * text of record) and the rich text (the document as JSON: formatting, alternatives).
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
import { closeHistory, isHistoryTransaction } from 'prosemirror-history';
import type { Node as ProseNode } from 'prosemirror-model';
import { NodeSelection, type EditorState, type Transaction } from 'prosemirror-state';
import type { EditorView } from 'prosemirror-view';
import {
  ApiError,
  MAX_RICH_TEXT_CHARS,
  type ApiClient,
  type ApiEvent,
  type Document,
  type FillAlternative,
  type ScoreResult,
} from '../../../src-main/common/api';
import { alerts, describeError } from './alerts.svelte';
import { DEVICE_LABELS, fillOptions, type FillSettings } from './fill-settings';
import { models } from './models.svelte';
import { prefs } from './prefs.svelte';
import {
  acceptBlanks,
  blankAt,
  CONTINUE_TOKENS,
  cycleAlternative,
  fillText,
  filledBlanks,
  findBlanks,
  insertBlank,
  rejectBlank,
  setBlankLength,
  type Accepted,
} from './editor/blank-ops';
import { liveFill, liveFillKey, type LiveFillMeta } from './editor/live-fill';
import { serializeMarkdown } from './editor/markdown';
import { blankAttrs, isBlank, type BlankLength } from './editor/schema';
import { createEditorState, documentSettings, loadDocument, richTextJSON } from './editor/setup';
import { scoringText, surpriseDecorations, surpriseKey, surpriseThresholds, type SurpriseMeta } from './editor/surprise';
import { plural } from './text';

export { plural } from './text';

export const SAVE_DELAY_MS = 500;
/** The longest an edit waits for its save to start, however long the typing goes on. */
export const SAVE_MAX_WAIT_MS = 700;

export type SaveState = 'saved' | 'unsaved' | 'saving' | 'error' | 'conflict';

export interface FillState {
  requestId: string;
  blanks: number;
  /** Last step reported by fill.progress; 0 until the first event. */
  step: number;
  /** Total steps, from the first fill.progress event; 0 until then. */
  steps: number;
  cancelling: boolean;
}

/** The surprise view: being scored (cancellable), or shown (the scores are decorations on the text). */
export type SurpriseState =
  | { status: 'scoring'; requestId: string; cancelling: boolean; done?: number; total?: number }
  | { status: 'shown'; result: Pick<ScoreResult, 'model' | 'tokens' | 'draws' | 'nll' | 'nllStdErr' | 'perplexityBound'>; thresholds: number[] };

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

export interface SessionHooks {
  /** A save went through (update the document list). */
  saved(doc: Document): void;
  /** Create a new document holding this text (used so that text is never thrown away). */
  createCopy(title: string, body: string, richText?: string): Promise<void>;
}

function newRequestId(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The rich text of a document, or undefined when it is too large to send (the text form still is). */
function richTextOf(doc: ProseNode): string | undefined {
  const json = richTextJSON(doc);
  return json.length <= MAX_RICH_TEXT_CHARS ? json : undefined;
}

export class DocSession {
  readonly id: string;
  title = $state('');
  /** The editor state: the document, its selection, undo history and live fill. */
  editorState: EditorState = $state.raw() as unknown as EditorState;
  saveState = $state<SaveState>('saved');
  /** Why the last save failed (saveState 'error'). */
  saveError = $state<string | null>(null);
  fill = $state<FillState | null>(null);
  /** Outcome of the last fill, for the status line ("Filled 2 blanks."). */
  fillMessage = $state('');
  /** A fill whose blank was deleted or changed while it ran: offered, not applied. */
  fillNotice = $state<FillNotice | null>(null);
  /** Why the device the last fill ran on is not the one asked for (FillResult.deviceNotes), or null. */
  deviceNote = $state<string | null>(null);
  /** The engine's own reasons behind deviceNote (inference-library text), shown only behind Details; or null. */
  deviceDetails = $state<string | null>(null);
  surprise = $state<SurpriseState | null>(null);
  /** Outcome of the last surprise view request, for its status line. */
  surpriseMessage = $state('');

  #savedTitle = $state('');
  #savedDoc: ProseNode = $state.raw() as unknown as ProseNode;
  #revision: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the oldest edit not yet sent in a save was made (Date.now()); undefined when none. */
  #unsavedSince: number | undefined;
  #inflight: Promise<boolean> | null = null;
  /** Saves started so far; a save's answer is applied only if no later save's was already. */
  #saveSeq = 0;
  #appliedSeq = 0;
  /** What saveBeforeLeaving sent last (the page's several "going away" events send it once). */
  #leftWith: { doc: ProseNode; title: string } | null = null;
  #view: EditorView | null = null;
  /** The next edit starts a new undo step (after an accept, reject or a fill landing). */
  #closeNextHistory = false;
  #bodyCache: { doc: ProseNode; body: string } | null = null;
  readonly #api: ApiClient;
  readonly #hooks: SessionHooks;

  constructor(doc: Document, api: ApiClient, hooks: SessionHooks) {
    this.id = doc.id;
    this.title = this.#savedTitle = doc.title;
    const loaded = loadDocument(doc.body, doc.richText).doc;
    this.editorState = createEditorState(loaded);
    this.#savedDoc = loaded;
    this.#revision = doc.revision;
    this.#api = api;
    this.#hooks = hooks;
  }

  /** The text form of the document: Markdown with the blank syntax. */
  get body(): string {
    return this.#bodyOf(this.editorState.doc);
  }

  #bodyOf(doc: ProseNode): string {
    if (this.#bodyCache?.doc !== doc) this.#bodyCache = { doc, body: serializeMarkdown(doc) };
    return this.#bodyCache.body;
  }

  get dirty(): boolean {
    return this.title !== this.#savedTitle || !this.editorState.doc.eq(this.#savedDoc);
  }

  /** Blanks in the document: all of them, the empty ones and the filled ones waiting for a decision. */
  get blankCount(): { count: number; empty: number; filled: number } {
    const all = findBlanks(this.editorState.doc);
    return {
      count: all.length,
      empty: all.filter((b) => b.attrs.status === 'idle').length,
      filled: all.filter((b) => b.attrs.status === 'filled').length,
    };
  }

  // ---- The editor view -----------------------------------------------------------------------

  /** The editor view shows this session; returns the function that detaches it. */
  attachView(view: EditorView): () => void {
    this.#view = view;
    return () => {
      if (this.#view === view) this.#view = null;
    };
  }

  get view(): EditorView | null {
    return this.#view;
  }

  /** Apply a transaction (from the view, or made here) to the session's editor state. */
  dispatch = (tr: Transaction): void => {
    if (this.#closeNextHistory && tr.docChanged && !isHistoryTransaction(tr) && tr.getMeta('addToHistory') !== false) {
      closeHistory(tr);
      this.#closeNextHistory = false;
    }
    const before = this.editorState;
    const next = before.apply(tr);
    this.editorState = next;
    this.#view?.updateState(next);
    if (next.doc !== before.doc) {
      // An undo or redo changes what the status line reports ("Accepted the fill."): it no longer
      // describes the text, so it goes (a running fill keeps its progress message).
      if (isHistoryTransaction(tr) && !this.fill) this.fillMessage = '';
      if (this.surprise && next.doc.content !== before.doc.content) this.#textChangedUnderSurprise();
      this.#edited();
    }
  };

  #run(tr: Transaction | null, separateUndo = false): boolean {
    if (!tr) return false;
    this.dispatch(tr);
    if (separateUndo) this.#closeNextHistory = true;
    return true;
  }

  // ---- Fill settings -------------------------------------------------------------------------

  /** The document's own fill settings, or null when the writer's defaults apply. */
  get ownSettings(): FillSettings | null {
    return documentSettings(this.editorState.doc);
  }

  /** The fill settings in force for this document. */
  get settings(): FillSettings {
    return this.ownSettings ?? prefs.fillDefaults;
  }

  /** Give the document its own settings (null: back to the defaults). Saved with it; not an undo step. */
  setOwnSettings(settings: FillSettings | null): void {
    this.dispatch(this.editorState.tr.setDocAttribute('fillSettings', settings ? { ...settings } : null).setMeta('addToHistory', false));
  }

  // ---- Editing -------------------------------------------------------------------------------

  setTitle(title: string): void {
    this.title = title;
    this.#edited();
  }

  insertBlank(tokens?: number): boolean {
    return this.#run(insertBlank(this.editorState, tokens));
  }

  /** A new length for the blank at `pos`: its own undo step. */
  setBlankLength(pos: number, tokens: BlankLength): boolean {
    const tr = setBlankLength(this.editorState, pos, tokens);
    return this.#run(tr && closeHistory(tr), true);
  }

  cycleAlternative(pos: number, delta: number): boolean {
    return this.#run(cycleAlternative(this.editorState, pos, delta));
  }

  /** Accept the alternative on display of the filled blank at `pos`: its text enters the document. */
  accept(pos: number): boolean {
    const r = acceptBlanks(this.editorState, [pos]);
    if (!r) return false;
    this.#run(r.tr, true);
    this.#noteAccepted(r.accepted);
    this.fillMessage = 'Accepted the fill.';
    return true;
  }

  /** Accept every filled blank as it shows (one undo step). */
  acceptAll(): boolean {
    const r = acceptBlanks(this.editorState, filledBlanks(this.editorState.doc).map((b) => b.pos));
    if (!r) return false;
    this.#run(r.tr, true);
    this.#noteAccepted(r.accepted);
    this.fillMessage = `Accepted ${plural(r.accepted.length, 'fill')}.`;
    return true;
  }

  /** Back to the empty blank. */
  reject(pos: number): boolean {
    if (!this.#run(rejectBlank(this.editorState, pos), true)) return false;
    this.fillMessage = 'Rejected the fill.';
    return true;
  }

  // ---- Saving --------------------------------------------------------------------------------

  #edited(): void {
    if (this.saveState === 'conflict') return; // paused until the writer resolves it
    if (!this.dirty) {
      this.#clearTimer();
      this.#unsavedSince = undefined;
      if (!this.#inflight) this.saveState = 'saved';
      return;
    }
    this.#unsavedSince ??= Date.now();
    if (this.saveState !== 'saving') this.saveState = 'unsaved';
    this.#schedule();
  }

  #schedule(): void {
    this.#clearTimer();
    const since = this.#unsavedSince ?? Date.now();
    const delay = Math.max(0, Math.min(SAVE_DELAY_MS, since + SAVE_MAX_WAIT_MS - Date.now()));
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, delay);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Save now if anything changed. Resolves true when everything is saved. */
  async flush(): Promise<boolean> {
    this.#clearTimer();
    while (this.#inflight) await this.#inflight;
    if (this.saveState === 'conflict') return false;
    if (!this.dirty) {
      this.saveState = 'saved';
      return true;
    }
    return this.#save(false);
  }

  /**
   * The page is going away (reload, close, hidden): send the unsaved text at once, in a request that
   * outlives the page (web mode: fetch keepalive), without waiting for a save in flight; that one's
   * text is older, so this one overwrites it rather than conflicting with it.
   */
  saveBeforeLeaving(): void {
    if (this.saveState === 'conflict' || !this.dirty) return;
    const doc = this.editorState.doc;
    const title = this.title;
    if (this.#leftWith?.doc === doc && this.#leftWith.title === title) return;
    // Even when a save of this very text is in flight: it may go from a worker, which dies with the page.
    this.#clearTimer();
    this.#leftWith = { doc, title };
    void this.#save(this.#inflight !== null, undefined, true).then((ok) => {
      if (!ok && this.#leftWith?.doc === doc) this.#leftWith = null;
    });
  }

  #save(force: boolean, snapshot?: 'before-fill' | 'manual', keepalive = false): Promise<boolean> {
    const title = this.title;
    const doc = this.editorState.doc;
    const body = this.#bodyOf(doc);
    const richText = richTextOf(doc);
    const seq = ++this.#saveSeq;
    this.#unsavedSince = undefined; // this save takes every edit made so far
    this.saveState = 'saving';
    const p: Promise<boolean> = this.#api
      .call(
        'documents.save',
        {
          id: this.id,
          title,
          body,
          ...(richText !== undefined ? { richText } : {}),
          ...(force ? {} : { baseRevision: this.#revision }),
          ...(snapshot ? { snapshot } : {}),
        },
        keepalive ? { keepalive } : undefined,
      )
      .then(
        (saved) => {
          // A later save (sent before this one answered) already said where the document is.
          if (seq < this.#appliedSeq) return true;
          this.#appliedSeq = seq;
          this.#revision = saved.revision;
          this.#savedTitle = title;
          this.#savedDoc = doc;
          this.saveError = null;
          this.#hooks.saved(saved);
          if (this.#inflight !== p) return true; // a later save is on its way
          if (this.dirty) {
            this.saveState = 'unsaved';
            this.#schedule();
          } else {
            this.saveState = 'saved';
          }
          return true;
        },
        (err: unknown) => {
          const e = ApiError.from(err);
          // A later save, sent without waiting for this one (saveBeforeLeaving), decides.
          if (seq < this.#appliedSeq || this.#inflight !== p) return false;
          if (e.code === 'conflict') {
            this.saveState = 'conflict';
          } else {
            this.saveState = 'error';
            this.saveError = describeError(e);
            alerts.push(`Could not save “${title.trim() || 'Untitled'}”`, e);
          }
          return false;
        },
      )
      .finally(() => {
        if (this.#inflight === p) this.#inflight = null;
      });
    this.#inflight = p;
    return p;
  }

  /** Save now and keep this text as a revision (reason 'manual'), whether or not it changed. */
  async saveRevision(): Promise<boolean> {
    this.#clearTimer();
    while (this.#inflight) await this.#inflight;
    if (this.saveState === 'conflict') return false;
    return this.#save(false, 'manual');
  }

  /**
   * Put a revision's text back (revisions.restore): the text as it is now is kept as a revision
   * first (reason 'restore'), so the restore can itself be restored. In the editor the restore is
   * one undo step, and the document keeps its own fill settings.
   */
  async restoreRevision(revisionId: number): Promise<boolean> {
    if (!(await this.flush())) {
      alerts.push('Could not restore the revision: the document is not saved yet');
      return false;
    }
    let doc: Document;
    try {
      doc = await this.#api.call('revisions.restore', { revisionId, baseRevision: this.#revision });
    } catch (err) {
      const e = ApiError.from(err);
      if (e.code === 'conflict') this.saveState = 'conflict';
      else alerts.push('Could not restore the revision', e);
      return false;
    }
    const loaded = loadDocument(doc.body).doc;
    const tr = closeHistory(this.editorState.tr).replaceWith(0, this.editorState.doc.content.size, loaded.content).scrollIntoView();
    this.#clearTimer();
    this.#revision = doc.revision;
    this.title = this.#savedTitle = doc.title;
    this.dispatch(tr);
    this.#closeNextHistory = true;
    // The store keeps no rich text for a restored revision: when the document has settings of its
    // own (or anything else Markdown cannot hold), the next save sends them again.
    this.#savedDoc = loaded;
    this.#edited();
    this.#hooks.saved(doc);
    return true;
  }

  /** Conflict: keep the text in this window, overwriting the version saved elsewhere. */
  async keepMine(): Promise<void> {
    while (this.#inflight) await this.#inflight;
    await this.#save(true);
  }

  /** Conflict: save this window's text as a new document, then show the saved version here. */
  async keepBoth(): Promise<void> {
    try {
      await this.#hooks.createCopy(`${this.title.trim() || 'Untitled'} (my version)`, this.body, richTextOf(this.editorState.doc));
    } catch (err) {
      alerts.push('Could not save your version as a new document', err);
      return;
    }
    try {
      const doc = await this.#api.call('documents.open', { id: this.id });
      const loaded = loadDocument(doc.body, doc.richText).doc;
      this.#revision = doc.revision;
      this.title = this.#savedTitle = doc.title;
      this.#savedDoc = loaded;
      this.surprise = null;
      this.editorState = createEditorState(loaded);
      this.#view?.updateState(this.editorState);
      this.saveState = 'saved';
      this.saveError = null;
    } catch (err) {
      alerts.push('Your version was saved as a new document, but the saved version could not be reloaded', err);
    }
  }

  // ---- Filling -------------------------------------------------------------------------------

  /** Route a core event to this document's running fill: step count and the live display. */
  handleEvent(event: ApiEvent): void {
    if (event.type === 'score.progress') {
      const s = this.surprise;
      if (s?.status === 'scoring' && s.requestId === event.requestId) {
        s.done = event.done;
        s.total = event.total;
      }
      return;
    }
    const f = this.fill;
    if (event.type !== 'fill.progress' || !f || event.requestId !== f.requestId) return;
    f.step = Math.max(f.step, event.step);
    f.steps = event.steps;
    if (event.unmasked?.length) {
      const meta: LiveFillMeta = { type: 'progress', requestId: f.requestId, unmasked: event.unmasked, ...(event.lengths ? { lengths: event.lengths } : {}) };
      this.dispatch(this.editorState.tr.setMeta(liveFillKey, meta));
    }
  }

  /**
   * Fill blanks with the local model: every empty blank ('all'), the blank at a position ('blank':
   * also a filled one, which is then regenerated), or a new blank at the cursor ('continue').
   */
  async runFill(scope: FillScope = { kind: 'all' }): Promise<void> {
    if (this.fill) return;
    let targets: number[];
    if (scope.kind === 'continue') {
      const tr = insertBlank(this.editorState, CONTINUE_TOKENS);
      if (!tr) {
        this.fillMessage = 'Put the cursor in the text to continue it.';
        return;
      }
      this.dispatch(tr);
      const cursor = this.editorState.selection.$from;
      targets = isBlank(cursor.nodeBefore) ? [cursor.pos - cursor.nodeBefore.nodeSize] : [];
    } else if (scope.kind === 'blank') {
      const b = blankAt(this.editorState.doc, scope.pos);
      targets = b && b.attrs.status !== 'filling' ? [b.pos] : [];
    } else {
      targets = findBlanks(this.editorState.doc)
        .filter((b) => b.attrs.status === 'idle')
        .map((b) => b.pos);
    }
    if (!targets.length) {
      this.fillMessage = this.blankCount.filled
        ? 'There are no empty blanks to fill. Accept, reject or regenerate the filled ones.'
        : 'There are no blanks to fill. Insert one first.';
      return;
    }

    const start = this.editorState.doc;
    const text = fillText(start, targets);
    const requestId = newRequestId();
    const before = targets.map((pos) => blankAttrs(start.nodeAt(pos)!));
    // Not an undo step: the blanks show that they are being filled, and the live display starts.
    const begin = this.editorState.tr.setMeta(liveFillKey, { type: 'start', requestId, targets } satisfies LiveFillMeta).setMeta('addToHistory', false);
    targets.forEach((pos, i) => begin.setNodeMarkup(pos, undefined, { ...before[i], status: 'filling' }));
    this.dispatch(begin);
    const body = this.body;
    const count = targets.length;
    this.fillMessage = `Filling ${plural(count, 'blank')}…`;
    this.fillNotice = null;
    this.fill = { requestId, blanks: count, step: 0, steps: 0, cancelling: false };

    /** Where the fill's blanks are now (null: deleted meanwhile), in the order of the request. */
    const current = (): (number | null)[] => {
      const live = liveFill(this.editorState);
      return live?.requestId === requestId ? live.targets : targets.map(() => null);
    };
    /** The blanks back to how they were before the fill (not an undo step). */
    const settle = (): void => {
      const tr = this.editorState.tr.setMeta('addToHistory', false);
      current().forEach((pos, i) => {
        const node = pos === null ? null : tr.doc.nodeAt(pos);
        if (pos !== null && isBlank(node) && blankAttrs(node).status === 'filling') {
          tr.setNodeMarkup(pos, undefined, { ...blankAttrs(node), status: before[i]!.status });
        }
      });
      if (tr.docChanged) this.dispatch(tr);
    };

    try {
      const { options, skippedModel } = fillOptions(this.settings, models.list);
      const result = await this.#api.call('fill.run', { requestId, text, documentId: this.id, ...options });
      // Said when the writer asked for a device (not 'auto', which passes over absent GPUs every time).
      const passedOver = options.device !== 'auto' && options.device !== result.device && result.deviceNotes?.length;
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
      await this.#snapshotBeforeFill();
      // Each blank's fill lands on that blank, wherever edits elsewhere have moved it; a blank that
      // was deleted or changed meanwhile (its length) gets nothing: its fill is offered instead.
      const positions = current().map((pos, i) => {
        const node = pos === null ? null : this.editorState.doc.nodeAt(pos);
        return isBlank(node) && blankAttrs(node).status === 'filling' && blankAttrs(node).tokens === before[i]!.tokens ? pos : null;
      });
      settle();
      const lost = positions.flatMap((pos, i) => (pos === null ? [i] : []));
      // The selection goes to the filled blank only when the writer has not typed meanwhile.
      const filled = lost.length < positions.length ? this.#applyFill(positions, alternatives, result.generationId ?? null, this.body === body) : 0;
      if (!lost.length) {
        this.fillMessage = `Filled ${plural(filled, 'blank')}.`;
      } else {
        this.fillNotice = this.#filledVersion(start, targets, lost, alternatives, result.generationId ?? null);
        this.fillMessage = filled
          ? `Filled ${plural(filled, 'blank')}; ${plural(lost.length, 'other blank')} changed meanwhile: ${lost.length === 1 ? 'its fill is' : 'their fills are'} offered below.`
          : 'Fill not applied: the blank changed meanwhile.';
      }
    } catch (err) {
      settle();
      const e = ApiError.from(err);
      if (e.code === 'cancelled') {
        this.fillMessage = 'Fill cancelled.';
      } else {
        this.fillMessage = 'Fill failed.';
        alerts.push('Could not fill the blanks', e);
      }
    } finally {
      this.fill = null;
      this.dispatch(this.editorState.tr.setMeta(liveFillKey, { type: 'end', requestId } satisfies LiveFillMeta));
    }
    await this.flush();
  }

  /**
   * The fill's alternatives into its blanks (one undo step); the first of them is selected (the one
   * the model finds most natural, when it ranked them: they then come best first). With `select`,
   * the first of the blanks is selected (its review panel shows); without, the writer's selection
   * stays where it is (they went on typing elsewhere).
   */
  #applyFill(positions: readonly (number | null)[], alternatives: readonly FillAlternative[], generationId: number | null, select: boolean): number {
    const tr = closeHistory(this.editorState.tr);
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
    this.#run(tr, true);
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

  /** Save the text as it is before a fill lands, as a revision the writer can restore. */
  async #snapshotBeforeFill(): Promise<void> {
    this.#clearTimer();
    while (this.#inflight) await this.#inflight;
    if (this.saveState === 'conflict') return;
    await this.#save(false, 'before-fill');
  }

  // ---- The surprise view ---------------------------------------------------------------------

  /** Show the surprise view (score.run on the text), or take it away. */
  async toggleSurprise(): Promise<void> {
    const current = this.surprise;
    if (current?.status === 'scoring') return this.cancelSurprise();
    if (current?.status === 'shown') {
      this.#clearSurprise();
      this.surpriseMessage = '';
      return;
    }
    const doc = this.editorState.doc;
    const map = scoringText(doc);
    if (!map.text.trim()) {
      this.surpriseMessage = 'There is no text to score yet.';
      return;
    }
    const requestId = newRequestId();
    this.surprise = { status: 'scoring', requestId, cancelling: false };
    this.surpriseMessage = 'Scoring the text…';
    const s = this.settings;
    const { options } = fillOptions(s, models.list);
    try {
      const result = await this.#api.call('score.run', {
        requestId,
        text: map.text,
        device: s.device,
        ...(options.model !== undefined ? { model: options.model } : {}),
        ...(s.seed !== null ? { seed: s.seed } : {}),
      });
      if (this.surprise?.status !== 'scoring' || this.surprise.requestId !== requestId) return;
      if (this.editorState.doc.content !== doc.content) {
        this.surprise = null;
        this.surpriseMessage = 'The text changed while it was being scored; nothing is shown.';
        return;
      }
      await models.load();
      const thresholds = surpriseThresholds(models.byId(result.model)?.vocabSize ?? null);
      const decorations = surpriseDecorations(this.editorState.doc, map, result.perToken, thresholds);
      this.surprise = {
        status: 'shown',
        result: { model: result.model, tokens: result.tokens, draws: result.draws, nll: result.nll, nllStdErr: result.nllStdErr, perplexityBound: result.perplexityBound },
        thresholds,
      };
      this.surpriseMessage = `Scored ${plural(result.tokens, 'token')}.`;
      this.dispatch(this.editorState.tr.setMeta(surpriseKey, { type: 'show', decorations } satisfies SurpriseMeta));
    } catch (err) {
      // Not this request's any more (the text changed, and the scoring was cancelled for it).
      if (this.surprise?.status !== 'scoring' || this.surprise.requestId !== requestId) return;
      this.surprise = null;
      const e = ApiError.from(err);
      if (e.code === 'cancelled') {
        this.surpriseMessage = 'Scoring cancelled.';
      } else {
        this.surpriseMessage = 'Scoring failed.';
        alerts.push('Could not score the text', e);
      }
    }
  }

  async cancelSurprise(): Promise<void> {
    const s = this.surprise;
    if (s?.status !== 'scoring' || s.cancelling) return;
    s.cancelling = true;
    try {
      await this.#api.call('fill.cancel', { requestId: s.requestId });
    } catch (err) {
      if (this.surprise?.status === 'scoring') this.surprise.cancelling = false;
      alerts.push('Could not cancel the scoring', err);
    }
  }

  #clearSurprise(): void {
    this.surprise = null;
    if (surpriseKey.getState(this.editorState)) this.dispatch(this.editorState.tr.setMeta(surpriseKey, { type: 'clear' } satisfies SurpriseMeta));
  }

  /** The text changed: the scores no longer apply (the plugin drops its decorations by itself). */
  #textChangedUnderSurprise(): void {
    const s = this.surprise;
    this.surprise = null;
    if (s?.status === 'scoring') {
      this.surpriseMessage = 'Scoring stopped: the text changed.';
      this.#api.call('fill.cancel', { requestId: s.requestId }).catch((err: unknown) => console.warn('Lacuna: could not cancel the scoring', err));
    } else {
      this.surpriseMessage = 'The surprise view was cleared: the text changed.';
    }
  }

  async cancelFill(): Promise<void> {
    const f = this.fill;
    if (!f || f.cancelling) return;
    f.cancelling = true;
    try {
      await this.#api.call('fill.cancel', { requestId: f.requestId });
    } catch (err) {
      if (this.fill) this.fill.cancelling = false;
      alerts.push('Could not cancel the fill', err);
    }
  }

  /** The fill notice: keep the filled version as a new document. */
  async saveNoticeAsCopy(): Promise<void> {
    const notice = this.fillNotice;
    if (!notice) return;
    try {
      await this.#hooks.createCopy(`${this.title.trim() || 'Untitled'} (filled)`, notice.text, notice.richText);
      this.fillNotice = null;
    } catch (err) {
      alerts.push('Could not save the filled version as a new document', err);
    }
  }
}

/** A device as the writer reads it ("NVIDIA GPU (CUDA)"), its id when it has no label. */
function deviceLabel(id: string | undefined): string {
  return id === undefined ? 'the default device' : ((DEVICE_LABELS as Record<string, string>)[id] ?? id);
}
