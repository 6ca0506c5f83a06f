/**
 * Nothing leaves the machine (issue 16): web mode (its server and engine process), a fill, a score,
 * the CLI's fill and a minute of idling, all under `strace -f`. Any connect/sendto/sendmsg to an
 * address that is not loopback, and any DNS query (port 53, or the resolver's sockets), fails the
 * test. onnxruntime's telemetry, before it was switched off (engine/ort-offline.ts), looked up
 * mobile.events.data.microsoft.com after the first fill and kept retrying while idle: the minute of
 * idling is there for such retries. A positive control first shows that the audit sees a real
 * connection attempt. strace is installed by .ci/run; without it the test fails, it never skips.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { apiCall } from './app';
import { ROOT, startWebMode, straceArgs, type WebMode } from './helpers';

const IDLE_MS = 60_000;

/** The traced calls that reach beyond this computer (or ask a resolver), one line each. */
export function offending(log: string): string[] {
  return log.split('\n').filter((line) => {
    if (!/\b(connect|sendto|sendmsg)\(/.test(line)) return false;
    const port = /sin6?_port=htons\((\d+)\)/.exec(line)?.[1];
    if (port === '53') return true; // a DNS query, even to a local resolver
    const v4 = /sin_addr=inet_addr\("([\d.]+)"\)/.exec(line)?.[1];
    if (v4 !== undefined) return !v4.startsWith('127.');
    const v6 = /inet_pton\(AF_INET6, "([^"]+)"/.exec(line)?.[1];
    if (v6 !== undefined) return !(v6 === '::1' || /^::ffff:127\./.test(v6));
    const unix = /sun_path="([^"]*)"/.exec(line)?.[1];
    if (unix !== undefined) return /resolve|nscd/i.test(unix);
    return false; // a connected socket's send (its connect was checked) or another family (netlink)
  });
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe('nothing leaves the machine', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lacuna-net-'));
  // A home of its own, so that nothing the run writes there (a telemetry cache) hides in the real one.
  const env = { HOME: join(dir, 'home'), XDG_CACHE_HOME: join(dir, 'home', '.cache'), ORT_DISABLE_TELEMETRY: '0' };
  let web: WebMode | undefined;
  afterAll(async () => {
    await web?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the audit sees a connection attempt to another machine (positive control)', async () => {
    const log = join(dir, 'control.strace');
    const r = await run(
      'strace',
      [...straceArgs(log), process.execPath, '-e', "require('net').connect(9, '192.0.2.1').on('error', () => {}); setTimeout(() => process.exit(0), 200)"],
      {},
    );
    expect(r.code, r.out).toBe(0);
    expect(offending(readFileSync(log, 'utf8')).join('\n')).toMatch(/192\.0\.2\.1/);
    expect(offending('123  connect(5, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("127.0.0.1")}, 16) = 0')).toEqual([]);
    expect(offending('123  connect(5, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("127.0.0.53")}, 16) = 0')).toHaveLength(1);
  });

  it('web mode, a fill, a score, the CLI and a minute of idling connect only to this computer', { timeout: IDLE_MS + 120_000 }, async () => {
    const webLog = join(dir, 'web.strace');
    web = await startWebMode({ straceTo: webLog, env });
    const fill = await apiCall<{ fills: string[] }>(web, 'fill.run', {
      requestId: 'net-1',
      text: 'The keeper {{8}} every night.',
      steps: 16,
      seed: 1,
      alternatives: 2,
    });
    expect(fill.fills).toHaveLength(1);
    const score = await apiCall<{ perplexityBound: number }>(web, 'score.run', {
      requestId: 'net-2',
      text: 'The keeper lit the lamp every night.',
      draws: 4,
      seed: 1,
    });
    expect(Number.isFinite(score.perplexityBound)).toBe(true);

    const cliLog = join(dir, 'cli.strace');
    const cli = await run(
      'strace',
      [...straceArgs(cliLog), process.execPath, join(ROOT, 'bin', 'lacuna.js'), 'fill', '--steps', '8', '--seed', '2', 'It rained {{6}} all night.'],
      {
        ...env,
        LACUNA_DATA_DIR: join(dir, 'cli-data'),
      },
    );
    expect(cli.code, cli.out).toBe(0);

    await new Promise((r) => setTimeout(r, IDLE_MS));
    await web.stop();
    web = undefined;
    const logs = [readFileSync(webLog, 'utf8'), readFileSync(cliLog, 'utf8')];
    // The traces are real: web mode and the engine process it starts were both traced (an execve each).
    const started = logs[0]!.split('\n').filter((l) => /\bexecve\(/.test(l) && !/= -1/.test(l));
    expect(new Set(started.map((l) => l.split(/\s/)[0])).size, started.join('\n')).toBeGreaterThanOrEqual(2);
    expect(logs.flatMap(offending)).toEqual([]);
  });
});
