/**
 * Generation records (schema v5; temperature since v8): the provenance of each fill run for a
 * document — model, seed, steps, sampler, temperature, device, mode, timing, the input text with its blanks and every alternative's
 * text and fills — and which alternative the writer kept. Deleted with their document (cascade).
 */
import { ApiError } from '../common/api';
import type { FillAlternative, Generation as ApiGeneration, GenerationSummary as ApiGenerationSummary } from '../common/api';
import type { Database } from './database';
import { toStorageError } from './database';

/** Characters of the input text shown in a summary. */
export const GENERATION_PREVIEW_CHARS = 160;

export interface GenerationInput {
  documentId: string;
  model: string;
  seed: number;
  steps: number;
  sampler: string;
  /** Omitted: 1. */
  temperature?: number;
  /** Omitted: 1 and 'random'. */
  topP?: number;
  unmasking?: 'random' | 'confident';
  device: string;
  mode: 'exact' | 'fast';
  durationMs: number;
  networkCalls: number;
  inputText: string;
  alternatives: FillAlternative[];
}

/** The API's types (common/api.ts) are the store's: one definition of a generation record. */
export type GenerationSummary = ApiGenerationSummary;
export type GenerationRecord = ApiGeneration;

interface Row {
  id: number;
  document_id: string;
  created_at: number;
  model: string;
  seed: number;
  steps: number;
  sampler: string;
  temperature: number;
  top_p: number;
  unmasking: 'random' | 'confident';
  device: string;
  mode: 'exact' | 'fast';
  duration_ms: number;
  network_calls: number;
  input_text: string;
  alternatives_json: string;
  accepted: number | null;
}

export class GenerationLog {
  private readonly db: Database;
  private readonly now: () => number;

  constructor(db: Database, options: { now?: () => number } = {}) {
    this.db = db;
    this.now = options.now ?? Date.now;
  }

  /** Store one generation; returns its id. not_found when the document does not exist. */
  record(input: GenerationInput): number {
    return this.guard('could not record the generation', () =>
      this.db
        .transaction(() => {
          if (!this.db.prepare('SELECT 1 FROM documents WHERE id = ?').get(input.documentId)) throw notFoundDocument(input.documentId);
          const info = this.db
            .prepare(
              `INSERT INTO generations (document_id, created_at, model, seed, steps, sampler, temperature, top_p, unmasking, device, mode,
                                        duration_ms, network_calls, input_text, alternatives_json, accepted)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
            )
            .run(
              input.documentId,
              this.now(),
              input.model,
              input.seed,
              input.steps,
              input.sampler,
              input.temperature ?? 1,
              input.topP ?? 1,
              input.unmasking ?? 'random',
              input.device,
              input.mode,
              input.durationMs,
              input.networkCalls,
              input.inputText,
              JSON.stringify(
                input.alternatives.map((a) => ({
                  text: a.text,
                  fills: a.fills,
                  ...(a.nll !== undefined ? { nll: a.nll } : {}),
                  ...(a.lengths ? { lengths: a.lengths } : {}),
                })),
              ),
            );
          return Number(info.lastInsertRowid);
        })
        .immediate(),
    );
  }

  /** Newest first. not_found for an unknown document. */
  list(documentId: string): GenerationSummary[] {
    return this.guard('could not list generations', () => {
      if (!this.db.prepare('SELECT 1 FROM documents WHERE id = ?').get(documentId)) throw notFoundDocument(documentId);
      // Only the head of the input and the count of alternatives: a list never reads whole texts.
      return this.db
        .prepare<[number, string], Row & { n: number }>(
          `SELECT id, document_id, created_at, model, seed, steps, sampler, temperature, top_p, unmasking, device, mode, duration_ms, network_calls,
                  substr(input_text, 1, ?) AS input_text, '' AS alternatives_json, json_array_length(alternatives_json) AS n, accepted
           FROM generations WHERE document_id = ? ORDER BY created_at DESC, id DESC`,
        )
        .all(GENERATION_PREVIEW_CHARS * 4, documentId)
        .map((r) => toSummary(r, r.n));
    });
  }

  get(generationId: number): GenerationRecord {
    const row = this.guard('could not read the generation', () => this.db.prepare<[number], Row>('SELECT * FROM generations WHERE id = ?').get(generationId));
    if (!row) throw notFoundGeneration(generationId);
    const alternatives = parseAlternatives(row);
    return { ...toSummary(row, alternatives.length), inputText: row.input_text, alternatives };
  }

  /** Mark which alternative (0-based) the writer kept. bad_request when there is no such alternative. */
  accept(generationId: number, alternative: number): GenerationRecord {
    const current = this.get(generationId);
    if (alternative >= current.alternatives.length) {
      throw new ApiError(
        'bad_request',
        `alternative: generation ${generationId} has ${current.alternatives.length} alternative(s); ${alternative} is out of range`,
      );
    }
    const changes = this.guard(
      'could not mark the accepted alternative',
      () => this.db.prepare('UPDATE generations SET accepted = ? WHERE id = ?').run(alternative, generationId).changes,
    );
    if (changes === 0) throw notFoundGeneration(generationId);
    return { ...current, accepted: alternative };
  }

  private guard<T>(action: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw toStorageError(err, action);
    }
  }
}

function parseAlternatives(r: Row): FillAlternative[] {
  const parsed = JSON.parse(r.alternatives_json) as unknown;
  if (!Array.isArray(parsed)) return [];
  return parsed.map((a: { text?: unknown; fills?: unknown; nll?: unknown; lengths?: unknown }) => ({
    text: typeof a.text === 'string' ? a.text : '',
    fills: Array.isArray(a.fills) ? a.fills.map(String) : [],
    // Ranked fills (issue 14) keep their likelihood per token and the lengths their blanks got.
    ...(typeof a.nll === 'number' && Number.isFinite(a.nll) ? { nll: a.nll } : {}),
    ...(Array.isArray(a.lengths) && a.lengths.every((n) => Number.isInteger(n)) ? { lengths: a.lengths as number[] } : {}),
  }));
}

function toSummary(r: Row, alternativeCount: number): GenerationSummary {
  return {
    generationId: r.id,
    documentId: r.document_id,
    createdAt: r.created_at,
    model: r.model,
    seed: r.seed,
    steps: r.steps,
    sampler: r.sampler,
    temperature: r.temperature,
    topP: r.top_p,
    unmasking: r.unmasking,
    device: r.device,
    mode: r.mode,
    durationMs: r.duration_ms,
    networkCalls: r.network_calls,
    alternativeCount,
    accepted: r.accepted,
    preview: preview(r.input_text),
  };
}

function preview(text: string): string {
  const line = text
    .slice(0, GENERATION_PREVIEW_CHARS * 4)
    .replace(/\s+/g, ' ')
    .trim();
  const chars = Array.from(line);
  return chars.length > GENERATION_PREVIEW_CHARS ? `${chars.slice(0, GENERATION_PREVIEW_CHARS).join('')}…` : line;
}

function notFoundDocument(id: string): ApiError {
  return new ApiError('not_found', `no document with id ${id}`);
}

function notFoundGeneration(id: number): ApiError {
  return new ApiError('not_found', `no generation with id ${id}`);
}
