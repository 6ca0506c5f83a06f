/**
 * The renderer's one way to reach the core. Picks the transport once, at startup:
 *
 *  - Electron: the preload's `window.lacuna` (one function per method over IPC, Envelope results).
 *  - Web mode: `POST /api/<method>` with the bearer token from the URL, and Server-Sent Events at
 *    `/api/events` for core events.
 *
 * Both implement ApiClient and validate every result with parseResult, so the rest of the renderer
 * never knows which one it runs on. Failures always surface as ApiError.
 */
import { ApiError, ApiEvent, parseResult, type ApiClient, type Method, type Params, type Result } from '../../src-main/common/api';
import { BRIDGE_GLOBAL, type Envelope, type FolderPurpose, type LacunaBridge } from '../../src-main/common/bridge-types';

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

const NO_TOKEN =
  'This page needs its access link. Open the address printed by Lacuna web mode (it ends in #token=…).';

export function webClient(token: string | null, base = ''): ApiClient {
  const listeners = new Set<Listener>();
  let source: EventSource | null = null;

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
    async call<M extends Method>(method: M, params: Params<M>): Promise<Result<M>> {
      if (!token) throw new ApiError('bad_request', NO_TOKEN);
      let res: Response;
      try {
        res = await fetch(`${base}/api/${method}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
          body: JSON.stringify(params ?? {}),
          cache: 'no-store',
        });
      } catch {
        throw new ApiError('internal', 'Cannot reach Lacuna. Is web mode still running?');
      }
      if (res.status === 401 || res.status === 403) throw new ApiError('bad_request', `Access refused (HTTP ${res.status}). ${NO_TOKEN}`);
      let body: unknown;
      try {
        body = await res.json();
      } catch {
        throw new ApiError('internal', `${method}: the server answered HTTP ${res.status} without a JSON body`);
      }
      return unwrap(method, body);
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
