/**
 * The app executable's command-line routes (app-routes.ts): what main.ts does with an argv, which
 * command line a probe child gets under Node and under Electron, and the probe route itself.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { APP_ENTRY_ENV, appRoute, CLI_SWITCH, headlessSwitches, PROBE_SWITCH, probeCommand, probeRuntime, type ProbeRuntime } from './app-routes';
import { runProbeRoute } from '../engine/runtime/providers';

const APP = '/opt/Lacuna/lacuna';

describe('appRoute (main.ts, first thing)', () => {
  it('opens the app without a route switch', () => {
    expect(appRoute([APP])).toEqual({ kind: 'app' });
    expect(appRoute([APP, '--enable-logging', 'notes.md'])).toEqual({ kind: 'app' });
    // Unpackaged: electron <folder> …
    expect(appRoute(['/x/electron', '/src/lacuna'])).toEqual({ kind: 'app' });
  });

  it('runs the CLI with exactly the arguments after the switch and its `--`', () => {
    // As the launcher calls it (resources/linux/lacuna).
    expect(appRoute([APP, '--ozone-platform=headless', '--disable-gpu', CLI_SWITCH, '--', 'fill', '--help'])).toEqual({
      kind: 'cli',
      args: ['fill', '--help'],
    });
    expect(appRoute([APP, CLI_SWITCH, 'models', 'list'])).toEqual({ kind: 'cli', args: ['models', 'list'] });
    expect(appRoute([APP, CLI_SWITCH])).toEqual({ kind: 'cli', args: [] });
    // Only the first `--` is the launcher's; a later one is the user's.
    expect(appRoute([APP, CLI_SWITCH, '--', '--', 'x'])).toEqual({ kind: 'cli', args: ['--', 'x'] });
    // A route switch among the CLI's arguments is an argument.
    expect(appRoute([APP, CLI_SWITCH, '--', PROBE_SWITCH])).toEqual({ kind: 'cli', args: [PROBE_SWITCH] });
    expect(appRoute([APP, CLI_SWITCH, 'fill', 'a b', "it's"])).toEqual({ kind: 'cli', args: ['fill', 'a b', "it's"] });
    // Unpackaged: electron <folder> --lacuna-cli …
    expect(appRoute(['/x/electron', '/src/lacuna', CLI_SWITCH, '--', 'models', 'list'])).toEqual({ kind: 'cli', args: ['models', 'list'] });
  });

  it('runs a probe', () => {
    expect(appRoute([APP, '--ozone-platform=headless', '--disable-gpu', PROBE_SWITCH])).toEqual({ kind: 'probe' });
    expect(appRoute(['/x/electron', '/src/lacuna', PROBE_SWITCH])).toEqual({ kind: 'probe' });
  });

  it('ignores a switch after `--` or as the executable itself', () => {
    expect(appRoute([APP, '--', CLI_SWITCH, 'x'])).toEqual({ kind: 'app' });
    expect(appRoute([APP, '--', PROBE_SWITCH])).toEqual({ kind: 'app' });
    expect(appRoute([CLI_SWITCH])).toEqual({ kind: 'app' });
    expect(appRoute([])).toEqual({ kind: 'app' });
    // Near misses are not routes.
    expect(appRoute([APP, '--lacuna-cli=fill'])).toEqual({ kind: 'app' });
    expect(appRoute([APP, '--LACUNA-CLI'])).toEqual({ kind: 'app' });
  });
});

describe('probeCommand (providers.ts probeInChild)', () => {
  const node: ProbeRuntime = { execPath: '/usr/bin/node', electron: undefined, appEntry: undefined, platform: 'linux' };

  it('is `node -e <script>` under Node, whatever APP_ENTRY_ENV says', () => {
    expect(probeCommand(node, 'SCRIPT')).toEqual({ file: '/usr/bin/node', args: ['-e', 'SCRIPT'] });
    expect(probeCommand({ ...node, appEntry: '/src/lacuna' }, 'SCRIPT')).toEqual({ file: '/usr/bin/node', args: ['-e', 'SCRIPT'] });
  });

  it('is the app itself with the probe switch under Electron (no RunAsNode), headless', () => {
    const packaged: ProbeRuntime = { execPath: APP, electron: '41.7.1', appEntry: undefined, platform: 'linux' };
    expect(probeCommand(packaged, 'SCRIPT')).toEqual({ file: APP, args: ['--ozone-platform=headless', '--disable-gpu', PROBE_SWITCH] });
    expect(probeCommand({ ...packaged, platform: 'win32', execPath: 'C:\\Lacuna\\Lacuna.exe' }, 'SCRIPT')).toEqual({
      file: 'C:\\Lacuna\\Lacuna.exe',
      args: ['--disable-gpu', PROBE_SWITCH],
    });
    expect(probeCommand({ ...packaged, platform: 'darwin' }, 'SCRIPT').args).toEqual(['--disable-gpu', PROBE_SWITCH]);
    // Unpackaged (electron-vite dev): the app folder goes before the switch (Electron's default app loads it).
    const dev: ProbeRuntime = { execPath: '/src/lacuna/node_modules/electron/dist/electron', electron: '41.7.1', appEntry: '/src/lacuna', platform: 'linux' };
    expect(probeCommand(dev, 'SCRIPT')).toEqual({ file: dev.execPath, args: ['--ozone-platform=headless', '--disable-gpu', '/src/lacuna', PROBE_SWITCH] });
    // What main.ts does with that command line.
    expect(appRoute([dev.execPath, ...probeCommand(dev, 'SCRIPT').args])).toEqual({ kind: 'probe' });
    expect(appRoute([APP, ...probeCommand(packaged, 'SCRIPT').args])).toEqual({ kind: 'probe' });
  });

  it('reads this process: Node here, APP_ENTRY_ENV from the environment', () => {
    const rt = probeRuntime({ [APP_ENTRY_ENV]: '/src/lacuna' });
    expect(rt).toEqual({ execPath: process.execPath, electron: undefined, appEntry: '/src/lacuna', platform: process.platform });
    expect(probeRuntime({ [APP_ENTRY_ENV]: '' }).appEntry).toBeUndefined();
    expect(headlessSwitches('linux')).toEqual(['--ozone-platform=headless', '--disable-gpu']);
  });
});

function collect(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  });
  return { stream, text: () => text };
}

describe('the probe route (main.ts --lacuna-probe → runProbeRoute)', () => {
  it("runs the probe on this build's onnxruntime and answers one JSON line", async () => {
    const out = collect();
    // ort and dlopen from the caller are ignored: the route loads only its own build's files.
    const env = { LACUNA_PROBE: JSON.stringify({ ep: 'cpu', ort: '/nonexistent/evil.js', dlopen: '/nonexistent/evil.so', model: 'AAAA' }) };
    expect(await runProbeRoute(env, out.stream)).toBe(0);
    const lines = out.text().split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({ ok: true, y: [2.5, 2.75, 3, 3.25] });
    expect(process.env.ORT_DISABLE_TELEMETRY).toBe('1');
  });

  it('refuses a request without a known provider', async () => {
    for (const raw of [undefined, '', 'not json', '{}', JSON.stringify({ ep: 'cuda; rm -rf /' })]) {
      const out = collect();
      expect(await runProbeRoute(raw === undefined ? {} : { LACUNA_PROBE: raw }, out.stream)).toBe(2);
      expect(JSON.parse(out.text())).toEqual({ ok: false, stage: 'load', error: 'LACUNA_PROBE names no known provider' });
    }
  });

  it('answers a provider this platform cannot have without loading anything', async () => {
    const out = collect();
    const ep = process.platform === 'darwin' ? 'dml' : 'coreml';
    expect(await runProbeRoute({ LACUNA_PROBE: JSON.stringify({ ep }) }, out.stream)).toBe(0);
    expect(JSON.parse(out.text())).toMatchObject({ ok: false, stage: 'load', error: expect.stringMatching(new RegExp(`^${ep}: `)) as unknown });
  });
});
