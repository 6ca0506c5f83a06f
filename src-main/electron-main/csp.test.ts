/** The renderer's Content-Security-Policy: strict, local-only, and the same in the meta tag and the shell's header. */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Session } from 'electron';
import { CONTENT_SECURITY_POLICY, contentSecurityPolicy, hardenSession, localSpellcheck } from './security';
import { rendererLocation } from './renderer-url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function directives(policy: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of policy.split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) out.set(name, values.sort());
  }
  return out;
}

function metaPolicy(): string {
  const html = readFileSync(join(root, 'src-renderer', 'index.html'), 'utf8');
  const m = /<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]+)"/i.exec(html);
  if (!m) throw new Error('src-renderer/index.html has no Content-Security-Policy meta tag');
  return m[1]!;
}

describe('Content-Security-Policy', () => {
  it('meta tag and shell header agree (frame-ancestors only works as a header)', () => {
    const header = directives(CONTENT_SECURITY_POLICY);
    header.delete('frame-ancestors');
    expect(directives(metaPolicy())).toEqual(header);
  });

  it('allows no inline or eval script and nothing remote', () => {
    for (const policy of [metaPolicy(), CONTENT_SECURITY_POLICY]) {
      const d = directives(policy);
      expect(d.get('default-src')).toEqual(["'none'"]);
      expect(d.get('script-src')).toEqual(["'self'"]);
      expect(d.get('style-src')).toEqual(["'self'"]);
      expect(d.get('object-src')).toEqual(["'none'"]);
      expect(d.get('base-uri')).toEqual(["'none'"]);
      for (const values of d.values()) {
        for (const v of values) expect(v).toMatch(/^('self'|'none'|data:)$/);
      }
    }
  });

  it('relaxes only inline styles, and only for the dev server', () => {
    expect(contentSecurityPolicy(rendererLocation('/app', undefined))).toBe(CONTENT_SECURITY_POLICY);
    const dev = directives(contentSecurityPolicy(rendererLocation('/app', 'http://localhost:5173')));
    expect(dev.get('style-src')).toEqual(["'self'", "'unsafe-inline'"]);
    expect(dev.get('script-src')).toEqual(["'self'"]);
  });
});

describe('spell checking stays on this computer (issue 16)', () => {
  it('is on only where the system checks spelling (macOS), and the session never fetches dictionaries elsewhere', () => {
    expect((['darwin', 'linux', 'win32'] as const).map(localSpellcheck)).toEqual([true, false, false]);
    for (const platform of ['linux', 'win32', 'darwin'] as const) {
      const calls: string[] = [];
      const handler = { setPermissionRequestHandler() {}, setPermissionCheckHandler() {}, setDevicePermissionHandler() {} };
      const ses = {
        ...handler,
        setSpellCheckerEnabled: (on: boolean) => calls.push(`enabled ${on}`),
        setSpellCheckerLanguages: (langs: string[]) => calls.push(`languages ${langs.length}`),
        webRequest: { onBeforeRequest() {}, onHeadersReceived() {} },
      } as unknown as Session;
      hardenSession(ses, rendererLocation('/app', undefined), platform);
      expect(calls, platform).toEqual(platform === 'darwin' ? [] : ['enabled false', 'languages 0']);
    }
  });
});
