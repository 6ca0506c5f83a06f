/**
 * What the parts of a document session (autosave.svelte.ts, fills.svelte.ts, surprise-view.svelte.ts,
 * revisions.ts) share: the open document and the one way to change its editor state. DocSession
 * (doc-session.svelte.ts) is the core, and composes the parts.
 */
import type { Node as ProseNode } from 'prosemirror-model';
import type { EditorState, Transaction } from 'prosemirror-state';
import { MAX_RICH_TEXT_CHARS, type Document } from '../../../../src-main/common/api';
import type { FillSettings } from '../fill-settings';
import { richTextJSON } from '../editor/setup';

export interface SessionHooks {
  /** A save went through (update the document list). */
  saved(doc: Document): void;
  /** Create a new document holding this text (used so that text is never thrown away). */
  createCopy(title: string, body: string, richText?: string): Promise<void>;
}

export interface SessionCore {
  readonly id: string;
  title: string;
  /** The editor state: the document, its selection, undo history and live fill. */
  readonly editorState: EditorState;
  /** The text form of the document: Markdown with the blank syntax. */
  readonly body: string;
  /** The fill settings in force for this document. */
  readonly settings: FillSettings;
  readonly blankCount: { count: number; empty: number; filled: number };
  /** The editor state with the page's latest caret read in: build transactions not made by the view on it. */
  freshState(): EditorState;
  /** Apply a transaction to the editor state. */
  dispatch(tr: Transaction): void;
  /** Apply a transaction, if any (returns whether there was one); with separateUndo, the next edit starts a new undo step. */
  edit(tr: Transaction | null, separateUndo?: boolean): boolean;
  /** Show `doc` with this title in a fresh editor state (no undo history), and no surprise view. */
  reload(title: string, doc: ProseNode): void;
}

export function newRequestId(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The rich text of a document, or undefined when it is too large to send (the text form still is). */
export function richTextOf(doc: ProseNode): string | undefined {
  const json = richTextJSON(doc);
  return json.length <= MAX_RICH_TEXT_CHARS ? json : undefined;
}
