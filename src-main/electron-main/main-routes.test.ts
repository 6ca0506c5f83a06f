/**
 * main.ts's command-line routes in the built bundle (out/main/index.js, built before the tests as
 * for the CLI tests), run by Node with a stand-in for the `electron` module that records what the
 * shell asks of it. Checks that `--lacuna-cli` and `--lacuna-probe` are answered before anything
 * of the app (no sandbox switch, no single-instance lock), headless, and exit with their status;
 * Electron itself (the packaged app) is not run here.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appRoot } from '../platform/paths';

const ROOT = appRoot();
const INDEX = join(ROOT, 'out', 'main', 'index.js');
const tmp = mkdtempSync(join(tmpdir(), 'lacuna-main-routes-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const STUB = `
import { appendFileSync } from 'node:fs';
const log = (...what) => appendFileSync(process.env.STUB_LOG, JSON.stringify(what) + '\\n');
const paths = {};
export const app = {
  isPackaged: false,
  getAppPath: () => process.env.STUB_APP_PATH,
  getVersion: () => '0.0.0',
  dock: { hide: () => log('dock.hide') },
  disableHardwareAcceleration: () => log('disableHardwareAcceleration'),
  commandLine: { appendSwitch: (...a) => log('appendSwitch', ...a) },
  setPath: (name, p) => { paths[name] = p; log('setPath', name, p); },
  getPath: (name) => paths[name],
  enableSandbox: () => log('enableSandbox'),
  requestSingleInstanceLock: () => { log('requestSingleInstanceLock'); return false; },
  quit: () => log('quit'),
  on: () => app,
  whenReady: () => new Promise(() => {}),
  exit: (code) => { log('exit', code); process.exit(code); },
};
const inert = new Proxy(function () {}, { get: () => inert, apply: () => inert, construct: () => inert });
export const BrowserWindow = inert, dialog = inert, ipcMain = inert, Menu = inert, nativeTheme = inert, session = inert, utilityProcess = inert;
`;
const HOOKS = `
export async function resolve(specifier, context, next) {
  if (specifier === 'electron') return { url: ${JSON.stringify(pathToFileURL(join(tmp, 'electron-stub.mjs')).href)}, shortCircuit: true };
  return next(specifier, context);
}
`;
const REGISTER = `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(tmp, 'hooks.mjs')).href)});\n`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  calls: unknown[][];
}

let runs = 0;
function runMain(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const log = join(tmp, `calls-${++runs}.jsonl`);
  writeFileSync(log, '');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', pathToFileURL(join(tmp, 'register.mjs')).href, INDEX, ...args], {
      cwd: ROOT,
      env: { ...process.env, LACUNA_DATA_DIR: join(tmp, 'data'), STUB_APP_PATH: ROOT, STUB_LOG: log, TMPDIR: join(tmp, 'tmp'), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => {
      const calls = readFileSync(log, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as unknown[]);
      resolve({ code, stdout, stderr, calls });
    });
  });
}

const HEADLESS_CALLS = (platform: NodeJS.Platform): unknown[][] => [
  ['dock.hide'],
  ['disableHardwareAcceleration'],
  ...(platform === 'linux' ? [['appendSwitch', 'password-store', 'basic']] : []),
];

describe('main.ts routes (built bundle, stand-in electron)', () => {
  beforeAll(() => {
    if (!existsSync(INDEX)) throw new Error(`${INDEX} is missing; build first (npm run build)`);
    writeFileSync(join(tmp, 'electron-stub.mjs'), STUB);
    writeFileSync(join(tmp, 'hooks.mjs'), HOOKS);
    writeFileSync(join(tmp, 'register.mjs'), REGISTER);
    mkdirSync(join(tmp, 'tmp'));
  });

  it('--lacuna-cli runs the CLI with the arguments after `--`, headless, and exits with its status', async () => {
    const ok = await runMain(['--ozone-platform=headless', '--disable-gpu', '--lacuna-cli', '--', 'models', 'list']);
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toMatch(/^\* lacuna-mini +Lacuna mini /);
    expect(ok.code).toBe(0);
    expect(ok.calls.slice(0, -2)).toEqual(HEADLESS_CALLS(process.platform));
    // Chromium's profile in a throwaway folder, never the app's; then the exit status.
    const setPath = ok.calls.at(-2)!;
    expect(setPath.slice(0, 2)).toEqual(['setPath', 'userData']);
    expect(String(setPath[2])).toMatch(/lacuna-run-/);
    expect(ok.calls.at(-1)).toEqual(['exit', 0]);
    expect(ok.calls.flat()).not.toContain('requestSingleInstanceLock');
    expect(ok.calls.flat()).not.toContain('enableSandbox');

    const bad = await runMain(['--lacuna-cli', '--', 'fill', 'no blank here']);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/^lacuna: the text has no blank/);
    expect(bad.code).toBe(1);
    expect(bad.calls.at(-1)).toEqual(['exit', 1]);
  });

  it('--lacuna-probe answers one JSON line and ignores module and library paths from its caller', async () => {
    const r = await runMain(['--ozone-platform=headless', '--disable-gpu', '--lacuna-probe'], {
      LACUNA_PROBE: JSON.stringify({ ep: 'cpu', ort: '/nonexistent/evil.js', dlopen: '/nonexistent/evil.so' }),
    });
    expect(r.stdout).toBe('{"ok":true,"y":[2.5,2.75,3,3.25]}\n');
    expect(r.code).toBe(0);
    expect(r.calls.at(-1)).toEqual(['exit', 0]);
    const refused = await runMain(['--lacuna-probe'], { LACUNA_PROBE: '{"ep":"nope"}' });
    expect(JSON.parse(refused.stdout)).toMatchObject({ ok: false });
    expect(refused.code).toBe(2);
  });

  it('leaves no throwaway profile behind', () => {
    expect(readdirSync(join(tmp, 'tmp')).filter((n) => n.startsWith('lacuna-run-'))).toEqual([]);
  });

  it('without a route switch starts the app (sandbox, single-instance lock) and no CLI', async () => {
    const r = await runMain([]);
    expect(r.stdout).toBe('');
    expect(r.calls).toEqual([['setPath', 'userData', join(tmp, 'data')], ['enableSandbox'], ['requestSingleInstanceLock'], ['quit']]);
  });
});
