/**
 * The remote device through the core: the setting (engine.server / engine.setServer) decides where
 * "remote" goes, a server killed in the middle of a fill fails it as unreachable with nothing
 * changed in the document, and the fill works again once the server is back.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, Document } from '../common/api';
import { Engine } from '../engine/engine';
import { exportForServer } from '../engine/model/server-export';
import { startKServe, type KServeProcess } from '../engine/runtime/kserve-test-server';
import { appRoot } from '../platform/paths';
import { rejection } from '../platform/test-support';
import { createCore, type Core } from './core';

const MINI = join(appRoot(), 'models', 'lacuna-mini');
let repo: string;
let dir: string;
const cores: Core[] = [];
const servers: KServeProcess[] = [];

beforeAll(async () => {
  repo = await mkdtemp(join(tmpdir(), 'lacuna-core-remote-repo-'));
  await exportForServer(MINI, repo);
});
afterAll(async () => {
  await rm(repo, { recursive: true, force: true });
});
afterEach(async () => {
  for (const c of cores.splice(0)) await c.close();
  for (const s of servers.splice(0)) await s.kill();
  rmSync(dir, { recursive: true, force: true });
});

function make(): Core {
  dir = mkdtempSync(join(tmpdir(), 'lacuna-core-remote-'));
  const models = join(dir, 'models');
  mkdirSync(models);
  symlinkSync(MINI, join(models, 'lacuna-mini'));
  const core = createCore({
    dataDir: join(dir, 'data'),
    modelDirs: [models],
    defaultModel: 'lacuna-mini',
    front: 'test',
    version: '9.9.9',
    engine: new Engine({ threads: 1 }),
  });
  cores.push(core);
  return core;
}

async function serve(): Promise<KServeProcess> {
  const s = await startKServe(repo);
  servers.push(s);
  return s;
}

describe('the remote device through the core', () => {
  it('is off until a server is set, and the setting never gives the token back', async () => {
    const c = make();
    expect(await c.call('engine.server', {})).toEqual({ url: null, hasToken: false, timeoutSeconds: 60 });
    const off = await rejection(c.call('fill.run', { requestId: 'r1', text: 'A {{4}} day.', device: 'remote' }));
    expect(off.code).toBe('bad_request');
    expect(off.message).toMatch(/No inference server is set, so the remote device is off/);
    const bad = await rejection(c.call('engine.setServer', { url: 'file:///etc/passwd' }));
    expect(bad.code).toBe('bad_request');
    expect(bad.message).toContain('http or https, not file');
    expect(await c.call('engine.setServer', { url: 'http://127.0.0.1:1/', token: 'tok' })).toEqual({
      url: 'http://127.0.0.1:1',
      hasToken: true,
      timeoutSeconds: 60,
    });
    expect(JSON.stringify(await c.call('engine.server', {}))).not.toContain('tok"');
  });

  it('fills like the CPU; a server killed mid-fill fails the fill as unreachable and leaves the document as it was', async () => {
    const c = make();
    const server = await serve();
    await c.call('engine.setServer', { url: server.url, timeoutSeconds: 30 });
    const body = 'The keeper {{16}} every night.';
    const doc = Document.parse(await c.call('documents.create', { title: 'Draft', body }));
    const text = 'The keeper {{16}} every night.';
    const local = await c.call('fill.run', { requestId: 'local', text, seed: 4, steps: 16, device: 'cpu' });
    const there = await c.call('fill.run', { requestId: 'there', text, seed: 4, steps: 16, device: 'remote', documentId: doc.id });
    expect(there.text).toBe(local.text);
    expect(there.device).toBe(`remote:${server.url}`);
    const recorded = await c.call('generations.list', { id: doc.id });
    expect(recorded).toHaveLength(1);

    // Killed after the first step: the fill fails as unreachable (after its retries), nothing is recorded or changed.
    let killed: Promise<void> | undefined;
    const stop = c.onEvent((e) => {
      if (e.type === 'fill.progress' && e.requestId === 'killed' && !killed) killed = server.kill();
    });
    const e = await rejection(c.call('fill.run', { requestId: 'killed', text, seed: 5, steps: 400, device: 'remote', documentId: doc.id }));
    stop();
    await killed;
    expect(e).toBeInstanceOf(ApiError);
    expect(e.code).toBe('network_error');
    expect(e.message).toMatch(new RegExp(`^Cannot reach the inference server ${new URL(server.url).host}: the connection (was refused|broke)`));
    const after = Document.parse(await c.call('documents.open', { id: doc.id }));
    expect(after.body).toBe(body);
    expect(await c.call('generations.list', { id: doc.id })).toHaveLength(1);

    // Back on another port: set it again and fill.
    const again = await serve();
    await c.call('engine.setServer', { url: again.url });
    const back = await c.call('fill.run', { requestId: 'back', text, seed: 4, steps: 16, device: 'remote' });
    expect(back.text).toBe(local.text);
  });
});
