/**
 * Every action the writer can take, with its shortcut, for the command palette (Ctrl/Cmd+K). The
 * app registers its own (library, dialogs); the editor registers the ones that act on the open
 * document while it is mounted. The keys themselves are handled where the action lives (App,
 * editor-shortcuts.ts); this is the list.
 */
import { SvelteMap } from 'svelte/reactivity';
import type { Shortcut } from './keys';

export interface Action {
  id: string;
  label: string;
  /** Heading in the palette. */
  group: string;
  key: Shortcut;
  run: () => void;
  /** Whether it can run now (listed either way). */
  enabled?: () => boolean;
}

class Actions {
  #scopes = new SvelteMap<string, readonly Action[]>();

  /** Add a scope's actions (replacing any it had); returns the function that removes them. */
  register(scope: string, list: readonly Action[]): () => void {
    this.#scopes.set(scope, list);
    return () => {
      if (this.#scopes.get(scope) === list) this.#scopes.delete(scope);
    };
  }

  get all(): Action[] {
    return [...this.#scopes.values()].flat();
  }
}

export const actions = new Actions();

/** Whether `text` matches a palette filter: every word of the filter occurs in it (any case). */
export function matchesFilter(text: string, filter: string): boolean {
  const hay = text.toLowerCase();
  return filter
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .every((word) => hay.includes(word));
}
