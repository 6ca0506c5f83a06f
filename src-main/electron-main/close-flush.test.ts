/**
 * The window waits for the renderer's saves before it closes (close-flush.ts), with fakes for the
 * window, its web contents, ipcMain and the app: no Electron needed.
 */
import { EventEmitter } from 'node:events';
import type { App, BrowserWindow, IpcMain } from 'electron';
import { describe, expect, it } from 'vitest';
import { IPC_FLUSH, IPC_FLUSHED } from '../common/bridge-types';
import { flushBeforeClose } from './close-flush';

function fakes(answer: 'at once' | 'never') {
  const ipc = new EventEmitter();
  const app = Object.assign(new EventEmitter(), { quits: 0, quit: () => app.quits++ });
  const sent: unknown[] = [];
  const contents = {
    isDestroyed: () => false,
    isCrashed: () => false,
    send(channel: string, id: unknown) {
      sent.push(channel);
      // The renderer saves, then answers with the same id.
      if (answer === 'at once') setTimeout(() => ipc.emit(IPC_FLUSHED, { sender: contents }, id), 10);
    },
  };
  const win = Object.assign(new EventEmitter(), {
    webContents: contents,
    destroyed: false,
    closes: 0,
    isDestroyed: () => win.destroyed,
    close() {
      win.closes++;
      const event = { defaultPrevented: false, preventDefault: () => (event.defaultPrevented = true) };
      win.emit('close', event);
      if (!event.defaultPrevented) win.destroyed = true;
      return event.defaultPrevented;
    },
  });
  flushBeforeClose(app as unknown as App, ipc as unknown as IpcMain, win as unknown as BrowserWindow, 200);
  return { ipc, app, win, sent };
}

describe('closing the window', () => {
  it('waits for the renderer to save, then closes; a quit resumes after it', async () => {
    const { app, win, sent, ipc } = fakes('at once');
    app.emit('before-quit');
    expect(win.close()).toBe(true); // held
    expect(sent).toEqual([IPC_FLUSH]);
    expect(win.isDestroyed()).toBe(false);
    win.close(); // a second close while saving: still held, not asked twice
    expect(sent).toEqual([IPC_FLUSH]);
    await new Promise((r) => setTimeout(r, 50));
    expect(win.isDestroyed()).toBe(true);
    expect(app.quits).toBe(1);
    expect(ipc.listenerCount(IPC_FLUSHED)).toBe(0);
  });

  it('closes after the timeout when the renderer does not answer', async () => {
    const { win, app } = fakes('never');
    win.close();
    await new Promise((r) => setTimeout(r, 100));
    expect(win.isDestroyed()).toBe(false);
    await new Promise((r) => setTimeout(r, 200));
    expect(win.isDestroyed()).toBe(true);
    expect(app.quits).toBe(0);
  });
});
