/**
 * Locks the shell down: the window may show only our renderer, open nothing, attach no webviews,
 * get no permissions and reach nothing but its own files (or the dev server in `electron-vite dev`).
 */
import type { Session, WebContents } from 'electron';
import { isAllowedRequest, isRendererUrl, type RendererLocation } from './renderer-url';

/**
 * Same policy as the meta tag in src-renderer/index.html (the header covers responses from the dev
 * server; for file:// pages the meta tag is what Chromium applies).
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "object-src 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * `electron-vite dev` only: Vite's dev client injects component styles as <style> elements, which
 * need 'unsafe-inline' (the built app never does; there the strict policy above applies).
 */
export function contentSecurityPolicy(loc: RendererLocation): string {
  return loc.kind === 'dev' ? CONTENT_SECURITY_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'") : CONTENT_SECURITY_POLICY;
}

/**
 * Spell checking only where it stays on this computer (issue 16): macOS uses its own checker; on
 * Linux and Windows Chromium's Hunspell checker downloads its dictionaries from Google's CDN, so
 * there the checker is off (no dictionaries ship with the app).
 */
export function localSpellcheck(platform: NodeJS.Platform): boolean {
  return platform === 'darwin';
}

export function hardenSession(ses: Session, loc: RendererLocation, platform: NodeJS.Platform = process.platform): void {
  if (!localSpellcheck(platform)) {
    ses.setSpellCheckerEnabled(false);
    ses.setSpellCheckerLanguages([]);
  }

  // No camera, microphone, notifications, geolocation, clipboard-read, HID, serial, … ever.
  ses.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
  ses.setDevicePermissionHandler(() => false);

  // Offline app: refuse every request that is not our own renderer's.
  ses.webRequest.onBeforeRequest((details, callback) => {
    const allowed = isAllowedRequest(details.url, loc);
    if (!allowed) console.warn(`lacuna: blocked request to ${details.url}`);
    callback({ cancel: !allowed });
  });

  const csp = contentSecurityPolicy(loc);
  ses.webRequest.onHeadersReceived((details, callback) => {
    // Only our own pages (not DevTools, which brings its own policy).
    if (!/^(https?|file):/i.test(details.url) || !isAllowedRequest(details.url, loc)) {
      callback({});
      return;
    }
    const headers = { ...details.responseHeaders };
    for (const key of Object.keys(headers)) {
      if (key.toLowerCase() === 'content-security-policy') delete headers[key];
    }
    headers['Content-Security-Policy'] = [csp];
    headers['X-Content-Type-Options'] = ['nosniff'];
    callback({ responseHeaders: headers });
  });
}

/** Applied to every WebContents the app creates (app 'web-contents-created'). */
export function hardenContents(contents: WebContents, loc: RendererLocation): void {
  // Reloading or following an in-page link is fine; going anywhere else is not.
  contents.on('will-navigate', (event) => {
    if (!isRendererUrl(event.url, loc)) {
      event.preventDefault();
      console.warn(`lacuna: blocked navigation to ${event.url}`);
    }
  });
  contents.on('will-redirect', (event) => {
    if (!isRendererUrl(event.url, loc)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  // No new windows (there are no external links in the app; add shell.openExternal here if that changes).
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
}
