/**
 * Nothing typed is lost when the window closes: before it goes, the shell asks the renderer to save
 * everything (IPC_FLUSH) and waits for its answer (IPC_FLUSHED), at most `timeoutMs`; then the
 * window closes for real. A quit (Cmd+Q, the menu) goes through the same: the quit resumes once
 * the window has closed.
 */
import type { App, BrowserWindow, IpcMain, IpcMainEvent } from 'electron';
import { IPC_FLUSH, IPC_FLUSHED } from '../common/bridge-types';

/** How long a closing window waits for the renderer's saves. */
export const CLOSE_FLUSH_TIMEOUT_MS = 5_000;

let nextId = 0;

/** Ask the renderer of `w` to save everything; resolves when it answers, or after `timeoutMs`. */
export function flushRenderer(ipc: Pick<IpcMain, 'on' | 'removeListener'>, w: BrowserWindow, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const id = ++nextId;
    const contents = w.webContents;
    const finish = (): void => {
      clearTimeout(timer);
      ipc.removeListener(IPC_FLUSHED, answered);
      resolve();
    };
    const answered = (event: IpcMainEvent, got: unknown): void => {
      if (got === id && event.sender === contents) finish();
    };
    const timer = setTimeout(finish, timeoutMs);
    ipc.on(IPC_FLUSHED, answered);
    if (contents.isDestroyed() || contents.isCrashed()) finish();
    else contents.send(IPC_FLUSH, id);
  });
}

/** Hold the window's close until its renderer has saved (or `timeoutMs` passed). */
export function flushBeforeClose(
  app: Pick<App, 'on' | 'quit'>,
  ipc: Pick<IpcMain, 'on' | 'removeListener'>,
  w: BrowserWindow,
  timeoutMs = CLOSE_FLUSH_TIMEOUT_MS,
): void {
  let flushed = false;
  let flushing = false;
  let quitting = false;
  app.on('before-quit', () => {
    quitting = true;
  });
  w.on('close', (event) => {
    if (flushed || w.webContents.isDestroyed()) return;
    event.preventDefault(); // also cancels a quit in progress: resumed below
    if (flushing) return;
    flushing = true;
    void flushRenderer(ipc, w, timeoutMs).then(() => {
      flushed = true;
      if (!w.isDestroyed()) w.close();
      if (quitting) app.quit();
    });
  });
}
