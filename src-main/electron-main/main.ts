/**
 * The Electron shell (built to out/main/index.js): app lifecycle, the one window, and the bridge
 * from the renderer to the core. The only code (with the preload) that imports electron; the core
 * itself is the same plain-Node one that web mode, the CLI and the tests use.
 *
 * First thing, the command line picks a route (app-routes.ts): the desktop app, or — for the
 * packaged app, whose RunAsNode fuse is off — the CLI (`--lacuna-cli`, the `lacuna` launcher) or an
 * execution-provider probe (`--lacuna-probe`, engine/providers.ts), which run here in the main
 * process with no window, no single-instance lock and no Dock icon, and exit with their status.
 */
import { app, BrowserWindow, dialog, ipcMain, Menu, nativeTheme, session, type MenuItemConstructorOptions } from 'electron';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { APP_ENTRY_ENV, appRoute, type AppRoute } from '../platform/app-routes';
import { createCore, warmStart, type Core } from '../service/core';
import { EngineClient } from '../engine/process/engine-client';
import { runProbeRoute } from '../engine/runtime/providers';
import { dataDir, modelDirs } from '../platform/paths';
import { flushBeforeClose } from './close-flush';
import { utilityEngineHost } from './engine-port';
import { forwardEvents, registerIpc } from './ipc';
import { isTrustedFrame, rendererLocation, type RendererLocation } from './renderer-url';
import { hardenContents, hardenSession, localSpellcheck } from './security';

const appPath = app.getAppPath();
const loc: RendererLocation = rendererLocation(appPath, app.isPackaged ? undefined : process.env.ELECTRON_RENDERER_URL);

let win: BrowserWindow | null = null;
let core: Core | null = null;
let coreClosed = false;

// Unpackaged (`electron <folder>`): probe children started from this executable need the folder
// (app-routes.ts probeCommand); the engine host utility process inherits it with the environment.
if (process.defaultApp) process.env[APP_ENTRY_ENV] = appPath;

const route = appRoute(process.argv);
if (route.kind === 'app') startApp();
else runHeadless(route);

function startApp(): void {
  // One library for every front: LACUNA_DATA_DIR, else the usual per-user folder (paths.ts). Set
  // before the single-instance lock, which lives in userData: separate data folders may run side by side.
  app.setPath('userData', dataDir());
  app.enableSandbox();

  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return;
  }
  app.on('second-instance', () => {
    if (!win) return;
    if (win.isMinimized()) win.restore();
    win.focus();
  });
  app.on('web-contents-created', (_event, contents) => hardenContents(contents, loc));
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  app.on('activate', () => {
    if (!win && core) createWindow();
  });
  app.on('will-quit', (event) => {
    if (!core || coreClosed) return;
    event.preventDefault();
    coreClosed = true;
    core
      .close()
      .catch((err: unknown) => console.error('lacuna: closing the core failed:', err))
      .finally(() => app.quit());
  });
  app.whenReady().then(start, fatal);
}

/**
 * The CLI and probe routes: a command-line program inside the app's executable. Nothing is shown:
 * no Dock icon (macOS), no GPU process, no display connection where the caller passed
 * --ozone-platform=headless (the launcher does). Chromium still brings up its browser-process
 * services, so its profile goes to a throwaway folder, never the app's own (which a running app
 * holds). The CLI's own data folder is the usual one (paths.ts, LACUNA_DATA_DIR), as under Node.
 */
function runHeadless(r: Exclude<AppRoute, { kind: 'app' }>): void {
  app.dock?.hide();
  app.disableHardwareAcceleration();
  // Linux: no keyring (D-Bus) lookups for the throwaway profile's cookie key.
  if (process.platform === 'linux') app.commandLine.appendSwitch('password-store', 'basic');
  const scratch = mkdtempSync(join(tmpdir(), 'lacuna-run-'));
  app.setPath('userData', scratch);
  const finish = (code: number): void => {
    try {
      rmSync(scratch, { recursive: true, force: true });
    } catch {
      // a leftover empty profile in the temp folder is harmless
    }
    // Exit only once stdout and stderr have taken everything (pipes are asynchronous on some systems).
    let pending = 2;
    const done = (): void => {
      if (--pending === 0) app.exit(code);
    };
    process.stdout.write('', done);
    process.stderr.write('', done);
  };
  const fail = (err: unknown): void => {
    process.stderr.write(`lacuna: ${err instanceof Error ? err.message : String(err)}\n`);
    finish(1);
  };
  if (r.kind === 'probe') {
    runProbeRoute().then(finish, fail);
    return;
  }
  // The packaged app's resources (bundled models, the Electron build of better-sqlite3) for
  // core-node.ts, unless the caller said (the launcher does).
  if (app.isPackaged && !process.env.LACUNA_RESOURCES) process.env.LACUNA_RESOURCES = process.resourcesPath;
  // process.argv as under bin/lacuna.js (argv.slice(2) is the CLI's arguments), and not naming
  // cli.js, so that cli.ts's own entry-point check stays false and main() runs once, here.
  process.argv = [process.argv[0]!, 'lacuna', ...r.args];
  import('../cli/cli').then(({ main }) => main(r.args)).then(finish, fail);
}

function start(): void {
  hardenSession(session.defaultSession, loc);
  Menu.setApplicationMenu(Menu.buildFromTemplate(menuTemplate()));

  const data = app.getPath('userData');
  const resources = app.isPackaged ? process.resourcesPath : undefined;
  const native = resources ? join(resources, 'native', 'better_sqlite3.node') : join(appPath, 'node_modules', '.electron-native', 'better_sqlite3.node');
  if (!existsSync(native)) {
    console.warn(`lacuna: no Electron build of better-sqlite3 at ${native}; run \`node scripts/electron-native.js\``);
  }

  core = createCore({
    dataDir: data,
    modelDirs: modelDirs(appPath, data, resources),
    front: 'electron',
    version: app.getVersion(),
    engine: new EngineClient(utilityEngineHost(join(appPath, 'out', 'main', 'engine-host.js'))),
    sqliteNativeBinding: existsSync(native) ? native : undefined,
  });
  const c = core;
  registerIpc(
    c,
    (frame) => isTrustedFrame(frame, loc),
    () => win,
  );
  forwardEvents(c, () => win);
  createWindow();
  warmStart(c);
}

function createWindow(): void {
  const icon = join(appPath, 'resources', 'icon.png');
  const w = new BrowserWindow({
    width: 1200,
    height: 820,
    minWidth: 560,
    minHeight: 420,
    show: false,
    title: 'Lacuna',
    backgroundColor: nativeTheme.shouldUseDarkColors ? '#1c1b19' : '#fbfaf7',
    ...(process.platform === 'linux' && existsSync(icon) ? { icon } : {}),
    webPreferences: {
      preload: join(appPath, 'out', 'preload', 'preload.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      // No middle-click (auxclick) events: one more way to open links is gone (Electronegativity
      // AUXCLICK_JS_CHECK; new windows are denied in security.ts anyway).
      disableBlinkFeatures: 'Auxclick',
      spellcheck: localSpellcheck(process.platform),
    },
  });
  win = w;
  w.once('ready-to-show', () => w.show());
  // Nothing typed is lost on close or quit: the renderer saves first (with a timeout).
  flushBeforeClose(app, ipcMain, w);
  w.on('closed', () => {
    if (win === w) win = null;
  });
  const loaded = loc.kind === 'dev' ? w.loadURL(loc.url) : w.loadFile(loc.indexPath);
  loaded.catch((err: unknown) => fatal(err));
}

function menuTemplate(): MenuItemConstructorOptions[] {
  const mac = process.platform === 'darwin';
  const view: MenuItemConstructorOptions[] = [
    { role: 'reload' },
    ...(app.isPackaged ? [] : [{ role: 'toggleDevTools' } as const]),
    { type: 'separator' },
    { role: 'resetZoom' },
    { role: 'zoomIn' },
    { role: 'zoomOut' },
    { type: 'separator' },
    { role: 'togglefullscreen' },
  ];
  return [...(mac ? [{ role: 'appMenu' } as const] : []), { role: 'fileMenu' }, { role: 'editMenu' }, { label: 'View', submenu: view }, { role: 'windowMenu' }];
}

function fatal(err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  console.error('lacuna: fatal:', err);
  dialog.showErrorBox('Lacuna could not start', message);
  app.exit(1);
}
