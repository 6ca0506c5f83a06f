/**
 * The `lacuna` command outside the CLI's own code: `npx lacuna` in a checkout (package.json,
 * bin/package.json) and the installed app's launcher on PATH (resources/linux/lacuna, shipped by
 * electron-builder.yml), run here against a fake install whose app executable records its command line.
 */
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appRoute, CLI_SWITCH } from '../platform/app-routes';
import { ROOT, runLacuna } from './cli-test-support';

const run = promisify(execFile);
const posix = process.platform !== 'win32';
const tmp = mkdtempSync(join(tmpdir(), 'lacuna-launcher-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('npx lacuna in a checkout', () => {
  it("runs the checkout's bin, never a registry package of that name", async () => {
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

describe.runIf(posix)("the installed app's lacuna launcher", () => {
  // /opt/Lacuna/{lacuna, resources/{bin/lacuna, app.asar, models}} and /usr/bin/lacuna → the launcher,
  // as the deb lays them out. The fake app executable records the command line and environment it
  // was given (that is the launcher's whole job) and says the app opened when given no arguments;
  // what the real app does with that command line is main.ts's appRoute (app-routes.test.ts), run
  // here on the recorded argv, and the CLI run with the resulting arguments and environment.
  const opt = join(tmp, 'opt', 'Lacuna');
  const resources = join(opt, 'resources');
  const usrBin = join(tmp, 'usr', 'bin');
  const record = join(tmp, 'app-argv.json');
  const env = { ...process.env, LACUNA_DATA_DIR: join(tmp, 'data'), ELECTRON_RUN_AS_NODE: '', LACUNA_RESOURCES: '', FAKE_APP_RECORD: record };
  interface Recorded {
    argv: string[];
    resources: string | null;
    runAsNode: string | null;
  }
  const recorded = (): Recorded => JSON.parse(readFileSync(record, 'utf8')) as Recorded;
  beforeAll(() => {
    mkdirSync(join(resources, 'bin'), { recursive: true });
    mkdirSync(usrBin, { recursive: true });
    writeFileSync(
      join(opt, 'lacuna'),
      [
        `#!${process.execPath}`,
        "const { writeFileSync } = require('node:fs');",
        'const e = process.env;',
        'writeFileSync(e.FAKE_APP_RECORD, JSON.stringify({ argv: process.argv.slice(2), ' +
          'resources: e.LACUNA_RESOURCES ?? null, runAsNode: e.ELECTRON_RUN_AS_NODE ?? null }));',
        "if (process.argv.length === 2) console.log('the app opened (0)');",
        '',
      ].join('\n'),
    );
    chmodSync(join(opt, 'lacuna'), 0o755);
    copyFileSync(join(ROOT, 'resources', 'linux', 'lacuna'), join(resources, 'bin', 'lacuna'));
    chmodSync(join(resources, 'bin', 'lacuna'), 0o755);
    symlinkSync(ROOT, join(resources, 'app.asar'));
    symlinkSync(join(ROOT, 'models'), join(resources, 'models'));
    symlinkSync(join(resources, 'bin', 'lacuna'), join(usrBin, 'lacuna'));
  });

  it('runs the CLI inside the app by argument (not ELECTRON_RUN_AS_NODE), headless, with the resources folder', async () => {
    await run(join(usrBin, 'lacuna'), ['models', 'list'], { env });
    const r = recorded();
    expect(r.argv).toEqual(['--ozone-platform=headless', '--disable-gpu', CLI_SWITCH, '--', 'models', 'list']);
    expect(r.resources).toBe(resources);
    expect(r.runAsNode).toBe('');
    const route = appRoute([join(opt, 'lacuna'), ...r.argv]);
    expect(route).toEqual({ kind: 'cli', args: ['models', 'list'] });

    // The CLI with those arguments and that environment lists the bundled models of the resources folder.
    const out = await runLacuna(route.kind === 'cli' ? route.args : [], { dataDir: join(tmp, 'data'), env: { LACUNA_RESOURCES: r.resources ?? '' } });
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^\* lacuna-mini +Lacuna mini /);
    expect(out.stdout).toContain(`Lacuna mini 2  (${join(resources, 'models', 'lacuna-mini')})`);
  });

  it('passes every argument through unchanged, Chromium-looking ones included', async () => {
    const args = ['fill', '--help', '--inspect=9229', '--no-sandbox', '--', 'two words', "it's", '$HOME', ''];
    await run(join(usrBin, 'lacuna'), args, { env });
    const r = recorded();
    expect(r.argv).toEqual(['--ozone-platform=headless', '--disable-gpu', CLI_SWITCH, '--', ...args]);
    expect(appRoute([join(opt, 'lacuna'), ...r.argv])).toEqual({ kind: 'cli', args });
  });

  it('opens the app when given no arguments', async () => {
    const { stdout } = await run(join(usrBin, 'lacuna'), [], { env });
    expect(stdout).toBe('the app opened (0)\n');
    expect(recorded().argv).toEqual([]);
    expect(appRoute([join(opt, 'lacuna')])).toEqual({ kind: 'app' });
  });

  it('never sets ELECTRON_RUN_AS_NODE (the RunAsNode fuse is off)', () => {
    const script = readFileSync(join(ROOT, 'resources', 'linux', 'lacuna'), 'utf8');
    const code = script.split('\n').filter((l) => !l.startsWith('#'));
    expect(code.join('\n')).not.toContain('ELECTRON_RUN_AS_NODE');
    expect(code.join('\n')).not.toContain('app.asar');
  });

  it('is what electron-builder ships and what the deb puts on PATH', () => {
    const yml = readFileSync(join(ROOT, 'electron-builder.yml'), 'utf8');
    // The launcher no longer runs bin/lacuna.js (the CLI is out/main/cli.js, reached through main.ts).
    expect(yml).not.toMatch(/^ {2}- bin\//m);
    expect(yml).toMatch(/^ {2}- out\/\*\*$/m);
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
