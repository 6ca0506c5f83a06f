/**
 * `npm run bench:remote`: the remote device (issue 19) against the local CPU on the same machine,
 * over loopback, so that the difference is the protocol's cost and not a faster server: a real KServe
 * v2 server (models/server/kserve_onnx.py, KServe's Python server with onnxruntime 1.30 on the CPU,
 * as many intra-op threads as the local session) serving `exportForServer`'s output.
 *
 *   npm run bench:remote [-- --calls N] [-- --models a,b]
 *
 * Per model and window length L, with a 16-token blank (K = 16 masked positions in one row):
 *  - a sampling step's network call, local and remote (binary tensor extension, and JSON), the
 *    median of N calls after 3 warm-ups: the fused draw (`maskedDraw`: token ids, σ, positions and
 *    uniforms out; a token and a log-normaliser per position back) and the tempered choice's call
 *    (`maskedScores`: K rows of V log scores back);
 *  - the bytes each call puts on the wire and reads from it (HTTP headers included);
 *  - a whole fill with the model's defaults and a fixed seed, local and remote: its time, calls,
 *    bytes, and whether the text is the same.
 * Models: lacuna-mini (bundled), and sedd-small-int8 from bench/cache/models when npm run
 * bench:models has made it. Results go to bench/remote-results.json.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { formatBytes } from '../src-main/common/units';
import { Engine } from '../src-main/engine/engine';
import { readModelPackage } from '../src-main/engine/model/package';
import { exportForServer, serverModelName } from '../src-main/engine/model/server-export';
import { startKServe } from '../src-main/engine/runtime/kserve-test-server';
import { cpuThreads } from '../src-main/engine/runtime/providers';
import { connectRemote, type Transport } from '../src-main/engine/runtime/remote-session';
import { ScoreModel } from '../src-main/engine/runtime/score-model';
import { appRoot } from '../src-main/platform/paths';

const ROOT = appRoot();
const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i === -1 ? undefined : args[i + 1];
};
const CALLS = Number(flag('--calls') ?? 15);
const K = 16;
const CANDIDATES: Record<string, { dir: string; lengths: number[] }> = {
  'lacuna-mini': { dir: join(ROOT, 'models', 'lacuna-mini'), lengths: [128, 256] },
  'sedd-small-int8': { dir: join(ROOT, 'bench', 'cache', 'models', 'sedd-small-int8'), lengths: [256, 1024] },
};
const wanted = flag('--models')?.split(',') ?? Object.keys(CANDIDATES);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

interface CallRow {
  model: string;
  L: number;
  call: 'maskedDraw' | 'maskedScores';
  where: 'local' | Transport;
  ms: number;
  sentBytes: number;
  receivedBytes: number;
}

/** Median ms and bytes per call of `fn` on `model` (bytes from the remote session's socket counters). */
async function timeCalls(model: ScoreModel, fn: () => Promise<unknown>): Promise<{ ms: number; sent: number; received: number }> {
  for (let i = 0; i < 3; i++) await fn();
  const t0 = model.traffic;
  const times: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const start = performance.now();
    await fn();
    times.push(performance.now() - start);
  }
  const t1 = model.traffic;
  return { ms: median(times), sent: (t1.sent - t0.sent) / CALLS, received: (t1.received - t0.received) / CALLS };
}

async function main(): Promise<void> {
  const threads = cpuThreads();
  const models = wanted.filter((id) => {
    const c = CANDIDATES[id];
    if (!c) throw new Error(`unknown model ${id}; one of ${Object.keys(CANDIDATES).join(', ')}`);
    if (!existsSync(join(c.dir, 'manifest.json'))) {
      console.log(`(${id}: not in ${c.dir}; npm run bench:models makes it)`);
      return false;
    }
    return true;
  });
  const repo = await mkdtemp(join(tmpdir(), 'lacuna-bench-remote-'));
  for (const id of models) await exportForServer(CANDIDATES[id]!.dir, repo);
  const server = await startKServe(repo, { threads });
  console.log(`KServe v2 server at ${server.url} (onnxruntime CPU, ${threads} intra-op thread${threads === 1 ? '' : 's'}; the local session has as many)`);
  const rows: CallRow[] = [];
  const fills: Record<string, unknown>[] = [];
  try {
    for (const id of models) {
      const pkg = await readModelPackage(CANDIDATES[id]!.dir);
      const m = pkg.manifest;
      const remoteServer = { url: server.url, timeoutMs: 120_000 };
      const local = await ScoreModel.load(pkg.networkPath, m.vocab_size, { device: 'cpu', threads });
      const remotes: Record<Transport, ScoreModel> = {
        binary: (
          await connectRemote({ server: remoteServer, model: serverModelName(m), networkPath: pkg.networkPath, vocabSize: m.vocab_size, transport: 'binary' })
        ).model,
        json: (
          await connectRemote({ server: remoteServer, model: serverModelName(m), networkPath: pkg.networkPath, vocabSize: m.vocab_size, transport: 'json' })
        ).model,
      };
      for (const L of CANDIDATES[id]!.lengths.filter((l) => l <= m.length)) {
        const tokens = new Int32Array(L).fill(11);
        const start = Math.floor((L - K) / 2);
        for (let i = 0; i < K; i++) tokens[start + i] = m.mask_id!;
        const positions = Int32Array.from({ length: K }, (_, i) => start + i);
        const uniforms = new Float32Array(K).fill(0.5);
        for (const call of ['maskedDraw', 'maskedScores'] as const) {
          for (const [where, model] of [
            ['local', local],
            ['binary', remotes.binary],
            ['json', remotes.json],
          ] as const) {
            const fn = call === 'maskedDraw' ? () => model.maskedDraw(tokens, 1, 1, positions, uniforms) : () => model.maskedScores(tokens, 1, 1, positions);
            const r = await timeCalls(model, fn);
            rows.push({ model: id, L, call, where, ms: r.ms, sentBytes: r.sent, receivedBytes: r.received });
            console.log(`  ${id} L=${L} ${call} ${where}: ${r.ms.toFixed(1)} ms`);
          }
        }
      }
      await Promise.all([local.release(), remotes.binary.release(), remotes.json.release()]);

      // A whole fill with the model's defaults, local and remote, same seed.
      const engine = new Engine({ threads });
      const text = 'The keeper climbed the stairs at dusk. {{16}} The sea below was calm.';
      const job = (device: 'cpu' | 'remote', n: number) => ({
        requestId: `bench-${id}-${device}-${n}`,
        text,
        modelDir: pkg.dir,
        seed: 1234,
        device,
        ...(device === 'remote' ? { server: remoteServer } : {}),
      });
      await engine.fill(job('cpu', 0));
      await engine.fill(job('remote', 0));
      const times: Record<string, number[]> = { cpu: [], remote: [] };
      let outcome: Record<string, { text: string; networkCalls: number; steps: number }> = {};
      const rounds = 3;
      for (let n = 1; n <= rounds; n++) {
        for (const device of ['cpu', 'remote'] as const) {
          const t0 = performance.now();
          const out = await engine.fill(job(device, n));
          times[device]!.push(performance.now() - t0);
          outcome = { ...outcome, [device]: out };
        }
      }
      const loaded = await engine.load(pkg.dir, 'remote', remoteServer);
      const before = loaded.network.traffic;
      await engine.fill(job('remote', rounds + 1));
      const after = loaded.network.traffic;
      await engine.close();
      const calls = outcome.remote!.networkCalls;
      fills.push({
        model: id,
        steps: outcome.remote!.steps,
        networkCalls: calls,
        localMs: median(times.cpu!),
        remoteMs: median(times.remote!),
        overheadPerCallMs: (median(times.remote!) - median(times.cpu!)) / calls,
        sentPerCall: (after.sent - before.sent) / calls,
        receivedPerCall: (after.received - before.received) / calls,
        sameText: outcome.remote!.text === outcome.cpu!.text,
        text: outcome.remote!.text,
      });
    }
  } finally {
    await server.kill('SIGTERM');
    await rm(repo, { recursive: true, force: true });
  }

  console.log('\nOne network call, a 16-token blank (median of', CALLS, 'calls):');
  console.log('model            L     call          where    ms/call   overhead   sent/call   received/call');
  for (const r of rows) {
    const local = rows.find((x) => x.model === r.model && x.L === r.L && x.call === r.call && x.where === 'local')!;
    const overhead = r.where === 'local' ? '' : `+${(r.ms - local.ms).toFixed(1)} ms`;
    console.log(
      `${r.model.padEnd(16)} ${String(r.L).padEnd(5)} ${r.call.padEnd(13)} ${r.where.padEnd(8)} ${r.ms.toFixed(1).padStart(7)}   ${overhead.padStart(9)}   ` +
        `${r.where === 'local' ? '' : formatBytes(r.sentBytes).padStart(9)}   ${r.where === 'local' ? '' : formatBytes(r.receivedBytes).padStart(9)}`,
    );
  }
  console.log("\nA whole fill with the model's defaults, seed 1234 (median of 3):");
  for (const f of fills) {
    const x = f as {
      model: string;
      steps: number;
      networkCalls: number;
      localMs: number;
      remoteMs: number;
      overheadPerCallMs: number;
      sentPerCall: number;
      receivedPerCall: number;
      sameText: boolean;
    };
    console.log(
      `${x.model}: ${x.steps} steps, ${x.networkCalls} calls; local ${(x.localMs / 1000).toFixed(2)} s, remote ${(x.remoteMs / 1000).toFixed(2)} s ` +
        `(+${x.overheadPerCallMs.toFixed(1)} ms per call); per call ${formatBytes(x.sentPerCall)} sent, ${formatBytes(x.receivedPerCall)} received; ` +
        `same text: ${x.sameText ? 'yes' : 'NO'}`,
    );
  }
  mkdirSync(join(ROOT, 'bench'), { recursive: true });
  const file = join(ROOT, 'bench', 'remote-results.json');
  writeFileSync(file, `${JSON.stringify({ when: new Date().toISOString(), threads, calls: CALLS, rows, fills }, null, 2)}\n`);
  console.log(`\nwritten: ${file}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
