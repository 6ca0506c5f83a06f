import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError } from '../../common/api';
import { FAKE_HUB_TLS, startFakeHub, type FakeHub, type FakeHubOptions } from './fake-hub';
import { bypassesProxy, downloadHubFiles, fetchHubMetadata, proxyFor, type DownloadOptions, type DownloadProgress } from './download';

const REPO = 'louaaron/sedd-small';
const FILES = ['config.json', 'model.safetensors'];
const CONFIG = Buffer.from(`${JSON.stringify({ tokens: 50257, model: { hidden_size: 768 } }, null, 2)}\n`);
/** 300 kB of deterministic bytes. */
const WEIGHTS = (() => {
  const out = Buffer.alloc(300_000);
  let h = createHash('sha256').update('weights').digest();
  for (let i = 0; i < out.length; i += h.length) {
    h.copy(out, i);
    h = createHash('sha256').update(h).digest();
  }
  return out;
})();
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

const temps: string[] = [];
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
  for (const d of temps.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'lacuna-download-'));
  temps.push(d);
  return d;
}

async function hubWith(extra: Partial<FakeHubOptions> = {}, repo: Partial<FakeHubOptions['repos'][string]> = {}): Promise<FakeHub> {
  const hub = await startFakeHub({ repos: { [REPO]: { files: { 'config.json': CONFIG, 'model.safetensors': { data: WEIGHTS } }, ...repo } }, ...extra });
  closers.push(() => hub.close());
  return hub;
}

/** Options against the fake hub: no proxy or token from the real environment. */
async function opts(hub: FakeHub, over: Partial<DownloadOptions> = {}, env: NodeJS.ProcessEnv = {}): Promise<DownloadOptions> {
  return { repo: REPO, files: FILES, stagingDir: await tempDir(), env: { HF_ENDPOINT: hub.endpoint, ...env }, retryDelayMs: 1, ...over };
}

async function failure(p: Promise<unknown>): Promise<ApiError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ApiError);
  return e as ApiError;
}

const cdnGets = (hub: FakeHub) => hub.requests.filter((r) => r.server === 'cdn' && r.method === 'GET');

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((ok) => s.close(() => ok()));
  return port;
}

/** A forward proxy: absolute-URI requests and CONNECT tunnels; counts what it saw. */
async function startProxy(): Promise<{ url: string; seen: string[] }> {
  const seen: string[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const target = new URL(req.url ?? '');
    const up = httpRequest(target, { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  const tunnels = new Set<Socket>();
  server.on('connect', (req, client: Socket, head: Buffer) => {
    seen.push(`CONNECT ${req.url}`);
    tunnels.add(client);
    client.on('close', () => tunnels.delete(client));
    const [host, port] = (req.url ?? '').split(':');
    const up = connect(Number(port), host!, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    up.on('error', () => client.destroy());
    client.on('error', () => up.destroy());
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  closers.push(async () => {
    for (const t of tunnels) t.destroy();
    server.closeAllConnections();
    await new Promise<void>((ok) => server.close(() => ok()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

describe('downloadHubFiles against a fake hub', () => {
  it('follows the redirect to the CDN, sends the token only to the hub and pins the commit', async () => {
    const hub = await hubWith();
    const o = await opts(hub, {}, { HF_TOKEN: 'hf_secret' });
    const result = await downloadHubFiles(o);
    const commit = hub.commitOf(REPO);
    expect(result).toEqual({
      dir: o.stagingDir,
      repo: REPO,
      commit,
      files: [
        { path: 'config.json', bytes: CONFIG.length, sha256: sha256(CONFIG) },
        { path: 'model.safetensors', bytes: WEIGHTS.length, sha256: sha256(WEIGHTS) },
      ],
    });
    expect(sha256(await readFile(join(o.stagingDir, 'model.safetensors')))).toBe(sha256(WEIGHTS));
    expect(sha256(await readFile(join(o.stagingDir, 'config.json')))).toBe(sha256(CONFIG));
    expect((await readdir(o.stagingDir)).sort()).toEqual(['config.json', 'model.safetensors']);

    const seen = hub.requests.map((r) => `${r.server} ${r.method} ${r.url.split('?')[0]} ${r.status} ${r.authorization ?? '-'}`);
    expect(seen).toEqual([
      `hub HEAD /${REPO}/resolve/main/config.json 200 Bearer hf_secret`,
      `hub HEAD /${REPO}/resolve/${commit}/model.safetensors 302 Bearer hf_secret`,
      `hub GET /${REPO}/resolve/${commit}/config.json 200 Bearer hf_secret`,
      `hub GET /${REPO}/resolve/${commit}/model.safetensors 302 Bearer hf_secret`,
      `cdn GET /repos/louaaron--sedd-small/${sha256(WEIGHTS)} 200 -`,
    ]);
  });

  it('reports metadata: sizes, LFS hashes, the commit and the host', async () => {
    const hub = await hubWith({}, { revisions: ['v1'] });
    const meta = await fetchHubMetadata({ repo: REPO, revision: 'v1', files: FILES, env: { HF_ENDPOINT: `${hub.endpoint}/` } });
    expect(meta).toMatchObject({
      repo: REPO,
      revision: 'v1',
      commit: hub.commitOf(REPO),
      endpoint: hub.endpoint,
      host: new URL(hub.endpoint).host,
      bytesTotal: CONFIG.length + WEIGHTS.length,
    });
    expect(meta.files[0]).toMatchObject({ path: 'config.json', size: CONFIG.length, lfs: false });
    expect(meta.files[0]!.sha256).toBeUndefined();
    expect(meta.files[1]).toMatchObject({ path: 'model.safetensors', size: WEIGHTS.length, lfs: true, sha256: sha256(WEIGHTS), etag: sha256(WEIGHTS) });
  });

  it('takes every file from the commit of the first, also when asked for a tag', async () => {
    const hub = await hubWith({}, { revisions: ['v1'] });
    const o = await opts(hub, { revision: 'v1' });
    await downloadHubFiles(o);
    const commit = hub.commitOf(REPO);
    const hubUrls = hub.requests.filter((r) => r.server === 'hub').map((r) => r.url);
    expect(hubUrls[0]).toBe(`/${REPO}/resolve/v1/config.json`);
    expect(hubUrls.slice(1).every((u) => u.includes(`/resolve/${commit}/`))).toBe(true);
  });

  it('resumes a dropped connection with Range, without fetching bytes twice', async () => {
    const hub = await hubWith();
    hub.setFault(REPO, 'model.safetensors', { dropAfterBytes: 100_000 });
    const o = await opts(hub);
    const result = await downloadHubFiles(o);
    expect(result.files[1]!.sha256).toBe(sha256(WEIGHTS));
    const gets = cdnGets(hub);
    expect(gets).toHaveLength(2);
    expect(gets[0]!.range).toBeUndefined();
    expect(gets[0]!.bytesSent).toBe(100_000);
    expect(gets[1]!.range).toBe('bytes=100000-');
    expect(gets[1]!.status).toBe(206);
    expect(gets[0]!.bytesSent + gets[1]!.bytesSent).toBe(WEIGHTS.length);
  });

  it('gives up after a few retries on a connection that keeps dropping, keeping the .part', async () => {
    const hub = await hubWith();
    hub.setFault(REPO, 'model.safetensors', { dropAfterBytes: 0, dropEveryTime: true });
    const o = await opts(hub, { retries: 2 });
    const e = await failure(downloadHubFiles(o));
    expect(e.code).toBe('network_error');
    expect(e.message).toBe(`The connection to ${new URL(hub.cdn).host} broke during the download of model.safetensors; try again, it will resume.`);
    expect(cdnGets(hub)).toHaveLength(3);
    expect(existsSync(join(o.stagingDir, 'model.safetensors.part.json'))).toBe(true);
    expect(existsSync(join(o.stagingDir, 'model.safetensors'))).toBe(false);
  });

  it('resumes a stalled body after the timeout', async () => {
    const hub = await hubWith();
    hub.setFault(REPO, 'model.safetensors', { stallAfterBytes: 50_000 });
    const o = await opts(hub, { timeoutMs: 1000 });
    await downloadHubFiles(o);
    const gets = cdnGets(hub);
    expect(gets.map((g) => g.range)).toEqual([undefined, 'bytes=50000-']);
    expect(sha256(await readFile(join(o.stagingDir, 'model.safetensors')))).toBe(sha256(WEIGHTS));
  });

  it('retries a 503 and restarts a file whose server ignores Range', async () => {
    const hub = await hubWith();
    hub.setFault(REPO, 'model.safetensors', { failStatus: { status: 503, times: 1 } });
    const o = await opts(hub);
    await downloadHubFiles(o);
    expect(cdnGets(hub).map((g) => g.status)).toEqual([503, 200]);

    const hub2 = await hubWith();
    hub2.setFault(REPO, 'model.safetensors', { dropAfterBytes: 64_000, ignoreRange: true });
    const o2 = await opts(hub2);
    const r = await downloadHubFiles(o2);
    expect(r.files[1]!.sha256).toBe(sha256(WEIGHTS));
    expect(cdnGets(hub2).map((g) => [g.range, g.status])).toEqual([
      [undefined, 200],
      ['bytes=64000-', 200],
    ]);
  });

  it('cancels with the AbortSignal, keeps the .part, and the next call resumes it (even after the branch moved)', async () => {
    const hub = await hubWith();
    hub.setFault(REPO, 'model.safetensors', { throttleBytesPerSecond: 1_000_000 });
    const o = await opts(hub, { progressIntervalMs: 0 });
    const abort = new AbortController();
    const e = await failure(
      downloadHubFiles({
        ...o,
        signal: abort.signal,
        onProgress: (p) => {
          if (p.file === 'model.safetensors' && p.fileBytesDone >= 60_000) abort.abort();
        },
      }),
    );
    expect(e.code).toBe('cancelled');
    expect(e.message).toBe('The download of model.safetensors was cancelled; it will resume where it stopped.');
    const part = join(o.stagingDir, 'model.safetensors.part');
    const kept = (await stat(part)).size;
    expect(kept).toBeGreaterThanOrEqual(60_000);
    expect(kept).toBeLessThan(WEIGHTS.length);
    expect(existsSync(`${part}.json`)).toBe(true);
    expect(existsSync(join(o.stagingDir, 'model.safetensors'))).toBe(false);

    hub.setFault(REPO, 'model.safetensors', undefined);
    hub.setCommit(REPO, 'c'.repeat(40));
    const events: DownloadProgress[] = [];
    const result = await downloadHubFiles({ ...o, onProgress: (p) => events.push(p) });
    expect(result.commit).toBe('c'.repeat(40));
    expect(result.files[1]!.sha256).toBe(sha256(WEIGHTS));
    const gets = cdnGets(hub);
    expect(gets.at(-1)!.range).toBe(`bytes=${kept}-`);
    expect(gets.at(-1)!.bytesSent).toBe(WEIGHTS.length - kept);
    expect(events[0]!.bytesDone).toBeGreaterThanOrEqual(kept);
    expect(existsSync(part)).toBe(false);
    expect(existsSync(`${part}.json`)).toBe(false);
  });

  it('is cancelled by a signal aborted before it starts, asking nothing', async () => {
    const hub = await hubWith();
    const e = await failure(downloadHubFiles({ ...(await opts(hub)), signal: AbortSignal.abort() }));
    expect(e.code).toBe('cancelled');
    expect(hub.requests).toEqual([]);
  });

  it('starts a file over when its sidecar no longer matches what the Hub reports', async () => {
    const hub = await hubWith();
    const o = await opts(hub);
    await writeFile(join(o.stagingDir, 'model.safetensors.part'), Buffer.alloc(1000, 7));
    await writeFile(
      join(o.stagingDir, 'model.safetensors.part.json'),
      JSON.stringify({
        format: 'lacuna-download/1',
        repo: REPO,
        file: 'model.safetensors',
        commit: 'x',
        size: WEIGHTS.length,
        sha256: 'f'.repeat(64),
        etag: 'f'.repeat(64),
      }),
    );
    const r = await downloadHubFiles(o);
    expect(r.files[1]!.sha256).toBe(sha256(WEIGHTS));
    expect(cdnGets(hub).map((g) => g.range)).toEqual([undefined]);
  });

  it('keeps verified files of an earlier call whose install failed, fetching only small files again', async () => {
    const hub = await hubWith();
    const o = await opts(hub);
    await downloadHubFiles(o);
    const before = cdnGets(hub).length;
    const again = await downloadHubFiles(o);
    expect(again.files[1]!.sha256).toBe(sha256(WEIGHTS));
    expect(cdnGets(hub).length).toBe(before);
    expect((await readdir(o.stagingDir)).sort()).toEqual(['config.json', 'model.safetensors']);
  });

  it('says which repository, file or revision does not exist', async () => {
    const hub = await hubWith();
    const host = new URL(hub.endpoint).host;
    const e1 = await failure(downloadHubFiles({ ...(await opts(hub)), repo: 'louaaron/sedd-huge' }));
    expect([e1.code, e1.message]).toEqual(['not_found', `louaaron/sedd-huge does not exist on ${host} (if it is private, set HF_TOKEN).`]);
    const e2 = await failure(downloadHubFiles({ ...(await opts(hub)), files: ['config.json', 'pytorch_model.bin'] }));
    expect([e2.code, e2.message]).toEqual(['not_found', `${REPO} has no file pytorch_model.bin at revision main.`]);
    const e3 = await failure(downloadHubFiles({ ...(await opts(hub)), revision: 'v9' }));
    expect([e3.code, e3.message]).toEqual(['not_found', `${REPO} has no revision "v9" on ${host}.`]);
    expect(cdnGets(hub)).toHaveLength(0);
  });

  it('explains a gated repository (401 without a token, 403 with a wrong one) and opens it with the right one', async () => {
    const hub = await hubWith({ token: 'hf_good' }, { gated: true });
    const host = new URL(hub.endpoint).host;
    const e1 = await failure(downloadHubFiles(await opts(hub)));
    expect([e1.code, e1.message]).toEqual(['network_error', `${REPO} is gated: accept its terms on ${host} and set HF_TOKEN.`]);
    const e2 = await failure(downloadHubFiles(await opts(hub, {}, { HF_TOKEN: 'hf_bad' })));
    expect(e2.code).toBe('network_error');
    expect(e2.message).toBe(
      `${REPO} is gated and the HF_TOKEN given is not allowed to download it: accept its terms on ${host} with that account, or check the token.`,
    );
    expect(hub.requests.slice(0, 2).map((r) => r.status)).toEqual([401, 403]);
    const r = await downloadHubFiles(await opts(hub, {}, { HF_TOKEN: 'hf_good' }));
    expect(r.files).toHaveLength(2);
    expect(cdnGets(hub).map((g) => [g.status, g.authorization])).toEqual([[200, undefined]]);
  });

  it('deletes a download whose SHA-256 does not match', async () => {
    const hub = await hubWith();
    hub.setFault(REPO, 'model.safetensors', { corrupt: true });
    const o = await opts(hub);
    const e = await failure(downloadHubFiles(o));
    expect([e.code, e.message]).toEqual([
      'model_error',
      'The download of model.safetensors was damaged (its SHA-256 does not match); it was deleted, try again.',
    ]);
    expect((await readdir(o.stagingDir)).sort()).toEqual(['config.json.part', 'config.json.part.json']);
  });

  it('checks free disk space before transferring anything', async () => {
    const hub = await hubWith();
    const o = await opts(hub, { extraBytesNeeded: 1_000_000_000, statfs: async () => ({ bavail: 100_000n, bsize: 4096n }) });
    const e = await failure(downloadHubFiles(o));
    expect(e.code).toBe('storage_error');
    expect(e.message).toBe(`Not enough free disk space: 1.0 GB needed in ${o.stagingDir}, 410 MB free.`);
    expect(hub.requests.every((r) => r.method === 'HEAD')).toBe(true);
    expect(await readdir(o.stagingDir)).toEqual([]);
  });

  it('says the host cannot be reached when nothing listens', async () => {
    const port = await closedPort();
    const e = await failure(
      downloadHubFiles({ repo: REPO, files: FILES, stagingDir: await tempDir(), env: { HF_ENDPOINT: `http://127.0.0.1:${port}` }, retryDelayMs: 1 }),
    );
    expect([e.code, e.message]).toEqual(['network_error', `Cannot reach 127.0.0.1:${port}: the connection was refused.`]);
  });

  it('follows a renamed repository (a relative redirect)', async () => {
    const hub = await hubWith({ renamed: { 'louaaron/old-name': REPO } });
    const r = await downloadHubFiles({ ...(await opts(hub)), repo: 'louaaron/old-name' });
    expect(r.files[1]!.sha256).toBe(sha256(WEIGHTS));
  });

  it('goes through HTTP_PROXY (absolute-URI requests) unless NO_PROXY names the host', async () => {
    const hub = await hubWith();
    const proxy = await startProxy();
    await downloadHubFiles(await opts(hub, {}, { http_proxy: proxy.url, HF_TOKEN: 'hf_x' }));
    const commit = hub.commitOf(REPO);
    expect(proxy.seen).toEqual([
      `HEAD ${hub.endpoint}/${REPO}/resolve/main/config.json`,
      `HEAD ${hub.endpoint}/${REPO}/resolve/${commit}/model.safetensors`,
      `GET ${hub.endpoint}/${REPO}/resolve/${commit}/config.json`,
      `GET ${hub.endpoint}/${REPO}/resolve/${commit}/model.safetensors`,
      expect.stringMatching(new RegExp(`^GET ${hub.cdn}/repos/`)),
    ]);
    expect(cdnGets(hub).map((g) => g.authorization)).toEqual([undefined]);

    proxy.seen.length = 0;
    await downloadHubFiles(await opts(hub, {}, { HTTP_PROXY: proxy.url, NO_PROXY: 'example.com, 127.0.0.1' }));
    expect(proxy.seen).toEqual([]);

    const port = await closedPort();
    const e = await failure(downloadHubFiles(await opts(hub, {}, { HTTP_PROXY: `http://127.0.0.1:${port}` })));
    expect([e.code, e.message]).toEqual(['network_error', `Cannot reach the proxy 127.0.0.1:${port} (from HTTP_PROXY): the connection was refused.`]);
  });

  it('tunnels https through HTTPS_PROXY with CONNECT, and explains a certificate it cannot trust', async () => {
    const hub = await hubWith({ tls: FAKE_HUB_TLS });
    const proxy = await startProxy();
    const r = await downloadHubFiles({ ...(await opts(hub, {}, { HTTPS_PROXY: proxy.url, HF_TOKEN: 'hf_x' })), ca: FAKE_HUB_TLS.cert });
    expect(r.files[1]!.sha256).toBe(sha256(WEIGHTS));
    const hubHost = new URL(hub.endpoint).host;
    expect(proxy.seen).toEqual([...Array(4).fill(`CONNECT ${hubHost}`), `CONNECT ${new URL(hub.cdn).host}`]);
    expect(hub.requests.map((r) => `${r.server} ${r.authorization ?? '-'}`)).toEqual([...Array(4).fill('hub Bearer hf_x'), 'cdn -']);

    const e = await failure(downloadHubFiles(await opts(hub)));
    expect(e.code).toBe('network_error');
    expect(e.message).toMatch(
      new RegExp(
        `^Cannot make a secure connection to ${hubHost} \\([A-Z_]+\\); ` +
          `if a proxy or firewall inspects the traffic, give Lacuna its certificate with NODE_EXTRA_CA_CERTS\\.$`,
      ),
    );
  });

  it('sends progress events, throttled, monotone, ending at 100 %', async () => {
    const hub = await hubWith();
    hub.setFault(REPO, 'model.safetensors', { throttleBytesPerSecond: 1_000_000 });
    const events: DownloadProgress[] = [];
    await downloadHubFiles({ ...(await opts(hub, { progressIntervalMs: 20 })), onProgress: (p) => events.push(p) });
    expect(events.length).toBeGreaterThan(2);
    const total = CONFIG.length + WEIGHTS.length;
    for (let i = 1; i < events.length; i++) expect(events[i]!.bytesDone).toBeGreaterThanOrEqual(events[i - 1]!.bytesDone);
    expect(events.every((p) => p.bytesTotal === total && p.fileBytesDone <= p.fileBytesTotal && p.bytesPerSecond >= 0)).toBe(true);
    expect(events.some((p) => p.file === 'model.safetensors' && p.fileBytesTotal === WEIGHTS.length && p.secondsLeft !== undefined && p.secondsLeft > 0)).toBe(
      true,
    );
    expect(events.at(-1)).toMatchObject({ file: 'model.safetensors', fileBytesDone: WEIGHTS.length, bytesDone: total, secondsLeft: 0 });
  });

  it('refuses bad arguments', async () => {
    const base = { repo: REPO, files: FILES, stagingDir: await tempDir(), env: {} };
    for (const [over, message] of [
      [{ repo: '../etc' }, '"../etc" is not a Hugging Face repository name (like louaaron/sedd-small).'],
      [{ files: ['../x'] }, '"../x" is not a file path inside a repository.'],
      [{ files: [] }, 'Name at least one file to download.'],
      [{ env: { HF_ENDPOINT: 'ftp://x' } }, 'HF_ENDPOINT is not an http(s) address: "ftp://x".'],
    ] as const) {
      const e = await failure(downloadHubFiles({ ...base, ...over }));
      expect([e.code, e.message]).toEqual(['bad_request', message]);
    }
  });
});

describe('proxy settings', () => {
  it('picks the variable by scheme, lower case first, and honours NO_PROXY', () => {
    const env = { HTTPS_PROXY: 'http://secure:3128', https_proxy: 'proxy.lan:8080', HTTP_PROXY: 'http://plain:3128', NO_PROXY: '.internal,localhost:8000' };
    expect(proxyFor(new URL('https://huggingface.co/x'), env)).toMatchObject({ variable: 'https_proxy', url: new URL('http://proxy.lan:8080') });
    expect(proxyFor(new URL('http://mirror.example/x'), env)?.url.href).toBe('http://plain:3128/');
    expect(proxyFor(new URL('https://hub.internal/x'), env)).toBeUndefined();
    expect(proxyFor(new URL('https://x.y.internal/x'), env)).toBeUndefined();
    expect(proxyFor(new URL('http://localhost:8000/x'), env)).toBeUndefined();
    expect(proxyFor(new URL('http://localhost:8001/x'), env)).toBeDefined();
    expect(proxyFor(new URL('https://a.b/x'), { ALL_PROXY: 'http://all:1' })?.variable).toBe('ALL_PROXY');
    expect(proxyFor(new URL('https://a.b/x'), { HTTP_PROXY: 'http://p:1' })).toBeUndefined();
    expect(bypassesProxy(new URL('http://anything/'), '*')).toBe(true);
    expect(bypassesProxy(new URL('http://notinternal/'), 'internal')).toBe(false);
  });
});
