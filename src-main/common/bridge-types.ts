/**
 * The shape of `window.lacuna`, the object the Electron preload exposes to the renderer, and the
 * IPC channel names both sides use. Type-only apart from a few string constants: no Node, DOM or
 * Electron imports, so the preload, the shell and the renderer can all share it.
 *
 * Errors lose their class when they cross `ipcRenderer.invoke`, so the shell never throws across
 * IPC: every method resolves to an Envelope, and the renderer's bridge turns `ok: false` back into
 * an ApiError.
 */
import type { ErrorCode, Method, Params } from './api';

/** Name of the global the preload defines with contextBridge.exposeInMainWorld. */
export const BRIDGE_GLOBAL = 'lacuna';

/** IPC channel of an API method: `lacuna:<method>`, e.g. `lacuna:documents.save`. */
export const IPC_METHOD_PREFIX = 'lacuna:';

/** IPC channel the shell sends core events (ApiEvent) on. Not a method name, so it cannot collide. */
export const IPC_EVENT_CHANNEL = 'lacuna:event';

/** IPC channel of the shell's folder picker (not an API method: only the desktop app has one). */
export const IPC_PICK_FOLDER = 'lacuna:shell.pickFolder';

/**
 * The shell asks the renderer to save everything before its window closes (payload: a request id),
 * and the renderer answers on IPC_FLUSHED with the same id once it is done.
 */
export const IPC_FLUSH = 'lacuna:shell.flush';
export const IPC_FLUSHED = 'lacuna:shell.flushed';

/** What a folder is picked for; the shell words the dialog after it. */
export type FolderPurpose = 'import-model' | 'backup-library';

export function ipcChannel(method: Method): string {
  return IPC_METHOD_PREFIX + method;
}

/** What every IPC method call resolves to. `result` is validated by the renderer with parseResult. */
export type Envelope = { ok: true; result: unknown } | { ok: false; error: { code: ErrorCode; message: string } };

/** One function per API method, keyed by the method name (`lacuna['documents.list']({})`). */
export type LacunaMethods = { readonly [M in Method]: (params: Params<M>) => Promise<Envelope> };

export type LacunaBridge = LacunaMethods & {
  /**
   * Subscribe to core events. The listener receives each event as sent by the shell (an ApiEvent,
   * to be validated by the receiver). Returns an unsubscribe function.
   */
  readonly onEvent: (listener: (event: unknown) => void) => () => void;
  /** The native "choose a folder" dialog: the chosen absolute path, or null when cancelled. */
  readonly pickFolder: (purpose: FolderPurpose) => Promise<string | null>;
  /**
   * Before the window closes, the shell calls `flush` (save everything) and waits for it to settle,
   * with a timeout. One handler at a time; returns the function that removes it.
   */
  readonly onBeforeClose: (flush: () => Promise<void>) => () => void;
};
