/**
 * Dev entry: serve folders as Hugging Face repositories from a local fake hub (fake-hub.ts), for
 * manual runs such as `HF_ENDPOINT=http://127.0.0.1:PORT lacuna models pull sedd-small`.
 *
 *   npx vite build --ssr src-main/engine/model/fake-hub-main.ts --outDir out/fake-hub --emptyOutDir --logLevel warn
 *   node out/fake-hub/fake-hub-main.js --serve louaaron/sedd-small=/tmp/sedd-small --synthetic small
 *
 * Options:
 *   --serve REPO=FOLDER   every file under FOLDER (dotfiles skipped) as repository REPO; repeatable
 *   --synthetic small|medium|tiny
 *                         first write a synthetic checkpoint of that shape (random weights, the
 *                         official layout; synthetic-checkpoint.ts) into each FOLDER without config.json
 *   --port N              the hub's port (default: a free one; the CDN always takes a free one)
 *   --token T --gated     the repositories need `Authorization: Bearer T` (HF_TOKEN=T)
 *   --throttle B          send at most B bytes per second per download (to watch progress, cancel)
 *   --drop-after N        drop every download's connection after N bytes (resume by Range)
 *
 * Prints `HF_ENDPOINT=…` on the first line, then the files; runs until Ctrl-C.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { startFakeHub, type FakeHubFault, type FakeHubRepo } from './fake-hub';
import type { NetworkConfig } from './import';
import { SEDD_MEDIUM_NETWORK, SEDD_SMALL_NETWORK, TINY_NETWORK, writeSyntheticCheckpoint } from './synthetic-checkpoint';

const SHAPES: Record<string, { network: NetworkConfig; name: string }> = {
  small: { network: SEDD_SMALL_NETWORK, name: 'small' },
  medium: { network: SEDD_MEDIUM_NETWORK, name: 'medium' },
  tiny: { network: TINY_NETWORK, name: 'tiny' },
};

async function listFiles(root: string, dir = root): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(root, p)));
    else if (e.isFile()) out.push(relative(root, p).split('\\').join('/'));
  }
  return out.sort();
}

function usage(message: string): never {
  process.stderr.write(
    `fake-hub: ${message}\nusage: fake-hub-main.js --serve REPO=FOLDER [--synthetic small|medium|tiny] [--port N] ` +
      '[--token T --gated] [--throttle BYTES_PER_S] [--drop-after N]\n',
  );
  process.exit(2);
}

async function main(argv: string[]): Promise<void> {
  const serve: [string, string][] = [];
  let synthetic: string | undefined;
  let port: number | undefined;
  let token: string | undefined;
  let gated = false;
  const fault: FakeHubFault = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => argv[++i] ?? usage(`${a} needs a value`);
    const num = (): number => {
      const v = Number(value());
      return Number.isSafeInteger(v) && v >= 0 ? v : usage(`${a} needs a whole number`);
    };
    if (a === '--serve') {
      const v = value();
      const eq = v.indexOf('=');
      if (eq <= 0) usage('--serve takes REPO=FOLDER');
      serve.push([v.slice(0, eq), resolve(v.slice(eq + 1))]);
    } else if (a === '--synthetic') {
      synthetic = value();
      if (!SHAPES[synthetic]) usage(`--synthetic takes ${Object.keys(SHAPES).join(', ')}`);
    } else if (a === '--port') port = num();
    else if (a === '--token') token = value();
    else if (a === '--gated') gated = true;
    else if (a === '--throttle') fault.throttleBytesPerSecond = num();
    else if (a === '--drop-after') {
      fault.dropAfterBytes = num();
      fault.dropEveryTime = true;
    } else usage(`unknown option ${a}`);
  }
  if (!serve.length) usage('nothing to serve');
  if (gated && !token) usage('--gated needs --token');

  const repos: Record<string, FakeHubRepo> = {};
  for (const [repo, folder] of serve) {
    if (synthetic && !existsSync(join(folder, 'config.json'))) {
      process.stderr.write(`writing a synthetic ${synthetic} checkpoint into ${folder}…\n`);
      await writeSyntheticCheckpoint(folder, SHAPES[synthetic]!);
    }
    if (!existsSync(folder)) usage(`${folder} does not exist`);
    const files = await listFiles(folder);
    if (!files.length) usage(`${folder} has no files`);
    repos[repo] = { gated, files: Object.fromEntries(files.map((f) => [f, { path: join(folder, f), ...(Object.keys(fault).length ? { fault } : {}) }])) };
  }
  const hub = await startFakeHub({ repos, ...(token ? { token } : {}), ...(port !== undefined ? { port } : {}) });
  process.stdout.write(`HF_ENDPOINT=${hub.endpoint}\n`);
  for (const repo of Object.keys(repos)) {
    for (const f of Object.keys(repos[repo]!.files)) process.stdout.write(`  ${repo}  ${f}  ${hub.sizeOf(repo, f)} bytes  sha256 ${hub.sha256Of(repo, f)}\n`);
  }
  const stop = (): void => {
    void hub.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`fake-hub: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
