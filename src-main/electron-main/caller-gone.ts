/**
 * When the window that made a long call goes away, the call is cancelled (ipc.ts): the renderer
 * process crashed or was killed, the page reloads or navigates (main frame), or the contents are
 * destroyed (window closed). Kept apart from ipc.ts so it can be tested without Electron: it needs
 * only the event-emitter side of a WebContents.
 */
export interface CallerContents {
  once(event: 'destroyed' | 'render-process-gone', listener: () => void): unknown;
  on(event: 'did-start-navigation', listener: (details: { isMainFrame: boolean; isSameDocument: boolean }) => void): unknown;
  removeListener(event: string, listener: (...args: never[]) => void): unknown;
}

/** Calls `cancel` once if `contents` goes away; returns the function that stops watching. */
export function cancelWhenGone(contents: CallerContents, cancel: () => void): () => void {
  let done = false;
  const gone = (): void => {
    if (done) return;
    stop();
    cancel();
  };
  const navigated = (details: { isMainFrame: boolean; isSameDocument: boolean }): void => {
    // An in-page navigation (hash change) keeps the page, and with it the caller.
    if (details.isMainFrame && !details.isSameDocument) gone();
  };
  const stop = (): void => {
    if (done) return;
    done = true;
    contents.removeListener('destroyed', gone);
    contents.removeListener('render-process-gone', gone);
    contents.removeListener('did-start-navigation', navigated as (...args: never[]) => void);
  };
  contents.once('destroyed', gone);
  contents.once('render-process-gone', gone);
  contents.on('did-start-navigation', navigated);
  return stop;
}
