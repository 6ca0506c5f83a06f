/** The engine as the rest of the core sees it (implemented in-process by Engine, across a process by EngineClient). */

export interface FillJob {
  requestId: string;
  /** Text in the blank syntax (src-main/common/blanks.ts). */
  text: string;
  /** Folder of a model package (models/FORMAT.md). */
  modelDir: string;
  steps?: number;
  seed?: number;
}

export interface FillProgressInfo {
  step: number;
  steps: number;
  /** Positions still masked after this step. */
  masked: number;
}

export interface FillOutcome {
  text: string;
  fills: string[];
  steps: number;
  seed: number;
  /** Execution provider that ran the network, e.g. "cpu". */
  device: string;
  networkCalls: number;
  durationMs: number;
}

export interface EngineService {
  /** Rejects with ApiError: 'bad_request' (no blank, bad syntax, too long), 'model_error', 'cancelled'. */
  fill(job: FillJob, onProgress?: (p: FillProgressInfo) => void): Promise<FillOutcome>;
  /** Cancels a running or queued fill; its promise rejects with ApiError('cancelled'). No-op if unknown. */
  cancel(requestId: string): void;
  close(): Promise<void>;
}
