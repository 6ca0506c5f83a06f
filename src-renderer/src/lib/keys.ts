/** Keyboard shortcuts, spelled for the platform (Cmd on macOS, Ctrl elsewhere). Every action has one. */

export const isMac = typeof navigator !== 'undefined' && /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);

/** Ctrl on Windows/Linux, Cmd on macOS. */
export function hasMod(e: KeyboardEvent): boolean {
  return isMac ? e.metaKey && !e.ctrlKey : e.ctrlKey && !e.metaKey;
}

export interface Shortcut {
  /** For aria-keyshortcuts. */
  aria: string;
  /** For titles and hints. */
  label: string;
  matches(e: KeyboardEvent): boolean;
}

interface Combo {
  mod?: boolean;
  shift?: boolean;
  alt?: boolean;
  /** KeyboardEvent.code (the physical key: layout- and Alt-independent), e.g. 'KeyB', 'Digit1', 'BracketLeft'. */
  code?: string;
  /** KeyboardEvent.key, for keys named the same everywhere ('Enter', 'Escape', 'Backspace'). */
  key?: string;
  /** How the key is written in aria-keyshortcuts and in labels. */
  name: string;
  /** A different label for the key (e.g. '↩' on macOS); defaults to name. */
  glyph?: string;
}

function shortcut(c: Combo): Shortcut {
  const aria = [c.mod ? (isMac ? 'Meta' : 'Control') : '', c.alt ? 'Alt' : '', c.shift ? 'Shift' : '', c.name].filter(Boolean).join('+');
  const label = isMac
    ? `${c.mod ? '⌘' : ''}${c.alt ? '⌥' : ''}${c.shift ? '⇧' : ''}${c.glyph ?? c.name}`
    : `${c.mod ? 'Ctrl+' : ''}${c.alt ? 'Alt+' : ''}${c.shift ? 'Shift+' : ''}${c.glyph ?? c.name}`;
  return {
    aria,
    label,
    matches: (e) =>
      (c.mod ? hasMod(e) : !e.ctrlKey && !e.metaKey) &&
      e.shiftKey === !!c.shift &&
      e.altKey === !!c.alt &&
      (c.code !== undefined ? e.code === c.code : e.key === c.key),
  };
}

const enter = { key: 'Enter', name: 'Enter', glyph: isMac ? '↩' : 'Enter' };

/** Insert a blank: Ctrl/Cmd+Shift+B (Ctrl/Cmd+B is bold). */
export const INSERT_BLANK = shortcut({ mod: true, shift: true, code: 'KeyB', name: 'B' });
/** Fill every empty blank: Ctrl/Cmd+Enter. */
export const FILL = shortcut({ mod: true, ...enter });
/** Fill the blank at the cursor: Ctrl/Cmd+Shift+Enter. */
export const FILL_BLANK = shortcut({ mod: true, shift: true, ...enter });
/** Continue: a blank at the cursor, filled at once: Ctrl/Cmd+Alt+Enter. */
export const CONTINUE = shortcut({ mod: true, alt: true, ...enter });
/** Cancel a running fill: Escape. */
export const CANCEL = shortcut({ key: 'Escape', name: 'Escape', glyph: 'Esc' });
/** Save now: Ctrl/Cmd+S (saving is automatic; this only skips the wait, and keeps the browser's "Save page" away). */
export const SAVE = shortcut({ mod: true, code: 'KeyS', name: 'S' });

/** A filled blank at the cursor: previous / next alternative, accept, reject, regenerate. */
export const PREVIOUS_ALTERNATIVE = shortcut({ alt: true, code: 'BracketLeft', name: '[' });
export const NEXT_ALTERNATIVE = shortcut({ alt: true, code: 'BracketRight', name: ']' });
export const ACCEPT = shortcut({ alt: true, ...enter });
export const ACCEPT_ALL = shortcut({ alt: true, shift: true, ...enter });
export const REJECT = shortcut({ alt: true, key: 'Backspace', name: 'Backspace', glyph: isMac ? '⌫' : 'Backspace' });
export const REGENERATE = shortcut({ alt: true, code: 'KeyR', name: 'R' });

/** An empty blank at the cursor: length presets (Auto, Short, Medium, Long: blank-ops.ts BLANK_PRESETS), and the exact length field. */
export const BLANK_LENGTH_PRESETS = [
  shortcut({ alt: true, code: 'Digit0', name: '0' }),
  shortcut({ alt: true, code: 'Digit1', name: '1' }),
  shortcut({ alt: true, code: 'Digit2', name: '2' }),
  shortcut({ alt: true, code: 'Digit3', name: '3' }),
] as const;
export const BLANK_TOKENS = shortcut({ alt: true, code: 'KeyL', name: 'L' });

/** Show or hide the highlight on generated text: Ctrl/Cmd+Alt+G. */
export const TOGGLE_GENERATED = shortcut({ mod: true, alt: true, code: 'KeyG', name: 'G' });

/** Formatting. */
export const BOLD = shortcut({ mod: true, code: 'KeyB', name: 'B' });
export const ITALIC = shortcut({ mod: true, code: 'KeyI', name: 'I' });
export const PARAGRAPH = shortcut({ mod: true, alt: true, code: 'Digit0', name: '0' });
export const HEADINGS = [
  shortcut({ mod: true, alt: true, code: 'Digit1', name: '1' }),
  shortcut({ mod: true, alt: true, code: 'Digit2', name: '2' }),
  shortcut({ mod: true, alt: true, code: 'Digit3', name: '3' }),
] as const;
export const BULLET_LIST = shortcut({ mod: true, shift: true, code: 'Digit8', name: '8' });
export const NUMBERED_LIST = shortcut({ mod: true, shift: true, code: 'Digit7', name: '7' });
export const QUOTE = shortcut({ mod: true, shift: true, code: 'Digit9', name: '9' });
export const INDENT = shortcut({ mod: true, code: 'BracketRight', name: ']' });
export const OUTDENT = shortcut({ mod: true, code: 'BracketLeft', name: '[' });
export const UNDO = shortcut({ mod: true, code: 'KeyZ', name: 'Z' });
export const REDO = isMac ? shortcut({ mod: true, shift: true, code: 'KeyZ', name: 'Z' }) : shortcut({ mod: true, code: 'KeyY', name: 'Y' });

/** The app around the editor. Ctrl/Cmd+K lists every action with its key. */
export const COMMAND_PALETTE = shortcut({ mod: true, code: 'KeyK', name: 'K' });
/** Ctrl/Cmd+Alt+N (Ctrl+N belongs to the browser in web mode). */
export const NEW_DOCUMENT = shortcut({ mod: true, alt: true, code: 'KeyN', name: 'N' });
export const SEARCH_DOCUMENTS = shortcut({ mod: true, shift: true, code: 'KeyF', name: 'F' });
export const GO_TO_DOCUMENTS = shortcut({ mod: true, shift: true, code: 'KeyL', name: 'L' });
export const GO_TO_TEXT = shortcut({ mod: true, shift: true, code: 'KeyE', name: 'E' });
export const SHOW_TRASH = shortcut({ mod: true, shift: true, code: 'KeyX', name: 'X' });
export const TRASH_DOCUMENT = shortcut({ mod: true, shift: true, key: 'Backspace', name: 'Backspace', glyph: isMac ? '⌫' : 'Backspace' });
export const SHOW_REVISIONS = shortcut({ mod: true, shift: true, code: 'KeyH', name: 'H' });
export const SAVE_REVISION = shortcut({ mod: true, shift: true, code: 'KeyS', name: 'S' });
export const SURPRISE = shortcut({ mod: true, shift: true, code: 'KeyU', name: 'U' });
export const FILL_SETTINGS = shortcut({ mod: true, code: 'Comma', name: ',' });
export const MODEL_MANAGER = shortcut({ mod: true, shift: true, code: 'KeyM', name: 'M' });
export const BACKUP_LIBRARY = shortcut({ mod: true, alt: true, code: 'KeyB', name: 'B' });
