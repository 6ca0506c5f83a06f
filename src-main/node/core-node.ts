/**
 * The core as the plain-Node fronts (web mode, CLI, tests) build it: data folder, model folders
 * and version come from paths.ts and package.json, exactly as the desktop app sees them, so all
 * fronts share one library. LACUNA_DATA_DIR overrides the data folder.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { appRoot, dataDir, modelDirs } from './paths';
import { createCore } from './core';
import type { Core, CoreOptions, Front } from './core';

export type NodeCoreOverrides = Partial<Omit<CoreOptions, 'front'>> & { env?: NodeJS.ProcessEnv };

export function createNodeCore(front: Exclude<Front, 'electron'>, overrides: NodeCoreOverrides = {}): Core {
  const { env = process.env, ...rest } = overrides;
  const root = appRoot();
  const data = rest.dataDir ?? dataDir(env);
  return createCore({
    ...rest,
    dataDir: data,
    modelDirs: rest.modelDirs ?? modelDirs(root, data),
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
