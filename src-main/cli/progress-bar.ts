/**
 * A one-line terminal progress bar for downloads (pure: the caller writes `\r` + the line):
 *
 *   model.safetensors  41% [########..........]  279 MB / 676 MB  12.3 MB/s  0:32 left
 *
 * Sizes in decimal units (common/units.ts).
 */
import { formatBytes, formatDuration } from '../common/units';

/** What renderProgressBar needs; model-download's DownloadProgress fits. */
export interface ProgressLine {
  file: string;
  bytesDone: number;
  bytesTotal: number;
  bytesPerSecond: number;
  secondsLeft?: number;
}

/**
 * The line for one progress event; `width` is the number of cells inside the brackets. The
 * percentage is of all the bytes of the download; the name is the file being transferred.
 */
export function renderProgressBar(p: ProgressLine, width = 20): string {
  const cells = Math.max(1, Math.floor(width));
  const frac = p.bytesTotal > 0 ? Math.min(1, Math.max(0, p.bytesDone / p.bytesTotal)) : 0;
  const filled = Math.floor(frac * cells);
  const pct = `${Math.floor(frac * 100)}%`.padStart(4);
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(cells - filled)}]`;
  const parts = [`${p.file} ${pct} ${bar}`, `${formatBytes(p.bytesDone)} / ${formatBytes(p.bytesTotal)}`];
  if (p.bytesPerSecond > 0) parts.push(`${formatBytes(p.bytesPerSecond)}/s`);
  if (frac >= 1) parts.push('done');
  else if (p.secondsLeft !== undefined && Number.isFinite(p.secondsLeft)) parts.push(`${formatDuration(p.secondsLeft)} left`);
  return parts.join('  ');
}
