/**
 * The `lacuna` command line (bin/lacuna.js → out/main/cli.js). Same core, same API, same library
 * (LACUNA_DATA_DIR overrides the data folder) as the desktop app and web mode.
 *
 * Conventions: results on stdout; on failure exactly one line on stderr starting "lacuna: ";
 * exit 0 ok, 2 usage error (unknown option, bad number, missing argument), 1 anything else
 * (missing model, text without a blank, unreadable file, engine or storage failure), 130 on Ctrl-C.
 */
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { realpathSync, statSync } from 'node:fs';
import { ApiError, ModelInfo as ModelInfoSchema } from '../common/api';
import { FILL_OPTIONS, rangeText, SCORE_OPTIONS, type ChoiceOption, type NumberOption } from '../common/fill-options';
import type { CatalogueEntry, FillResult, ModelInfo, Params, ScoreResult } from '../common/api';
import { formatBytes } from '../common/units';
import { renderProgressBar } from './progress-bar';
import { cliMessage, speakingCore } from './errors';
import { AUTO_BLANK_LENGTHS, BlankSyntaxError, countBlanks } from '../common/blanks';
import { shownMarkdown, type BlanksAs } from '../common/writer-text';
import { readModelInfo } from '../engine/model/registry';
import { appVersion, createNodeCore } from '../service/core-node';
import { dataDir as defaultDataDir } from '../platform/paths';
import { restoreLibrary } from '../store/backup';
import { writeFile } from 'node:fs/promises';
import type { Core } from '../service/core';
import { PRECISION_IDS, defaultPrecision, packageIdFor, type PrecisionId } from '../common/precision';
import { checkToken, parseServerUrl, REMOTE_DEVICE, SERVER_TIMEOUT, type RemoteServer } from '../common/inference-server';

/** The token of `--device remote:URL` and of `lacuna server set` without --token-file. */
const SERVER_TOKEN_ENV = 'LACUNA_SERVER_TOKEN';

const USAGE = `Lacuna — fill the blanks in a draft with a local diffusion model.

Usage:
  lacuna fill [options] "text with ____ blanks"
  lacuna fill [options] --file PATH
  lacuna fill [options] -              read the text from stdin
  lacuna score [options] "text" | --file PATH | -
  lacuna models list [--json]
  lacuna models catalogue [--json]   the models Lacuna can download: size, memory, speed, licence
  lacuna models pull ID [--precision P]
                                     download a catalogue model (e.g. sedd-small) from its host and
                                     install it; resumes an interrupted download; a progress bar
                                     goes to stderr (HF_ENDPOINT, HF_TOKEN, HTTPS_PROXY honoured)
  lacuna models import DIR [--precision P]
                                     install a SEDD checkpoint folder (config.json + model.safetensors)
                                     --precision int8: fastest on a CPU (the default without a GPU;
                                     installs as ID-int8); fp32: exact; fp16: for GPUs (ID-fp16,
                                     the default for pull with a GPU); --fp16 = --precision fp16
  lacuna models verify ID [--json]   re-hash a model's files against its manifest (exit 1 if damaged)
  lacuna models remove ID            delete a model imported into the data folder
  lacuna models quantize ID [--json] make the int8 copy of an installed fp32 model (ID-int8): about
                                     three times as fast on a CPU, without downloading it again
  lacuna models export-server ID DIR [--json]
                                     write a Triton model repository for an installed model
                                     (DIR/ID/config.pbtxt + DIR/ID/1/model.onnx) and print the
                                     command that serves it (KServe v2 protocol)
  lacuna server show [--json]        the inference server of the remote device (--device remote)
  lacuna server set URL [--token-file FILE] [--no-token] [--timeout S]
                                     run the network on a KServe v2 server (Triton, KServe,
                                     MLServer) at URL; the token is read from FILE or
                                     LACUNA_SERVER_TOKEN and sent to that server only
  lacuna server clear                forget it: the remote device is off again
  lacuna docs list [--json]
  lacuna docs show ID [--blanks shown|keep] [--json]
                                     print a document's text as the writer sees it: a filled
                                     blank not yet accepted as the alternative on screen;
                                     --blanks keep: as stored, blanks as ____ / {{N}};
                                     --json: the stored document (body, rich text)
  lacuna docs export ID [--format md|txt] [--out FILE] [--blanks shown|keep]
                                     (default md, to stdout; blanks as for show: keep writes the
                                     body as stored, so import gives it back unchanged)
  lacuna docs import FILE [--title T] [--format md|txt]  (format from the extension by default)
  lacuna backup FILE                 write a verified copy of the library (the app may be running)
  lacuna restore FILE                replace the library with a backup; close the app first.
                                     The current library is kept as lacuna.db.before-restore-*
  lacuna --help | --version

Fill options:
  --model DIR|ID   a model package folder, or the id of an installed model (default: the default model)
${optionsHelp(FILL_OPTIONS)}
  --json           print the whole result as JSON instead of the filled text
  --               end of options (for text starting with "-")

Score: prints the perplexity upper bound (ELBO, Monte Carlo over t) and the 10 most surprising
tokens; --json prints everything, with per-token nats and offsets. Options: --model, --seed,
--device and --json as for fill, and
${optionsHelp({ draws: SCORE_OPTIONS.draws })}

Blanks: ____ (four or more underscores) or {{auto}} is a blank whose length the model chooses: it
tries ${AUTO_BLANK_LENGTHS.join(', ')} tokens and keeps the fill it finds most natural; {{N}} is a blank of
exactly N tokens; \\____ is a literal "____".

The filled text goes to stdout, byte for byte as the input apart from the blanks; a newline is
added only after text given as an argument. Documents and imported models live in the data
folder (LACUNA_DATA_DIR overrides it).
`;

class UsageError extends Error {}
/** A failure with a message meant for the user, exit status 1 (130: cancelled by the user). */
class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

interface Io {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  stdin: NodeJS.ReadStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** Run the CLI; resolves with the exit status. Never throws. */
export async function main(argv: readonly string[] = process.argv.slice(2), io: Io = defaultIo()): Promise<number> {
  try {
    return await run(argv, io);
  } catch (err) {
    let code = 1;
    let message: string;
    if (err instanceof UsageError) {
      code = 2;
      message = `${err.message} (see lacuna --help)`;
    } else if (err instanceof CliError) {
      code = err.exitCode;
      message = err.message;
    } else if (err instanceof ApiError) {
      if (err.code === 'cancelled') code = 130;
      message = err.code === 'cancelled' ? 'cancelled' : cliMessage('', undefined, err);
    } else {
      message = `unexpected error: ${err instanceof Error ? err.message : String(err)}`;
    }
    await write(io.stderr, `lacuna: ${oneLine(message)}\n`);
    return code;
  }
}

async function run(argv: readonly string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) throw new UsageError('missing command');
  const beforeDashes = argv.indexOf('--') === -1 ? argv : argv.slice(0, argv.indexOf('--'));
  if (command === 'help' || beforeDashes.includes('--help') || beforeDashes.includes('-h')) {
    await write(io.stdout, USAGE);
    return 0;
  }
  if (command === '--version' || command === '-V') {
    await write(io.stdout, `${appVersion()}\n`);
    return 0;
  }
  if (command === 'fill') return fill(rest, io);
  if (command === 'score') return score(rest, io);
  if (command === 'docs' && rest[0] !== undefined && rest[0] !== 'list') return docsCommand(rest, io);
  if (command === 'backup') return backup(rest, io);
  if (command === 'server') return serverCommand(rest, io);
  if (command === 'restore') return restore(rest, io);
  if (command === 'models' || command === 'docs') {
    const [sub, ...more] = rest;
    if (command === 'models' && sub === 'import') return modelsImport(more, io);
    if (command === 'models' && sub === 'pull') return modelsPull(more, io);
    if (command === 'models' && sub === 'catalogue') return modelsCatalogue(parseFlags(more, {}, 'models catalogue').json, io);
    if (command === 'models' && (sub === 'verify' || sub === 'remove')) return modelsVerifyOrRemove(sub, more, io);
    if (command === 'models' && sub === 'export-server') return modelsExportServer(more, io);
    if (command === 'models' && sub === 'quantize') return modelsQuantize(more, io);
    if (sub !== 'list') throw new UsageError(sub === undefined ? `${command}: missing subcommand "list"` : `${command}: unknown subcommand ${quote(sub)}`);
    const { json } = parseFlags(more, {}, `${command} list`);
    return command === 'models' ? modelsList(json, io) : docsList(json, io);
  }
  if (command.startsWith('-')) throw new UsageError(`unknown option ${quote(command)}`);
  throw new UsageError(`unknown command ${quote(command)}`);
}

interface Flags {
  json: boolean;
  values: Map<string, string>;
  positionals: string[];
}

/** Parse --flag VALUE / --flag=VALUE options (names in `valued`), --json, "--" and positionals. */
function parseFlags(args: readonly string[], valued: Record<string, true>, where: string, allowPositionals = where === 'fill' || where === 'score'): Flags {
  const flags: Flags = { json: false, values: new Map(), positionals: [] };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      flags.positionals.push(...args.slice(i + 1));
      break;
    }
    if (arg === '-' || !arg.startsWith('-')) {
      flags.positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    if (name === '--json' && eq === -1) {
      flags.json = true;
      continue;
    }
    if (!valued[name]) throw new UsageError(`${where}: unknown option ${quote(name)}`);
    if (flags.values.has(name)) throw new UsageError(`${where}: ${name} given twice`);
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else value = args[++i];
    if (value === undefined) throw new UsageError(`${where}: ${name} needs a value`);
    flags.values.set(name, value);
  }
  if (!allowPositionals && flags.positionals.length) throw new UsageError(`${where}: unexpected argument ${quote(flags.positionals[0]!)}`);
  return flags;
}

/** A fill's token choice as the CLI says it (fill's stderr, models list). */
function tokenChoice(temperature: number, topP: number, unmasking: string): string {
  return `temperature ${temperature}, top-p ${topP}, ${unmasking} unmasking`;
}

type Option = NumberOption | ChoiceOption;
/** The values of a table of options (common/fill-options.ts), each absent unless given. */
type OptionValues<T extends Record<string, Option>> = { -readonly [K in keyof T]?: T[K] extends ChoiceOption<infer V> ? V : number };

/** The flags of a table of options, for parseFlags. */
function optionFlagNames(table: Record<string, Option>): Record<string, true> {
  return Object.fromEntries(Object.values(table).map((o) => [o.flag, true]));
}

/**
 * `--device remote:URL`: the remote device on the server at URL for this command only (not saved;
 * LACUNA_SERVER_TOKEN is its token). The flag is then read as `--device remote`.
 */
function remoteFlag(flags: Flags, io: Io): RemoteServer | undefined {
  const raw = flags.values.get(FILL_OPTIONS.device.flag);
  if (!raw?.startsWith(`${REMOTE_DEVICE}:`)) return undefined;
  const where = raw.slice(REMOTE_DEVICE.length + 1);
  let url: string;
  let token: string | undefined;
  try {
    url = parseServerUrl(where);
    const t = io.env[SERVER_TOKEN_ENV];
    token = t ? checkToken(t) : undefined;
  } catch (e) {
    throw new UsageError(`--device ${raw}: ${(e as Error).message}`);
  }
  flags.values.set(FILL_OPTIONS.device.flag, REMOTE_DEVICE);
  return { url, ...(token ? { token } : {}), timeoutMs: SERVER_TIMEOUT.default * 1000 };
}

/** The options of `table` among the flags, parsed and checked against their ranges and choices. */
function parseOptions<T extends Record<string, Option>>(table: T, flags: Flags): OptionValues<T> {
  const out: Record<string, number | string> = {};
  for (const [name, o] of Object.entries(table)) {
    const raw = flags.values.get(o.flag);
    if (raw === undefined) continue;
    if (o.kind === 'choice') {
      if (!(o.values as readonly string[]).includes(raw))
        throw new UsageError(`${o.flag} must be ${o.values.length > 2 ? `one of ${o.values.join(', ')}` : o.values.join(' or ')}, not ${quote(raw)}`);
      out[name] = raw;
      continue;
    }
    const integer = o.kind === 'integer';
    const n = (integer ? /^-?\d+$/ : /^-?(\d+\.?\d*|\.\d+)$/).test(raw) ? Number(raw) : NaN;
    if (!Number.isFinite(n) || (integer && !Number.isSafeInteger(n)) || n < o.min || n > o.max) {
      throw new UsageError(`${o.flag} must be ${integer ? 'a whole number' : 'a number'} from ${rangeText(o)}, not ${quote(raw)}`);
    }
    out[name] = n;
  }
  return out as OptionValues<T>;
}

/** The help lines of a table of options: flag, value, range or choices, what it does. */
function optionsHelp(table: Record<string, Option>): string {
  return Object.values(table)
    .map((o) => {
      const head = `  ${o.flag} ${o.kind === 'choice' ? o.values.join('|') : o.arg}`;
      const what = o.kind === 'choice' ? o.help : `${rangeText(o)}; ${o.help}`;
      return wrapHelp(head.length < 18 ? head.padEnd(19) : `${head}  `, what);
    })
    .join('\n');
}

function wrapHelp(head: string, text: string, width = 100, indent = 19): string {
  const lines: string[] = [];
  let line = head;
  for (const word of text.split(' ')) {
    if (line.length + word.length > width && line.trim().length > 0 && line.length > indent) {
      lines.push(line.trimEnd());
      line = ' '.repeat(indent);
    }
    line += `${word} `;
  }
  lines.push(line.trimEnd());
  return lines.join('\n');
}

/**
 * The text a fill or a score works on: the one argument, --file PATH, or stdin for "-". `fromArgument`
 * tells the caller to end its output with a newline (text typed on the command line has none).
 */
async function textOf(command: 'fill' | 'score', flags: Flags, io: Io): Promise<{ text: string; fromArgument: boolean }> {
  const example = command === 'fill' ? ' ("The ____ sat.")' : '';
  if (flags.positionals.length > 1) throw new UsageError(`${command} takes one text argument; quote the text${example}`);
  const file = flags.values.get('--file');
  const positional = flags.positionals[0];
  if (file !== undefined && positional !== undefined) throw new UsageError(`${command}: give the text either as an argument or with --file, not both`);
  if (file === undefined && positional === undefined) {
    throw new UsageError(`${command} needs text: an argument${command === 'fill' ? ' with blanks' : ''}, --file PATH, or - to read stdin`);
  }
  if (file !== undefined) {
    try {
      return { text: await readFile(resolve(io.cwd, file), 'utf8'), fromArgument: false };
    } catch (err) {
      throw new CliError(`cannot read ${file}: ${describeFsError(err)}`);
    }
  }
  if (positional === '-') return { text: await readStdin(io.stdin), fromArgument: false };
  return { text: positional!, fromArgument: true };
}

/**
 * --model as given to fill and score: a model folder is used directly (under its own id); anything
 * else is an installed model's id. Returns the id to ask for and a core that can see the folder.
 */
async function modelAndCore(modelArg: string | undefined, io: Io, server?: RemoteServer) {
  let model = modelArg;
  let modelDir: string | undefined;
  if (modelArg !== undefined && looksLikePath(modelArg, io.cwd)) {
    modelDir = resolve(io.cwd, modelArg);
    model = (await checkModelDir(modelDir)).id;
  }
  return { model, core: await makeCore(io, { modelPackage: modelDir, server }) };
}

async function fill(args: readonly string[], io: Io): Promise<number> {
  const flags = parseFlags(args, { '--model': true, '--file': true, ...optionFlagNames(FILL_OPTIONS) }, 'fill');
  const server = remoteFlag(flags, io);
  const options = parseOptions(FILL_OPTIONS, flags);
  const { text, fromArgument } = await textOf('fill', flags, io);

  let blanks: number;
  try {
    blanks = countBlanks(text);
  } catch (err) {
    if (err instanceof BlankSyntaxError) throw new CliError(err.message);
    throw err;
  }
  if (blanks === 0) throw new CliError('the text has no blank; mark one with ____ (four underscores) or {{N}}');

  const { model, core } = await modelAndCore(flags.values.get('--model'), io, server);
  const requestId = `cli-${process.pid}-${Date.now()}`;
  const onSigint = (): void => {
    void core.call('fill.cancel', { requestId }).catch(() => {});
  };
  process.once('SIGINT', onSigint);
  const showProgress = io.stderr.isTTY === true;
  const stopProgress = showProgress
    ? core.onEvent((e) => {
        if (e.type === 'fill.progress' && e.requestId === requestId)
          io.stderr.write(`\rlacuna: filling ${blanks} blank${blanks === 1 ? '' : 's'}, step ${e.step}/${e.steps}`);
      })
    : () => {};
  let result: FillResult;
  try {
    result = await core.call('fill.run', { requestId, text, ...(model !== undefined ? { model } : {}), ...options });
  } finally {
    process.off('SIGINT', onSigint);
    stopProgress();
    if (showProgress) io.stderr.write('\r\x1b[K');
    await core.close().catch(() => {});
  }
  if (options.device !== undefined) {
    const notes = result.deviceNotes ?? [];
    await write(io.stderr, `lacuna: ran on ${result.device}${notes.length ? ` (${notes.join('; ')})` : ''}\n`);
  }
  if (options.temperature !== undefined || options.topP !== undefined || options.unmasking !== undefined) {
    await write(
      io.stderr,
      `lacuna: ${tokenChoice(result.temperature, result.topP ?? 1, result.unmasking ?? 'random')}, ${result.steps} steps, seed ${result.seed}\n`,
    );
  }
  if (options.lengthBias !== undefined) {
    const lengths = (result.alternatives ?? []).map((a) => (a.lengths ?? []).join('/'));
    await write(io.stderr, `lacuna: blank lengths (tokens) ${lengths.join(', ')}\n`);
  }
  if (flags.json) {
    await write(io.stdout, `${JSON.stringify(result, null, 2)}\n`);
  } else if ((result.alternatives?.length ?? 1) > 1) {
    // Several alternatives: each on its own, numbered, separated by a blank line.
    const parts = result.alternatives!.map((a, i) => `--- alternative ${i + 1} ---\n${a.text.endsWith('\n') ? a.text : `${a.text}\n`}`);
    await write(io.stdout, parts.join('\n'));
  } else {
    await write(io.stdout, fromArgument && !result.text.endsWith('\n') ? `${result.text}\n` : result.text);
  }
  return 0;
}

async function score(args: readonly string[], io: Io): Promise<number> {
  const flags = parseFlags(args, { '--model': true, '--file': true, ...optionFlagNames(SCORE_OPTIONS) }, 'score');
  const server = remoteFlag(flags, io);
  const options = parseOptions(SCORE_OPTIONS, flags);
  const { text } = await textOf('score', flags, io);
  if (text.length === 0) throw new CliError('the text is empty');
  const { model, core } = await modelAndCore(flags.values.get('--model'), io, server);
  let result: ScoreResult;
  try {
    result = await core.call('score.run', { text, ...(model !== undefined ? { model } : {}), ...options });
  } finally {
    await core.close().catch(() => {});
  }
  if (flags.json) {
    await write(io.stdout, `${JSON.stringify(result, null, 2)}\n`);
    return 0;
  }
  const lines = [
    `perplexity ≤ ${result.perplexityBound.toPrecision(6)} ` +
      `(${(result.nll / result.tokens).toFixed(4)} ± ${(result.nllStdErr / result.tokens).toFixed(4)} nats/token, ` +
      `${result.tokens} tokens, ${result.draws} draws, seed ${result.seed}, model ${result.model})`,
    'most surprising tokens (nats):',
  ];
  const top = result.perToken
    .map((t, i) => ({ ...t, i }))
    .sort((a, b) => b.nll - a.nll)
    .slice(0, 10);
  for (const t of top) lines.push(`  ${t.nll.toFixed(3).padStart(9)}  ${JSON.stringify(t.text)} at ${t.start}-${t.end}`);
  await write(io.stdout, lines.join('\n') + '\n');
  return 0;
}

async function modelsList(json: boolean, io: Io): Promise<number> {
  const core = await makeCore(io);
  let models: ModelInfo[];
  try {
    models = await core.call('models.list', {});
  } finally {
    await core.close().catch(() => {});
  }
  if (json) {
    await write(io.stdout, `${JSON.stringify(models, null, 2)}\n`);
    return 0;
  }
  if (models.length === 0) {
    await write(io.stdout, `No model packages found in ${core.options.modelDirs.join(' or ')}.\n`);
    return 0;
  }
  const idWidth = Math.max(...models.map((m) => m.id.length));
  const lines = models.map(
    (m) =>
      `${m.isDefault ? '*' : ' '} ${m.id.padEnd(idWidth)}  ${m.name}  (${m.dir})  ` +
      `${tokenChoice(m.defaultTemperature, m.defaultTopP, m.defaultUnmasking)}${m.temperatureSupported ? '' : ' (fixed)'}`,
  );
  await write(io.stdout, `${lines.join('\n')}\n`);
  return 0;
}

async function modelsVerifyOrRemove(sub: 'verify' | 'remove', args: readonly string[], io: Io): Promise<number> {
  const json = args.includes('--json');
  const ids = args.filter((a) => a !== '--json');
  const option = ids.find((a) => a.startsWith('-'));
  if (option !== undefined) throw new UsageError(`models ${sub}: unknown option ${quote(option)}`);
  if (ids.length !== 1) throw new UsageError(`models ${sub}: expected one model id`);
  const core = await makeCore(io);
  try {
    if (sub === 'remove') {
      await core.call('models.remove', { id: ids[0]! });
      await write(io.stdout, json ? `${JSON.stringify({ ok: true })}\n` : `Removed ${ids[0]!}\n`);
      return 0;
    }
    const v = await core.call('models.verify', { id: ids[0]! });
    if (json) await write(io.stdout, `${JSON.stringify(v, null, 2)}\n`);
    else if (v.ok) await write(io.stdout, `${v.id}: every file matches its manifest (${v.bytes} bytes hashed)\n`);
    else await write(io.stdout, `${v.id}: damaged\n${v.problems.map((p) => `  ${p}`).join('\n')}\n`);
    return v.ok ? 0 : 1;
  } finally {
    await core.close().catch(() => {});
  }
}

/** models quantize ID: the int8 copy of an installed fp32 model. */
async function modelsQuantize(args: readonly string[], io: Io): Promise<number> {
  const json = args.includes('--json');
  const ids = args.filter((a) => a !== '--json');
  const option = ids.find((a) => a.startsWith('-'));
  if (option !== undefined) throw new UsageError(`models quantize: unknown option ${quote(option)}`);
  if (ids.length !== 1) throw new UsageError('models quantize: expected one model id');
  const core = await makeCore(io);
  try {
    const info = await core.call('models.quantize', { id: ids[0]! });
    await write(io.stdout, json ? `${JSON.stringify(info, null, 2)}\n` : `Made ${info.id} (${info.name}, ${formatBytes(info.bytes)}) in ${info.dir}\n`);
    return 0;
  } finally {
    await core.close().catch(() => {});
  }
}

/** models export-server ID DIR: the model as a Triton model repository entry, and how to serve it. */
async function modelsExportServer(args: readonly string[], io: Io): Promise<number> {
  const json = args.includes('--json');
  const rest = args.filter((a) => a !== '--json');
  const option = rest.find((a) => a.startsWith('-'));
  if (option !== undefined) throw new UsageError(`models export-server: unknown option ${quote(option)}`);
  if (rest.length !== 2) throw new UsageError('models export-server: expected a model id and a folder (the model repository)');
  const core = await makeCore(io);
  try {
    const out = await core.call('models.exportServer', { id: rest[0]!, dir: resolve(io.cwd, rest[1]!) });
    if (json) {
      await write(io.stdout, `${JSON.stringify(out, null, 2)}\n`);
      return 0;
    }
    const tensors = (list: typeof out.inputs): string => list.map((t) => `${t.name} ${t.type} [${t.dims.join(', ')}]`).join(', ');
    await write(
      io.stdout,
      [
        `Wrote ${out.name} to ${out.dir} (config.pbtxt, 1/model.onnx)`,
        `  inputs: ${tensors(out.inputs)}`,
        `  outputs: ${tensors(out.outputs)}`,
        ...(out.note ? [`  note: ${out.note}`] : []),
        'Serve it with Triton (KServe v2 protocol on port 8000; leave out --gpus=all on a machine without an NVIDIA GPU):',
        `  ${out.command}`,
        'Then fill on it from here (the text around the blanks goes to that server):',
        `  lacuna server set http://SERVER:8000 && lacuna fill --device remote --model ${out.name} "…"`,
        '',
      ].join('\n'),
    );
    return 0;
  } finally {
    await core.close().catch(() => {});
  }
}

/**
 * `lacuna server show|set URL|clear`: the inference server of the remote device
 * (common/inference-server.ts). The token comes from --token-file FILE or LACUNA_SERVER_TOKEN, never
 * the command line (other users can read that); --no-token removes a saved one.
 */
async function serverCommand(args: readonly string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  const noToken = rest.includes('--no-token');
  const more = rest.filter((a) => a !== '--no-token');
  const flags = parseFlags(more, { '--token-file': true, '--timeout': true }, `server ${sub ?? ''}`.trim(), sub === 'set');
  let params: Params<'engine.setServer'> | undefined;
  if (sub === 'set') {
    if (flags.positionals.length !== 1) throw new UsageError('server set: expected the server address (http://host:port or https://host)');
    const file = flags.values.get('--token-file');
    let token: string | null | undefined = noToken ? null : io.env[SERVER_TOKEN_ENV] || undefined;
    if (file !== undefined) {
      if (noToken) throw new UsageError('server set: --token-file and --no-token contradict each other');
      try {
        token = (await readFile(resolve(io.cwd, file), 'utf8')).trim();
      } catch (err) {
        throw new CliError(`cannot read ${file}: ${describeFsError(err)}`);
      }
    }
    const timeout = flags.values.get('--timeout');
    const seconds = timeout === undefined ? undefined : /^\d+$/.test(timeout) ? Number(timeout) : NaN;
    if (seconds !== undefined && !(seconds >= SERVER_TIMEOUT.min && seconds <= SERVER_TIMEOUT.max)) {
      throw new UsageError(`--timeout must be whole seconds from ${SERVER_TIMEOUT.min} to ${SERVER_TIMEOUT.max}, not ${quote(timeout!)}`);
    }
    params = { url: flags.positionals[0]!, ...(token !== undefined ? { token } : {}), ...(seconds !== undefined ? { timeoutSeconds: seconds } : {}) };
  } else if (sub === 'clear') {
    params = { url: null };
  } else if (sub !== 'show') {
    throw new UsageError(sub === undefined ? 'server: missing subcommand (show, set or clear)' : `server: unknown subcommand ${quote(sub)}`);
  }
  if (sub !== 'set' && (flags.values.size || noToken))
    throw new UsageError(`server ${sub}: unknown option ${quote(noToken ? '--no-token' : [...flags.values.keys()][0]!)}`);
  const core = await makeCore(io);
  try {
    const out = params ? await core.call('engine.setServer', params) : await core.call('engine.server', {});
    if (flags.json) {
      await write(io.stdout, `${JSON.stringify(out, null, 2)}\n`);
    } else if (out.url === null) {
      await write(io.stdout, 'No inference server is set: the remote device is off.\n');
    } else {
      await write(
        io.stdout,
        `Inference server: ${out.url} (${out.hasToken ? 'with a token' : 'no token'}, ${out.timeoutSeconds} s per call).\n` +
          'Fills with --device remote send the text around their blanks to it.\n',
      );
    }
    return 0;
  } finally {
    await core.close().catch(() => {});
  }
}

/** `--precision P` (P one of precision.ts PRECISION_IDS) or `--fp16`, and the other arguments. */
function precisionOption(args: readonly string[], command: string): { precision?: PrecisionId; rest: string[] } {
  const rest: string[] = [];
  let precision: PrecisionId | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    let value: string | undefined;
    if (a === '--fp16') value = 'fp16';
    else if (a === '--precision') {
      value = args[++i];
      if (value === undefined) throw new UsageError(`${command}: --precision needs a value (${PRECISION_IDS.join(', ')})`);
    } else if (a.startsWith('--precision=')) value = a.slice('--precision='.length);
    else {
      rest.push(a);
      continue;
    }
    if (!(PRECISION_IDS as readonly string[]).includes(value))
      throw new UsageError(`${command}: --precision must be one of ${PRECISION_IDS.join(', ')} (got ${quote(value)})`);
    if (precision !== undefined && precision !== value) throw new UsageError(`${command}: two different precisions given`);
    precision = value as PrecisionId;
  }
  return { ...(precision ? { precision } : {}), rest };
}

async function modelsImport(args: readonly string[], io: Io): Promise<number> {
  const json = args.includes('--json');
  const { precision: asked, rest } = precisionOption(args, 'models import');
  const dirs = rest.filter((a) => a !== '--json');
  const option = dirs.find((a) => a.startsWith('-'));
  if (option !== undefined) throw new UsageError(`models import: unknown option ${quote(option)}`);
  if (dirs.length !== 1) throw new UsageError('models import: expected one folder (config.json + model.safetensors)');
  const core = await makeCore(io);
  try {
    const precision = asked ?? defaultPrecision(await core.call('engine.devices', {}), false);
    if (!json && io.stderr.isTTY === true)
      await write(io.stderr, `lacuna: importing in ${precision}${precision === 'int8' ? ' (int8 weights for the CPU; this takes a while)' : ''}…\n`);
    const info = await core.call('models.import', { dir: resolve(io.cwd, dirs[0]!), precision });
    await write(io.stdout, json ? `${JSON.stringify(info, null, 2)}\n` : `Imported ${info.id} (${info.name}) into ${info.dir}\n`);
  } finally {
    await core.close().catch(() => {});
  }
  return 0;
}

async function modelsCatalogue(json: boolean, io: Io): Promise<number> {
  const core = await makeCore(io);
  let entries: CatalogueEntry[];
  try {
    entries = await core.call('models.catalogue', {});
  } finally {
    await core.close().catch(() => {});
  }
  if (json) {
    await write(io.stdout, `${JSON.stringify(entries, null, 2)}\n`);
    return 0;
  }
  const blocks = entries.map((e) => {
    const state = e.installed.length
      ? `installed (${e.installed.join(', ')})`
      : e.partial
        ? `partly downloaded (${formatBytes(e.partial.bytesDone)} of ${formatBytes(e.partial.bytesTotal)}): lacuna models pull ${e.id} resumes`
        : `lacuna models pull ${e.id}`;
    return [
      `${e.id}  ${e.name}  — ${state}`,
      `  ${e.description}`,
      `  download: about ${formatBytes(e.downloadBytes)} from ${e.host}/${e.repo}; memory: about ${formatBytes(e.memoryBytes)}`,
      `  speed: ${e.speed}`,
      `  licence: ${e.licence}`,
    ].join('\n');
  });
  await write(io.stdout, `${blocks.join('\n\n')}\n`);
  return 0;
}

/**
 * models pull ID: download and install a catalogue model. The host and size go to stderr before
 * anything is fetched; then a progress bar (redrawn on a terminal, a line per tenth otherwise).
 * Ctrl-C cancels and keeps what was downloaded: the same command resumes.
 */
async function modelsPull(args: readonly string[], io: Io): Promise<number> {
  const json = args.includes('--json');
  const { precision: asked, rest } = precisionOption(args, 'models pull');
  const ids = rest.filter((a) => a !== '--json');
  const option = ids.find((a) => a.startsWith('-'));
  if (option !== undefined) throw new UsageError(`models pull: unknown option ${quote(option)}`);
  if (ids.length !== 1) throw new UsageError('models pull: expected one catalogue id (see lacuna models catalogue)');
  const core = await makeCore(io);
  const requestId = `cli-pull-${process.pid}-${Date.now()}`;
  const onSigint = (): void => {
    void core.call('fill.cancel', { requestId }).catch(() => {});
  };
  const tty = io.stderr.isTTY === true;
  let lastTenth = -1;
  let lastPhase = '';
  const stop = core.onEvent((e) => {
    if (e.type !== 'download.progress' || e.requestId !== requestId) return;
    if (e.phase === 'installing') {
      if (lastPhase !== 'installing') io.stderr.write(`${tty ? '\r\x1b[K' : ''}lacuna: every file verified; installing (converting the weights)…\n`);
    } else if (e.phase === 'downloading') {
      const line = renderProgressBar({
        file: e.file ?? '',
        bytesDone: e.bytesDone,
        bytesTotal: e.bytesTotal,
        bytesPerSecond: e.bytesPerSecond,
        ...(e.secondsLeft !== undefined ? { secondsLeft: e.secondsLeft } : {}),
      });
      const tenth = e.bytesTotal > 0 ? Math.floor((10 * e.bytesDone) / e.bytesTotal) : 0;
      if (tty) io.stderr.write(`\r\x1b[K${line}`);
      else if (tenth > lastTenth) io.stderr.write(`${line}\n`);
      lastTenth = Math.max(lastTenth, tenth);
    }
    lastPhase = e.phase;
  });
  try {
    const entry = (await core.call('models.catalogue', {})).find((c) => c.id === ids[0]);
    const precision = asked ?? defaultPrecision(await core.call('engine.devices', {}));
    const target = packageIdFor(ids[0]!, precision);
    if (entry?.installed.includes(target)) throw new CliError(`${target} is already installed (lacuna models remove ${target} first to download it again)`);
    if (entry) {
      const resume = entry.partial ? `, resuming at ${formatBytes(entry.partial.bytesDone)}` : '';
      await write(
        io.stderr,
        `lacuna: downloading ${entry.name} (about ${formatBytes(entry.downloadBytes)}${resume}) ` +
          `from ${entry.host}/${entry.repo}, to install as ${target} (${precision})\n`,
      );
    }
    process.once('SIGINT', onSigint);
    let info: ModelInfo;
    try {
      info = await core.call('models.download', { requestId, id: ids[0]!, precision });
    } catch (err) {
      if (err instanceof ApiError && err.code === 'cancelled') {
        throw new CliError(`cancelled; run lacuna models pull ${ids[0]!} again to resume`, 130);
      }
      throw err;
    }
    await write(io.stdout, json ? `${JSON.stringify(info, null, 2)}\n` : `Installed ${info.id} (${info.name}, ${formatBytes(info.bytes)}) into ${info.dir}\n`);
  } finally {
    process.off('SIGINT', onSigint);
    stop();
    if (tty && lastPhase === 'downloading') io.stderr.write('\r\x1b[K');
    await core.close().catch(() => {});
  }
  return 0;
}

async function docsList(json: boolean, io: Io): Promise<number> {
  const core = await makeCore(io);
  try {
    const docs = await core.call('documents.list', {});
    if (json) {
      await write(io.stdout, `${JSON.stringify(docs, null, 2)}\n`);
    } else if (docs.length === 0) {
      await write(io.stdout, `No documents in ${core.options.dataDir}.\n`);
    } else {
      const lines = docs.map((d) => {
        const when = new Date(d.updatedAt).toISOString().replace('T', ' ').slice(0, 16);
        return `${d.id}  ${when}  ${oneLine(d.title) || '(untitled)'}${d.preview ? ` — ${d.preview}` : ''}`;
      });
      await write(io.stdout, `${lines.join('\n')}\n`);
    }
  } finally {
    await core.close().catch(() => {});
  }
  return 0;
}

// ---- docs show/export/import, backup, restore ------------------------------------------------

/** `lacuna docs show|export|import …` (docs list is above). */
async function docsCommand(args: readonly string[], io: Io): Promise<number> {
  const [sub, ...more] = args;
  if (sub === 'show') {
    const flags = parseFlags(more, { '--blanks': true }, 'docs show', true);
    const id = onePositional(flags, 'docs show', 'a document id (see lacuna docs list)');
    const blanks = parseBlanksAs(flags.values.get('--blanks'), 'docs show');
    if (flags.json && blanks !== undefined) throw new UsageError('docs show: --json prints the stored document; --blanks does not apply');
    return withCore(io, async (core) => {
      const doc = await core.call('documents.open', { id });
      await write(io.stdout, flags.json ? `${JSON.stringify(doc, null, 2)}\n` : shownMarkdown(doc.body, doc.richText, blanks));
    });
  }
  if (sub === 'export') {
    const flags = parseFlags(more, { '--format': true, '--out': true, '--blanks': true }, 'docs export', true);
    if (flags.json) throw new UsageError('docs export: unknown option "--json"');
    const id = onePositional(flags, 'docs export', 'a document id (see lacuna docs list)');
    const format = parseFormat(flags.values.get('--format')) ?? 'md';
    const blanks = parseBlanksAs(flags.values.get('--blanks'), 'docs export');
    const out = flags.values.get('--out');
    return withCore(io, async (core) => {
      const exported = await core.call('documents.export', { id, format, ...(blanks ? { blanks } : {}) });
      if (out === undefined || out === '-') {
        await write(io.stdout, exported.text);
        return;
      }
      const target = resolve(io.cwd, out);
      try {
        await writeFile(target, exported.text, 'utf8');
      } catch (err) {
        throw new CliError(`cannot write ${out}: ${describeFsError(err)}`);
      }
      await write(io.stdout, `Exported ${id} to ${target}\n`);
    });
  }
  if (sub === 'import') {
    const flags = parseFlags(more, { '--format': true, '--title': true }, 'docs import', true);
    const file = onePositional(flags, 'docs import', 'a file (.md or .txt)');
    const format = parseFormat(flags.values.get('--format')) ?? (/\.(md|markdown)$/i.test(file) ? 'md' : 'txt');
    const title = flags.values.get('--title');
    let bytes: Buffer;
    try {
      bytes = await readFile(resolve(io.cwd, file));
    } catch (err) {
      throw new CliError(`cannot read ${file}: ${describeFsError(err)}`);
    }
    let text: string;
    try {
      // ignoreBOM: keep a BOM in the text, so the import (which strips one) sees the file as it is.
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
    } catch {
      throw new CliError(`${file} is not UTF-8 text`);
    }
    return withCore(io, async (core) => {
      const doc = await core.call('documents.import', { text, format, ...(title !== undefined ? { title } : {}) });
      await write(io.stdout, flags.json ? `${JSON.stringify(doc, null, 2)}\n` : `${doc.id}  ${oneLine(doc.title)}\n`);
    });
  }
  throw new UsageError(`docs: unknown subcommand ${quote(sub!)} (list, show, export, import)`);
}

async function backup(args: readonly string[], io: Io): Promise<number> {
  const flags = parseFlags(args, {}, 'backup', true);
  const file = onePositional(flags, 'backup', 'the backup file to write');
  return withCore(io, async (core) => {
    const r = await core.call('library.backup', { file: resolve(io.cwd, file) });
    await write(
      io.stdout,
      flags.json ? `${JSON.stringify(r, null, 2)}\n` : `Backed up ${r.documents} document${r.documents === 1 ? '' : 's'} to ${r.file} (${r.bytes} bytes)\n`,
    );
  });
}

/**
 * Restore runs here, in the CLI process, without a core: it swaps the library file, so no
 * connection to it may be open — not this process's, and not the desktop app's (refused).
 */
async function restore(args: readonly string[], io: Io): Promise<number> {
  const flags = parseFlags(args, {}, 'restore', true);
  const file = onePositional(flags, 'restore', 'the backup file to restore');
  const r = restoreLibrary(defaultDataDir(io.env), resolve(io.cwd, file));
  const kept = r.previous ? `; the previous library was kept as ${r.previous}` : '';
  await write(
    io.stdout,
    flags.json ? `${JSON.stringify(r, null, 2)}\n` : `Restored ${r.documents} document${r.documents === 1 ? '' : 's'} from ${r.file}${kept}\n`,
  );
  return 0;
}

function onePositional(flags: Flags, where: string, what: string): string {
  if (flags.positionals.length === 0) throw new UsageError(`${where}: missing argument: ${what}`);
  if (flags.positionals.length > 1) throw new UsageError(`${where}: unexpected argument ${quote(flags.positionals[1]!)}`);
  return flags.positionals[0]!;
}

function parseBlanksAs(raw: string | undefined, where: string): BlanksAs | undefined {
  if (raw === undefined || raw === 'shown' || raw === 'keep') return raw;
  throw new UsageError(`${where}: --blanks must be shown or keep, not ${quote(raw)}`);
}

function parseFormat(raw: string | undefined): 'md' | 'txt' | undefined {
  if (raw === undefined || raw === 'md' || raw === 'txt') return raw;
  throw new UsageError(`--format must be md or txt, not ${quote(raw)}`);
}

async function withCore(io: Io, fn: (core: Core) => Promise<void>): Promise<number> {
  const core = await makeCore(io);
  try {
    await fn(core);
  } finally {
    await core.close().catch(() => {});
  }
  return 0;
}

/**
 * The CLI runs the engine in-process (Engine), not in a child process (EngineClient): a one-shot
 * command has no UI or server to keep responsive while the network runs, so a second process
 * would only add its start-up time and an IPC hop, and a crash takes down a process that was about
 * to exit anyway. The list commands never fill; they get the core's default engine, which starts
 * no process until a fill, so they never load onnxruntime either.
 */
async function makeCore(io: Io, forFill?: { modelPackage: string | undefined; server?: RemoteServer | undefined }): Promise<Core> {
  if (!forFill) return speakingCore(createNodeCore('cli', { env: io.env }));
  const { Engine } = await import('../engine/engine');
  return speakingCore(
    createNodeCore('cli', {
      engine: new Engine(),
      env: io.env,
      ...(forFill.modelPackage !== undefined ? { modelPackages: [forFill.modelPackage] } : {}),
      ...(forFill.server ? { inferenceServer: forFill.server } : {}),
    }),
  );
}

function looksLikePath(value: string, cwd: string): boolean {
  if (/[/\\]/.test(value) || value.startsWith('.') || value.startsWith('~')) return true;
  // A bare name that happens to be a folder here is a folder; otherwise it is an id.
  try {
    return statSync(resolve(cwd, value)).isDirectory();
  } catch {
    return false;
  }
}

/** The package's ModelInfo, or a CliError saying what is wrong with the folder. */
async function checkModelDir(dir: string): Promise<ModelInfo> {
  let info;
  try {
    info = await stat(dir);
  } catch (err) {
    throw new CliError(`model folder ${dir} not found: ${describeFsError(err)}`);
  }
  if (!info.isDirectory()) throw new CliError(`${dir} is not a folder; --model takes a model package folder or a model id`);
  try {
    await stat(resolve(dir, 'manifest.json'));
  } catch {
    throw new CliError(`${dir} is not a model package (it has no manifest.json)`);
  }
  try {
    return ModelInfoSchema.parse(await readModelInfo(dir));
  } catch (err) {
    throw new CliError(err instanceof ApiError ? err.message : `${dir} is not a usable model package: ${String(err)}`);
  }
}

function readStdin(stdin: NodeJS.ReadStream): Promise<string> {
  return new Promise((done, fail) => {
    const chunks: Buffer[] = [];
    stdin.on('data', (c: Buffer | string) => chunks.push(typeof c === 'string' ? Buffer.from(c) : c));
    stdin.on('end', () => done(Buffer.concat(chunks).toString('utf8')));
    stdin.on('error', (err) => fail(new CliError(`cannot read stdin: ${err.message}`)));
  });
}

function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case 'ENOENT':
      return 'no such file or folder';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a folder';
    default:
      return e instanceof Error ? e.message : String(err);
  }
}

function oneLine(s: string): string {
  return s.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

function quote(s: string): string {
  return JSON.stringify(s);
}

/** Write and wait until the data is handed to the OS, so exiting right after loses nothing. */
function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  return new Promise((done) => {
    stream.write(text, () => done());
  });
}

function defaultIo(): Io {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, cwd: process.cwd() };
}

// `node out/main/cli.js …` runs the CLI directly; bin/lacuna.js imports this module and calls main().
function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  void main().then((code) => process.exit(code));
}
