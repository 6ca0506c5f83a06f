import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isAllowedRequest, isRendererUrl, rendererLocation } from './renderer-url';

const appPath = resolve('/opt/lacuna/app');
const prod = rendererLocation(appPath, undefined);
const index = pathToFileURL(join(appPath, 'out', 'renderer', 'index.html')).href;
const dev = rendererLocation(appPath, 'http://localhost:5173/');

describe('rendererLocation', () => {
  it('is out/renderer/index.html in production and the dev server otherwise', () => {
    expect(prod).toEqual({ kind: 'file', indexPath: join(appPath, 'out', 'renderer', 'index.html') });
    expect(dev).toEqual({ kind: 'dev', url: 'http://localhost:5173/', origin: 'http://localhost:5173' });
    expect(() => rendererLocation(appPath, 'file:///etc/passwd')).toThrow(/http/);
  });
});

describe('isRendererUrl', () => {
  it('accepts our page with any fragment or query', () => {
    expect(isRendererUrl(index, prod)).toBe(true);
    expect(isRendererUrl(`${index}#doc`, prod)).toBe(true);
    expect(isRendererUrl(`${index}?x=1`, prod)).toBe(true);
    expect(isRendererUrl('http://localhost:5173/', dev)).toBe(true);
    expect(isRendererUrl('http://localhost:5173/src/main.ts', dev)).toBe(true);
  });

  it('refuses other files, other origins and junk', () => {
    expect(isRendererUrl(pathToFileURL(join(appPath, 'out', 'renderer', 'other.html')).href, prod)).toBe(false);
    expect(isRendererUrl(pathToFileURL(join(appPath, 'out', 'renderer', '..', 'renderer-evil', 'index.html')).href, prod)).toBe(false);
    expect(isRendererUrl('file:///etc/passwd', prod)).toBe(false);
    expect(isRendererUrl('https://example.com/', prod)).toBe(false);
    expect(isRendererUrl('http://localhost:5174/', dev)).toBe(false);
    expect(isRendererUrl('http://127.0.0.1:5173/', dev)).toBe(false);
    expect(isRendererUrl(index, dev)).toBe(false);
    expect(isRendererUrl('not a url', prod)).toBe(false);
    expect(isRendererUrl('', prod)).toBe(false);
  });
});

describe('isAllowedRequest', () => {
  it('allows the renderer’s own files only', () => {
    expect(isAllowedRequest(index, prod)).toBe(true);
    expect(isAllowedRequest(pathToFileURL(join(appPath, 'out', 'renderer', 'assets', 'index.js')).href, prod)).toBe(true);
    expect(isAllowedRequest('data:image/png;base64,AAAA', prod)).toBe(true);
    expect(isAllowedRequest(pathToFileURL(join(appPath, 'out', 'main', 'index.js')).href, prod)).toBe(false);
    expect(isAllowedRequest(pathToFileURL(join(appPath, 'out', 'renderer-x', 'a.js')).href, prod)).toBe(false);
    expect(isAllowedRequest('file:///etc/passwd', prod)).toBe(false);
  });

  it('allows nothing remote; the dev server only in dev', () => {
    expect(isAllowedRequest('https://fonts.googleapis.com/css', prod)).toBe(false);
    expect(isAllowedRequest('http://localhost:5173/', prod)).toBe(false);
    expect(isAllowedRequest('http://localhost:5173/@vite/client', dev)).toBe(true);
    expect(isAllowedRequest('ws://localhost:5173/', dev)).toBe(true);
    expect(isAllowedRequest('https://example.com/', dev)).toBe(false);
    expect(isAllowedRequest(index, dev)).toBe(false);
  });
});
