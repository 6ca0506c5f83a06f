import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../common/api';
import { checkToken, parseServerUrl, ServerSettingInput } from '../common/inference-server';
import { SERVER_SETTING_FILE, ServerSettingStore } from './inference-server';

const dirs: string[] = [];
function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'lacuna-server-setting-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  vi.restoreAllMocks();
});

describe('the inference server address', () => {
  it('keeps http(s) addresses with a path, without a trailing slash', () => {
    expect(parseServerUrl(' http://127.0.0.1:8000/ ')).toBe('http://127.0.0.1:8000');
    expect(parseServerUrl('https://gpu.lan/triton/')).toBe('https://gpu.lan/triton');
    expect(parseServerUrl('HTTPS://GPU.lan:443')).toBe('https://gpu.lan');
  });

  it('refuses what it cannot safely use, in words', () => {
    expect(() => parseServerUrl('gpu.lan:8000')).toThrow(/http or https, not gpu.lan/);
    expect(() => parseServerUrl('not an address')).toThrow(/is not an address/);
    expect(() => parseServerUrl('ftp://gpu.lan')).toThrow('the inference server must be reached over http or https, not ftp');
    expect(() => parseServerUrl('http://me:pw@gpu.lan')).toThrow(/no user name or password/);
    expect(() => parseServerUrl('http://gpu.lan/?x=1')).toThrow(/no \?query/);
    expect(() => checkToken('two words')).toThrow(/printable ASCII/);
    expect(() => checkToken('é')).toThrow(/printable ASCII/);
    expect(checkToken(' abc.DEF-123 ')).toBe('abc.DEF-123');
  });

  it('is checked by the contract with the same words', () => {
    const r = ServerSettingInput.safeParse({ url: 'ftp://x' });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toBe('the inference server must be reached over http or https, not ftp');
    expect(ServerSettingInput.safeParse({ url: 'http://x', timeoutSeconds: 0 }).success).toBe(false);
    expect(ServerSettingInput.safeParse({ url: null }).success).toBe(true);
  });
});

describe('ServerSettingStore', () => {
  it('is off until set; refuses the remote device then, with what to do', () => {
    const store = new ServerSettingStore(dataDir());
    expect(store.get()).toEqual({ url: null, hasToken: false, timeoutSeconds: 60 });
    expect(store.serverFor('cpu')).toBeUndefined();
    expect(() => store.serverFor('remote')).toThrow(ApiError);
    expect(() => store.serverFor('remote')).toThrow(/No inference server is set, so the remote device is off/);
  });

  it('saves the address, token and timeout in a file only this user can read, and never returns the token', () => {
    const dir = dataDir();
    const store = new ServerSettingStore(dir);
    expect(store.set({ url: 'http://127.0.0.1:8000/', token: 'tok-1', timeoutSeconds: 5 })).toEqual({
      url: 'http://127.0.0.1:8000',
      hasToken: true,
      timeoutSeconds: 5,
    });
    const file = join(dir, SERVER_SETTING_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ url: 'http://127.0.0.1:8000', token: 'tok-1', timeoutSeconds: 5 });
    expect(new ServerSettingStore(dir).serverFor('remote')).toEqual({ url: 'http://127.0.0.1:8000', token: 'tok-1', timeoutMs: 5000 });
  });

  it('keeps the token for another path on the same origin, drops it for another origin, removes it on null', () => {
    const store = new ServerSettingStore(dataDir());
    store.set({ url: 'https://gpu.lan', token: 'tok' });
    expect(store.set({ url: 'https://gpu.lan/triton' }).hasToken).toBe(true);
    expect(store.set({ url: 'https://other.lan' }).hasToken).toBe(false);
    store.set({ url: 'https://other.lan', token: 'tok2' });
    expect(store.set({ url: 'https://other.lan', token: null }).hasToken).toBe(false);
    expect(store.serverFor('remote')).toEqual({ url: 'https://other.lan', timeoutMs: 60_000 });
    expect(store.set({ url: null })).toEqual({ url: null, hasToken: false, timeoutSeconds: 60 });
  });

  it('reads a damaged file as no server (said on stderr), not as a wrong one', () => {
    const dir = dataDir();
    writeFileSync(join(dir, SERVER_SETTING_FILE), '{"url": "ftp://evil", "token": "x"}');
    const said = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    expect(new ServerSettingStore(dir).get().url).toBeNull();
    expect(said.mock.calls[0]?.[0]).toMatch(/is damaged and was ignored/);
    writeFileSync(join(dir, SERVER_SETTING_FILE), '{"url": "http://ok:1"');
    expect(() => new ServerSettingStore(dir).serverFor('remote')).toThrow(/No inference server is set/);
  });

  it("uses a command's own server (--device remote:URL) without saving it", () => {
    const dir = dataDir();
    const store = new ServerSettingStore(dir, { url: 'http://127.0.0.1:9000', timeoutMs: 60_000 });
    expect(store.serverFor('remote')).toEqual({ url: 'http://127.0.0.1:9000', timeoutMs: 60_000 });
    expect(store.get()).toEqual({ url: 'http://127.0.0.1:9000', hasToken: false, timeoutSeconds: 60 });
    expect(() => store.set({ url: 'http://x' })).toThrow(/its own inference server/);
    expect(new ServerSettingStore(dir).get().url).toBeNull();
  });
});
