/** Where Lacuna keeps its data and finds its models. Shared by the Electron shell, web mode, the CLI and tests. */
import { homedir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
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

/**
 * Folders searched for model packages, in order: bundled models, models imported or downloaded into
 * the data folder, then the folders in LACUNA_EXTRA_MODELS (path-list separated, for development
 * and tests: the test-only packages in models/fixtures are reached this way, never listed otherwise).
 */
export function modelDirs(root: string, data: string, resourcesPath?: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const bundled = resourcesPath ? join(resourcesPath, 'models') : join(root, 'models');
  const extra = (env.LACUNA_EXTRA_MODELS ?? '')
    .split(delimiter)
    .map((d) => d.trim())
    .filter(Boolean)
    .map((d) => resolve(d));
  return [bundled, join(data, 'models'), ...extra];
}

/** The test-only model packages (tiny-fixture, tiny-ti, tiny-uniform), outside the folders the app lists. */
export function fixtureModelsDir(root: string = appRoot()): string {
  return join(root, 'models', 'fixtures');
}

/** The model the app uses when none is chosen: the bundled lacuna-mini (models/lacuna-mini, MODEL_CARD.md). */
export const DEFAULT_MODEL_ID = 'lacuna-mini';
