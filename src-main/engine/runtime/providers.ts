/**
 * Execution providers (EPs) for the score network: which ones exist on this machine, which one a
 * model runs on, and the session options for it.
 *
 * Candidates, tried in this order under `auto` (CPU is always the last resort):
 *   Linux:   cuda → webgpu → cpu
 *   Windows: cuda → dml → webgpu → cpu
 *   macOS:   coreml → webgpu → cpu
 *   other:   webgpu → cpu
 * CUDA is usable only when onnxruntime-node's install script fetched its provider libraries
 * (libonnxruntime_providers_cuda.so, Linux x64; the DLL on Windows) and the CUDA 12 / cuDNN 9
 * runtime they link to is installed. Under `auto`, WebGPU on Linux is skipped when the machine has
 * no GPU render node (/dev/dri/renderD*): the only adapter left would be a software one (Mesa
 * lavapipe), slower than the CPU provider. Ask for it by name (LACUNA_DEVICE=webgpu) to use it anyway.
 *
 * Choosing: `LACUNA_DEVICE` (cpu|cuda|dml|coreml|webgpu|auto) wins when set — it is the user's
 * escape hatch when a GPU driver misbehaves, whatever the settings say; then the `device` option
 * (the engine passes the setting); then `auto`. A named device that fails falls back to CPU, with
 * the reason in `attempts`.
 *
 * onnxruntime-node is imported lazily: the core (app main process) imports this module for
 * listDevices(), which must not load the native binding there.
 *
 * Crash safety: onnxruntime's native code (a GPU driver, a provider library) can kill the process
 * with SIGSEGV instead of throwing. So every "does this EP work at all" probe runs in a throwaway
 * child process (`node -e` under Node; under Electron the app's own executable with its
 * `--lacuna-probe` route, app-routes.ts, since the RunAsNode fuse is off), on a 213-byte built-in
 * model; a crash there marks that EP unavailable ("webgpu: the probe crashed (SIGSEGV)"). Only after that does
 * selectProvider create the real session in the calling process — the engine host process, which
 * is itself isolated from the app (engine-host.ts) — and run it once on a tiny input; a throw there
 * falls back to the next candidate. listDevices() (called by the core, in the app's main process)
 * uses the child probes only and never loads a GPU provider into the caller.
 *
 * Threads: the CPU provider gets intraOpNumThreads = an estimate of the physical cores (matrix
 * kernels gain nothing from hyper-threads and the UI needs a core), capped at MAX_CPU_THREADS —
 * beyond that the per-step synchronisation of these networks costs more than it gains — and
 * interOpNumThreads = 1 (the graph is one chain of operators; sequential execution mode); the
 * threads do not spin while they wait (sessionOptionsFor). The CPU memory arena stays on (off, the
 * peak RSS grew by 55 MB with sedd-small int8 for no speed).
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { runInThisContext } from 'node:vm';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { loadOrt, ORT_OFFLINE_ENV, ortOffline } from './ort-offline';
import { probeCommand, probeRuntime } from '../../platform/app-routes';
import { ApiError, type DeviceInfo } from '../../common/api';
import { PROVIDER_IDS, type LocalDeviceChoice, type ProviderId } from '../../common/fill-options';

export { PROVIDER_IDS, type LocalDeviceChoice, type ProviderId };
export const DEVICE_ENV = 'LACUNA_DEVICE';
export const MAX_CPU_THREADS = 8;

/** A provider that was not used, and why (human readable, starts with the id). */
export interface ProviderAttempt {
  id: ProviderId;
  reason: string;
}

export interface ProviderSelection {
  /** The provider the session runs on. */
  id: ProviderId;
  /** The session, created with sessionOptionsFor(id) and run once; the caller owns (releases) it. */
  session: InferenceSession;
  /** Providers tried or skipped before `id`, each with its reason; empty when the first choice worked. */
  attempts: ProviderAttempt[];
  /** What was asked for, after LACUNA_DEVICE and the option were combined. */
  requested: LocalDeviceChoice;
}

export interface SelectOptions {
  /** The model to run: a path or the ONNX bytes. */
  model: string | Uint8Array;
  /** Wanted device; LACUNA_DEVICE overrides it when set. Default 'auto'. */
  device?: LocalDeviceChoice;
  /** CPU threads (intra-op); default cpuThreads(). */
  threads?: number;
  /** Environment to read LACUNA_DEVICE from; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Candidates in order for 'auto' (tests); default candidateProviders(). */
  candidates?: readonly ProviderId[];
}

/** The candidates for `auto` on a platform, best first, CPU last. */
export function candidateProviders(platform: NodeJS.Platform = process.platform): ProviderId[] {
  switch (platform) {
    case 'linux':
      return ['cuda', 'webgpu', 'cpu'];
    case 'win32':
      return ['cuda', 'dml', 'webgpu', 'cpu'];
    case 'darwin':
      return ['coreml', 'webgpu', 'cpu'];
    default:
      return ['webgpu', 'cpu'];
  }
}

export function isProviderId(s: string): s is ProviderId {
  return (PROVIDER_IDS as readonly string[]).includes(s);
}

/**
 * The device to use: LACUNA_DEVICE when set, else the option, else 'auto'. A LACUNA_DEVICE that
 * is not a known value is ignored, with a note for the attempts list.
 */
export function resolveDeviceChoice(option: LocalDeviceChoice | undefined, env: NodeJS.ProcessEnv = process.env): { choice: LocalDeviceChoice; note?: string } {
  const raw = env[DEVICE_ENV]?.trim().toLowerCase();
  if (raw) {
    if (raw === 'auto' || isProviderId(raw)) return { choice: raw };
    return { choice: option ?? 'auto', note: `${DEVICE_ENV}=${raw} is not one of auto, ${PROVIDER_IDS.join(', ')}; ignored` };
  }
  return { choice: option ?? 'auto' };
}

/** Estimated physical cores (Linux: distinct physical id/core id pairs), capped at MAX_CPU_THREADS. */
export function cpuThreads(): number {
  const logical = Math.max(1, availableParallelism());
  let physical = logical;
  if (process.platform === 'linux') {
    try {
      const cores = new Set<string>();
      let socket = '';
      for (const line of readFileSync('/proc/cpuinfo', 'utf8').split('\n')) {
        const [key, value] = line.split(':').map((s) => s.trim());
        if (key === 'physical id') socket = value ?? '';
        else if (key === 'core id') cores.add(`${socket}/${value ?? ''}`);
      }
      if (cores.size > 0) physical = Math.min(cores.size, logical);
    } catch {
      // keep the logical count
    }
  } else if (logical >= 4) {
    physical = Math.ceil(logical / 2); // assume 2-way SMT on desktop CPUs
  }
  return Math.max(1, Math.min(physical, MAX_CPU_THREADS));
}

/** Session options for a provider (the engine's ScoreModel creates its session with these). */
export function sessionOptionsFor(id: ProviderId, opts: { threads?: number } = {}): InferenceSession.SessionOptions {
  const ep: InferenceSession.ExecutionProviderConfig = id === 'cuda' ? { name: 'cuda', deviceId: 0 } : id === 'dml' ? { name: 'dml', deviceId: 0 } : id;
  return {
    executionProviders: [ep],
    // Nodes a GPU provider does not take run on the CPU provider with these threads, too.
    intraOpNumThreads: opts.threads ?? cpuThreads(),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // Worker threads block instead of spinning while they wait for work: measured (npm run
    // bench:session, sedd-small int8, L = 256) 12 % less CPU time per call and no CPU at all once
    // idle, for a latency within the noise (+4 %); a laptop on battery keeps the difference.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
}

/** MatMul + Add on x float32 [1, 4] → y [1, 4] (opset 17); y = x·W + 1 with W = arange(16)/16. */
const PROBE_MODEL_B64 =
  'CAgSDGxhY3VuYS1wcm9iZTq8AQoRCgF4CgF3EgFoIgZNYXRNdWwKDgoBaAoBYhIBeSIDQWRkEgVwcm9iZSpLCAQIBBABQgF3SkAAAAAAAACAPQAAAD4AAEA+AACAPgAA' +
  'oD4AAMA+AADgPgAAAD8AABA/AAAgPwAAMD8AAEA/AABQPwAAYD8AAHA/KhkIBBABQgFiShAAAIA/AACAPwAAgD8AAIA/WhMKAXgSDgoMCAESCAoCCAEKAggEYhMKAXkS' +
  'DgoMCAESCAoCCAEKAggEQgQKABAR';
/** y for x = ones: column sums of W plus 1. */
const PROBE_EXPECTED = [2.5, 2.75, 3, 3.25];

/**
 * The probe itself, as source text (it must run without this bundle under `node -e`): dlopen a
 * provider library when asked (so a missing CUDA runtime is named), then create a session on the
 * probe model with the given EP and run it; `out` writes the one JSON line. Resolves when done.
 */
const PROBE_FUNCTION = `async function probe(a, require, out) {
  try {
    if (a.dlopen) {
      try { process.dlopen({ exports: {} }, a.dlopen); } catch (e) {
        const m = String(e && e.message || e);
        if (!/self-register|no module|not a valid|NODE_MODULE/i.test(m)) { await out({ ok: false, stage: 'dlopen', error: m }); return; }
      }
    }
    const ort = require(a.ort);
    const backends = typeof ort.listSupportedBackends === 'function' ? ort.listSupportedBackends().map((b) => b.name) : [a.ep];
    if (!backends.includes(a.ep)) {
      await out({ ok: false, stage: 'load', error: 'backend not found in this build (it has ' + backends.join(', ') + ')' });
      return;
    }
    try {
      const s = await ort.InferenceSession.create(Buffer.from(a.model, 'base64'), { executionProviders: [a.ep], graphOptimizationLevel: 'all' });
      const r = await s.run({ x: new ort.Tensor('float32', Float32Array.of(1, 1, 1, 1), [1, 4]) });
      await out({ ok: true, y: Array.from(r.y.data) });
      await s.release();
    } catch (e) { await out({ ok: false, stage: 'session', error: String(e && e.message || e) }); }
  } catch (e) { await out({ ok: false, stage: 'load', error: String(e && e.message || e) }); }
}`;

/** `node -e` (a plain-Node caller): everything the probe needs comes in LACUNA_PROBE. */
const CHILD_SCRIPT = `(${PROBE_FUNCTION})(JSON.parse(process.env.LACUNA_PROBE), require, (o) => { process.stdout.write(JSON.stringify(o) + '\\n'); });`;

/**
 * The app's PROBE_SWITCH route (app-routes.ts; main.ts calls this and exits with its status): the
 * same probe, in the app's own executable (the RunAsNode fuse is off, so it cannot be `-e`). Of
 * LACUNA_PROBE only the provider id is used; which onnxruntime to load, which library to dlopen and
 * the model are this build's own (ortPackageMain, preflight, the built-in model), so the route
 * never loads code or libraries named by its caller's environment. Resolves with the exit status
 * once the JSON line is written.
 */
export async function runProbeRoute(env: NodeJS.ProcessEnv = process.env, stdout: NodeJS.WritableStream = process.stdout): Promise<number> {
  ortOffline();
  const out = (o: unknown): Promise<void> => new Promise((resolveWrite) => stdout.write(`${JSON.stringify(o)}\n`, () => resolveWrite()));
  let ep: unknown;
  try {
    ep = (JSON.parse(env.LACUNA_PROBE ?? '') as { ep?: unknown }).ep;
  } catch {
    ep = undefined;
  }
  if (typeof ep !== 'string' || !isProviderId(ep)) {
    await out({ ok: false, stage: 'load', error: 'LACUNA_PROBE names no known provider' });
    return 2;
  }
  const pre = preflight(ep);
  if (!pre.ok) {
    await out({ ok: false, stage: 'load', error: pre.reason });
    return 0;
  }
  let ort: string;
  try {
    ort = ortPackageMain();
  } catch (e) {
    await out({ ok: false, stage: 'load', error: `onnxruntime-node cannot be found: ${errorText(e)}` });
    return 0;
  }
  // The same source text as `node -e` runs (one probe, two ways in), compiled here like -e would.
  const probe = runInThisContext(`(${PROBE_FUNCTION})`, { filename: 'lacuna-probe.js' }) as (
    a: unknown,
    req: NodeJS.Require,
    write: (o: unknown) => Promise<void>,
  ) => Promise<void>;
  await probe({ ep, ort, model: PROBE_MODEL_B64, dlopen: pre.dlopen }, createRequire(import.meta.url), out);
  return 0;
}

interface ProbeResult {
  ok: boolean;
  reason: string;
}

function ortPackageMain(): string {
  return createRequire(import.meta.url).resolve('onnxruntime-node');
}

/** The folder of onnxruntime_binding.node (where the install script puts the CUDA libraries). */
function bindingDir(): string | undefined {
  try {
    const root = dirname(dirname(ortPackageMain())); // …/onnxruntime-node/dist/index.js → package root
    const dir = join(root, 'bin', 'napi-v6', process.platform, process.arch);
    return existsSync(dir) ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** Checks that need no native code: is the provider built in, are its libraries there? */
export function preflight(id: ProviderId, platform: NodeJS.Platform = process.platform): { ok: true; dlopen?: string } | { ok: false; reason: string } {
  // Whether the binding has the provider at all is checked in the probe child (listSupportedBackends).
  switch (id) {
    case 'cpu':
      return { ok: true };
    case 'cuda': {
      if (!((platform === 'linux' || platform === 'win32') && process.arch === 'x64'))
        return { ok: false, reason: `cuda: onnxruntime-node has CUDA builds for Linux and Windows x64 only (this is ${platform} ${process.arch})` };
      const lib = platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
      const dir = bindingDir();
      const path = dir ? join(dir, lib) : undefined;
      if (!path || !existsSync(path)) {
        return {
          ok: false,
          reason: `cuda: ${lib} is not installed (onnxruntime-node's install script downloads it; it was skipped, e.g. ONNXRUNTIME_NODE_INSTALL=skip)`,
        };
      }
      return { ok: true, dlopen: path };
    }
    case 'dml':
      return platform === 'win32' ? { ok: true } : { ok: false, reason: 'dml: DirectML exists on Windows only' };
    case 'coreml':
      return platform === 'darwin' ? { ok: true } : { ok: false, reason: 'coreml: Core ML exists on macOS only' };
    case 'webgpu':
      return { ok: true };
  }
}

/** On Linux: is there a GPU render node? Without one, a WebGPU adapter can only be software. */
export function hasGpuRenderNode(): boolean {
  if (process.platform !== 'linux') return true;
  try {
    return readdirSync('/dev/dri').some((n) => n.startsWith('renderD'));
  } catch {
    return false;
  }
}

/** A provider's failure, in words: the first meaningful line, with the usual causes named. */
export function describeFailure(id: ProviderId, message: string): string {
  const text = message.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g'), ''); // terminal colours
  const missing = /([\w.+-]+\.(?:so(?:\.\d+)*|dll|dylib))[^\n]*?(?:cannot open shared object file|not found|could not be found)/i.exec(text);
  if (missing) return `${id}: ${missing[1]} not found`;
  if (/adapter/i.test(text) && /webgpu/i.test(`${id} ${text}`))
    return `${id}: no adapter (no GPU and no software Vulkan driver found${process.platform === 'linux' ? '; install mesa-vulkan-drivers' : ''})`;
  if (/no CUDA-capable device|cudaErrorNoDevice|CUDA failure 100/i.test(text)) return `${id}: no CUDA-capable GPU`;
  if (/CUDA driver version is insufficient|CUDA failure 35/i.test(text)) return `${id}: the NVIDIA driver is too old for CUDA 12`;
  if (/backend not found|no available backend/i.test(text)) return `${id}: not available in this onnxruntime-node build`;
  const line =
    text
      .split('\n')
      .map((s) => s.trim())
      .find((s) => s.length > 0) ?? 'unknown error';
  return `${id}: ${line.length > 300 ? `${line.slice(0, 297)}…` : line}`;
}

/** Probe one provider in a throwaway child process on the built-in model. Never throws. */
export function probeInChild(id: ProviderId, timeoutMs = 60_000): Promise<ProbeResult> {
  const pre = preflight(id);
  if (!pre.ok) return Promise.resolve({ ok: false, reason: pre.reason });
  let ort: string;
  try {
    ort = ortPackageMain();
  } catch (e) {
    return Promise.resolve({ ok: false, reason: `${id}: onnxruntime-node cannot be found: ${errorText(e)}` });
  }
  return new Promise((resolvePromise) => {
    let settled = false;
    const done = (r: ProbeResult): void => {
      if (!settled) {
        settled = true;
        resolvePromise(r);
      }
    };
    let stdout = '';
    let stderr = '';
    // No ELECTRON_RUN_AS_NODE: the packaged app's RunAsNode fuse is off (probeCommand).
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...ORT_OFFLINE_ENV,
      LACUNA_PROBE: JSON.stringify({ ep: id, ort, model: PROBE_MODEL_B64, dlopen: pre.dlopen }),
    };
    delete env.ELECTRON_RUN_AS_NODE;
    const command = probeCommand(probeRuntime(), CHILD_SCRIPT);
    let child;
    try {
      child = spawn(command.file, command.args, { env, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    } catch (e) {
      done({ ok: false, reason: `${id}: cannot start the probe process: ${errorText(e)}` });
      return;
    }
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      done({ ok: false, reason: `${id}: the probe did not finish in ${Math.round(timeoutMs / 1000)} s` });
    }, timeoutMs);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    child.on('error', (e) => {
      clearTimeout(timer);
      done({ ok: false, reason: `${id}: cannot start the probe process: ${e.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      if (!line) {
        const how = signal ? `crashed (${signal})` : `exited with code ${code}`;
        const last = stderr.trim().split('\n').pop();
        done({ ok: false, reason: `${id}: the probe ${how}${last ? `: ${last.slice(0, 200)}` : ''}` });
        return;
      }
      try {
        const r = JSON.parse(line) as { ok: boolean; y?: number[]; error?: string };
        if (!r.ok) done({ ok: false, reason: describeFailure(id, r.error ?? 'unknown error') });
        else if (!r.y || r.y.length !== PROBE_EXPECTED.length || r.y.some((v, i) => Math.abs(v - PROBE_EXPECTED[i]!) > 1e-3)) {
          done({ ok: false, reason: `${id}: computed a wrong result on the probe model (${JSON.stringify(r.y)})` });
        } else done({ ok: true, reason: '' });
      } catch (e) {
        done({ ok: false, reason: `${id}: unreadable probe output: ${errorText(e)}` });
      }
    });
  });
}

let devicesCache: Promise<DeviceInfo[]> | undefined;

/**
 * Every provider of this platform's candidate list with whether it works here and why not
 * (DeviceInfo, api.ts 'engine.devices'). Probed once per process in throwaway children, then
 * cached; `refresh` probes again. Never rejects.
 */
export function listDevices(opts: { refresh?: boolean } = {}): Promise<DeviceInfo[]> {
  if (!devicesCache || opts.refresh) devicesCache = probeAll();
  return devicesCache;
}

async function probeAll(): Promise<DeviceInfo[]> {
  try {
    const ids = candidateProviders();
    const results = await Promise.all(ids.map((id) => (id === 'cpu' ? Promise.resolve({ ok: true, reason: '' }) : probeInChild(id))));
    return ids.map((id, i) => {
      const r = results[i]!;
      if (!r.ok) return { id, available: false, detail: r.reason };
      return { id, available: true, detail: availableDetail(id) };
    });
  } catch (e) {
    return [{ id: 'cpu', available: true, detail: `${cpuThreads()} threads (device probing failed: ${errorText(e)})` }];
  }
}

function availableDetail(id: ProviderId): string {
  switch (id) {
    case 'cpu':
      return `${cpuThreads()} threads`;
    case 'webgpu':
      return hasGpuRenderNode() ? 'WebGPU adapter found' : 'WebGPU on a software adapter (no GPU render node): slower than cpu, not chosen by auto';
    case 'cuda':
      return 'CUDA GPU 0';
    case 'dml':
      return 'DirectML adapter 0';
    case 'coreml':
      return 'Core ML';
  }
}

/**
 * Create a session for `model` on the best working provider (see the top of this file): each
 * candidate is first probed in a child process (cached), then a real session is created here and
 * run once on a tiny input; the first that works is returned. CPU is the fallback; if even CPU
 * fails, ApiError('model_error') with every reason.
 */
export async function selectProvider(options: SelectOptions): Promise<ProviderSelection> {
  const { choice, note } = resolveDeviceChoice(options.device, options.env);
  const attempts: ProviderAttempt[] = [];
  if (note) attempts.push({ id: 'cpu', reason: note });
  let order: ProviderId[];
  if (choice === 'auto') order = [...(options.candidates ?? candidateProviders())];
  else order = choice === 'cpu' ? ['cpu'] : [choice, 'cpu'];
  if (!order.includes('cpu')) order.push('cpu');

  const devices = order.some((id) => id !== 'cpu') ? await listDevices() : [];
  for (const id of order) {
    if (id !== 'cpu') {
      const known = devices.find((d) => d.id === id);
      const probed = known ? { ok: known.available, reason: known.detail } : await probeInChild(id);
      if (!probed.ok) {
        attempts.push({ id, reason: probed.reason });
        continue;
      }
      if (choice === 'auto' && id === 'webgpu' && !hasGpuRenderNode()) {
        attempts.push({
          id,
          reason: 'webgpu: only a software adapter (no GPU render node in /dev/dri); slower than cpu — set LACUNA_DEVICE=webgpu to use it anyway',
        });
        continue;
      }
    }
    try {
      const session = await openAndCheck(options.model, id, options.threads);
      return { id, session, attempts, requested: choice };
    } catch (e) {
      attempts.push({ id, reason: describeFailure(id, errorText(e)) });
    }
  }
  throw new ApiError('model_error', `cannot run the network on any device: ${attempts.map((a) => a.reason).join('; ')}`);
}

/** Create the session and run it once on a small input built from its input metadata. */
async function openAndCheck(model: string | Uint8Array, id: ProviderId, threads?: number): Promise<InferenceSession> {
  const { InferenceSession, Tensor } = await loadOrt();
  const opts = sessionOptionsFor(id, threads === undefined ? {} : { threads });
  const session = typeof model === 'string' ? await InferenceSession.create(model, opts) : await InferenceSession.create(model, opts);
  try {
    const feeds: Record<string, Tensor> = {};
    for (const meta of session.inputMetadata) {
      if (!meta.isTensor) throw new Error(`input ${meta.name} is not a tensor`);
      // Symbolic axes: batch (the first) 1, others 4.
      const dims = meta.shape.map((d, i) => (typeof d === 'number' && d > 0 ? d : i === 0 ? 1 : 4));
      const n = dims.reduce((a, b) => a * b, 1);
      if (meta.type === 'int64') feeds[meta.name] = new Tensor('int64', new BigInt64Array(n), dims);
      else if (meta.type === 'int32') feeds[meta.name] = new Tensor('int32', new Int32Array(n), dims);
      else if (meta.type === 'float32') feeds[meta.name] = new Tensor('float32', new Float32Array(n).fill(0.5), dims);
      else throw new Error(`input ${meta.name} has type ${meta.type}, which the check does not feed`);
    }
    const out = await session.run(feeds);
    for (const [name, t] of Object.entries(out)) {
      // Outputs live on the CPU here (no preferredOutputLocation), so reading them is safe.
      if (t.type === 'float32' && (t.data as Float32Array).some((v) => Number.isNaN(v))) throw new Error(`output ${name} has NaN on a test input`);
    }
    return session;
  } catch (e) {
    await session.release().catch(() => undefined);
    throw e;
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
