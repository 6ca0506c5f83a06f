/** What to type at the cursor so that exactly one new blank appears and nothing else changes meaning. */
import { DEFAULT_BLANK_TOKENS, blankToken } from '../../../src-main/common/blanks';

export function blankInsertion(value: string, start: number, end: number): string {
  const before = value.slice(0, start);
  const after = value.slice(end);
  // Backslashes right before a blank escape it; doubling them keeps them literal and the blank real.
  const slashes = /\\*$/.exec(before)?.[0].length ?? 0;
  // Underscores on either side would merge with "____" into one longer run: use the explicit form.
  const touches = before.endsWith('_') || after.startsWith('_');
  const token = touches ? `{{${DEFAULT_BLANK_TOKENS}}}` : blankToken(DEFAULT_BLANK_TOKENS);
  return '\\'.repeat(slashes) + token;
}
