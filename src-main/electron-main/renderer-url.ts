/**
 * Where the renderer lives, and whether a URL is it. Pure (no electron import) so it can be
 * unit-tested; used for the IPC sender check and for blocking navigation.
 */
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type RendererLocation =
  /** Production: out/renderer/index.html, loaded with loadFile. */
  | { kind: 'file'; indexPath: string }
  /** `electron-vite dev`: the Vite dev server (ELECTRON_RENDERER_URL). */
  | { kind: 'dev'; url: string; origin: string };

export function rendererLocation(appPath: string, devUrl: string | undefined): RendererLocation {
  if (devUrl) {
    const u = new URL(devUrl);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`ELECTRON_RENDERER_URL must be http(s), got ${devUrl}`);
    return { kind: 'dev', url: devUrl, origin: u.origin };
  }
  return { kind: 'file', indexPath: resolve(appPath, 'out', 'renderer', 'index.html') };
}

function samePath(a: string, b: string): boolean {
  // Windows and macOS file systems are case-insensitive by default.
  return process.platform === 'linux' ? a === b : a.toLowerCase() === b.toLowerCase();
}

/** True when `url` is our renderer's page (any fragment or query). Anything unparsable is false. */
export function isRendererUrl(url: string, loc: RendererLocation): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (loc.kind === 'dev') return u.origin === loc.origin;
  if (u.protocol !== 'file:' || (u.host !== '' && u.host !== 'localhost')) return false;
  let path: string;
  try {
    path = resolve(fileURLToPath(u));
  } catch {
    return false;
  }
  return samePath(path, loc.indexPath);
}

/**
 * Requests the renderer may make. Production: only its own files (and data:/blob: URLs it builds
 * itself). Dev: also the Vite dev server (http and its HMR websocket). Nothing remote, ever.
 */
export function isAllowedRequest(url: string, loc: RendererLocation): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  switch (u.protocol) {
    case 'data:':
    case 'blob:':
    case 'devtools:':
      return true;
    case 'file:': {
      if (loc.kind !== 'file') return false;
      try {
        // Only files inside out/renderer (index.html, assets/…).
        const rel = relative(dirname(loc.indexPath), resolve(fileURLToPath(u)));
        return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
      } catch {
        return false;
      }
    }
    case 'http:':
    case 'https:':
    case 'ws:':
    case 'wss:': {
      if (loc.kind !== 'dev') return false;
      const origin = new URL(loc.origin);
      return u.hostname === origin.hostname && u.port === origin.port;
    }
    default:
      return false;
  }
}

/** The IPC sender check: the top frame of our renderer, nothing else (no subframes, no other pages). */
export function isTrustedFrame(frame: { readonly url: string; readonly parent: unknown }, loc: RendererLocation): boolean {
  return frame.parent === null && isRendererUrl(frame.url, loc);
}
