/**
 * The messages between EngineClient (caller's process) and the engine host (engine-host.ts),
 * and the host's side of the conversation. Messages are plain objects, so they travel over
 * Node's child_process IPC ('advanced' serialization) and Electron's utilityProcess ports alike.
 */
import { ApiError, type ErrorCode } from '../../common/api';
import type { EngineService, FillJob, FillOutcome, FillProgressInfo, ScoreJob, ScoreOutcome, ScoreProgressInfo, WarmJob, WarmOutcome } from '../types';

/** Client → host. A score is answered by 'scored' or 'error', a warm by 'warmed' or 'error'; 'cancel' applies to fills and scores alike. */
export type HostRequest =
  | { type: 'fill'; job: FillJob }
  | { type: 'score'; job: ScoreJob }
  | { type: 'warm'; job: WarmJob }
  | { type: 'cancel'; requestId: string }
  | { type: 'shutdown' };

/** Host → client. */
export type HostReply =
  | { type: 'progress'; requestId: string; info: FillProgressInfo }
  | { type: 'done'; requestId: string; outcome: FillOutcome }
  | { type: 'scored'; requestId: string; outcome: ScoreOutcome }
  | { type: 'scoreProgress'; requestId: string; info: ScoreProgressInfo }
  | { type: 'warmed'; requestId: string; outcome: WarmOutcome }
  | { type: 'error'; requestId: string; error: { code: ErrorCode; message: string } };

/** The host's view of its parent: where requests arrive and replies go. */
export interface HostEndpoint {
  onMessage(listener: (message: unknown) => void): void;
  send(reply: HostReply): void;
}

/**
 * Serve an engine over an endpoint until a shutdown request, then close the engine and call exit.
 * Malformed requests are answered with a bad_request error when they name a request id, else ignored.
 */
export function serveEngine(endpoint: HostEndpoint, engine: EngineService, exit: () => void): void {
  let shuttingDown = false;
  endpoint.onMessage((message) => {
    const m = message as Partial<HostRequest> & { requestId?: unknown; job?: Partial<FillJob & ScoreJob> };
    if (!m || typeof m !== 'object') return;
    switch (m.type) {
      case 'fill': {
        const job = m.job;
        const requestId = job && typeof job.requestId === 'string' ? job.requestId : undefined;
        if (!requestId) return;
        if (typeof job!.text !== 'string' || typeof job!.modelDir !== 'string') {
          endpoint.send({ type: 'error', requestId, error: { code: 'bad_request', message: 'a fill needs text and modelDir' } });
          return;
        }
        if (shuttingDown) {
          endpoint.send({ type: 'error', requestId, error: { code: 'cancelled', message: 'the engine is shutting down' } });
          return;
        }
        engine
          .fill(job as FillJob, (info) => endpoint.send({ type: 'progress', requestId, info }))
          .then(
            (outcome) => endpoint.send({ type: 'done', requestId, outcome }),
            (e: unknown) => endpoint.send({ type: 'error', requestId, error: ApiError.from(e).toJSON() }),
          );
        return;
      }
      case 'score': {
        const job = m.job;
        const requestId = job && typeof job.requestId === 'string' ? job.requestId : undefined;
        if (!requestId) return;
        if (typeof job!.text !== 'string' || typeof job!.modelDir !== 'string') {
          endpoint.send({ type: 'error', requestId, error: { code: 'bad_request', message: 'a score needs text and modelDir' } });
          return;
        }
        if (shuttingDown) {
          endpoint.send({ type: 'error', requestId, error: { code: 'cancelled', message: 'the engine is shutting down' } });
          return;
        }
        engine
          .score(job as ScoreJob, undefined, (info) => endpoint.send({ type: 'scoreProgress', requestId, info }))
          .then(
            (outcome) => endpoint.send({ type: 'scored', requestId, outcome }),
            (e: unknown) => endpoint.send({ type: 'error', requestId, error: ApiError.from(e).toJSON() }),
          );
        return;
      }
      case 'warm': {
        const job = m.job;
        const requestId = job && typeof job.requestId === 'string' ? job.requestId : undefined;
        if (!requestId) return;
        if (typeof job!.modelDir !== 'string') {
          endpoint.send({ type: 'error', requestId, error: { code: 'bad_request', message: 'a warm-up needs modelDir' } });
          return;
        }
        engine.warm(job as WarmJob).then(
          (outcome) => endpoint.send({ type: 'warmed', requestId, outcome }),
          (e: unknown) => endpoint.send({ type: 'error', requestId, error: ApiError.from(e).toJSON() }),
        );
        return;
      }
      case 'cancel':
        if (typeof m.requestId === 'string') engine.cancel(m.requestId);
        return;
      case 'shutdown':
        if (shuttingDown) return;
        shuttingDown = true;
        engine.close().then(exit, exit);
        return;
      default:
        return;
    }
  });
}
