/**
 * EngineService across a process boundary: fills and scores run in the engine host (engine-host.ts),
 * so a native crash in onnxruntime ends that process only, never the caller's (which holds the
 * writer's text). The host starts on the first job; if it dies, pending fills and scores reject with
 * model_error and the next job starts a fresh one.
 *
 * How the host is started is a constructor argument. The default forks out/main/engine-host.js
 * with Node's child_process; the Electron shell passes one built on utilityProcess.fork, e.g.
 *
 *   () => {
 *     const child = utilityProcess.fork(hostPath, [], { serviceName: 'Lacuna engine' });
 *     return {
 *       postMessage: (m) => child.postMessage(m),
 *       onMessage: (l) => child.on('message', l),
 *       onExit: (l) => child.on('exit', (code) => l({ code, signal: null })),
 *       kill: () => child.kill(),
 *     };
 *   }
 */
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError } from '../../common/api';
import { appRoot } from '../../platform/paths';
import type { HostReply, HostRequest } from './protocol';
import type { EngineService, FillJob, FillOutcome, FillProgressInfo, ScoreJob, ScoreOutcome, ScoreProgressInfo, WarmJob, WarmOutcome } from '../types';

/** A running engine host as the client sees it. */
export interface EngineHostPort {
  postMessage(message: HostRequest): void;
  onMessage(listener: (message: HostReply) => void): void;
  /** Called once when the process has ended (or failed to start). */
  onExit(listener: (info: { code: number | null; signal: string | null }) => void): void;
  kill(): void;
}

export type SpawnEngineHost = () => EngineHostPort;

/** How long close() waits for the host to finish before killing it. */
const SHUTDOWN_GRACE_MS = 10_000;

/** out/main/engine-host.js under the app root. */
export function defaultHostPath(): string {
  return join(appRoot(), 'out', 'main', 'engine-host.js');
}

/** Start the host with Node's child_process.fork (structured-clone IPC). */
export function forkEngineHost(hostPath: string = defaultHostPath(), env: NodeJS.ProcessEnv = process.env): SpawnEngineHost {
  return () => {
    if (!existsSync(hostPath)) {
      throw new ApiError('internal', `the engine host ${hostPath} is missing; build it first (npm run build)`);
    }
    const child = fork(hostPath, [], {
      serialization: 'advanced',
      execArgv: [],
      env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let exited = false;
    const exitListeners: ((info: { code: number | null; signal: string | null }) => void)[] = [];
    const finish = (code: number | null, signal: string | null): void => {
      if (exited) return;
      exited = true;
      for (const l of exitListeners) l({ code, signal });
    };
    child.on('exit', (code, signal) => finish(code, signal));
    child.on('error', () => {
      // Failed to start, or a send after the channel closed: the process is (or will be) gone.
      if (child.exitCode === null && child.signalCode === null && child.pid === undefined) finish(null, null);
    });
    return {
      postMessage: (message) => {
        if (child.connected) child.send(message, undefined, {}, () => undefined);
      },
      onMessage: (listener) => child.on('message', (m) => listener(m as HostReply)),
      onExit: (listener) => exitListeners.push(listener),
      kill: () => {
        if (!exited) child.kill('SIGKILL');
      },
    };
  };
}

interface Pending {
  kind: 'fill' | 'score' | 'warm';
  resolve: (outcome: FillOutcome | ScoreOutcome | WarmOutcome) => void;
  reject: (error: ApiError) => void;
  onProgress?: (p: FillProgressInfo) => void;
  onScoreProgress?: (p: ScoreProgressInfo) => void;
}

interface Host {
  port: EngineHostPort;
  exited: Promise<void>;
}

export class EngineClient implements EngineService {
  private host: Host | null = null;
  private readonly pending = new Map<string, Pending>();
  private closed = false;

  private readonly spawn: SpawnEngineHost;

  /** spawn: how to start the host (default: forkEngineHost()); a string is a host path for forkEngineHost. */
  constructor(spawn?: SpawnEngineHost | string) {
    this.spawn = typeof spawn === 'function' ? spawn : forkEngineHost(spawn);
  }

  fill(job: FillJob, onProgress?: (p: FillProgressInfo) => void): Promise<FillOutcome> {
    return this.post<FillOutcome>({ type: 'fill', job: { ...job } }, 'fill', onProgress ? { onProgress } : {});
  }

  score(job: ScoreJob, signal?: AbortSignal, onProgress?: (p: ScoreProgressInfo) => void): Promise<ScoreOutcome> {
    if (signal?.aborted && !this.closed) return Promise.reject(new ApiError('cancelled', `score ${job.requestId} was cancelled`));
    const onAbort = (): void => this.cancel(job.requestId);
    signal?.addEventListener('abort', onAbort, { once: true });
    return this.post<ScoreOutcome>({ type: 'score', job: { ...job } }, 'job', onProgress ? { onScoreProgress: onProgress } : {}).finally(() =>
      signal?.removeEventListener('abort', onAbort),
    );
  }

  /** Starts the engine process if needed and loads the model there (Engine.warm). */
  warm(job: WarmJob): Promise<WarmOutcome> {
    return this.post<WarmOutcome>({ type: 'warm', job: { ...job } }, 'job', {});
  }

  /**
   * Hands a job to the engine host, started if needed; refused when the client is closed or the
   * job's request id is in use (`what` names the job in that message). Settles with the host's answer.
   */
  private post<T extends FillOutcome | ScoreOutcome | WarmOutcome>(
    message: Extract<HostRequest, { job: unknown }>,
    what: 'fill' | 'job',
    progress: Pick<Pending, 'onProgress' | 'onScoreProgress'>,
  ): Promise<T> {
    const { requestId } = message.job;
    if (this.closed) return Promise.reject(new ApiError('cancelled', 'the engine is closed'));
    if (this.pending.has(requestId)) return Promise.reject(new ApiError('bad_request', `a ${what} with request id "${requestId}" is already running`));
    let host: Host;
    try {
      host = this.ensureHost();
    } catch (e) {
      return Promise.reject(ApiError.from(e));
    }
    return new Promise<T>((resolve, reject) => {
      this.pending.set(requestId, { kind: message.type, resolve: resolve as Pending['resolve'], reject, ...progress });
      host.port.postMessage(message);
    });
  }

  cancel(requestId: string): void {
    if (this.host && this.pending.has(requestId)) this.host.port.postMessage({ type: 'cancel', requestId });
  }

  async close(): Promise<void> {
    this.closed = true;
    const host = this.host;
    if (!host) return;
    host.port.postMessage({ type: 'shutdown' });
    const timer = setTimeout(() => host.port.kill(), SHUTDOWN_GRACE_MS);
    await host.exited;
    clearTimeout(timer);
  }

  private ensureHost(): Host {
    if (this.host) return this.host;
    const port = this.spawn();
    let markExited!: () => void;
    const host: Host = { port, exited: new Promise<void>((r) => (markExited = r)) };
    port.onMessage((message) => {
      if (this.host === host) this.onReply(message);
    });
    port.onExit((info) => {
      markExited();
      if (this.host !== host) return;
      this.host = null;
      const error = this.closed
        ? new ApiError('cancelled', 'the engine was closed')
        : new ApiError('model_error', `the inference process stopped unexpectedly (${describeExit(info)})`);
      const pending = [...this.pending.values()];
      this.pending.clear();
      for (const p of pending) p.reject(error);
    });
    this.host = host;
    return host;
  }

  private onReply(message: HostReply): void {
    const p = this.pending.get(message.requestId);
    if (!p) return;
    switch (message.type) {
      case 'progress':
        try {
          p.onProgress?.(message.info);
        } catch {
          // a failing progress listener must not break the conversation with the host
        }
        return;
      case 'scoreProgress':
        try {
          p.onScoreProgress?.(message.info);
        } catch {
          // as above
        }
        return;
      case 'done':
      case 'scored':
      case 'warmed':
        if (REPLY_KIND[message.type] !== p.kind) return; // a reply of the wrong kind: ignored
        this.pending.delete(message.requestId);
        p.resolve(message.outcome);
        return;
      case 'error':
        this.pending.delete(message.requestId);
        p.reject(ApiError.from(message.error));
        return;
    }
  }
}

const REPLY_KIND = { done: 'fill', scored: 'score', warmed: 'warm' } as const;

function describeExit(info: { code: number | null; signal: string | null }): string {
  if (info.signal) return `killed by signal ${info.signal}`;
  if (info.code !== null) return `exit code ${info.code}`;
  return 'it could not be started';
}
