/**
 * Saving a document as the writer types. Saving is debounced (SAVE_DELAY_MS after the last edit, but
 * no later than SAVE_MAX_WAIT_MS after the first unsaved one, so that continuous typing is saved too
 * and a crash loses under a second), serialised (one save in flight; edits made meanwhile are saved
 * right after) and optimistic (each save names the revision it was based on, so a change made
 * elsewhere is reported as a conflict instead of being overwritten). A save sends the text form
 * (Markdown with the blank syntax, the text of record) and the rich text (the document as JSON:
 * formatting, alternatives).
 */
import type { Node as ProseNode } from 'prosemirror-model';
import { ApiError, type ApiClient, type Document } from '../../../../src-main/common/api';
import { alerts, describeError } from '../alerts.svelte';
import { loadDocument } from '../editor/setup';
import { richTextOf, type SessionCore, type SessionHooks } from './core';

export const SAVE_DELAY_MS = 500;
/** The longest an edit waits for its save to start, however long the typing goes on. */
export const SAVE_MAX_WAIT_MS = 700;

export type SaveState = 'saved' | 'unsaved' | 'saving' | 'error' | 'conflict';

export class Autosave {
  state = $state<SaveState>('saved');
  /** Why the last save failed (state 'error'). */
  error = $state<string | null>(null);

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
  readonly #session: SessionCore;
  readonly #api: ApiClient;
  readonly #hooks: SessionHooks;

  /** `saved`: the document as the store holds it, its text loaded as `loaded`. */
  constructor(session: SessionCore, saved: Document, loaded: ProseNode, api: ApiClient, hooks: SessionHooks) {
    this.#session = session;
    this.#savedTitle = saved.title;
    this.#savedDoc = loaded;
    this.#revision = saved.revision;
    this.#api = api;
    this.#hooks = hooks;
  }

  /** The revision of the document this session's text is based on. */
  get revision(): number {
    return this.#revision;
  }

  get dirty(): boolean {
    return this.#session.title !== this.#savedTitle || !this.#session.editorState.doc.eq(this.#savedDoc);
  }

  /** The title or the text changed: save it soon. */
  edited(): void {
    if (this.state === 'conflict') return; // paused until the writer resolves it
    if (!this.dirty) {
      this.#clearTimer();
      this.#unsavedSince = undefined;
      if (!this.#inflight) this.state = 'saved';
      return;
    }
    this.#unsavedSince ??= Date.now();
    if (this.state !== 'saving') this.state = 'unsaved';
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
    if (this.state === 'conflict') return false;
    if (!this.dirty) {
      this.state = 'saved';
      return true;
    }
    return this.#save(false);
  }

  /**
   * Save now and keep this text as a revision, whether or not it changed: 'manual' (the writer asked)
   * or 'before-fill' (the text as it is before a fill lands).
   */
  async saveSnapshot(snapshot: 'before-fill' | 'manual'): Promise<boolean> {
    this.#clearTimer();
    while (this.#inflight) await this.#inflight;
    if (this.state === 'conflict') return false;
    return this.#save(false, snapshot);
  }

  /**
   * The page is going away (reload, close, hidden): send the unsaved text at once, in a request that
   * outlives the page (web mode: fetch keepalive), without waiting for a save in flight; that one's
   * text is older, so this one overwrites it rather than conflicting with it.
   */
  saveBeforeLeaving(): void {
    if (this.state === 'conflict' || !this.dirty) return;
    const doc = this.#session.editorState.doc;
    const title = this.#session.title;
    if (this.#leftWith?.doc === doc && this.#leftWith.title === title) return;
    // Even when a save of this very text is in flight: it may go from a worker, which dies with the page.
    this.#clearTimer();
    this.#leftWith = { doc, title };
    void this.#save(this.#inflight !== null, undefined, true).then((ok) => {
      if (!ok && this.#leftWith?.doc === doc) this.#leftWith = null;
    });
  }

  #save(force: boolean, snapshot?: 'before-fill' | 'manual', keepalive = false): Promise<boolean> {
    const title = this.#session.title;
    const doc = this.#session.editorState.doc;
    const body = this.#session.body;
    const richText = richTextOf(doc);
    const seq = ++this.#saveSeq;
    this.#unsavedSince = undefined; // this save takes every edit made so far
    this.state = 'saving';
    const p: Promise<boolean> = this.#api
      .call(
        'documents.save',
        {
          id: this.#session.id,
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
          this.error = null;
          this.#hooks.saved(saved);
          if (this.#inflight !== p) return true; // a later save is on its way
          if (this.dirty) {
            this.state = 'unsaved';
            this.#schedule();
          } else {
            this.state = 'saved';
          }
          return true;
        },
        (err: unknown) => {
          const e = ApiError.from(err);
          // A later save, sent without waiting for this one (saveBeforeLeaving), decides.
          if (seq < this.#appliedSeq || this.#inflight !== p) return false;
          if (e.code === 'conflict') {
            this.state = 'conflict';
          } else {
            this.state = 'error';
            this.error = describeError(e);
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

  /**
   * The store now holds `saved` (a revision put back), whose text is `loaded`; `show` puts it in the
   * editor. Whatever differs from it (what Markdown cannot hold) is saved again.
   */
  adopt(saved: Document, loaded: ProseNode, show: () => void): void {
    this.#clearTimer();
    this.#revision = saved.revision;
    this.#savedTitle = saved.title;
    show();
    this.#savedDoc = loaded;
    this.edited();
    this.#hooks.saved(saved);
  }

  /** Conflict: keep the text in this window, overwriting the version saved elsewhere. */
  async keepMine(): Promise<void> {
    while (this.#inflight) await this.#inflight;
    await this.#save(true);
  }

  /** Conflict: save this window's text as a new document, then show the saved version here. */
  async keepBoth(): Promise<void> {
    const s = this.#session;
    try {
      await this.#hooks.createCopy(`${s.title.trim() || 'Untitled'} (my version)`, s.body, richTextOf(s.editorState.doc));
    } catch (err) {
      alerts.push('Could not save your version as a new document', err);
      return;
    }
    try {
      const doc = await this.#api.call('documents.open', { id: s.id });
      const loaded = loadDocument(doc.body, doc.richText).doc;
      this.#revision = doc.revision;
      this.#savedTitle = doc.title;
      this.#savedDoc = loaded;
      s.reload(doc.title, loaded);
      this.state = 'saved';
      this.error = null;
    } catch (err) {
      alerts.push('Your version was saved as a new document, but the saved version could not be reloaded', err);
    }
  }
}
