/**
 * A document's revisions, from the editor's side: keeping the text as a revision on request, and
 * putting a revision's text back (revisions.restore). The list and the diff are RevisionsPanel's.
 */
import { closeHistory } from 'prosemirror-history';
import { ApiError, type ApiClient, type Document } from '../../../../src-main/common/api';
import { alerts } from '../alerts.svelte';
import { loadDocument } from '../editor/setup';
import type { Autosave } from './autosave.svelte';
import type { SessionCore } from './core';

export class Revisions {
  readonly #session: SessionCore;
  readonly #autosave: Autosave;
  readonly #api: ApiClient;

  constructor(session: SessionCore, autosave: Autosave, api: ApiClient) {
    this.#session = session;
    this.#autosave = autosave;
    this.#api = api;
  }

  /** Save now and keep this text as a revision (reason 'manual'), whether or not it changed. */
  save(): Promise<boolean> {
    return this.#autosave.saveSnapshot('manual');
  }

  /**
   * Put a revision's text back (revisions.restore): the text as it is now is kept as a revision
   * first (reason 'restore'), so the restore can itself be restored. In the editor the restore is
   * one undo step, and the document keeps its own fill settings.
   */
  async restore(revisionId: number): Promise<boolean> {
    const autosave = this.#autosave;
    if (!(await autosave.flush())) {
      alerts.push('Could not restore the revision: the document is not saved yet');
      return false;
    }
    let doc: Document;
    try {
      doc = await this.#api.call('revisions.restore', { revisionId, baseRevision: autosave.revision });
    } catch (err) {
      const e = ApiError.from(err);
      if (e.code === 'conflict') autosave.state = 'conflict';
      else alerts.push('Could not restore the revision', e);
      return false;
    }
    const s = this.#session;
    const loaded = loadDocument(doc.body).doc;
    const tr = closeHistory(s.editorState.tr).replaceWith(0, s.editorState.doc.content.size, loaded.content).scrollIntoView();
    // The store keeps no rich text for a restored revision: when the document has settings of its
    // own (or anything else Markdown cannot hold), the next save sends them again.
    autosave.adopt(doc, loaded, () => {
      s.title = doc.title;
      s.edit(tr, true);
    });
    return true;
  }
}
