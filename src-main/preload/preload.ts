/**
 * The sandboxed preload (bundled to out/preload/preload.cjs, CommonJS, self-contained).
 *
 * Exposes `window.lacuna`: one function per API method, each a thin `ipcRenderer.invoke` on the
 * method's channel, plus `onEvent`, `pickFolder` (the shell's native folder dialog) and
 * `onBeforeClose` (save before the window closes). Nothing else crosses: never ipcRenderer itself,
 * never the IpcRendererEvent (whose `sender` is ipcRenderer). Params are validated by the shell;
 * results by the renderer (src-renderer/src/bridge.ts).
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { methods, type Method } from '../common/api';
import {
  BRIDGE_GLOBAL,
  IPC_EVENT_CHANNEL,
  IPC_FLUSH,
  IPC_FLUSHED,
  IPC_PICK_FOLDER,
  ipcChannel,
  type Envelope,
  type FolderPurpose,
  type LacunaBridge,
} from '../common/bridge-types';

function invoker(method: Method): (params: unknown) => Promise<Envelope> {
  const channel = ipcChannel(method);
  return (params: unknown) => ipcRenderer.invoke(channel, params ?? {}) as Promise<Envelope>;
}

function onEvent(listener: (event: unknown) => void): () => void {
  if (typeof listener !== 'function') throw new TypeError('lacuna.onEvent needs a function');
  const handler = (_event: IpcRendererEvent, payload: unknown): void => listener(payload);
  ipcRenderer.on(IPC_EVENT_CHANNEL, handler);
  return () => {
    ipcRenderer.removeListener(IPC_EVENT_CHANNEL, handler);
  };
}

async function pickFolder(purpose: FolderPurpose): Promise<string | null> {
  const chosen: unknown = await ipcRenderer.invoke(IPC_PICK_FOLDER, purpose);
  return typeof chosen === 'string' ? chosen : null;
}

let closeHandler: IpcListener | null = null;
type IpcListener = (event: IpcRendererEvent, id: unknown) => void;

function onBeforeClose(flush: () => Promise<void>): () => void {
  if (typeof flush !== 'function') throw new TypeError('lacuna.onBeforeClose needs a function');
  const handler: IpcListener = (_event, id) => {
    // Whatever happens, answer: the shell closes the window on the answer (or its timeout).
    void Promise.resolve()
      .then(flush)
      .catch(() => undefined)
      .then(() => ipcRenderer.send(IPC_FLUSHED, id));
  };
  if (closeHandler) ipcRenderer.removeListener(IPC_FLUSH, closeHandler);
  closeHandler = handler;
  ipcRenderer.on(IPC_FLUSH, handler);
  return () => {
    ipcRenderer.removeListener(IPC_FLUSH, handler);
    if (closeHandler === handler) closeHandler = null;
  };
}

const bridge = Object.freeze({
  ...Object.fromEntries(methods.map((m) => [m, invoker(m)])),
  onEvent,
  pickFolder,
  onBeforeClose,
}) as unknown as LacunaBridge;

contextBridge.exposeInMainWorld(BRIDGE_GLOBAL, bridge);
