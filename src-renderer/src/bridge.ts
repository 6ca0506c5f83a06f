/**
 * The renderer's one way to reach the core. Picks the transport once, at startup:
 *
 *  - Electron: the preload's `window.lacuna` (one function per method over IPC, Envelope results).
 *  - Web mode: `POST /api/<method>` with the bearer token from the URL, and Server-Sent Events at
 *    `/api/events` for core events. documents.save, which carries the whole document both ways, is
 *    posted from a worker (api-worker.ts) so that autosave does not stall typing.
 *
 * Both implement ApiClient and validate every result with parseResult, so the rest of the renderer
 * never knows which one it runs on. Failures always surface as ApiError.
 */
import { ApiError, ApiEvent, parseResult, type ApiClient, type CallOptions, type Method, type Params, type Result } from '../../src-main/common/api';
import { BRIDGE_GLOBAL, type Envelope, type FolderPurpose, type LacunaBridge } from '../../src-main/common/bridge-types';
import type { WorkerReply, WorkerRequest } from './api-worker';

type Listener = (event: ApiEvent) => void;

/** Validate an event from either transport; anything malformed is reported and dropped. */
function toEvent(raw: unknown): ApiEvent | null {
  const r = ApiEvent.safeParse(raw);
  if (r.success) return r.data;
  console.warn('Lacuna: ignoring a malformed event from the core', raw);
  return null;
}

function unwrap<M extends Method>(method: M, envelope: unknown): Result<M> {
  if (envelope && typeof envelope === 'object' && 'ok' in envelope) {
    const e = envelope as Envelope;
    if (e.ok === true) return parseResult(method, e.result);
    if (e.ok === false) throw ApiError.from(e.error);
  }
  throw new ApiError('internal', `${method}: malformed response from the core`);
}

// ---------------------------------------------------------------------------------------------
// Electron (preload)

export function electronClient(lacuna: LacunaBridge): ApiClient {
  return {
    async call<M extends Method>(method: M, params: Params<M>): Promise<Result<M>> {
      const fn = lacuna[method] as ((p: Params<M>) => Promise<Envelope>) | undefined;
      if (typeof fn !== 'function') throw new ApiError('internal', `${method}: not available in this version of the app`);
      let envelope: unknown;
      try {
        envelope = await fn(params);
      } catch (err) {
        // invoke itself failed (no handler, window closing): no envelope to read.
        throw ApiError.from(err);
      }
      return unwrap(method, envelope);
    },
    onEvent(listener: Listener): () => void {
      return lacuna.onEvent((raw) => {
        const event = toEvent(raw);
        if (event) listener(event);
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Web mode (loopback HTTP)

const TOKEN_KEY = 'lacuna.token';

/**
 * The access token: taken from `#token=…` on first load (then removed from the visible URL, so it
 * is not left in history or screenshots) and kept in sessionStorage so a reload still works.
 */
export function takeWebToken(): string | null {
  const fromHash = new URLSearchParams(location.hash.replace(/^#/, '')).get('token');
  if (fromHash) {
    try {
      sessionStorage.setItem(TOKEN_KEY, fromHash);
    } catch (err) {
      console.warn('Lacuna: sessionStorage unavailable; a reload will need the link again', err);
    }
    history.replaceState(history.state, '', location.pathname + location.search);
    return fromHash;
  }
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

const NO_TOKEN = 'This page needs its access link. Open the address printed by Lacuna web mode (it ends in #token=…).';

/** What a POST to the API answered: its HTTP status (0: unreachable) and its JSON body (undefined: none). */
interface Answer {
  status: number;
  body: unknown;
}

/**
 * The most a keepalive request may carry (browsers allow 64 KiB in flight across all of them); a
 * larger one is sent as a plain request, which survives the page only if it is fast enough.
 */
const KEEPALIVE_MAX_BYTES = 60_000;

async function post(url: string, token: string, params: unknown, keepalive = false): Promise<Answer> {
  let res: Response;
  try {
    const body = JSON.stringify(params ?? {});
    res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body,
      cache: 'no-store',
      // Outlives the page: a save sent as the page goes away (reload, close) still reaches web mode.
      keepalive: keepalive && new TextEncoder().encode(body).length <= KEEPALIVE_MAX_BYTES,
    });
  } catch {
    return { status: 0, body: undefined };
  }
  try {
    return { status: res.status, body: (await res.json()) as unknown };
  } catch {
    return { status: res.status, body: undefined };
  }
}

/**
 * The same POST from a worker (api-worker.ts), for documents.save: writing and reading a long
 * manuscript's JSON there keeps autosave from stalling typing. Null where workers cannot start;
 * the page then posts itself.
 */
function workerPoster(): ((url: string, token: string, params: unknown) => Promise<Answer>) | null {
  let worker: Worker;
  try {
    worker = new Worker(new URL('./api-worker.ts', import.meta.url), { type: 'module' });
  } catch (err) {
    console.warn('Lacuna: no worker for saving; saving from the page', err);
    return null;
  }
  let next = 1;
  const pending = new Map<number, (answer: Answer) => void>();
  let broken = false;
  worker.onmessage = (e: MessageEvent<WorkerReply>) => {
    const done = pending.get(e.data.id);
    pending.delete(e.data.id);
    done?.({ status: e.data.status, body: e.data.body });
  };
  worker.onerror = (e) => {
    // The worker could not load or crashed: the calls waiting on it, and later ones, go from the page.
    console.warn('Lacuna: the saving worker failed; saving from the page', e.message);
    broken = true;
    for (const done of pending.values()) done({ status: -1, body: undefined });
    pending.clear();
  };
  return (url, token, params) => {
    if (broken) return post(url, token, params);
    const id = next++;
    return new Promise<Answer>((resolve) => {
      pending.set(id, resolve);
      worker.postMessage({ id, url: new URL(url, location.href).href, token, params } satisfies WorkerRequest);
    }).then((answer) => (answer.status === -1 ? post(url, token, params) : answer));
  };
}

/** A web mode answer as the call's result, or the ApiError it stands for. */
function answer<M extends Method>(method: M, { status, body }: Answer): Result<M> {
  if (status === 0) throw new ApiError('internal', 'Cannot reach Lacuna. Is web mode still running?');
  if (status === 401 || status === 403) throw new ApiError('bad_request', `Access refused (HTTP ${status}). ${NO_TOKEN}`);
  if (body === undefined) throw new ApiError('internal', `${method}: the server answered HTTP ${status} without a JSON body`);
  return unwrap(method, body);
}

export function webClient(token: string | null, base = ''): ApiClient {
  const listeners = new Set<Listener>();
  let source: EventSource | null = null;
  let viaWorker: ReturnType<typeof workerPoster> | undefined;

  function connect(): void {
    if (source || !token) return;
    source = new EventSource(`${base}/api/events?token=${encodeURIComponent(token)}`);
    source.onmessage = (msg: MessageEvent<string>) => {
      let raw: unknown;
      try {
        raw = JSON.parse(msg.data);
      } catch {
        console.warn('Lacuna: ignoring an event that is not JSON', msg.data);
        return;
      }
      const event = toEvent(raw);
      if (event) for (const l of [...listeners]) l(event);
    };
    source.onerror = () => {
      // EventSource reconnects by itself while readyState is CONNECTING; CLOSED means it gave up
      // (for example the token was refused). Progress is then missing, but calls still work.
      if (source?.readyState === EventSource.CLOSED) {
        console.warn('Lacuna: the event stream closed; fill progress will not be shown');
        source = null;
      }
    };
  }

  return {
    async call<M extends Method>(method: M, params: Params<M>, options?: CallOptions): Promise<Result<M>> {
      if (!token) throw new ApiError('bad_request', NO_TOKEN);
      const url = `${base}/api/${method}`;
      // A call that must outlive the page goes from the page itself: a worker dies with it.
      if (options?.keepalive) return answer(method, await post(url, token, params, true));
      if (method === 'documents.save' && viaWorker === undefined) viaWorker = typeof Worker === 'function' ? workerPoster() : null;
      return answer(method, method === 'documents.save' && viaWorker ? await viaWorker(url, token, params) : await post(url, token, params));
    },
    onEvent(listener: Listener): () => void {
      listeners.add(listener);
      connect();
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0 && source) {
          source.close();
          source = null;
        }
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------

function pick(): ApiClient {
  const lacuna = (globalThis as Record<string, unknown>)[BRIDGE_GLOBAL] as LacunaBridge | undefined;
  if (lacuna && typeof lacuna === 'object') return electronClient(lacuna);
  return webClient(takeWebToken());
}

/** The app's client, chosen once at startup. */
export const client: ApiClient = pick();

/**
 * The desktop app's native folder dialog (null when cancelled), or undefined in web mode, where
 * the page cannot learn a folder's path and asks the writer to type it instead.
 */
export const pickFolder: ((purpose: FolderPurpose) => Promise<string | null>) | undefined = (() => {
  const lacuna = (globalThis as Record<string, unknown>)[BRIDGE_GLOBAL] as LacunaBridge | undefined;
  return lacuna && typeof lacuna.pickFolder === 'function' ? (purpose: FolderPurpose) => lacuna.pickFolder(purpose) : undefined;
})();

/**
 * The desktop app's window is about to close: `flush` saves everything, and the shell waits for it
 * (with a timeout) before the window goes. Undefined in web mode, where the page saves on pagehide.
 */
export const onBeforeClose: ((flush: () => Promise<void>) => () => void) | undefined = (() => {
  const lacuna = (globalThis as Record<string, unknown>)[BRIDGE_GLOBAL] as LacunaBridge | undefined;
  return lacuna && typeof lacuna.onBeforeClose === 'function' ? (flush: () => Promise<void>) => lacuna.onBeforeClose(flush) : undefined;
})();
