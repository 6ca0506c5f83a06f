/**
 * The Electron transport end to end without Electron: a fake `electron` module wires the real
 * preload (src-main/preload/preload.ts) to the real IPC handlers (ipc.ts) in memory, with
 * structured cloning in between as real IPC does, and the real renderer bridge
 * (src-renderer/src/bridge.ts) on top. What crosses must be exactly what the contract says.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ApiError, methods, type ApiClient, type ApiEvent, type Method, type Params, type Result } from '../common/api';
import { IPC_EVENT_CHANNEL, IPC_FLUSH, IPC_FLUSHED } from '../common/bridge-types';
import { isTrustedFrame, rendererLocation } from './renderer-url';

type Handler = (event: { senderFrame: { url: string; parent: unknown } | null; sender: unknown }, ...args: unknown[]) => unknown;
type Listener = (event: unknown, ...args: unknown[]) => void;

const fake = vi.hoisted(() => ({
  handlers: new Map<string, Handler>(),
  listeners: new Map<string, Set<Listener>>(),
  exposed: new Map<string, unknown>(),
  frame: { url: '', parent: null as unknown } as { url: string; parent: unknown } | null,
  dialogs: [] as unknown[],
  sent: [] as unknown[][],
  dialogAnswer: { canceled: true, filePaths: [] as string[] },
}));

vi.mock('electron', () => ({
  ipcMain: {
    handle(channel: string, fn: Handler) {
      if (fake.handlers.has(channel)) throw new Error(`second handler for ${channel}`);
      fake.handlers.set(channel, fn);
    },
    removeHandler(channel: string) {
      fake.handlers.delete(channel);
    },
  },
  ipcRenderer: {
    async invoke(channel: string, ...args: unknown[]) {
      const h = fake.handlers.get(channel);
      if (!h) throw new Error(`Error invoking remote method '${channel}': No handler registered`);
      // Like Electron: arguments and results are structured-cloned; a thrown error becomes a plain Error.
      try {
        // The sender: the window's WebContents, as far as ipc.ts watches it (caller-gone.ts).
        const { EventEmitter } = await import('node:events');
        return structuredClone(await h({ senderFrame: fake.frame, sender: new EventEmitter() }, ...structuredClone(args)));
      } catch (err) {
        throw new Error(`Error invoking remote method '${channel}': ${String(err)}`, { cause: err });
      }
    },
    on(channel: string, listener: Listener) {
      if (!fake.listeners.has(channel)) fake.listeners.set(channel, new Set());
      fake.listeners.get(channel)!.add(listener);
    },
    removeListener(channel: string, listener: Listener) {
      fake.listeners.get(channel)?.delete(listener);
    },
    send(channel: string, ...args: unknown[]) {
      fake.sent.push([channel, ...structuredClone(args)]);
    },
  },
  contextBridge: {
    exposeInMainWorld(key: string, api: unknown) {
      fake.exposed.set(key, api);
    },
  },
  dialog: {
    async showOpenDialog(...args: unknown[]) {
      fake.dialogs.push(args.at(-1));
      return fake.dialogAnswer;
    },
  },
}));

const appPath = join('/', 'opt', 'lacuna');
const loc = rendererLocation(appPath, undefined);
const OUR_PAGE = pathToFileURL(join(appPath, 'out', 'renderer', 'index.html')).href;
const DOC_ID = 'a'.repeat(32);
const doc = { id: DOC_ID, title: 'T', body: 'B ____', createdAt: 1, updatedAt: 2, revision: 3 };

/** A stand-in core: answers from the contract's shapes, fails where the test wants it to. */
class FakeCore implements ApiClient {
  readonly seen: { method: Method; params: unknown }[] = [];
  private readonly listeners = new Set<(e: ApiEvent) => void>();
  async call<M extends Method>(method: M, params: Params<M>): Promise<Result<M>> {
    this.seen.push({ method, params });
    switch (method) {
      case 'documents.open':
        return doc as Result<M>;
      case 'documents.save':
        throw new ApiError('conflict', 'the document changed since revision 3');
      case 'app.info':
        return { version: 1 } as unknown as Result<M>; // malformed on purpose
      case 'fill.run': {
        const requestId = (params as { requestId: string }).requestId;
        for (const l of this.listeners) l({ type: 'fill.progress', requestId, step: 1, steps: 2, masked: 5 });
        return {
          requestId,
          text: 'B x',
          fills: ['x'],
          model: 'm',
          steps: 2,
          seed: 1,
          temperature: 1,
          device: 'cpu',
          networkCalls: 2,
          durationMs: 1,
        } as Result<M>;
      }
      case 'models.list':
        throw new TypeError('boom'); // not an ApiError: must arrive as 'internal'
      default:
        return [] as unknown as Result<M>;
    }
  }
  onEvent(listener: (e: ApiEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

const core = new FakeCore();
let client: ApiClient;
let unregister: () => void;
let stopForwarding: () => void;

beforeAll(async () => {
  const { registerIpc, forwardEvents } = await import('./ipc');
  unregister = registerIpc(core, (frame) => isTrustedFrame(frame, loc));
  const window = {
    isDestroyed: () => false,
    webContents: {
      isDestroyed: () => false,
      send(channel: string, payload: unknown) {
        // The renderer-side IpcRendererEvent carries `sender` (ipcRenderer): it must not reach the page.
        for (const l of fake.listeners.get(channel) ?? []) l({ sender: 'ipcRenderer' }, structuredClone(payload));
      },
    },
  };
  stopForwarding = forwardEvents(core, () => window as never);
  await import('../preload/preload');
  (globalThis as Record<string, unknown>).lacuna = fake.exposed.get('lacuna');
  // A path the type checker does not follow (bridge.ts is DOM code, checked by svelte-check).
  const bridgePath = '../../src-renderer/src/bridge';
  ({ client } = (await import(/* @vite-ignore */ bridgePath)) as { client: ApiClient });
});

afterAll(() => {
  stopForwarding?.();
  unregister?.();
  delete (globalThis as Record<string, unknown>).lacuna;
});

describe('preload', () => {
  it('exposes one function per API method plus onEvent, and nothing else', () => {
    expect([...fake.exposed.keys()]).toEqual(['lacuna']);
    const api = fake.exposed.get('lacuna') as Record<string, unknown>;
    expect(Object.keys(api).sort()).toEqual([...methods, 'onEvent', 'pickFolder', 'onBeforeClose'].sort());
    for (const v of Object.values(api)) expect(typeof v).toBe('function');
    expect(Object.isFrozen(api)).toBe(true);
  });

  it('registers exactly one IPC handler per method', () => {
    expect([...fake.handlers.keys()].sort()).toEqual([...methods.map((m) => `lacuna:${m}`), 'lacuna:shell.pickFolder'].sort());
  });
});

describe('before the window closes', () => {
  it('runs the renderer’s flush when the shell asks, and answers with the same id once it is done', async () => {
    const api = fake.exposed.get('lacuna') as { onBeforeClose: (flush: () => Promise<void>) => () => void };
    let saved = false;
    let finish!: () => void;
    const off = api.onBeforeClose(() => new Promise<void>((r) => (finish = r)).then(() => void (saved = true)));
    for (const l of fake.listeners.get(IPC_FLUSH) ?? []) l({}, 7);
    await new Promise((r) => setTimeout(r, 10));
    expect(fake.sent).toEqual([]); // not before the saves are done
    finish();
    await expect.poll(() => fake.sent).toEqual([[IPC_FLUSHED, 7]]);
    expect(saved).toBe(true);
    // A failing flush still answers (the shell would otherwise wait for its timeout).
    off();
    expect(fake.listeners.get(IPC_FLUSH)?.size ?? 0).toBe(0);
    const off2 = api.onBeforeClose(() => Promise.reject(new Error('disk full')));
    for (const l of fake.listeners.get(IPC_FLUSH) ?? []) l({}, 8);
    await expect
      .poll(() => fake.sent)
      .toEqual([
        [IPC_FLUSHED, 7],
        [IPC_FLUSHED, 8],
      ]);
    off2();
  });
});

describe('folder dialog', () => {
  it('opens the native dialog for our window only, and returns the path or null', async () => {
    const api = fake.exposed.get('lacuna') as { pickFolder: (purpose: string) => Promise<string | null> };
    fake.frame = { url: OUR_PAGE, parent: null };
    fake.dialogs.length = 0;
    fake.dialogAnswer = { canceled: false, filePaths: ['/home/w/Downloads/sedd-small'] };
    expect(await api.pickFolder('import-model')).toBe('/home/w/Downloads/sedd-small');
    expect(fake.dialogs).toHaveLength(1);
    expect(fake.dialogs[0]).toMatchObject({ title: 'Import model', properties: ['openDirectory', 'dontAddToRecent'] });
    fake.dialogAnswer = { canceled: true, filePaths: [] };
    expect(await api.pickFolder('import-model')).toBeNull();
    fake.dialogAnswer = { canceled: false, filePaths: ['/home/w/Backups'] };
    expect(await api.pickFolder('backup-library')).toBe('/home/w/Backups');
    expect(fake.dialogs[2]).toMatchObject({ title: 'Back up library', properties: ['openDirectory', 'dontAddToRecent'] });

    // an unknown purpose or another page: no dialog at all
    expect(await api.pickFolder('anything')).toBeNull();
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    fake.frame = { url: 'https://evil.example/', parent: null };
    fake.dialogAnswer = { canceled: false, filePaths: ['/etc'] };
    expect(await api.pickFolder('import-model')).toBeNull();
    warn.mockRestore();
    expect(fake.dialogs).toHaveLength(3);
  });
});

describe('renderer bridge over IPC', () => {
  it('returns validated results', async () => {
    fake.frame = { url: OUR_PAGE, parent: null };
    expect(await client.call('documents.open', { id: DOC_ID })).toEqual(doc);
    expect(core.seen.at(-1)).toEqual({ method: 'documents.open', params: { id: DOC_ID } });
  });

  it('rebuilds ApiError with its code across IPC', async () => {
    fake.frame = { url: OUR_PAGE, parent: null };
    const err = await client.call('documents.save', { id: DOC_ID, title: 't', body: 'b', baseRevision: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe('conflict');
    expect((err as ApiError).message).toMatch(/revision 3/);

    const other = await client.call('models.list', {}).catch((e: unknown) => e);
    expect(other).toBeInstanceOf(ApiError);
    expect((other as ApiError).code).toBe('internal');
    expect((other as ApiError).message).toMatch(/boom/);
  });

  it('rejects a malformed result', async () => {
    fake.frame = { url: OUR_PAGE, parent: null };
    const err = await client.call('app.info', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).message).toMatch(/app\.info: malformed result/);
  });

  it('refuses calls from other pages and from subframes, without reaching the core', async () => {
    const before = core.seen.length;
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    for (const frame of [
      { url: 'https://evil.example/', parent: null },
      { url: pathToFileURL(join(appPath, 'out', 'renderer', 'other.html')).href, parent: null },
      { url: OUR_PAGE, parent: {} },
      null,
    ]) {
      fake.frame = frame;
      const err = await client.call('documents.list', {}).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).message).toMatch(/not the Lacuna window/);
    }
    expect(core.seen.length).toBe(before);
    expect(warn).toHaveBeenCalledTimes(4);
    warn.mockRestore();
  });

  it('delivers core events as validated ApiEvents only, and unsubscribes', async () => {
    fake.frame = { url: OUR_PAGE, parent: null };
    const got: unknown[][] = [];
    const off = client.onEvent((...args: unknown[]) => got.push(args));
    await client.call('fill.run', { requestId: 'r1', text: 'B ____' });
    expect(got).toEqual([[{ type: 'fill.progress', requestId: 'r1', step: 1, steps: 2, masked: 5 }]]);

    // Junk on the event channel is dropped, not passed on.
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    for (const l of fake.listeners.get(IPC_EVENT_CHANNEL) ?? []) l({}, { type: 'nonsense' });
    expect(got.length).toBe(1);
    expect(warn).toHaveBeenCalled();
    warn.mockRestore();

    off();
    expect(fake.listeners.get(IPC_EVENT_CHANNEL)?.size ?? 0).toBe(0);
    await client.call('fill.run', { requestId: 'r2', text: 'B ____' });
    expect(got.length).toBe(1);
  });
});
