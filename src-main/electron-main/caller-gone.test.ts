import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { cancelWhenGone, type CallerContents } from './caller-gone';

const contents = (): EventEmitter & CallerContents => new EventEmitter() as EventEmitter & CallerContents;

describe('cancelWhenGone', () => {
  it('cancels once when the window is destroyed, crashes or reloads; not on an in-page navigation', () => {
    for (const [event, args] of [
      ['destroyed', []],
      ['render-process-gone', []],
      ['did-start-navigation', [{ isMainFrame: true, isSameDocument: false }]],
    ] as const) {
      const c = contents();
      let cancelled = 0;
      cancelWhenGone(c, () => cancelled++);
      c.emit('did-start-navigation', { isMainFrame: true, isSameDocument: true });
      c.emit('did-start-navigation', { isMainFrame: false, isSameDocument: false });
      expect(cancelled).toBe(0);
      c.emit(event, ...args);
      c.emit(event, ...args);
      c.emit('destroyed');
      expect(cancelled, event).toBe(1);
      expect(c.eventNames()).toEqual([]);
    }
  });

  it('stops watching when the call ends', () => {
    const c = contents();
    let cancelled = 0;
    const stop = cancelWhenGone(c, () => cancelled++);
    expect(c.listenerCount('destroyed')).toBe(1);
    stop();
    c.emit('destroyed');
    expect(cancelled).toBe(0);
    expect(c.eventNames()).toEqual([]);
  });
});
