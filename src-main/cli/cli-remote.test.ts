/**
 * `lacuna fill --device remote:URL` and `lacuna server`: the built CLI against a real KServe v2
 * server hosting `lacuna models export-server`'s output (the issue's "done when").
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKServe, type KServeProcess } from '../engine/runtime/kserve-test-server';
import { expectFailure, runLacuna } from './cli-test-support';

let work: string;
let server: KServeProcess;
const dataDir = (): string => join(work, 'data');

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'lacuna-cli-remote-'));
  const exported = await runLacuna(['models', 'export-server', 'lacuna-mini', join(work, 'repo')], { dataDir: dataDir() });
  expect(exported.code).toBe(0);
  expect(exported.stdout).toContain('lacuna server set http://SERVER:8000 && lacuna fill --device remote --model lacuna-mini');
  server = await startKServe(join(work, 'repo'));
}, 180_000);

afterAll(async () => {
  await server?.kill();
  await rm(work, { recursive: true, force: true });
});

describe('lacuna fill --device remote:URL', () => {
  it('matches the local fill token for token, and says where it ran', async () => {
    const text = 'The keeper {{12}} every night, and ____ the sea.';
    const args = ['fill', '--model', 'lacuna-mini', '--seed', '42', '--steps', '32', '--json'];
    const local = await runLacuna([...args, '--device', 'cpu', text], { dataDir: dataDir() });
    const remote = await runLacuna([...args, '--device', `remote:${server.url}`, text], { dataDir: dataDir() });
    expect(local.code).toBe(0);
    expect(remote.code).toBe(0);
    const a = JSON.parse(local.stdout) as { text: string; alternatives: unknown; device: string };
    const b = JSON.parse(remote.stdout) as { text: string; alternatives: unknown; device: string };
    expect(b.text).toBe(a.text);
    expect(b.alternatives).toEqual(a.alternatives);
    expect(a.device).toBe('cpu');
    expect(b.device).toBe(`remote:${server.url}`);
    expect(remote.stderr).toBe(`lacuna: ran on remote:${server.url}\n`);
  });

  it('refuses an address it cannot use, and a server that is not there, in one line', async () => {
    expectFailure(await runLacuna(['fill', '--device', 'remote:ftp://x', 'A ____.'], { dataDir: dataDir() }), 2, /--device remote:ftp:\/\/x: .*http or https/);
    expectFailure(
      await runLacuna(['fill', '--device', 'remote', 'A ____.'], { dataDir: dataDir() }),
      1,
      /No inference server is set, so the remote device is off/,
    );
  });
});

describe('lacuna server', () => {
  it('sets, shows and clears the saved server; fills with --device remote then go there', async () => {
    const data = join(work, 'data-server');
    const tokenFile = join(work, 'token');
    await writeFile(tokenFile, 'not-checked-by-kserve\n');
    const set = await runLacuna(['server', 'set', server.url, '--token-file', tokenFile, '--timeout', '20'], { dataDir: data });
    expect(set.code).toBe(0);
    expect(set.stdout).toBe(
      `Inference server: ${server.url} (with a token, 20 s per call).\nFills with --device remote send the text around their blanks to it.\n`,
    );
    const shown = await runLacuna(['server', 'show', '--json'], { dataDir: data });
    expect(JSON.parse(shown.stdout)).toEqual({ url: server.url, hasToken: true, timeoutSeconds: 20 });
    const text = 'A {{6}} morning.';
    const local = await runLacuna(['fill', '--model', 'lacuna-mini', '--seed', '7', '--device', 'cpu', text], { dataDir: data });
    const remote = await runLacuna(['fill', '--model', 'lacuna-mini', '--seed', '7', '--device', 'remote', text], { dataDir: data });
    expect(remote.stdout).toBe(local.stdout);
    const cleared = await runLacuna(['server', 'clear'], { dataDir: data });
    expect(cleared.stdout).toBe('No inference server is set: the remote device is off.\n');
    expectFailure(await runLacuna(['server', 'set'], { dataDir: data }), 2, /expected the server address/);
    expectFailure(await runLacuna(['server', 'set', 'http://x', '--timeout', '0'], { dataDir: data }), 2, /--timeout must be whole seconds from 1 to 600/);
    expectFailure(await runLacuna(['server', 'bogus'], { dataDir: data }), 2, /unknown subcommand "bogus"/);
  });
});
