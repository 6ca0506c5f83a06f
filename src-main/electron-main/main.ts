/**
 * The Electron shell (built to out/main/index.js): app lifecycle, the one window, and the bridge
 * from the renderer to the core. The only code (with the preload) that imports electron; the core
 * itself is the same plain-Node one that web mode, the CLI and the tests use.
 */
import { app, BrowserWindow, dialog, ipcMain, Menu, nativeTheme, session, type MenuItemConstructorOptions } from 'electron';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createCore, warmStart, type Core } from '../node/core';
import { EngineClient } from '../node/engine/engine-client';
import { dataDir, modelDirs } from '../node/paths';
import { flushBeforeClose } from './close-flush';
import { utilityEngineHost } from './engine-port';
import { forwardEvents, registerIpc } from './ipc';
import { isTrustedFrame, rendererLocation, type RendererLocation } from './renderer-url';
import { hardenContents, hardenSession, localSpellcheck } from './security';

const appPath = app.getAppPath();
const loc: RendererLocation = rendererLocation(appPath, app.isPackaged ? undefined : process.env.ELECTRON_RENDERER_URL);

// One library for every front: LACUNA_DATA_DIR, else the usual per-user folder (paths.ts). Set before
// the single-instance lock, which lives in userData: separate data folders may run side by side.
app.setPath('userData', dataDir());
app.enableSandbox();

let win: BrowserWindow | null = null;
let core: Core | null = null;
let coreClosed = false;

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
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

function start(): void {
  hardenSession(session.defaultSession, loc);
  Menu.setApplicationMenu(Menu.buildFromTemplate(menuTemplate()));

  const data = app.getPath('userData');
  const resources = app.isPackaged ? process.resourcesPath : undefined;
  const native = resources
    ? join(resources, 'native', 'better_sqlite3.node')
    : join(appPath, 'node_modules', '.electron-native', 'better_sqlite3.node');
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
  registerIpc(c, (frame) => isTrustedFrame(frame, loc), () => win);
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
  return [
    ...(mac ? [{ role: 'appMenu' } as const] : []),
    { role: 'fileMenu' },
    { role: 'editMenu' },
    { label: 'View', submenu: view },
    { role: 'windowMenu' },
  ];
}

function fatal(err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  console.error('lacuna: fatal:', err);
  dialog.showErrorBox('Lacuna could not start', message);
  app.exit(1);
}
