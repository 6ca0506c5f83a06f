/**
 * The editor's keyboard shortcuts and its actions in the command palette. The keys themselves are
 * in keys.ts and the formatting commands in editor/commands.ts; this is what each key does to the
 * open document, from the text and from elsewhere in the window. (The editor state's own keymap,
 * editor/setup.ts, handles the formatting keys in the text.)
 */
import { redo, undo } from 'prosemirror-history';
import type { Command, EditorState } from 'prosemirror-state';
import type { EditorView } from 'prosemirror-view';
import type { Action } from './actions.svelte';
import type { DocSession } from './doc-session.svelte';
import { BLANK_PRESETS, currentBlank } from './editor/blank-ops';
import {
  headingLevel,
  indentListItem,
  inQuote,
  listAround,
  markActive,
  outdentListItem,
  setParagraph,
  toggleEm,
  toggleHeading,
  toggleList,
  toggleQuote,
  toggleStrong,
} from './editor/commands';
import { marks, nodes } from './editor/schema';
import {
  ACCEPT,
  ACCEPT_ALL,
  BLANK_LENGTH_PRESETS,
  BLANK_TOKENS,
  BOLD,
  BULLET_LIST,
  CANCEL,
  CONTINUE,
  FILL,
  FILL_BLANK,
  GO_TO_TEXT,
  HEADINGS,
  INDENT,
  INSERT_BLANK,
  ITALIC,
  NEXT_ALTERNATIVE,
  NUMBERED_LIST,
  OUTDENT,
  PARAGRAPH,
  PREVIOUS_ALTERNATIVE,
  QUOTE,
  REDO,
  REGENERATE,
  REJECT,
  SAVE,
  SAVE_REVISION,
  SURPRISE,
  TOGGLE_GENERATED,
  UNDO,
  type Shortcut,
} from './keys';
import { prefs } from './prefs.svelte';

/** What the shortcuts and the palette's actions act on: the open document and its editor. */
export interface EditorControls {
  readonly session: DocSession;
  /** The editor view, while mounted. */
  readonly view: EditorView | null;
  /** The editor's element (the blank panel is inside it). */
  readonly root: HTMLElement | undefined;
  /** Run a formatting command on the text, and give the text the focus back. */
  run(command: Command): void;
  focusText(): void;
  /** Insert a blank at the cursor, and give the text the focus back. */
  insertBlank(): void;
  /** Keep the text as a revision (and say so). */
  saveRevision(): void;
  /** Focus the blank panel's length-in-tokens field. */
  focusBlankTokens(): void;
}

/** The formatting buttons of the toolbar and their actions in the palette. */
export interface Formatting {
  label: string;
  /** What the toolbar button shows. */
  glyph: string;
  key: Shortcut;
  /** Whether it is "on" at the selection (for aria-pressed). */
  pressed: (state: EditorState) => boolean;
  command: Command;
}

export const FORMATTING: readonly Formatting[] = [
  { label: 'Bold', glyph: 'B', key: BOLD, pressed: (s) => markActive(s, marks.strong), command: toggleStrong },
  { label: 'Italic', glyph: 'I', key: ITALIC, pressed: (s) => markActive(s, marks.em), command: toggleEm },
  ...HEADINGS.map((key, i) => ({
    label: `Heading ${i + 1}`,
    glyph: `H${i + 1}`,
    key,
    pressed: (s: EditorState) => headingLevel(s) === i + 1,
    command: toggleHeading(i + 1),
  })),
  { label: 'Bulleted list', glyph: '•', key: BULLET_LIST, pressed: (s) => listAround(s) === nodes.bulletList, command: toggleList(nodes.bulletList) },
  { label: 'Numbered list', glyph: '1.', key: NUMBERED_LIST, pressed: (s) => listAround(s) === nodes.orderedList, command: toggleList(nodes.orderedList) },
  { label: 'Quote', glyph: '❝', key: QUOTE, pressed: inQuote, command: toggleQuote },
];

/**
 * Every shortcut of the editor. From the text (inText) all of them; from elsewhere in the window
 * only those that do not act on the blank at the cursor (the title field keeps Alt+1 and the like).
 * Returns whether the key was used.
 */
export function handleShortcut(e: KeyboardEvent, inText: boolean, editor: EditorControls): boolean {
  const s = editor.session;
  if (FILL.matches(e)) {
    void s.runFill();
    return true;
  }
  if (CONTINUE.matches(e)) {
    void s.runFill({ kind: 'continue' });
    return true;
  }
  if (INSERT_BLANK.matches(e)) {
    editor.insertBlank();
    return true;
  }
  if (SAVE.matches(e)) {
    void s.flush();
    return true;
  }
  if (CANCEL.matches(e) && s.fill) {
    void s.cancelFill();
    return true;
  }
  if (TOGGLE_GENERATED.matches(e)) {
    prefs.toggleHighlightGenerated();
    return true;
  }
  if (SURPRISE.matches(e)) {
    void s.toggleSurprise();
    return true;
  }
  if (SAVE_REVISION.matches(e)) {
    editor.saveRevision();
    return true;
  }
  if (GO_TO_TEXT.matches(e)) {
    editor.focusText();
    return true;
  }
  if (ACCEPT_ALL.matches(e)) return s.acceptAll();
  const inPanel = e.target instanceof Node && !!editor.root?.querySelector('.blank-panel')?.contains(e.target);
  const b = currentBlank(s.editorState);
  if (!b || !(inText || inPanel)) return false;
  const keep = (done: boolean): boolean => {
    if (done && inPanel && !currentBlank(s.editorState)) editor.focusText();
    return done;
  };
  if (FILL_BLANK.matches(e) || (REGENERATE.matches(e) && b.attrs.status === 'filled')) {
    void s.runFill({ kind: 'blank', pos: b.pos });
    return true;
  }
  if (b.attrs.status === 'filled') {
    if (NEXT_ALTERNATIVE.matches(e)) return s.cycleAlternative(b.pos, 1) || true;
    if (PREVIOUS_ALTERNATIVE.matches(e)) return s.cycleAlternative(b.pos, -1) || true;
    if (ACCEPT.matches(e)) return keep(s.accept(b.pos));
    if (REJECT.matches(e)) return keep(s.reject(b.pos));
  } else if (b.attrs.status === 'idle') {
    const preset = BLANK_LENGTH_PRESETS.findIndex((k) => k.matches(e));
    if (preset >= 0) return s.setBlankLength(b.pos, BLANK_PRESETS[preset]!.tokens) || true;
    if (BLANK_TOKENS.matches(e)) {
      editor.focusBlankTokens();
      return true;
    }
  }
  return false;
}

/** A key pressed anywhere in the window, outside the text. */
export function handleWindowKeydown(e: KeyboardEvent, editor: EditorControls): void {
  const view = editor.view;
  // Keys in the text went through the editor's handleKeyDown already; keys in a dialog are its own.
  if (e.defaultPrevented || (view && e.target instanceof Node && view.dom.contains(e.target))) return;
  if (e.target instanceof Element && e.target.closest('dialog')) return;
  if (handleShortcut(e, false, editor)) e.preventDefault();
}

/** The editor's actions, for the command palette (their keys are handled above and by the editor state). */
export function editorActions(editor: EditorControls): Action[] {
  const { run, focusText } = editor;
  /** Run something on the blank at the cursor. */
  function onBlank(fn: (pos: number, status: string) => unknown): () => void {
    return () => {
      const session = editor.session;
      const b = currentBlank(session.editorState);
      if (b) fn(b.pos, b.attrs.status);
      else session.fillMessage = 'Put the cursor on a blank first.';
      focusText();
    };
  }
  const hasBlank = (status?: string) => (): boolean => {
    const b = currentBlank(editor.session.editorState);
    return !!b && (status === undefined || b.attrs.status === status);
  };
  const session = (): DocSession => editor.session;
  return [
    {
      id: 'fill',
      label: 'Fill blanks',
      group: 'Blanks',
      key: FILL,
      run: () => void session().runFill(),
      enabled: () => !(session().fill !== null || session().blankCount.empty === 0),
    },
    {
      id: 'fill-blank',
      label: 'Fill this blank',
      group: 'Blanks',
      key: FILL_BLANK,
      run: onBlank((pos) => void session().runFill({ kind: 'blank', pos })),
      enabled: hasBlank(),
    },
    {
      id: 'continue',
      label: 'Continue writing from the cursor',
      group: 'Blanks',
      key: CONTINUE,
      run: () => void session().runFill({ kind: 'continue' }),
      enabled: () => session().fill === null,
    },
    { id: 'insert-blank', label: 'Insert a blank', group: 'Blanks', key: INSERT_BLANK, run: () => editor.insertBlank() },
    {
      id: 'cancel-fill',
      label: 'Cancel the fill',
      group: 'Blanks',
      key: CANCEL,
      run: () => void session().cancelFill(),
      enabled: () => session().fill !== null,
    },
    {
      id: 'previous-alternative',
      label: 'Previous alternative',
      group: 'Blanks',
      key: PREVIOUS_ALTERNATIVE,
      run: onBlank((pos) => session().cycleAlternative(pos, -1)),
      enabled: hasBlank('filled'),
    },
    {
      id: 'next-alternative',
      label: 'Next alternative',
      group: 'Blanks',
      key: NEXT_ALTERNATIVE,
      run: onBlank((pos) => session().cycleAlternative(pos, 1)),
      enabled: hasBlank('filled'),
    },
    { id: 'accept', label: 'Accept the fill', group: 'Blanks', key: ACCEPT, run: onBlank((pos) => session().accept(pos)), enabled: hasBlank('filled') },
    {
      id: 'accept-all',
      label: 'Accept all fills',
      group: 'Blanks',
      key: ACCEPT_ALL,
      run: () => session().acceptAll(),
      enabled: () => session().blankCount.filled > 0,
    },
    { id: 'reject', label: 'Reject the fill', group: 'Blanks', key: REJECT, run: onBlank((pos) => session().reject(pos)), enabled: hasBlank('filled') },
    {
      id: 'regenerate',
      label: 'Regenerate this blank',
      group: 'Blanks',
      key: REGENERATE,
      run: onBlank((pos) => void session().runFill({ kind: 'blank', pos })),
      enabled: hasBlank('filled'),
    },
    ...BLANK_PRESETS.map((p, i): Action => ({
      id: `blank-${p.id}`,
      label: p.tokens === 'auto' ? 'Blank length: auto (the model chooses)' : `Blank length: ${p.label.toLowerCase()} (${p.tokens} tokens)`,
      group: 'Blanks',
      key: BLANK_LENGTH_PRESETS[i]!,
      run: onBlank((pos) => session().setBlankLength(pos, p.tokens)),
      enabled: hasBlank('idle'),
    })),
    {
      id: 'blank-tokens',
      label: 'Blank length in tokens…',
      group: 'Blanks',
      key: BLANK_TOKENS,
      run: () => editor.focusBlankTokens(),
      enabled: hasBlank('idle'),
    },
    ...FORMATTING.map((f): Action => ({ id: `format-${f.label}`, label: f.label, group: 'Formatting', key: f.key, run: () => run(f.command) })),
    { id: 'paragraph', label: 'Paragraph', group: 'Formatting', key: PARAGRAPH, run: () => run(setParagraph) },
    { id: 'indent', label: 'Indent list item', group: 'Formatting', key: INDENT, run: () => run(indentListItem) },
    { id: 'outdent', label: 'Outdent list item', group: 'Formatting', key: OUTDENT, run: () => run(outdentListItem) },
    { id: 'undo', label: 'Undo', group: 'Document', key: UNDO, run: () => run(undo) },
    { id: 'redo', label: 'Redo', group: 'Document', key: REDO, run: () => run(redo) },
    {
      id: 'highlight-generated',
      label: 'Highlight generated text',
      group: 'Document',
      key: TOGGLE_GENERATED,
      run: () => prefs.toggleHighlightGenerated(),
    },
    { id: 'surprise', label: 'Show or hide the surprise view', group: 'Document', key: SURPRISE, run: () => void session().toggleSurprise() },
    { id: 'save', label: 'Save now', group: 'Document', key: SAVE, run: () => void session().flush() },
    { id: 'save-revision', label: 'Save a revision', group: 'Document', key: SAVE_REVISION, run: () => editor.saveRevision() },
    { id: 'text', label: 'Go to the text', group: 'Document', key: GO_TO_TEXT, run: focusText },
  ];
}
