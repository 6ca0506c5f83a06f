/**
 * Export and import of single documents as Markdown or plain text.
 *
 * Documents are stored as Markdown in the blank syntax (common/blanks.ts). Export writes the text
 * as the writer sees it (common/writer-text.ts): a filled blank whose alternatives are not yet
 * accepted as the alternative on screen; Markdown keeps its formatting (shownMarkdown), plain text
 * loses it but for list markers, with line breaks as line breaks (markdownToPlain; a blank still
 * empty reads `____`). With
 * blanks 'keep' the body is written unchanged in both formats, blanks and backslash escapes
 * included, so export → import gives back the body byte for byte (as long as it uses LF line
 * ends: import normalises CRLF/CR to LF). Markdown of a document with no filled blank is the body
 * either way.
 *
 *   md:  "# Title\n\n" + body      A leading "# " heading becomes the title on import.
 *   txt: "Title\n\n" + body        On import the title is the one given, else the first non-empty
 *                                  line when it is at most 100 characters (it is then taken out of
 *                                  the body, with the one empty line after it), else "Untitled".
 *
 * A title given on import always wins; a Markdown heading is still taken out of the body then.
 */
import { ApiError, MAX_BODY_CHARS, MAX_TITLE_CHARS } from '../common/api';
import type { BlanksAs, Document } from '../common/api';
import { markdownToPlain, shownMarkdown } from '../common/writer-text';

export type ExchangeFormat = 'md' | 'txt';

/** Longest first line that a plain-text import takes as the title. */
export const MAX_DERIVED_TITLE_CHARS = 100;
export const UNTITLED = 'Untitled';

export interface ExportedDocument {
  /** A suggested file name: the title made safe for any filesystem, plus .md or .txt. */
  filename: string;
  text: string;
}

export function exportDocument(doc: Pick<Document, 'title' | 'body' | 'richText'>, format: ExchangeFormat, blanks: BlanksAs = 'shown'): ExportedDocument {
  // A title is one line; a stray line break would otherwise spill into the body on import.
  const title = doc.title.replace(/\s*[\r\n]+\s*/g, ' ').trim() || UNTITLED;
  const body =
    blanks === 'keep' ? doc.body : format === 'md' ? shownMarkdown(doc.body, doc.richText) : markdownToPlain(shownMarkdown(doc.body, doc.richText), true);
  const text = format === 'md' ? `# ${title}\n\n${body}` : `${title}\n\n${body}`;
  return { filename: `${safeFileName(title)}.${format}`, text };
}

/** Parse an exported (or hand-written) file into a title and body. Throws ApiError('bad_request'). */
export function parseImport(raw: string, format: ExchangeFormat, givenTitle?: string): { title: string; body: string } {
  const parsed = split(raw, format, givenTitle);
  if (parsed.body.length > MAX_BODY_CHARS) {
    throw new ApiError('bad_request', `the text is too long (${parsed.body.length} characters; at most ${MAX_BODY_CHARS})`);
  }
  return parsed;
}

function split(raw: string, format: ExchangeFormat, givenTitle: string | undefined): { title: string; body: string } {
  if (raw.includes('\u0000')) throw new ApiError('bad_request', 'the file contains NUL characters; it is not a text file');
  let text = raw.startsWith('\uFEFF') ? raw.slice(1) : raw;
  text = text.replace(/\r\n?/g, '\n');
  const given = givenTitle?.trim();
  if (givenTitle !== undefined && givenTitle.length > MAX_TITLE_CHARS) {
    throw new ApiError('bad_request', `the title is too long (at most ${MAX_TITLE_CHARS} characters)`);
  }

  if (format === 'md') {
    const m = /^# ([^\n]*)(?:\n|$)/.exec(text);
    if (m) {
      const heading = m[1]!.trim();
      const body = dropOneEmptyLine(text.slice(m[0].length));
      return { title: given || heading.slice(0, MAX_TITLE_CHARS) || UNTITLED, body };
    }
    return { title: given || firstLineTitle(text)?.title || UNTITLED, body: text };
  }

  if (given) return { title: given, body: text };
  const first = firstLineTitle(text);
  if (!first) return { title: UNTITLED, body: text };
  return { title: first.title, body: dropOneEmptyLine(text.slice(first.end)) };
}

/** The first non-empty line if it is short enough to be a title, and where it (with its \n) ends. */
function firstLineTitle(text: string): { title: string; end: number } | undefined {
  const m = /^(?:[ \t]*\n)*([^\n]*)(?:\n|$)/.exec(text);
  const line = m?.[1]?.trim();
  if (!m || !line || Array.from(line).length > MAX_DERIVED_TITLE_CHARS) return undefined;
  return { title: line, end: m[0].length };
}

function dropOneEmptyLine(s: string): string {
  return s.startsWith('\n') ? s.slice(1) : s;
}

/** A file name (without extension) safe on Windows, macOS and Linux. */
export function safeFileName(title: string): string {
  const cleaned = title
    // eslint-disable-next-line no-control-regex
    .replace(/[<>:"/\\|?*\u0000-\u001f\u007f]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^\.+/, '')
    .replace(/[. ]+$/, '');
  const short = Array.from(cleaned).slice(0, 80).join('').trim();
  if (!short || /^(con|prn|aux|nul|com\d|lpt\d)$/i.test(short)) return short ? `${short}_` : UNTITLED;
  return short;
}
