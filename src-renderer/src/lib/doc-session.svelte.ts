/**
 * One open document: its title and its editor state (ProseMirror: text, blanks, undo history, live
 * fill), and the parts that work on them: saving (session/autosave.svelte.ts), filling the blanks
 * and reviewing the fills (session/fills.svelte.ts), the surprise view (session/surprise-view.svelte.ts)
 * and revisions (session/revisions.ts). The views use this class only; it hands each request to its part.
 *
 * The session owns the editor state, not the view: a document keeps its undo history and a fill
 * keeps running (and lands) while another document is on screen. The editor view, when mounted,
 * shows the session's state and sends its transactions back through dispatch().
 */
import { closeHistory, isHistoryTransaction } from 'prosemirror-history';
import type { Node as ProseNode } from 'prosemirror-model';
import type { EditorState, Transaction } from 'prosemirror-state';
import type { EditorView } from 'prosemirror-view';
import type { ApiClient, ApiEvent, Document } from '../../../src-main/common/api';
import type { FillSettings } from './fill-settings';
import { prefs } from './prefs.svelte';
import { cycleAlternative, findBlanks, insertBlank, setBlankLength } from './editor/blank-ops';
import { serializeMarkdown } from './editor/markdown';
import type { BlankLength } from './editor/schema';
import { createEditorState, documentSettings, loadDocument } from './editor/setup';
import { Autosave, type SaveState } from './session/autosave.svelte';
import type { SessionCore, SessionHooks } from './session/core';
import { Fills, type FillNotice, type FillScope, type FillState } from './session/fills.svelte';
import { Revisions } from './session/revisions';
import { SurpriseView, type SurpriseState } from './session/surprise-view.svelte';

export { plural } from './text';
export { SAVE_DELAY_MS, SAVE_MAX_WAIT_MS, type SaveState } from './session/autosave.svelte';
export type { SessionHooks } from './session/core';
export type { FillNotice, FillScope, FillState } from './session/fills.svelte';
export type { SurpriseState } from './session/surprise-view.svelte';

export class DocSession implements SessionCore {
  readonly id: string;
  title = $state('');
  /** The editor state: the document, its selection, undo history and live fill. */
  editorState: EditorState = $state.raw() as unknown as EditorState;

  readonly autosave: Autosave;
  readonly fills: Fills;
  readonly surpriseView: SurpriseView;
  readonly revisions: Revisions;

  #view: EditorView | null = null;
  /** The next edit starts a new undo step (after an accept, reject or a fill landing). */
  #closeNextHistory = false;
  #bodyCache: { doc: ProseNode; body: string } | null = null;

  constructor(doc: Document, api: ApiClient, hooks: SessionHooks) {
    this.id = doc.id;
    this.title = doc.title;
    const loaded = loadDocument(doc.body, doc.richText).doc;
    this.editorState = createEditorState(loaded);
    this.autosave = new Autosave(this, doc, loaded, api, hooks);
    this.fills = new Fills(this, this.autosave, api, hooks);
    this.surpriseView = new SurpriseView(this, api);
    this.revisions = new Revisions(this, this.autosave, api);
  }

  /** The text form of the document: Markdown with the blank syntax. */
  get body(): string {
    const doc = this.editorState.doc;
    if (this.#bodyCache?.doc !== doc) this.#bodyCache = { doc, body: serializeMarkdown(doc) };
    return this.#bodyCache.body;
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

  /**
   * The editor state with what the writer just did in the page read in first: a caret moved by a
   * key the browser handles itself (End, Home, arrows) reaches ProseMirror only on the next
   * selectionchange, and a transaction made here before that (a fill's progress arriving in
   * between) would redraw the old caret over the new one. Build every transaction that does not
   * come from the view on this.
   */
  freshState(): EditorState {
    (this.#view as unknown as { domObserver?: { flush(): void } } | null)?.domObserver?.flush();
    return this.editorState;
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
      if (isHistoryTransaction(tr) && !this.fills.running) this.fills.message = '';
      if (this.surpriseView.state && next.doc.content !== before.doc.content) this.surpriseView.textChanged();
      this.autosave.edited();
    }
  };

  edit(tr: Transaction | null, separateUndo = false): boolean {
    if (!tr) return false;
    this.dispatch(tr);
    if (separateUndo) this.#closeNextHistory = true;
    return true;
  }

  reload(title: string, doc: ProseNode): void {
    this.title = title;
    this.surpriseView.state = null;
    this.editorState = createEditorState(doc);
    this.#view?.updateState(this.editorState);
  }

  /** A core event for this document: a fill's or a scoring's progress. */
  handleEvent(event: ApiEvent): void {
    if (event.type === 'score.progress') this.surpriseView.progress(event);
    else if (event.type === 'fill.progress') this.fills.progress(event);
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
    this.autosave.edited();
  }

  insertBlank(tokens?: number): boolean {
    return this.edit(insertBlank(this.editorState, tokens));
  }

  /** A new length for the blank at `pos`: its own undo step. */
  setBlankLength(pos: number, tokens: BlankLength): boolean {
    const tr = setBlankLength(this.editorState, pos, tokens);
    return this.edit(tr && closeHistory(tr), true);
  }

  cycleAlternative(pos: number, delta: number): boolean {
    return this.edit(cycleAlternative(this.editorState, pos, delta));
  }

  // ---- The parts, as the views use them ------------------------------------------------------

  get saveState(): SaveState {
    return this.autosave.state;
  }
  /** Why the last save failed (saveState 'error'). */
  get saveError(): string | null {
    return this.autosave.error;
  }
  get dirty(): boolean {
    return this.autosave.dirty;
  }
  flush(): Promise<boolean> {
    return this.autosave.flush();
  }
  saveBeforeLeaving(): void {
    this.autosave.saveBeforeLeaving();
  }
  keepMine(): Promise<void> {
    return this.autosave.keepMine();
  }
  keepBoth(): Promise<void> {
    return this.autosave.keepBoth();
  }

  saveRevision(): Promise<boolean> {
    return this.revisions.save();
  }
  restoreRevision(revisionId: number): Promise<boolean> {
    return this.revisions.restore(revisionId);
  }

  get fill(): FillState | null {
    return this.fills.running;
  }
  /** Outcome of the last fill, for the status line ("Filled 2 blanks."). */
  get fillMessage(): string {
    return this.fills.message;
  }
  set fillMessage(message: string) {
    this.fills.message = message;
  }
  /** A fill whose blank was deleted or changed while it ran: offered, not applied. */
  get fillNotice(): FillNotice | null {
    return this.fills.notice;
  }
  set fillNotice(notice: FillNotice | null) {
    this.fills.notice = notice;
  }
  get deviceNote(): string | null {
    return this.fills.deviceNote;
  }
  set deviceNote(note: string | null) {
    this.fills.deviceNote = note;
  }
  get deviceDetails(): string | null {
    return this.fills.deviceDetails;
  }
  set deviceDetails(details: string | null) {
    this.fills.deviceDetails = details;
  }
  runFill(scope?: FillScope): Promise<void> {
    return this.fills.run(scope);
  }
  cancelFill(): Promise<void> {
    return this.fills.cancel();
  }
  saveNoticeAsCopy(): Promise<void> {
    return this.fills.saveNoticeAsCopy();
  }
  accept(pos: number): boolean {
    return this.fills.accept(pos);
  }
  acceptAll(): boolean {
    return this.fills.acceptAll();
  }
  reject(pos: number): boolean {
    return this.fills.reject(pos);
  }

  get surprise(): SurpriseState | null {
    return this.surpriseView.state;
  }
  /** Outcome of the last surprise view request, for its status line. */
  get surpriseMessage(): string {
    return this.surpriseView.message;
  }
  toggleSurprise(): Promise<void> {
    return this.surpriseView.toggle();
  }
  cancelSurprise(): Promise<void> {
    return this.surpriseView.cancel();
  }
}
