/** Where Lacuna keeps its data and finds its models. Shared by the Electron shell, web mode, the CLI and tests. */
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const APP_NAME = 'Lacuna';

/**
 * The user-data folder: LACUNA_DATA_DIR when set, else the same folder Electron's
 * app.getPath('userData') gives for this app, so the desktop app, web mode and CLI share one library.
 */
export function dataDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  const override = env.LACUNA_DATA_DIR;
  if (override && override.trim()) return resolve(override);
  if (platform === 'win32') return join(env.APPDATA || join(homedir(), 'AppData', 'Roaming'), APP_NAME);
  if (platform === 'darwin') return join(homedir(), 'Library', 'Application Support', APP_NAME);
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), APP_NAME);
}

/** The project (or packaged app) root: the nearest folder above this file holding package.json. */
export function appRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find the Lacuna app root above ${from}`);
    dir = up;
  }
}

/** Folders searched for model packages, in order: bundled models, then models imported into the data folder. */
export function modelDirs(root: string, data: string, resourcesPath?: string): string[] {
  const bundled = resourcesPath ? join(resourcesPath, 'models') : join(root, 'models');
  return [bundled, join(data, 'models')];
}

/** The model the app uses when none is chosen: the bundled lacuna-mini (models/lacuna-mini, MODEL_CARD.md). */
export const DEFAULT_MODEL_ID = 'lacuna-mini';
