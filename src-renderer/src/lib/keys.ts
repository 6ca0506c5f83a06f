/** Keyboard shortcuts, spelled for the platform (Cmd on macOS, Ctrl elsewhere). */

export const isMac = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);

/** Ctrl on Windows/Linux, Cmd on macOS. */
export function hasMod(e: KeyboardEvent): boolean {
  return isMac ? e.metaKey && !e.ctrlKey : e.ctrlKey && !e.metaKey;
}

const modAria = isMac ? 'Meta' : 'Control';
const modLabel = isMac ? '⌘' : 'Ctrl+';
const shiftLabel = isMac ? '⇧' : 'Shift+';
const enterLabel = isMac ? '↩' : 'Enter';

export interface Shortcut {
  /** For aria-keyshortcuts. */
  aria: string;
  /** For titles and hints. */
  label: string;
  matches(e: KeyboardEvent): boolean;
}

/** Insert a blank: Ctrl/Cmd+Shift+B (Ctrl/Cmd+B stays free for bold in the rich editor). */
export const INSERT_BLANK: Shortcut = {
  aria: `${modAria}+Shift+B`,
  label: `${modLabel}${shiftLabel}B`,
  matches: (e) => hasMod(e) && e.shiftKey && !e.altKey && e.code === 'KeyB',
};

/** Fill blanks: Ctrl/Cmd+Enter. */
export const FILL: Shortcut = {
  aria: `${modAria}+Enter`,
  label: `${modLabel}${enterLabel}`,
  matches: (e) => hasMod(e) && !e.shiftKey && !e.altKey && e.key === 'Enter',
};

/** Cancel a running fill: Escape. */
export const CANCEL: Shortcut = {
  aria: 'Escape',
  label: 'Esc',
  matches: (e) => e.key === 'Escape' && !e.ctrlKey && !e.metaKey && !e.altKey && !e.shiftKey,
};

/** Save now: Ctrl/Cmd+S (saving is automatic; this only skips the wait, and keeps the browser's "Save page" away). */
export const SAVE: Shortcut = {
  aria: `${modAria}+S`,
  label: `${modLabel}S`,
  matches: (e) => hasMod(e) && !e.shiftKey && !e.altKey && e.code === 'KeyS',
};
