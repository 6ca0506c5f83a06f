import { describe, expect, it } from 'vitest';
import { formatBytes, formatDuration } from '../common/units';
import { renderProgressBar } from './progress-bar';

describe('progress bar', () => {
  it('formats bytes in decimal units with three significant digits', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(1500)).toBe('1.5 kB');
    expect(formatBytes(12_345_678)).toBe('12.3 MB');
    expect(formatBytes(676_000_000)).toBe('676 MB');
    expect(formatBytes(999_600_000)).toBe('1.0 GB');
    expect(formatBytes(1_300_000_000)).toBe('1.3 GB');
    expect(formatBytes(NaN)).toBe('?');
  });

  it('formats durations as m:ss or h:mm:ss', () => {
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(7.4)).toBe('0:07');
    expect(formatDuration(32)).toBe('0:32');
    expect(formatDuration(754)).toBe('12:34');
    expect(formatDuration(3723)).toBe('1:02:03');
    expect(formatDuration(Infinity)).toBe('?');
  });

  it('renders a line with the percentage, bar, sizes, rate and time left', () => {
    const line = renderProgressBar({ file: 'model.safetensors', bytesDone: 279e6, bytesTotal: 676e6, bytesPerSecond: 12.3e6, secondsLeft: 32 }, 20);
    expect(line).toBe('model.safetensors  41% [########............]  279 MB / 676 MB  12.3 MB/s  0:32 left');
  });

  it('omits an unknown rate and time, says done at 100 %, and clamps', () => {
    expect(renderProgressBar({ file: 'config.json', bytesDone: 0, bytesTotal: 0, bytesPerSecond: 0 }, 4)).toBe('config.json   0% [....]  0 B / 0 B');
    expect(renderProgressBar({ file: 'a', bytesDone: 10, bytesTotal: 10, bytesPerSecond: 5, secondsLeft: 0 }, 4)).toBe(
      'a 100% [####]  10 B / 10 B  5 B/s  done',
    );
    expect(renderProgressBar({ file: 'a', bytesDone: 20, bytesTotal: 10, bytesPerSecond: 0 }, 2)).toBe('a 100% [##]  20 B / 10 B  done');
  });
});
