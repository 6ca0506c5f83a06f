/**
 * IPC between the renderer and the core: one `ipcMain.handle('lacuna:<method>')` per API method,
 * and core events forwarded to the window.
 *
 * Handlers never throw across IPC (Electron would flatten the error into a string): they resolve
 * to an Envelope, and the renderer's bridge rebuilds the ApiError. Params are validated by the
 * core (core.call → parseParams); a call from any frame other than our own renderer is refused.
 */
import { dialog, ipcMain, type BrowserWindow, type IpcMainInvokeEvent, type WebFrameMain } from 'electron';
import { randomUUID } from 'node:crypto';
import { ApiError, methods, withRequestId, type ApiClient, type ApiEvent, type Method, type Params } from '../common/api';
import { cancelWhenGone } from './caller-gone';
import { IPC_EVENT_CHANNEL, IPC_PICK_FOLDER, ipcChannel, type Envelope, type FolderPurpose } from '../common/bridge-types';

/** True when `frame` is the top frame of our renderer (see security.ts isRendererUrl). */
export type SenderCheck = (frame: WebFrameMain) => boolean;

export function registerIpc(core: ApiClient, isTrustedFrame: SenderCheck, getWindow: () => BrowserWindow | null = () => null): () => void {
  for (const method of methods) {
    ipcMain.handle(ipcChannel(method), (event, params: unknown) => handle(core, isTrustedFrame, method, event, params));
  }
  ipcMain.handle(IPC_PICK_FOLDER, (event, purpose: unknown) => pickFolder(isTrustedFrame, getWindow, event, purpose));
  return () => {
    for (const method of methods) ipcMain.removeHandler(ipcChannel(method));
    ipcMain.removeHandler(IPC_PICK_FOLDER);
  };
}

const FOLDER_DIALOGS: Record<FolderPurpose, { title: string; buttonLabel: string; message: string }> = {
  'import-model': {
    title: 'Import model',
    buttonLabel: 'Import',
    message: 'Choose a SEDD checkpoint folder: config.json and model.safetensors (as downloaded from louaaron/sedd-small or sedd-medium).',
  },
  'backup-library': {
    title: 'Back up library',
    buttonLabel: 'Choose',
    message: 'Choose the folder for the backup file.',
  },
};

/** The native folder dialog for our own window only; resolves to the chosen path or null. */
async function pickFolder(
  isTrustedFrame: SenderCheck,
  getWindow: () => BrowserWindow | null,
  event: IpcMainInvokeEvent,
  purpose: unknown,
): Promise<string | null> {
  const frame = event.senderFrame;
  if (!frame || !isTrustedFrame(frame)) {
    console.warn(`lacuna: refused the folder dialog to an untrusted frame: ${frame?.url ?? '(gone)'}`);
    return null;
  }
  const words = typeof purpose === 'string' && Object.hasOwn(FOLDER_DIALOGS, purpose) ? FOLDER_DIALOGS[purpose as FolderPurpose] : undefined;
  if (!words) return null;
  const options = { ...words, properties: ['openDirectory' as const, 'dontAddToRecent' as const] };
  const win = getWindow();
  const r = win && !win.isDestroyed() ? await dialog.showOpenDialog(win, options) : await dialog.showOpenDialog(options);
  return r.canceled || r.filePaths.length === 0 ? null : r.filePaths[0]!;
}

async function handle(core: ApiClient, isTrustedFrame: SenderCheck, method: Method, event: IpcMainInvokeEvent, params: unknown): Promise<Envelope> {
  const frame = event.senderFrame;
  if (!frame || !isTrustedFrame(frame)) {
    console.warn(`lacuna: refused ${method} from an untrusted frame: ${frame?.url ?? '(gone)'}`);
    return { ok: false, error: { code: 'bad_request', message: `${method}: refused, the caller is not the Lacuna window` } };
  }
  // A long call (fill, score, download) gets a requestId when the window gave none, and is
  // cancelled when the window that asked goes away (reload, navigation, crash, close).
  const given = withRequestId(method, params, () => `ipc-${randomUUID()}`);
  const stop =
    given.requestId === undefined
      ? () => undefined
      : cancelWhenGone(event.sender, () => void core.call('fill.cancel', { requestId: given.requestId! }).catch(() => undefined));
  try {
    const result = await core.call(method, given.params as Params<typeof method>);
    return { ok: true, result };
  } catch (err) {
    return { ok: false, error: ApiError.from(err).toJSON() };
  } finally {
    stop();
  }
}

/** Forward every core event to the window while it exists. Returns an unsubscribe function. */
export function forwardEvents(core: ApiClient, getWindow: () => BrowserWindow | null): () => void {
  return core.onEvent((event: ApiEvent) => {
    const win = getWindow();
    if (win && !win.isDestroyed() && !win.webContents.isDestroyed()) win.webContents.send(IPC_EVENT_CHANNEL, event);
  });
}
