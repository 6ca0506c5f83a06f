/**
 * The app executable's own command-line routes, for the packaged app whose RunAsNode fuse is off
 * (electron-builder.yml, electronFuses; docs/security.md): `ELECTRON_RUN_AS_NODE=1 <app> script.js`
 * no longer turns the app into Node, so the two things that ran the app as Node now ask the app
 * itself, by argument, and main.ts answers before it does anything else (no window, no
 * single-instance lock, no Dock icon):
 *
 *   <app> --lacuna-cli [--] ARGS…   the CLI (src-main/cli/cli.ts) with ARGS, its exit status;
 *                                   the `lacuna` launcher on PATH (resources/linux/lacuna) and the
 *                                   hand-typed commands in the README use it
 *   <app> --lacuna-probe            one execution-provider probe (engine/providers.ts probeInChild):
 *                                   LACUNA_PROBE in the environment, one JSON line on stdout
 *
 * Unpackaged (`electron <app folder> …`, process.defaultApp) the app folder comes before the route
 * switch; Chromium switches may come before it too (the launcher passes --ozone-platform=headless).
 * Pure (no electron import), so the decisions are unit-tested (app-routes.test.ts).
 */

export const CLI_SWITCH = '--lacuna-cli';
export const PROBE_SWITCH = '--lacuna-probe';
/**
 * Set by main.ts in an unpackaged app (`electron <folder>`, `electron-vite dev`): the app folder,
 * which a probe child started from the app's executable must be given. Packaged apps load their
 * own app.asar and ignore such an argument (and the onlyLoadAppFromAsar fuse is on).
 */
export const APP_ENTRY_ENV = 'LACUNA_APP_ENTRY';

export type AppRoute =
  /** The desktop app (no route switch). */
  | { kind: 'app' }
  /** The CLI with these arguments (process.argv.slice(2) as bin/lacuna.js would see them). */
  | { kind: 'cli'; args: string[] }
  /** One provider probe (providers.ts runProbeRoute). */
  | { kind: 'probe' };

/**
 * Which route an app process takes, from its process.argv. The route switch counts only before a
 * `--` (after which everything is someone's argument). For the CLI, one `--` right after the
 * switch ends Chromium's own switch parsing (the launcher passes it, so `lacuna fill --help` is
 * not read as Chromium's) and is dropped; everything after it goes to the CLI unchanged.
 */
export function appRoute(argv: readonly string[]): AppRoute {
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') break;
    if (arg === PROBE_SWITCH) return { kind: 'probe' };
    if (arg === CLI_SWITCH) {
      const rest = argv.slice(i + 1);
      return { kind: 'cli', args: rest[0] === '--' ? rest.slice(1) : rest };
    }
  }
  return { kind: 'app' };
}

/** What a process knows about its runtime, for probeCommand. */
export interface ProbeRuntime {
  /** process.execPath: Node, or the Electron app's executable (also in its utility processes). */
  execPath: string;
  /** process.versions.electron: set in every Electron process (main, utility), unset in Node. */
  electron: string | undefined;
  /** APP_ENTRY_ENV from the environment: the app folder of an unpackaged Electron app. */
  appEntry: string | undefined;
  platform: NodeJS.Platform;
}

export function probeRuntime(env: NodeJS.ProcessEnv = process.env): ProbeRuntime {
  return { execPath: process.execPath, electron: process.versions.electron, appEntry: env[APP_ENTRY_ENV] || undefined, platform: process.platform };
}

/**
 * The command line of a probe child. Under Node (web mode, the CLI run by Node, tests): `node -e
 * <script>`. Under Electron (the app's main process, its engine host utility process, the CLI run
 * by the app): the app's own executable with PROBE_SWITCH, which works with the RunAsNode fuse off;
 * no ELECTRON_RUN_AS_NODE. On Linux it runs on Ozone's headless platform (no display connection:
 * the probe opens no window), and Chromium's GPU process is off (onnxruntime's WebGPU is its own).
 */
export function probeCommand(rt: ProbeRuntime, script: string): { file: string; args: string[] } {
  if (rt.electron === undefined) return { file: rt.execPath, args: ['-e', script] };
  return {
    file: rt.execPath,
    args: [...headlessSwitches(rt.platform), ...(rt.appEntry ? [rt.appEntry] : []), PROBE_SWITCH],
  };
}

/** Chromium switches for an app process that shows nothing (probe children). */
export function headlessSwitches(platform: NodeJS.Platform): string[] {
  return [...(platform === 'linux' ? ['--ozone-platform=headless'] : []), '--disable-gpu'];
}
