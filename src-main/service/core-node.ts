/**
 * The core as the plain-Node fronts (web mode, CLI, tests) build it: data folder, model folders
 * and version come from paths.ts and package.json, exactly as the desktop app sees them, so all
 * fronts share one library. LACUNA_DATA_DIR overrides the data folder. LACUNA_RESOURCES (set by the
 * installed app's `lacuna` launcher, resources/linux/lacuna) is the packaged app's resources folder:
 * the bundled models and the Electron build of better-sqlite3 are there, not beside package.json.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { appRoot, dataDir, modelDirs } from '../platform/paths';
import { createCore } from './core';
import type { Core, CoreOptions, Front } from './core';

export type NodeCoreOverrides = Partial<Omit<CoreOptions, 'front'>> & { env?: NodeJS.ProcessEnv };

export function createNodeCore(front: Exclude<Front, 'electron'>, overrides: NodeCoreOverrides = {}): Core {
  const { env = process.env, ...rest } = overrides;
  const root = appRoot();
  const data = rest.dataDir ?? dataDir(env);
  const resources = env.LACUNA_RESOURCES || undefined;
  const native = resources ? join(resources, 'native', 'better_sqlite3.node') : undefined;
  return createCore({
    ...(native && existsSync(native) ? { sqliteNativeBinding: native } : {}),
    ...rest,
    dataDir: data,
    modelDirs: rest.modelDirs ?? modelDirs(root, data, resources),
    version: rest.version ?? appVersion(root),
    front,
  });
}

/** The version in the app's package.json. */
export function appVersion(root: string = appRoot()): string {
  const pkg: unknown = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  if (pkg && typeof pkg === 'object' && 'version' in pkg && typeof pkg.version === 'string') return pkg.version;
  throw new Error(`no version in ${join(root, 'package.json')}`);
}
