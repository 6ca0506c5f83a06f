/**
 * Electron's fuses in the packaged app (electron-builder.yml, electronFuses; docs/security.md):
 * read with electron-builder's own loader and schema, so a later edit cannot drop, misspell or
 * flip one without this failing.
 */
import { join } from 'node:path';
import type { FuseOptionsV1 } from 'app-builder-lib';
import { getConfig, validateConfiguration } from 'app-builder-lib/out/util/config/config';
import { DebugLogger } from 'builder-util/out/DebugLogger';
import { describe, expect, it } from 'vitest';
import { appRoot } from '../platform/paths';

const ROOT = appRoot();

/**
 * Every fuse electron-builder can set, each decided (resetAdHocDarwinSignature is not a fuse; it
 * is left to electron-builder, which signs after flipping). The type makes a fuse added by a later
 * electron-builder a compile error here until it is decided.
 */
const INTENDED = {
  runAsNode: false,
  enableCookieEncryption: true,
  enableNodeOptionsEnvironmentVariable: false,
  enableNodeCliInspectArguments: false,
  enableEmbeddedAsarIntegrityValidation: true,
  onlyLoadAppFromAsar: true,
  loadBrowserProcessSpecificV8Snapshot: false,
  // On until the renderer is served from a custom protocol instead of file:// (docs/security.md).
  grantFileProtocolExtraPrivileges: true,
} satisfies Required<Omit<FuseOptionsV1, 'resetAdHocDarwinSignature'>>;

describe('electron-builder.yml fuses', () => {
  it('sets every fuse as intended, in a configuration electron-builder accepts', async () => {
    const config = await getConfig(ROOT, join(ROOT, 'electron-builder.yml'), null);
    // Throws on an unknown or mistyped option (the schema has no additional properties).
    await validateConfiguration(config, new DebugLogger(false));
    expect(config.electronFuses).toEqual(INTENDED);
  });

  it('the app is an asar archive (onlyLoadAppFromAsar and the integrity check need one)', async () => {
    const config = await getConfig(ROOT, join(ROOT, 'electron-builder.yml'), null);
    expect(config.asar ?? true).not.toBe(false);
  });

  it('fails on a misspelt fuse (the schema check is real)', async () => {
    const config = await getConfig(ROOT, join(ROOT, 'electron-builder.yml'), null);
    const bad = { ...config, electronFuses: { ...config.electronFuses, runAsNod: false } };
    await expect(validateConfiguration(bad, new DebugLogger(false))).rejects.toThrow(/configuration\.electronFuses/);
  });
});
