/**
 * One open document: its editable title and body, autosave, and filling its blanks.
 *
 * Saving is debounced (SAVE_DELAY_MS after the last edit, but no later than SAVE_MAX_WAIT_MS after
 * the first unsaved one, so that continuous typing is saved too and a crash loses under a second),
 * serialised (one save in flight; edits made meanwhile are saved right after) and optimistic (each
 * save names the revision it was based on, so a change made elsewhere is reported as a conflict
 * instead of being overwritten).
 *
 * A fill works on a snapshot of the body. Its result replaces the body only if the writer has not
 * edited the body since the fill started; otherwise their text stays and the filled version is
 * offered as a notice. Text is never dropped.
 */
import { ApiError, type ApiClient, type ApiEvent, type Document } from '../../../src-main/common/api';
import { BlankSyntaxError, countBlanks } from '../../../src-main/common/blanks';
import { alerts, describeError } from './alerts.svelte';

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

export interface SessionHooks {
  /** A save went through (update the document list). */
  saved(doc: Document): void;
  /** Create a new document holding this text (used so that text is never thrown away). */
  createCopy(title: string, body: string): Promise<void>;
}

function newRequestId(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

export class DocSession {
  readonly id: string;
  title = $state('');
  body = $state('');
  saveState = $state<SaveState>('saved');
  /** Why the last save failed (saveState 'error'). */
  saveError = $state<string | null>(null);
  fill = $state<FillState | null>(null);
  /** Outcome of the last fill, for the status line ("Filled 2 blanks."). */
  fillMessage = $state('');
  /** A fill that finished after the writer had edited the body: offered, not applied. */
  fillNotice = $state<{ text: string } | null>(null);
  /** Set by the editor view: replaces the body in an undoable way. Returns false if it could not. */
  replaceBodyInView: ((text: string) => boolean) | null = null;

  #savedTitle = $state('');
  #savedBody = $state('');
  #revision: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the oldest edit not yet sent in a save was made (Date.now()); undefined when none. */
  #unsavedSince: number | undefined;
  #inflight: Promise<boolean> | null = null;
  readonly #api: ApiClient;
  readonly #hooks: SessionHooks;

  constructor(doc: Document, api: ApiClient, hooks: SessionHooks) {
    this.id = doc.id;
    this.title = this.#savedTitle = doc.title;
    this.body = this.#savedBody = doc.body;
    this.#revision = doc.revision;
    this.#api = api;
    this.#hooks = hooks;
  }

  get dirty(): boolean {
    return this.title !== this.#savedTitle || this.body !== this.#savedBody;
  }

  /** Number of blanks in the body, or the syntax error that prevents counting them. */
  get blankCount(): { count: number; error: string | null } {
    try {
      return { count: countBlanks(this.body), error: null };
    } catch (err) {
      if (err instanceof BlankSyntaxError) return { count: 0, error: err.message };
      throw err;
    }
  }

  setTitle(title: string): void {
    this.title = title;
    this.#edited();
  }

  setBody(body: string): void {
    this.body = body;
    this.#edited();
  }

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

  #save(force: boolean, snapshot?: 'before-fill'): Promise<boolean> {
    const title = this.title;
    const body = this.body;
    this.#unsavedSince = undefined; // this save takes every edit made so far
    this.saveState = 'saving';
    const base = force ? { id: this.id, title, body } : { id: this.id, title, body, baseRevision: this.#revision };
    const params = snapshot ? { ...base, snapshot } : base;
    const p = this.#api
      .call('documents.save', params)
      .then(
        (doc) => {
          this.#revision = doc.revision;
          this.#savedTitle = title;
          this.#savedBody = body;
          this.saveError = null;
          this.#hooks.saved(doc);
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
        this.#inflight = null;
      });
    this.#inflight = p;
    return p;
  }

  /** Conflict: keep the text in this window, overwriting the version saved elsewhere. */
  async keepMine(): Promise<void> {
    while (this.#inflight) await this.#inflight;
    await this.#save(true);
  }

  /** Conflict: save this window's text as a new document, then show the saved version here. */
  async keepBoth(): Promise<void> {
    try {
      await this.#hooks.createCopy(`${this.title.trim() || 'Untitled'} (my version)`, this.body);
    } catch (err) {
      alerts.push('Could not save your version as a new document', err);
      return;
    }
    try {
      const doc = await this.#api.call('documents.open', { id: this.id });
      this.#revision = doc.revision;
      this.title = this.#savedTitle = doc.title;
      this.body = this.#savedBody = doc.body;
      this.saveState = 'saved';
      this.saveError = null;
    } catch (err) {
      alerts.push('Your version was saved as a new document, but the saved version could not be reloaded', err);
    }
  }

  /** Route a core event to this document's running fill. */
  handleEvent(event: ApiEvent): void {
    const f = this.fill;
    if (event.type === 'fill.progress' && f && event.requestId === f.requestId) {
      f.step = Math.max(f.step, event.step);
      f.steps = event.steps;
    }
  }

  /** Fill every blank in the body with the local model, then save. */
  async runFill(): Promise<void> {
    if (this.fill) return;
    const { count, error } = this.blankCount;
    if (error) {
      alerts.push('Cannot fill: the text has a malformed blank', new ApiError('bad_request', error));
      return;
    }
    if (count === 0) {
      this.fillMessage = 'There are no blanks to fill. Insert one first.';
      return;
    }
    const requestId = newRequestId();
    const before = this.body;
    this.fillMessage = `Filling ${plural(count, 'blank')}…`;
    this.fillNotice = null;
    this.fill = { requestId, blanks: count, step: 0, steps: 0, cancelling: false };
    try {
      const result = await this.#api.call('fill.run', { requestId, text: before, documentId: this.id });
      if (this.body === before) await this.#snapshotBeforeFill();
      if (this.body === before) {
        if (!this.replaceBodyInView?.(result.text)) this.setBody(result.text);
        if (result.generationId !== undefined) this.#markAccepted(result.generationId);
        this.fillMessage = `Filled ${plural(count, 'blank')}.`;
      } else {
        this.fillNotice = { text: result.text };
        this.fillMessage = 'Fill not applied: the text changed meanwhile.';
      }
    } catch (err) {
      const e = ApiError.from(err);
      if (e.code === 'cancelled') {
        this.fillMessage = 'Fill cancelled.';
      } else {
        this.fillMessage = 'Fill failed.';
        alerts.push('Could not fill the blanks', e);
      }
    } finally {
      this.fill = null;
    }
    await this.flush();
  }

  /** Record in the generation's provenance that the writer kept it (the first alternative, which the editor applies). */
  #markAccepted(generationId: number): void {
    this.#api.call('generations.accept', { generationId, alternative: 0 }).catch((err: unknown) => {
      alerts.push('Could not record which fill was kept', ApiError.from(err));
    });
  }

  /** Save the text as it is before a fill replaces its blanks, as a revision the writer can restore. */
  async #snapshotBeforeFill(): Promise<void> {
    this.#clearTimer();
    while (this.#inflight) await this.#inflight;
    if (this.saveState === 'conflict') return;
    await this.#save(false, 'before-fill');
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
      await this.#hooks.createCopy(`${this.title.trim() || 'Untitled'} (filled)`, notice.text);
      this.fillNotice = null;
    } catch (err) {
      alerts.push('Could not save the filled version as a new document', err);
    }
  }
}
