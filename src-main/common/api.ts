/**
 * The typed API contract between the Lacuna core and every front (Electron IPC, web mode over
 * loopback HTTP, the CLI and the tests). Runs anywhere: no Node, DOM or Electron imports.
 *
 * Each method has a params schema and a result schema. Every boundary validates with these:
 * the server side validates params before dispatch, the client side validates results.
 */
import { z } from 'zod';
import { DeviceChoice, FillMode, FillOptions, ScoreOptions, UnmaskingOrder } from './fill-options';
import { ServerSetting, ServerSettingInput } from './inference-server';
import { PRECISION_IDS } from './precision';

export { DeviceChoice, UnmaskingOrder };

export const DocumentId = z.string().regex(/^[0-9a-f]{32}$/, 'document id must be 32 hex characters');

/** Upper bound on a document body accepted over the API (characters). */
export const MAX_BODY_CHARS = 20_000_000;
export const MAX_TITLE_CHARS = 1_000;
/** Upper bound on a document's rich text (the editor's structured form, JSON) accepted over the API (characters). */
export const MAX_RICH_TEXT_CHARS = 40_000_000;

export const DocumentSummary = z.object({
  id: DocumentId,
  title: z.string(),
  /** The first words of the text as the writer sees it (common/writer-text.ts), one line, for the document list. */
  preview: z.string(),
  createdAt: z.number().int(),
  updatedAt: z.number().int(),
});
export type DocumentSummary = z.infer<typeof DocumentSummary>;

export const Document = z.object({
  id: DocumentId,
  title: z.string(),
  /**
   * The text of record: Markdown (paragraphs, headings, emphasis, lists, quotes) with blanks in the
   * blank syntax (see blanks.ts). What search, previews, export and the CLI show is derived from it
   * and the rich text: the text as the writer sees it (writer-text.ts).
   */
  body: z.string(),
  /**
   * The editor's structured form of the same text (a ProseMirror document as JSON): formatting plus
   * what Markdown cannot hold, such as a filled blank's alternatives. Absent when only the body is
   * known (a document from the CLI, an import, a restored revision, an older Lacuna); the editor then
   * reads the body, and also when this no longer matches the body.
   */
  richText: z.string().optional(),
  createdAt: z.number().int(),
  updatedAt: z.number().int(),
  /** Increments on every save; a save names the revision it was based on. */
  revision: z.number().int().nonnegative(),
});
export type Document = z.infer<typeof Document>;

export const ModelInfo = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string(),
  dir: z.string(),
  isDefault: z.boolean(),
  vocabSize: z.number().int(),
  length: z.number().int(),
  graph: z.string(),
  noise: z.string(),
  /** false: the network ignores σ (exact output reuse, fewer network calls). */
  timeConditioned: z.boolean(),
  /** Steps a fill takes when the request names none (manifest sampling.default_steps, else 64). */
  defaultSteps: z.number().int(),
  /** The temperature a fill uses when the request names none (manifest sampling.temperature, else 1). */
  defaultTemperature: z.number(),
  /** The nucleus mass a fill uses when the request names none (manifest sampling.top_p, else 1). */
  defaultTopP: z.number(),
  /** The unmasking order a fill uses when the request names none (manifest sampling.unmasking, else 'random'). */
  defaultUnmasking: UnmaskingOrder,
  /** The mode a fill uses when the request names none (manifest sampling.mode, else 'exact'). */
  defaultMode: FillMode,
  /** How its weights are stored (manifest precision; common/precision.ts); null: not recorded (older packages). */
  precision: z.enum(PRECISION_IDS).nullable(),
  /**
   * Whether fills on this model take a token choice other than the plain one: a temperature other
   * than 1, top-p below 1, confident unmasking (absorbing graph, analytic sampler).
   */
  temperatureSupported: z.boolean(),
  /** Total size of the package's files (bytes). */
  bytes: z.number().int(),
  /** The files the manifest lists, with their recorded size and sha256 (models.verify re-checks them). */
  files: z.array(z.object({ name: z.string(), bytes: z.number().int(), sha256: z.string() })),
  /** Imported or downloaded into the data folder (models.remove may delete it); false for the bundled models. */
  removable: z.boolean(),
  /**
   * A small demonstration model that writes rough text (manifest `demo`): the app says so and
   * offers a real model from the catalogue.
   */
  demo: z.boolean(),
});
export type ModelInfo = z.infer<typeof ModelInfo>;

/** The precision a model is installed in (common/precision.ts): int8 (fastest on a CPU), fp32 (exact) or fp16 (for GPUs). */
export const Precision = z.enum(PRECISION_IDS);
export type Precision = z.infer<typeof Precision>;

/**
 * A model Lacuna can download (models.catalogue): where it comes from, what it costs and what it is
 * good for. Nothing is fetched until models.download is called for it.
 */
export const CatalogueEntry = z.object({
  /** The id the model installs as in fp32 (int8 and fp16 install as `<id>-int8`, `<id>-fp16`: precision.ts packageIdFor). */
  id: z.string(),
  name: z.string(),
  /** The Hugging Face repository, e.g. "louaaron/sedd-small", and the revision fetched. */
  repo: z.string(),
  revision: z.string(),
  /** The host the files come from (HF_ENDPOINT's, else huggingface.co): said before anything is fetched. */
  host: z.string(),
  /** Approximate size of the download (bytes); the Hub's own figure is checked when it starts. */
  downloadBytes: z.number().int(),
  /** Approximate memory a fill needs with this model on a CPU, installed in int8 (the default there; bytes). */
  memoryBytes: z.number().int(),
  /** What it writes and for which machine, in a sentence or two. */
  description: z.string(),
  /** Measured time of a 16-token blank on a CPU, in words (e.g. "about 5 s on a 2-core laptop CPU (fast mode)"). */
  speed: z.string(),
  /** The licence of the code and what the model page says of the weights. */
  licence: z.string(),
  /** Installed ids made from this entry (`<id>`, `<id>-int8`, `<id>-fp16`). */
  installed: z.array(z.string()),
  /** A download that stopped (cancelled, failed, the app closed) and resumes from where it was. */
  partial: z.object({ bytesDone: z.number().int().nonnegative(), bytesTotal: z.number().int().nonnegative() }).optional(),
  /** The requestId of the download of this entry now running, if any. */
  running: z.string().optional(),
});
export type CatalogueEntry = z.infer<typeof CatalogueEntry>;

export const ModelVerification = z.object({
  id: z.string(),
  /** Every listed file present with its recorded size and sha256. */
  ok: z.boolean(),
  /** What is wrong, one line per file; empty when ok. */
  problems: z.array(z.string()),
  /** Bytes read and hashed. */
  bytes: z.number().int(),
  durationMs: z.number(),
});
export type ModelVerification = z.infer<typeof ModelVerification>;

/** A fill: the text and its model, and the options of common/fill-options.ts (their meaning is written there). */
export const FillRequest = FillOptions.extend({
  /** Client-chosen id; progress events and fill.cancel refer to it. */
  requestId: z.string().min(1).max(100),
  /** Text in the blank syntax, containing at least one blank. */
  text: z.string().max(MAX_BODY_CHARS),
  /** Model id from models.list; default model when omitted. */
  model: z.string().optional(),
  /** The document the fill is for: a successful fill is then recorded (generations.*). */
  documentId: DocumentId.optional(),
});
export type FillRequest = z.infer<typeof FillRequest>;

export const FillAlternative = z.object({
  text: z.string(),
  fills: z.array(z.string()),
  /**
   * How natural the model finds this alternative's fills in their context: its likelihood bound in
   * nats per filled token (lower is more natural). Alternatives come ordered by it, best first.
   */
  nll: z.number().optional(),
  /** Tokens each blank got (for auto blanks, the length the model chose). */
  lengths: z.array(z.number().int()).optional(),
});
export type FillAlternative = z.infer<typeof FillAlternative>;

export const FillResult = z.object({
  requestId: z.string(),
  /** Every alternative; the first equals text/fills below. */
  alternatives: z.array(FillAlternative).optional(),
  /** The input text with every blank replaced by generated text. */
  text: z.string(),
  /** The generated text of each blank, in document order. */
  fills: z.array(z.string()),
  model: z.string(),
  steps: z.number().int(),
  seed: z.number().int(),
  /** The temperature the fill used (the request's, else the model's recommended value, else 1). */
  temperature: z.number(),
  /** The top-p and unmasking order it used (the request's, else the model's, else 1 and 'random'). */
  topP: z.number().optional(),
  unmasking: UnmaskingOrder.optional(),
  device: z.string(),
  /** Why each provider tried before `device` was passed over (empty when the first choice ran). */
  deviceNotes: z.array(z.string()).optional(),
  networkCalls: z.number().int(),
  durationMs: z.number(),
  /** The generation record written for a fill with a documentId (generations.get). */
  generationId: z.number().int().positive().optional(),
});
export type FillResult = z.infer<typeof FillResult>;

/** A score: plain text and its model, and the options of common/fill-options.ts SCORE_OPTIONS. */
export const ScoreRequest = ScoreOptions.extend({
  /** Optional client-chosen id; fill.cancel with it stops the scoring between draws. */
  requestId: z.string().min(1).max(100).optional(),
  /** Plain text to score (no blanks). */
  text: z.string().min(1).max(MAX_BODY_CHARS),
  model: z.string().optional(),
});
export type ScoreRequest = z.infer<typeof ScoreRequest>;

export const ScoreResult = z.object({
  model: z.string(),
  tokens: z.number().int(),
  draws: z.number().int(),
  seed: z.number().int(),
  /** Upper bound on −log p(text), nats, with its Monte Carlo standard error. */
  nll: z.number(),
  nllStdErr: z.number(),
  /** exp(nll / tokens): an upper bound on perplexity. */
  perplexityBound: z.number(),
  /** Per-token contributions to the bound (nats), with character offsets into the text. */
  perToken: z.array(z.object({ start: z.number().int(), end: z.number().int(), text: z.string(), nll: z.number() })),
  durationMs: z.number(),
});
export type ScoreResult = z.infer<typeof ScoreResult>;

export const DeviceInfo = z.object({
  /** Execution provider id: 'cpu', 'cuda', 'dml', 'coreml', 'webgpu'. */
  id: z.string(),
  available: z.boolean(),
  /** Why it is unavailable, or what it runs on. Human readable. */
  detail: z.string(),
});
export type DeviceInfo = z.infer<typeof DeviceInfo>;

export const AppInfo = z.object({
  version: z.string(),
  dataDir: z.string(),
  defaultModel: z.string(),
  /** 'electron' | 'web' | 'cli' | 'test' */
  front: z.string(),
  /**
   * Set when the library was found damaged at open and the newest usable automatic backup was
   * restored: tell the writer. The damaged file is kept at damagedFile.
   */
  recovery: z.object({ damagedFile: z.string(), restoredFrom: z.string(), at: z.number().int() }).optional(),
});
export type AppInfo = z.infer<typeof AppInfo>;

const Empty = z.object({}).strict();

/** A path on this computer given to the API (a backup file, a checkpoint folder): no NUL (no file system takes one). */
const LocalPath = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => !p.includes('\u0000'), { message: 'a path cannot contain a NUL character' });
const Ok = z.object({ ok: z.literal(true) });

const TensorSignature = z.object({ name: z.string(), type: z.string(), dims: z.array(z.number().int()) });
/** models.exportServer: where the model went, its name on the server, its tensors and the serve command. */
export const ServerExport = z.object({
  dir: z.string(),
  name: z.string(),
  inputs: z.array(TensorSignature),
  outputs: z.array(TensorSignature),
  command: z.string(),
  note: z.string().optional(),
});
export type ServerExport = z.infer<typeof ServerExport>;

// ---- Store: revisions, search, trash (store/revisions.ts, store/search.ts) -------------------

export const RevisionReason = z.enum(['autosave-rhythm', 'before-fill', 'manual', 'restore']);
export type RevisionReason = z.infer<typeof RevisionReason>;
export const RevisionId = z.number().int().positive();

export const RevisionSummary = z.object({
  revisionId: RevisionId,
  /** The document revision this snapshot holds. */
  revision: z.number().int().nonnegative(),
  createdAt: z.number().int(),
  reason: RevisionReason,
  preview: z.string(),
  /** Body length in UTF-16 code units. */
  chars: z.number().int().nonnegative(),
});
export type RevisionSummary = z.infer<typeof RevisionSummary>;

export const Revision = z.object({
  revisionId: RevisionId,
  documentId: DocumentId,
  revision: z.number().int().nonnegative(),
  createdAt: z.number().int(),
  reason: RevisionReason,
  title: z.string(),
  body: z.string(),
});
export type Revision = z.infer<typeof Revision>;

export const RevisionDiff = z.object({
  revisionId: RevisionId,
  /** The document revision the diff ends at (its current text). */
  currentRevision: z.number().int().nonnegative(),
  titleChanged: z.boolean(),
  ops: z.array(
    z.union([
      z.object({ op: z.literal('equal'), text: z.string(), elided: z.number().int().optional() }),
      z.object({ op: z.literal('insert'), text: z.string() }),
      z.object({ op: z.literal('delete'), text: z.string() }),
    ]),
  ),
});
export type RevisionDiff = z.infer<typeof RevisionDiff>;

export const SearchHit = z.object({
  id: DocumentId,
  title: z.string(),
  updatedAt: z.number().int(),
  /** Plain text (never markup), one line; wrap the highlight ranges yourself. */
  snippet: z.string(),
  /** [start, end) UTF-16 offsets into snippet of the matched terms. */
  highlights: z.array(z.object({ start: z.number().int().nonnegative(), end: z.number().int().nonnegative() })),
  /** bm25; lower is better. Results come best first. */
  score: z.number(),
});
export type SearchHit = z.infer<typeof SearchHit>;

export const TrashedSummary = DocumentSummary.extend({ trashedAt: z.number().int() });
export type TrashedSummary = z.infer<typeof TrashedSummary>;

const storeApi = {
  'revisions.list': { params: z.object({ id: DocumentId }).strict(), result: z.array(RevisionSummary) },
  'revisions.get': { params: z.object({ revisionId: RevisionId }).strict(), result: Revision },
  /** Word-level diff from a revision to the document's current text (common/diff.ts), for previews. */
  'revisions.diff': { params: z.object({ revisionId: RevisionId }).strict(), result: RevisionDiff },
  'revisions.restore': {
    params: z.object({ revisionId: RevisionId, baseRevision: z.number().int().nonnegative().optional() }).strict(),
    result: Document,
  },
  'documents.search': {
    params: z.object({ query: z.string().max(1_000), limit: z.number().int().min(1).max(200).optional() }).strict(),
    result: z.array(SearchHit),
  },
  'documents.trash': { params: z.object({ id: DocumentId }).strict(), result: Ok },
  'documents.restore': { params: z.object({ id: DocumentId }).strict(), result: Document },
  'documents.listTrash': { params: Empty, result: z.array(TrashedSummary) },
  'documents.emptyTrash': { params: Empty, result: z.object({ deleted: z.number().int().nonnegative() }) },
} as const;

// ---- end of store block ----------------------------------------------------------------------

// ---- Library: export/import, backup (store/exchange.ts, store/backup.ts) ---------------------
// Restore is not in the API: it replaces the library file and needs the app closed, so it is a
// CLI-only maintenance operation (`lacuna restore FILE`, store/backup.ts restoreLibrary).

export const ExchangeFormat = z.enum(['md', 'txt']);
export type ExchangeFormat = z.infer<typeof ExchangeFormat>;

/** How exported text writes blanks (common/writer-text.ts): as the text on screen, or kept as the blank syntax. */
export const BlanksAs = z.enum(['shown', 'keep']);
export type BlanksAs = z.infer<typeof BlanksAs>;

export const BackupResult = z.object({
  file: z.string(),
  bytes: z.number().int().nonnegative(),
  /** Documents in the backup, trashed ones included. */
  documents: z.number().int().nonnegative(),
});
export type BackupResult = z.infer<typeof BackupResult>;

const libraryApi = {
  'documents.export': {
    params: z
      .object({
        id: DocumentId,
        format: ExchangeFormat,
        /**
         * How blanks are written: 'shown' (default) a filled blank as the alternative on screen, the
         * text as the writer sees it (common/writer-text.ts); 'keep' the body as stored, blanks in
         * the blank syntax, so that importing the file gives back the same body.
         */
        blanks: BlanksAs.optional(),
      })
      .strict(),
    result: z.object({ filename: z.string(), text: z.string() }),
  },
  'documents.import': {
    params: z
      .object({
        /** The file's text; a BOM is stripped and CRLF becomes LF. NUL is refused. */
        text: z.string().max(MAX_BODY_CHARS + 1_000_000),
        format: ExchangeFormat,
        title: z.string().max(MAX_TITLE_CHARS).optional(),
      })
      .strict(),
    result: Document,
  },
  /** Write a verified copy of the library to an absolute path (an existing file must be SQLite). */
  'library.backup': { params: z.object({ file: LocalPath }).strict(), result: BackupResult },
} as const;

// ---- end of library block --------------------------------------------------------------------

// ---- Generations: provenance of fills (store/generations.ts) ---------------------------------

export const GenerationId = z.number().int().positive();

export const GenerationSummary = z.object({
  generationId: GenerationId,
  documentId: DocumentId,
  createdAt: z.number().int(),
  model: z.string(),
  seed: z.number().int(),
  steps: z.number().int(),
  /** The model manifest's sampling.sampler ('analytic' when it names none). */
  sampler: z.string(),
  /** The temperature of the token choice (FillResult.temperature; 1 for fills made before it was recorded). */
  temperature: z.number(),
  /** Its top-p and unmasking order (1 and 'random' for fills made before they were recorded). */
  topP: z.number(),
  unmasking: UnmaskingOrder,
  device: z.string(),
  mode: z.enum(['exact', 'fast']),
  durationMs: z.number(),
  networkCalls: z.number().int(),
  alternativeCount: z.number().int().nonnegative(),
  /** Index of the alternative the writer kept; null until generations.accept. */
  accepted: z.number().int().nonnegative().nullable(),
  /** First characters of the input text, one line. */
  preview: z.string(),
});
export type GenerationSummary = z.infer<typeof GenerationSummary>;

export const Generation = GenerationSummary.extend({
  /** The fill's input: text in the blank syntax. */
  inputText: z.string(),
  alternatives: z.array(FillAlternative),
});
export type Generation = z.infer<typeof Generation>;

const generationsApi = {
  /** A document's generation records, newest first. */
  'generations.list': { params: z.object({ id: DocumentId }).strict(), result: z.array(GenerationSummary) },
  'generations.get': { params: z.object({ generationId: GenerationId }).strict(), result: Generation },
  /** Mark which alternative (0-based) the writer kept. */
  'generations.accept': {
    params: z.object({ generationId: GenerationId, alternative: z.number().int().min(0).max(15) }).strict(),
    result: Generation,
  },
} as const;

// ---- end of generations block ----------------------------------------------------------------

/** The contract: method name → params and result schemas. */
export const api = {
  'app.info': { params: Empty, result: AppInfo },
  'documents.list': { params: Empty, result: z.array(DocumentSummary) },
  'documents.create': {
    params: z
      .object({
        title: z.string().max(MAX_TITLE_CHARS).optional(),
        body: z.string().max(MAX_BODY_CHARS).optional(),
        /** The editor's structured form of body (Document.richText). */
        richText: z.string().max(MAX_RICH_TEXT_CHARS).optional(),
      })
      .strict(),
    result: Document,
  },
  'documents.open': { params: z.object({ id: DocumentId }).strict(), result: Document },
  'documents.save': {
    params: z
      .object({
        id: DocumentId,
        title: z.string().max(MAX_TITLE_CHARS),
        body: z.string().max(MAX_BODY_CHARS),
        /**
         * The editor's structured form of body (Document.richText). Omitted, any stored one is
         * dropped, since it would no longer match the new body.
         */
        richText: z.string().max(MAX_RICH_TEXT_CHARS).optional(),
        /** The revision the client edited; a mismatch is a conflict error. Omit to force. */
        baseRevision: z.number().int().nonnegative().optional(),
        /** Also snapshot the saved text (revisions), e.g. right before a fill replaces blanks. */
        snapshot: z.enum(['before-fill', 'manual']).optional(),
      })
      .strict(),
    result: Document,
  },
  'models.list': { params: Empty, result: z.array(ModelInfo) },
  'fill.run': { params: FillRequest.strict(), result: FillResult },
  'score.run': { params: ScoreRequest.strict(), result: ScoreResult },
  'models.import': {
    params: z
      .object({
        dir: LocalPath,
        /** Default: precision.ts defaultPrecision (int8 without a GPU, else fp32). fp16 needs an fp16 graph template. */
        precision: Precision.optional(),
      })
      .strict(),
    result: ModelInfo,
  },
  /** The models Lacuna can download, with what is installed, resumable or running. Reads no network. */
  'models.catalogue': { params: Empty, result: z.array(CatalogueEntry) },
  /**
   * Downloads a catalogue entry from its host (the only call that reaches the network), resuming a
   * partial download, verifies every file's size and SHA-256 against the Hub's, then installs it
   * like models.import. Progress as download.progress events; fill.cancel with the requestId stops
   * it (the partial download is kept for a later resume). Nothing is installed unless every file
   * verified.
   */
  'models.download': {
    params: z
      .object({
        requestId: z.string().min(1).max(100),
        id: z.string().min(1).max(100),
        /** Default: precision.ts defaultPrecision (int8 without a GPU, else fp16). */
        precision: Precision.optional(),
      })
      .strict(),
    result: ModelInfo,
  },
  /** Deletes the partial download of a catalogue entry. */
  'models.discardDownload': { params: z.object({ id: z.string().min(1).max(100) }).strict(), result: Ok },
  /**
   * Loads a model into the engine ahead of the first fill (the app does this at start for the
   * model it will fill with), so that fill does not wait for a process start and a session load.
   */
  'engine.warm': {
    params: z.object({ model: z.string().min(1).max(100).optional(), device: DeviceChoice.optional() }).strict(),
    /** device: where the network was loaded ('cpu', 'cuda', …, or 'remote:<server>'). */
    result: z.object({ model: z.string(), device: z.string(), durationMs: z.number() }),
  },
  /** Re-reads and re-hashes every file of an installed model against its manifest. */
  'models.verify': { params: z.object({ id: z.string().min(1).max(100) }).strict(), result: ModelVerification },
  /** Deletes a model imported into the data folder (bundled ones cannot be removed). */
  'models.remove': { params: z.object({ id: z.string().min(1).max(100) }).strict(), result: Ok },
  /**
   * Writes an installed model into a Triton model repository (`dir/<id>/config.pbtxt` and
   * `dir/<id>/1/model.onnx` with its weights; engine/model/server-export.ts), for a KServe v2
   * inference server; says the command that serves it.
   */
  /**
   * Makes the int8 copy of an installed fp32 model (`<id>-int8`, engine/model/quantize.ts) in the
   * data folder: the faster variant for the CPU without downloading or importing it again.
   */
  'models.quantize': { params: z.object({ id: z.string().min(1).max(100) }).strict(), result: ModelInfo },
  'models.exportServer': { params: z.object({ id: z.string().min(1).max(100), dir: LocalPath }).strict(), result: ServerExport },
  'engine.devices': { params: Empty, result: z.array(DeviceInfo) },
  /** The inference server the "remote" device sends the network's calls to (common/inference-server.ts); never its token. */
  'engine.server': { params: Empty, result: ServerSetting },
  /**
   * Sets or clears (url null) the inference server. A token given is saved for that server only;
   * token absent keeps the saved one while the origin stays the same, null removes it.
   */
  'engine.setServer': { params: ServerSettingInput, result: ServerSetting },
  /** Cancels a running fill.run, score.run or models.download by its requestId. */
  'fill.cancel': { params: z.object({ requestId: z.string().min(1).max(100) }).strict(), result: Ok },
  ...storeApi,
  ...libraryApi,
  ...generationsApi,
} as const;

export type Api = typeof api;

/**
 * The long calls: they take a requestId, report progress under it and stop on fill.cancel with
 * it. A front gives each one an id when its caller did not (so it can be cancelled), and cancels
 * it when the caller goes away (an HTTP client disconnects, the window reloads or closes).
 */
export const CANCELLABLE_METHODS = ['fill.run', 'score.run', 'models.download'] as const;
export type CancellableMethod = (typeof CANCELLABLE_METHODS)[number];

export function isCancellable(method: string): method is CancellableMethod {
  return (CANCELLABLE_METHODS as readonly string[]).includes(method);
}

/**
 * For a long call: its requestId, made up (with `makeId`) and put into the params when the caller
 * gave none. Params that are not an object are left for the contract to refuse. Other methods:
 * undefined, params unchanged.
 */
export function withRequestId(method: string, params: unknown, makeId: () => string): { params: unknown; requestId?: string } {
  if (!isCancellable(method) || !params || typeof params !== 'object' || Array.isArray(params)) return { params };
  const given = (params as { requestId?: unknown }).requestId;
  if (given === undefined) {
    const requestId = makeId();
    return { params: { ...params, requestId }, requestId };
  }
  return typeof given === 'string' ? { params, requestId: given } : { params };
}
export type Method = keyof Api;
export type Params<M extends Method> = z.input<Api[M]['params']>;
export type Result<M extends Method> = z.output<Api[M]['result']>;

export const methods = Object.keys(api) as Method[];

export function isMethod(name: unknown): name is Method {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(api, name);
}

/** Events pushed from the core to every front. */
export const FillProgress = z.object({
  type: z.literal('fill.progress'),
  requestId: z.string(),
  step: z.number().int(),
  steps: z.number().int(),
  /** Number of positions still masked after this step. */
  masked: z.number().int(),
  /** Positions unmasked by this step and their tokens, for the UI to animate. */
  unmasked: z
    .array(
      z.object({
        alternative: z.number().int(),
        /** Index of the blank in document order. */
        blank: z.number().int(),
        /** Token index inside the blank. */
        index: z.number().int(),
        token: z.number().int(),
        text: z.string(),
      }),
    )
    .optional(),
  /**
   * Blanks of 'auto' length are sampled once per length tried: the length in tokens of each blank
   * (document order) in the attempt these tokens belong to. Absent when every blank is exact.
   */
  lengths: z.array(z.number().int()).optional(),
});
/** score.run progress: Monte Carlo draws done out of the total (windows × draws). */
export const ScoreProgress = z.object({
  type: z.literal('score.progress'),
  requestId: z.string(),
  done: z.number().int(),
  total: z.number().int(),
});
/** models.download progress: bytes of all files, the current file, the rate and the time left. */
export const DownloadProgress = z.object({
  type: z.literal('download.progress'),
  requestId: z.string(),
  /** The catalogue entry being downloaded. */
  id: z.string(),
  /** checking: asking the host for the files' sizes and hashes; downloading; installing: writing the package. */
  phase: z.enum(['checking', 'downloading', 'installing']),
  file: z.string().optional(),
  bytesDone: z.number().int().nonnegative(),
  bytesTotal: z.number().int().nonnegative(),
  bytesPerSecond: z.number().nonnegative(),
  secondsLeft: z.number().nonnegative().optional(),
});
export const ApiEvent = z.discriminatedUnion('type', [FillProgress, ScoreProgress, DownloadProgress]);
export type ApiEvent = z.infer<typeof ApiEvent>;

/**
 * Error codes a client can act on. network_error: the network or the server failed (offline, DNS,
 * refused/reset/timed out, proxy, 401/403 for a gated model, 5xx).
 */
export const ERROR_CODES = ['bad_request', 'not_found', 'conflict', 'cancelled', 'model_error', 'storage_error', 'network_error', 'internal'] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && (ERROR_CODES as readonly string[]).includes(code);
}

/** The one error shape that crosses every boundary. */
export class ApiError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
  }
  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
  /**
   * The one conversion of anything thrown into an ApiError, used by every boundary (the core, web
   * mode, IPC, the engine's process, the renderer). An ApiError passes through; so does its JSON form
   * or a copy from another bundle of this file (code and message, with a known code). A path too long
   * or holding a NUL is the request's fault, said in words (Node's errors for them name no file the
   * writer chose). Anything else, a Node error with an ENOENT-style code included, is 'internal'.
   */
  static from(value: unknown): ApiError {
    if (value instanceof ApiError) return value;
    const v = (value && typeof value === 'object' ? value : {}) as { code?: unknown; message?: unknown };
    const message = typeof v.message === 'string' ? v.message : String(value);
    if (isErrorCode(v.code)) return new ApiError(v.code, message);
    if (v.code === 'ENAMETOOLONG') return new ApiError('bad_request', 'a file name or path is too long for this computer');
    if (v.code === 'ERR_INVALID_ARG_VALUE' && /null bytes/i.test(message)) return new ApiError('bad_request', 'a path cannot contain a NUL character');
    return new ApiError('internal', message);
  }
}

/** Validate params for a method; throws ApiError('bad_request') naming the offending field. */
export function parseParams<M extends Method>(method: M, params: unknown): z.output<Api[M]['params']> {
  const r = api[method].params.safeParse(params ?? {});
  if (!r.success) throw new ApiError('bad_request', `${method}: ${formatIssues(r.error)}`);
  return r.data as z.output<Api[M]['params']>;
}

/** Validate a result on the receiving side. */
export function parseResult<M extends Method>(method: M, result: unknown): Result<M> {
  const r = api[method].result.safeParse(result);
  if (!r.success) throw new ApiError('internal', `${method}: malformed result: ${formatIssues(r.error)}`);
  return r.data as Result<M>;
}

function formatIssues(e: z.ZodError): string {
  return e.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join('.') : 'params'}: ${i.message}`)
    .join('; ');
}

/** How a front sends one call. */
export interface CallOptions {
  /**
   * The page is going away (reload, close): send the call in a request that outlives it (web mode:
   * fetch with keepalive, from the page). Fronts whose calls survive anyway ignore it.
   */
  keepalive?: boolean;
}

/** A front: anything that can call the API and deliver its events. */
export interface ApiClient {
  call<M extends Method>(method: M, params: Params<M>, options?: CallOptions): Promise<Result<M>>;
  onEvent(listener: (event: ApiEvent) => void): () => void;
}
