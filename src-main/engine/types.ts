/** The engine as the rest of the core sees it (implemented in-process by Engine, across a process by EngineClient). */
import type { ScoreTextOutcome } from './likelihood';
import type { DeviceChoice, FillOptions, ScoreOptions, UnmaskingOrder } from '../common/fill-options';
import type { RemoteServer } from '../common/inference-server';

/** A fill for the engine: the request's text and options (common/fill-options.ts), with the model's folder instead of its id. */
export interface FillJob extends FillOptions {
  requestId: string;
  /** Text in the blank syntax (src-main/common/blanks.ts). */
  text: string;
  /** Folder of a model package (models/FORMAT.md). */
  modelDir: string;
  /** Where the "remote" device is (the core fills it in from the setting); ignored for other devices. */
  server?: RemoteServer;
}

/** A position unmasked by a step: which alternative, which blank (document order), which token of the blank. */
export interface UnmaskedInfo {
  alternative: number;
  blank: number;
  index: number;
  token: number;
  /** The token decoded on its own (a token holding part of a UTF-8 character decodes to U+FFFD). */
  text: string;
}

export interface FillProgressInfo {
  step: number;
  steps: number;
  /**
   * Blank positions not yet final after this step, over all alternatives and windows. Absorbing
   * models: positions still MASK. Uniform models (no MASK; every generated token may change until
   * the last step of its window): all positions of the current and later windows, dropping by a
   * window's positions at its last step (0 at the very end).
   */
  masked: number;
  /**
   * Positions that became final with this step and their tokens. Absorbing models: those that left
   * MASK. Uniform models: empty, except at the last step of each window, which lists all of that
   * window's blank positions with their final tokens. Either way each (alternative, blank, index)
   * appears exactly once over a fill.
   */
  unmasked: UnmaskedInfo[];
  /** With auto-length blanks: each blank's length in the attempt being sampled (api.ts FillProgress.lengths). */
  lengths?: number[];
}

export interface FillOutcome {
  /** The first alternative (equal to alternatives[0]). */
  text: string;
  fills: string[];
  /** Best first: by nll, the likelihood bound per filled token (nats) under the filling model. */
  alternatives: { text: string; fills: string[]; nll?: number; lengths: number[] }[];
  /** Context windows the document was read through (1 when it fits the model). */
  windows: number;
  steps: number;
  seed: number;
  temperature: number;
  topP: number;
  unmasking: UnmaskingOrder;
  /** Execution provider that ran the network, e.g. "cpu". */
  device: string;
  /** Why the providers tried before `device` were passed over (empty when the first choice ran). */
  deviceNotes: string[];
  networkCalls: number;
  durationMs: number;
}

/** A likelihood bound request (likelihood.ts): plain text, no blanks. */
/** A score for the engine: the request's text and options (common/fill-options.ts SCORE_OPTIONS), with the model's folder. */
export interface ScoreJob extends ScoreOptions {
  /** Shares the id space (and cancel) with fills; the core makes one up when its caller gives none. */
  requestId: string;
  text: string;
  /** Folder of a model package (absorbing graph with log-linear noise only). */
  modelDir: string;
  server?: RemoteServer;
  /** 'k' (default, low variance) or 't' (likelihood.ts). */
  estimator?: 'k' | 't';
}

/** Scoring progress: Monte Carlo draws done out of the total (windows × draws). */
export interface ScoreProgressInfo {
  done: number;
  total: number;
}

/** A scoring result (likelihood.ts ScoreTextOutcome) and the execution provider that ran it. */
export interface ScoreOutcome extends ScoreTextOutcome {
  device: string;
}

/** Load a model ahead of its first fill (engine.warm). */
export interface WarmJob {
  requestId: string;
  modelDir: string;
  device?: DeviceChoice;
  server?: RemoteServer;
}

export interface WarmOutcome {
  /** Execution provider the network was loaded on. */
  device: string;
  durationMs: number;
}

export interface EngineService {
  /** Rejects with ApiError: 'bad_request' (no blank, bad syntax, too long), 'model_error', 'cancelled'. */
  fill(job: FillJob, onProgress?: (p: FillProgressInfo) => void): Promise<FillOutcome>;
  /**
   * The ELBO bound of a plain text, on the engine's cached network, queued with the fills. Cancellable
   * between draws by cancel(job.requestId) or by aborting `signal`. Rejects with ApiError:
   * 'bad_request' (bad draws/seed, nothing to score), 'model_error' (also: not an absorbing
   * log-linear model), 'cancelled'.
   */
  score(job: ScoreJob, signal?: AbortSignal, onProgress?: (p: ScoreProgressInfo) => void): Promise<ScoreOutcome>;
  /**
   * Loads a model package (manifest, hashes, tokenizer, onnxruntime session) into the engine's cache
   * and runs the network once on a short input, so the next fill on it starts at once. Not queued
   * behind fills. Rejects with ApiError('model_error') like a fill on a broken package would.
   */
  warm(job: WarmJob): Promise<WarmOutcome>;
  /** Cancels a running or queued fill or score; its promise rejects with ApiError('cancelled'). No-op if unknown. */
  cancel(requestId: string): void;
  close(): Promise<void>;
}
