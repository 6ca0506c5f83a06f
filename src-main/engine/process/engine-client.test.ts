/**
 * EngineClient through a real child process running the built host, out/main/engine-host.js
 * (`npm test` builds it before vitest runs; alone: `npx electron-vite build`).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../engine';
import { EngineClient, forkEngineHost, defaultHostPath, type EngineHostPort } from './engine-client';
import { FIXTURE_DIR, ROOT } from '../test-fixture';
import type { FillJob } from '../types';
import { rejection } from '../../platform/test-support';

const HOST = defaultHostPath();
const env = { ...process.env, LACUNA_ENGINE_THREADS: '1' };

let n = 0;
const job = (text: string, extra: Partial<FillJob> = {}): FillJob => ({ requestId: `c${n++}`, text, modelDir: FIXTURE_DIR, ...extra });

/** forkEngineHost, keeping each started port so a test can kill the host. */
function trackingSpawn(): { spawn: () => EngineHostPort; ports: EngineHostPort[] } {
  const ports: EngineHostPort[] = [];
  const fork = forkEngineHost(HOST, env);
  return {
    ports,
    spawn: () => {
      const p = fork();
      ports.push(p);
      return p;
    },
  };
}

beforeAll(() => {
  if (!existsSync(HOST)) {
    throw new Error(`${HOST} is missing: build the app first (npm run build, or npx electron-vite build)`);
  }
});

describe('EngineClient with the built engine host', () => {
  const { spawn, ports } = trackingSpawn();
  const client = new EngineClient(spawn);
  afterAll(() => client.close());

  it('resolves the host under the app root', () => {
    expect(HOST).toBe(join(ROOT, 'out', 'main', 'engine-host.js'));
  });

  it('starts the host lazily and fills like the in-process engine', async () => {
    expect(ports).toHaveLength(0);
    const text = 'The cat {{6}} on the mat. It was {{4}}.';
    const steps: number[] = [];
    const remote = await client.fill(job(text, { steps: 8, seed: 7 }), (p) => steps.push(p.step));
    expect(ports).toHaveLength(1);
    const local = new Engine({ threads: 1 });
    try {
      const here = await local.fill(job(text, { steps: 8, seed: 7 }));
      expect(remote.text).toBe(here.text);
      expect(remote.fills).toEqual(here.fills);
      expect(remote.networkCalls).toBe(here.networkCalls);
    } finally {
      await local.close();
    }
    expect(remote).toMatchObject({ steps: 8, seed: 7, device: 'cpu' });
    expect(steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('warms a model in a fresh host: the process starts and the model loads before any fill', async () => {
    const { spawn: spawnWarm, ports: warmPorts } = trackingSpawn();
    const warmClient = new EngineClient(spawnWarm);
    try {
      const warmed = await warmClient.warm({ requestId: `c${n++}`, modelDir: FIXTURE_DIR });
      expect(warmPorts).toHaveLength(1);
      expect(warmed.device).toBe('cpu');
      expect(warmed.durationMs).toBeGreaterThan(0);
      // The fill after it runs in the same process, on the loaded network, and fills as before.
      const out = await warmClient.fill(job('The cat ____ on the mat.', { steps: 4, seed: 3 }));
      expect(warmPorts).toHaveLength(1);
      expect(out.fills).toHaveLength(1);
      // A broken package fails the warm-up as it would fail a fill.
      expect((await rejection(warmClient.warm({ requestId: `c${n++}`, modelDir: join(ROOT, 'nope') }))).code).toBe('model_error');
    } finally {
      await warmClient.close();
    }
  });

  it('passes errors back as ApiError with their code', async () => {
    const e = await rejection(client.fill(job('no blank here')));
    expect(e.code).toBe('bad_request');
    expect(e.message).toMatch(/no blank/);
    expect((await rejection(client.fill(job('a ____', { modelDir: join(ROOT, 'nope') })))).code).toBe('model_error');
  });

  it('scores in the host with the same numbers as the in-process engine, and cancels a score by signal', async () => {
    const text = 'The lighthouse keeper — naïve, 日本 — had not spoken.';
    const progress: { done: number; total: number }[] = [];
    const remote = await client.score({ requestId: `c${n++}`, text, modelDir: FIXTURE_DIR, draws: 3, seed: 9 }, undefined, (p) => progress.push(p));
    // One event per draw and window, counting up to the total.
    expect(progress.length).toBe(remote.draws * remote.windows);
    expect(progress.map((p) => p.done)).toEqual(progress.map((_, i) => i + 1));
    expect(progress.every((p) => p.total === progress.length)).toBe(true);
    const local = new Engine({ threads: 1 });
    try {
      const here = await local.score({ requestId: `c${n++}`, text, modelDir: FIXTURE_DIR, draws: 3, seed: 9 });
      expect(remote.nll).toBe(here.nll);
      expect(remote.nllStdErr).toBe(here.nllStdErr);
      expect(remote.perToken).toEqual(here.perToken);
      expect(remote.networkCalls).toBe(here.networkCalls);
    } finally {
      await local.close();
    }
    expect(remote).toMatchObject({ draws: 3, seed: 9, tokens: remote.perToken.length, device: 'cpu' });
    expect((await rejection(client.score({ requestId: `c${n++}`, text, modelDir: FIXTURE_DIR, draws: 0 }))).code).toBe('bad_request');
    const ac = new AbortController();
    const p = client.score({ requestId: `c${n++}`, text: text.repeat(3), modelDir: FIXTURE_DIR, draws: 1024, seed: 1 }, ac.signal);
    setTimeout(() => ac.abort(), 30);
    expect((await rejection(p)).code).toBe('cancelled');
    expect(ports).toHaveLength(1);
  });

  it('cancels a fill in the host', async () => {
    const j = job('{{40}}', { steps: 300, seed: 3 });
    const p = client.fill(j, (info) => {
      if (info.step === 2) client.cancel(j.requestId);
    });
    expect((await rejection(p)).code).toBe('cancelled');
    expect((await client.fill(job('x ____', { steps: 2 }))).fills).toHaveLength(1);
    expect(ports).toHaveLength(1); // same host throughout
  });
});

describe('EngineClient when the host dies', () => {
  it('rejects the pending fill with model_error and starts a fresh host for the next fill', async () => {
    const { spawn, ports } = trackingSpawn();
    const client = new EngineClient(spawn);
    try {
      const j = job('{{40}}', { steps: 400, seed: 5 });
      const p = client.fill(j, (info) => {
        if (info.step === 3) ports[0]!.kill();
      });
      const e = await rejection(p);
      expect(e.code).toBe('model_error');
      expect(e.message).toMatch(/the inference process stopped unexpectedly \(killed by signal SIGKILL\)/);
      const next = await client.fill(job('after the crash ____', { steps: 3, seed: 1 }));
      expect(next.fills).toHaveLength(1);
      expect(ports).toHaveLength(2);
    } finally {
      await client.close();
    }
  });

  it('rejects a score in flight with model_error when the host is killed', async () => {
    const { spawn, ports } = trackingSpawn();
    const client = new EngineClient(spawn);
    try {
      const text = 'the quick brown fox jumps over the lazy dog. '.repeat(8);
      await client.score({ requestId: `c${n++}`, text, modelDir: FIXTURE_DIR, draws: 1, seed: 1 }); // the host is up, the model loaded
      const p = client.score({ requestId: `c${n++}`, text, modelDir: FIXTURE_DIR, draws: 1024, seed: 2 });
      setTimeout(() => ports[0]!.kill(), 30);
      const e = await rejection(p);
      expect(e.code).toBe('model_error');
      expect(e.message).toMatch(/the inference process stopped unexpectedly \(killed by signal SIGKILL\)/);
      expect((await client.score({ requestId: `c${n++}`, text: 'after the crash', modelDir: FIXTURE_DIR, draws: 1 })).draws).toBe(1);
      expect(ports).toHaveLength(2);
    } finally {
      await client.close();
    }
  });

  it('says how to build the host when it is missing', async () => {
    const client = new EngineClient(join(ROOT, 'out', 'main', 'no-such-host.js'));
    const e = await rejection(client.fill(job('a ____')));
    expect(e.message).toMatch(/no-such-host\.js is missing; build it first/);
    await client.close();
  });

  it('after close, the host has exited and fills are refused', async () => {
    const { spawn, ports } = trackingSpawn();
    const client = new EngineClient(spawn);
    await client.fill(job('x ____', { steps: 2 }));
    let exited = false;
    ports[0]!.onExit(() => (exited = true));
    await client.close();
    expect(exited).toBe(true);
    expect((await rejection(client.fill(job('x ____')))).code).toBe('cancelled');
  });
});
