/**
 * Sizes and durations as the writer reads them, everywhere (the app, the CLI, errors): decimal units
 * as the Hub and file managers show them. Runs anywhere.
 */

/** 0 B, 999 B, 1.5 kB, 12.3 MB, 676 MB, 1.3 GB: three significant digits, decimal units. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '?';
  if (bytes < 1000) return `${Math.round(bytes)} B`;
  const units = ['kB', 'MB', 'GB', 'TB', 'PB'];
  let v = bytes / 1000;
  let i = 0;
  while (v >= 999.5 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v >= 99.95 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/** 0:07, 12:34, 1:02:03 (h:mm:ss); '?' for an unknown or absurd duration. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > 99 * 3600) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${r}` : `${m}:${r}`;
}

/**
 * Words per token of English prose with the models' tokenizers (GPT-2 BPE, lacuna-mini's): the one
 * place this ratio lives. A blank's length is set in tokens (what the model counts); the writer
 * reads it in words as well ("16 tokens, about 12 words").
 */
export const WORDS_PER_TOKEN = 0.75;

/** "about 12 words" for a length in tokens (at least "about 1 word"). */
export function aboutWords(tokens: number): string {
  const words = Math.max(1, Math.round(tokens * WORDS_PER_TOKEN));
  return `about ${words} ${words === 1 ? 'word' : 'words'}`;
}
