/**
 * IPC between the renderer and the core: one `ipcMain.handle('lacuna:<method>')` per API method,
 * and core events forwarded to the window.
 *
 * Handlers never throw across IPC (Electron would flatten the error into a string): they resolve
 * to an Envelope, and the renderer's bridge rebuilds the ApiError. Params are validated by the
 * core (core.call → parseParams); a call from any frame other than our own renderer is refused.
 */
import { ipcMain, type BrowserWindow, type IpcMainInvokeEvent, type WebFrameMain } from 'electron';
import { ApiError, methods, type ApiClient, type ApiEvent, type Method, type Params } from '../common/api';
import { IPC_EVENT_CHANNEL, ipcChannel, type Envelope } from '../common/bridge-types';

/** True when `frame` is the top frame of our renderer (see security.ts isRendererUrl). */
export type SenderCheck = (frame: WebFrameMain) => boolean;

export function registerIpc(core: ApiClient, isTrustedFrame: SenderCheck): () => void {
  for (const method of methods) {
    ipcMain.handle(ipcChannel(method), (event, params: unknown) => handle(core, isTrustedFrame, method, event, params));
  }
  return () => {
    for (const method of methods) ipcMain.removeHandler(ipcChannel(method));
  };
}

async function handle(
  core: ApiClient,
  isTrustedFrame: SenderCheck,
  method: Method,
  event: IpcMainInvokeEvent,
  params: unknown,
): Promise<Envelope> {
  const frame = event.senderFrame;
  if (!frame || !isTrustedFrame(frame)) {
    console.warn(`lacuna: refused ${method} from an untrusted frame: ${frame?.url ?? '(gone)'}`);
    return { ok: false, error: { code: 'bad_request', message: `${method}: refused, the caller is not the Lacuna window` } };
  }
  try {
    const result = await core.call(method, params as Params<typeof method>);
    return { ok: true, result };
  } catch (err) {
    return { ok: false, error: ApiError.from(err).toJSON() };
  }
}

/** Forward every core event to the window while it exists. Returns an unsubscribe function. */
export function forwardEvents(core: ApiClient, getWindow: () => BrowserWindow | null): () => void {
  return core.onEvent((event: ApiEvent) => {
    const win = getWindow();
    if (win && !win.isDestroyed() && !win.webContents.isDestroyed()) win.webContents.send(IPC_EVENT_CHANNEL, event);
  });
}
