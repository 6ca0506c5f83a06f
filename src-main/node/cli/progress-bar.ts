/**
 * A one-line terminal progress bar for downloads (pure: the caller writes `\r` + the line):
 *
 *   model.safetensors  41% [########..........]  279 MB / 676 MB  12.3 MB/s  0:32 left
 *
 * Sizes in decimal units (kB, MB, GB, as the Hub and file managers show them).
 */

/** What renderProgressBar needs; model-download's DownloadProgress fits. */
export interface ProgressLine {
  file: string;
  bytesDone: number;
  bytesTotal: number;
  bytesPerSecond: number;
  secondsLeft?: number;
}

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
