import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeHub, type FakeHub } from './fake-hub';

const hubs: FakeHub[] = [];
afterEach(async () => {
  for (const h of hubs.splice(0)) await h.close();
});

/** One request, no redirects followed, no proxy. */
function fetchRaw(
  url: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((ok, fail) => {
    const req = request(url, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => ok({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', fail);
    });
    req.on('error', fail);
    req.end();
  });
}

describe('fake hub', () => {
  it('answers the models API like the Hub (sha, siblings, tree with LFS entries)', async () => {
    const weights = Buffer.alloc(5000, 3);
    const hub = await startFakeHub({ repos: { 'a/b': { files: { 'config.json': Buffer.from('{}'), 'model.safetensors': weights } } } });
    hubs.push(hub);
    const info = JSON.parse((await fetchRaw(`${hub.endpoint}/api/models/a/b`)).body.toString()) as Record<string, unknown>;
    expect(info).toMatchObject({ id: 'a/b', sha: hub.commitOf('a/b'), siblings: [{ rfilename: 'config.json' }, { rfilename: 'model.safetensors' }] });
    const tree = JSON.parse((await fetchRaw(`${hub.endpoint}/api/models/a/b/tree/main`)).body.toString()) as unknown[];
    const blob = createHash('sha1').update('blob 2\0{}').digest('hex');
    expect(tree).toEqual([
      { type: 'file', oid: blob, size: 2, path: 'config.json' },
      {
        type: 'file',
        oid: expect.stringMatching(/^[0-9a-f]{40}$/),
        size: 5000,
        path: 'model.safetensors',
        lfs: { oid: hub.sha256Of('a/b', 'model.safetensors'), size: 5000, pointerSize: expect.any(Number) },
      },
    ]);
    expect((await fetchRaw(`${hub.endpoint}/api/models/a/b/tree/nope`)).headers['x-error-code']).toBe('RevisionNotFound');
    expect((await fetchRaw(`${hub.endpoint}/api/models/a/c`)).headers['x-error-code']).toBe('RepoNotFound');
  });

  it('serves small files with their git blob id, redirects LFS files, and the CDN honours Range but refuses a token', async () => {
    const weights = Buffer.from(Array.from({ length: 4000 }, (_, i) => i % 251));
    const hub = await startFakeHub({ repos: { 'a/b': { files: { 'config.json': Buffer.from('{}'), 'model.safetensors': weights } } } });
    hubs.push(hub);
    const small = await fetchRaw(`${hub.endpoint}/a/b/resolve/main/config.json`);
    expect([small.status, small.headers.etag, small.headers['x-repo-commit'], small.body.toString()]).toEqual([
      200,
      `"${createHash('sha1').update('blob 2\0{}').digest('hex')}"`,
      hub.commitOf('a/b'),
      '{}',
    ]);
    const head = await fetchRaw(`${hub.endpoint}/a/b/resolve/main/model.safetensors`, {}, 'HEAD');
    expect(head.status).toBe(302);
    expect(head.headers['x-linked-etag']).toBe(`"${hub.sha256Of('a/b', 'model.safetensors')}"`);
    expect(head.headers['x-linked-size']).toBe('4000');
    const location = String(head.headers.location);
    expect(location.startsWith(`${hub.cdn}/`)).toBe(true);
    const part = await fetchRaw(location, { range: 'bytes=1000-' });
    expect([part.status, part.headers['content-range'], part.body.equals(weights.subarray(1000))]).toEqual([206, 'bytes 1000-3999/4000', true]);
    expect((await fetchRaw(location, { range: 'bytes=4000-' })).status).toBe(416);
    expect((await fetchRaw(location, { authorization: 'Bearer x' })).status).toBe(400);
    expect(hub.requests.filter((r) => r.server === 'cdn').map((r) => [r.range, r.authorization, r.status])).toEqual([
      ['bytes=1000-', undefined, 206],
      ['bytes=4000-', undefined, 416],
      [undefined, 'Bearer x', 400],
    ]);
  });
});
