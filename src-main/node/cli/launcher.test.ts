/**
 * The `lacuna` command outside the CLI's own code: `npx lacuna` in a checkout (package.json,
 * bin/package.json) and the installed app's launcher on PATH (resources/linux/lacuna, shipped by
 * electron-builder.yml), run here against a fake install whose "Electron" is Node.
 */
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './cli-test-support';

const run = promisify(execFile);
const posix = process.platform !== 'win32';
const tmp = mkdtempSync(join(tmpdir(), 'lacuna-launcher-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('npx lacuna in a checkout', () => {
  it('runs the checkout\'s bin, never a registry package of that name', async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
    // A root "bin" named lacuna makes npx install the project itself into its cache (running its
    // install scripts) instead of running the linked bin.
    expect(pkg.bin).toBeUndefined();
    expect((pkg.devDependencies as Record<string, string>)['lacuna-cli-local']).toBe('file:bin');
    const local = JSON.parse(readFileSync(join(ROOT, 'bin', 'package.json'), 'utf8')) as { bin: Record<string, string>; type: string };
    expect(local.bin).toEqual({ lacuna: 'lacuna.js' });
    expect(local.type).toBe('module');
    expect(realpathSync(join(ROOT, 'node_modules', '.bin', 'lacuna'))).toBe(realpathSync(join(ROOT, 'bin', 'lacuna.js')));

    const { stdout } = await run('npx', ['--offline', 'lacuna', '--help'], {
      cwd: ROOT,
      env: { ...process.env, LACUNA_DATA_DIR: join(tmp, 'npx-data') },
      shell: !posix,
    });
    expect(stdout).toMatch(/^Lacuna — /);
    expect(stdout).toContain('lacuna fill');
  });
});

describe.runIf(posix)('the installed app\'s lacuna launcher', () => {
  // /opt/Lacuna/{lacuna, resources/{bin/lacuna, app.asar, models}} and /usr/bin/lacuna → the launcher,
  // as the deb lays them out. The fake Electron is Node when ELECTRON_RUN_AS_NODE=1, else it says the
  // app opened; app.asar is the checkout (Electron reads an archive as a folder).
  const opt = join(tmp, 'opt', 'Lacuna');
  const resources = join(opt, 'resources');
  const usrBin = join(tmp, 'usr', 'bin');
  const env = { ...process.env, LACUNA_DATA_DIR: join(tmp, 'data'), ELECTRON_RUN_AS_NODE: '' };
  beforeAll(() => {
    mkdirSync(join(resources, 'bin'), { recursive: true });
    mkdirSync(usrBin, { recursive: true });
    writeFileSync(
      join(opt, 'lacuna'),
      `#!/bin/sh\nif [ "$ELECTRON_RUN_AS_NODE" = 1 ]; then exec "${process.execPath}" "$@"; fi\necho "the app opened ($#)"\n`,
    );
    chmodSync(join(opt, 'lacuna'), 0o755);
    copyFileSync(join(ROOT, 'resources', 'linux', 'lacuna'), join(resources, 'bin', 'lacuna'));
    chmodSync(join(resources, 'bin', 'lacuna'), 0o755);
    symlinkSync(ROOT, join(resources, 'app.asar'));
    symlinkSync(join(ROOT, 'models'), join(resources, 'models'));
    symlinkSync(join(resources, 'bin', 'lacuna'), join(usrBin, 'lacuna'));
  });

  it('runs the CLI on the app\'s runtime, with the bundled models of the resources folder', async () => {
    const { stdout } = await run(join(usrBin, 'lacuna'), ['models', 'list'], { env });
    expect(stdout).toMatch(/^\* lacuna-mini +Lacuna mini /);
    expect(stdout).toContain(`Lacuna mini  (${join(resources, 'models', 'lacuna-mini')})`);
    const help = await run(join(usrBin, 'lacuna'), ['--help'], { env });
    expect(help.stdout).toMatch(/^Lacuna — /);
  });

  it('opens the app when given no arguments', async () => {
    const { stdout } = await run(join(usrBin, 'lacuna'), [], { env });
    expect(stdout).toBe('the app opened (0)\n');
  });

  it('is what electron-builder ships and what the deb puts on PATH', () => {
    const yml = readFileSync(join(ROOT, 'electron-builder.yml'), 'utf8');
    expect(yml).toMatch(/^ {2}- bin\/lacuna\.js$/m);
    expect(yml).toMatch(/^ {2}- bin\/package\.json$/m);
    expect(yml).toMatch(/^ {2}- from: resources\/linux\/lacuna\n {4}to: bin\/lacuna$/m);
    expect(yml).toMatch(/^ {2}executableName: lacuna$/m);
    expect(yml).toMatch(/^deb:\n(?: {2}#.*\n)* {2}afterInstall: resources\/linux\/after-install\.tpl\n {2}afterRemove: resources\/linux\/after-remove\.tpl$/m);
    const install = readFileSync(join(ROOT, 'resources', 'linux', 'after-install.tpl'), 'utf8');
    expect(install).toContain("ln -sf '/opt/${sanitizedProductName}/resources/bin/${executable}' '/usr/bin/${executable}'");
    expect(install).not.toContain("'/opt/${sanitizedProductName}/${executable}'");
    const remove = readFileSync(join(ROOT, 'resources', 'linux', 'after-remove.tpl'), 'utf8');
    expect(remove).toContain("update-alternatives --remove '${executable}' '/opt/${sanitizedProductName}/resources/bin/${executable}'");
  });
});
