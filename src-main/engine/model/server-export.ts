/**
 * An installed model as a Triton model repository (issue 19, "export for a server"): for NVIDIA
 * Triton's ONNX Runtime backend, which speaks the KServe v2 / Open Inference Protocol, as KServe
 * and Seldon MLServer do.
 *
 *   DIR/<name>/config.pbtxt     name, backend "onnxruntime", max_batch_size 0 (the graph's own
 *                               batch axis is dynamic: Triton passes shapes through), every input
 *                               and output with its type and dims (-1 where the graph's axis is
 *                               dynamic: batch, length, count); no instance_group, so the server
 *                               picks GPU or CPU instances itself
 *   DIR/<name>/1/model.onnx     the package's network, and its external weights file next to it
 *
 * The inputs and outputs are read from the graph itself (onnx-proto.ts), not assumed, so packages of
 * either network I/O (models/FORMAT.md) export as they are. Nothing is written unless the whole
 * repository entry is: it is put together in a hidden folder and renamed into place.
 */
import { copyFile, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ApiError } from '../../common/api';
import { GRAPH, MODEL, ProtoError, firstInt, firstString, readFields, type Field } from './onnx-proto';
import { readModelPackage, verifyModelFiles } from './package';

/** The container the printed command runs (Triton's release with the ONNX Runtime backend). */
export const TRITON_IMAGE = 'nvcr.io/nvidia/tritonserver:24.12-py3';

/** ONNX TensorProto element types → Triton's config types. */
const TRITON_TYPES: Record<number, string> = {
  1: 'TYPE_FP32',
  2: 'TYPE_UINT8',
  3: 'TYPE_INT8',
  6: 'TYPE_INT32',
  7: 'TYPE_INT64',
  9: 'TYPE_BOOL',
  10: 'TYPE_FP16',
  11: 'TYPE_FP64',
};

export interface TensorSignature {
  name: string;
  /** Triton's type name (TYPE_FP32, TYPE_INT64, …). */
  type: string;
  /** Dimensions; -1 where the axis is dynamic (a named or absent size). */
  dims: number[];
}

export interface ServerExport {
  /** The model's folder in the repository. */
  dir: string;
  /** Its name on the server (the package id). */
  name: string;
  inputs: TensorSignature[];
  outputs: TensorSignature[];
  /** The command that serves the repository with Triton's container. */
  command: string;
  /** Something the writer should know (an int8 package runs on the server's CPU). */
  note?: string;
}

/** A package's model name on an inference server (the repository folder; the remote device asks for it). */
export function serverModelName(m: { id: string }): string {
  return m.id;
}

/** The graph's inputs (initializers excluded) and outputs with types and dims. */
export function graphSignature(model: Uint8Array): { inputs: TensorSignature[]; outputs: TensorSignature[] } {
  const fields = readFields(model);
  const graphField = fields.find((f) => f.no === MODEL.graph);
  if (!graphField) throw new ProtoError('the model has no graph');
  const graph = readFields(graphField.value as Uint8Array);
  const inits = new Set(graph.filter((f) => f.no === GRAPH.initializer).map((f) => firstString(readFields(f.value as Uint8Array), 8)));
  const valueInfo = (f: Field): TensorSignature => {
    const v = readFields(f.value as Uint8Array);
    const name = firstString(v, 1);
    const type = v.find((x) => x.no === 2);
    const tensor = type ? readFields(type.value as Uint8Array).find((x) => x.no === 1) : undefined;
    if (!tensor) throw new ProtoError(`${name}: not a tensor`);
    const t = readFields(tensor.value as Uint8Array);
    const elem = Number(firstInt(t, 1) ?? 0n);
    const shape = t.find((x) => x.no === 2);
    const dims = shape
      ? readFields(shape.value as Uint8Array)
          .filter((x) => x.no === 1)
          .map((d) => {
            const dim = readFields(d.value as Uint8Array);
            const value = firstInt(dim, 1);
            return value !== undefined ? Number(value) : -1;
          })
      : [];
    const tritonType = TRITON_TYPES[elem];
    if (!tritonType) throw new ProtoError(`${name}: element type ${elem} has no Triton type`);
    return { name, type: tritonType, dims };
  };
  return {
    inputs: graph
      .filter((f) => f.no === 11)
      .map(valueInfo)
      .filter((s) => !inits.has(s.name)),
    outputs: graph.filter((f) => f.no === GRAPH.output).map(valueInfo),
  };
}

/** Triton's config.pbtxt for these inputs and outputs. */
export function tritonConfig(name: string, inputs: readonly TensorSignature[], outputs: readonly TensorSignature[]): string {
  const block = (s: TensorSignature): string => `  {\n    name: "${s.name}"\n    data_type: ${s.type}\n    dims: [ ${s.dims.join(', ')} ]\n  }`;
  return [
    `name: "${name}"`,
    'backend: "onnxruntime"',
    '# The graph has its own dynamic batch axis; Triton passes shapes through unchanged.',
    'max_batch_size: 0',
    `input [\n${inputs.map(block).join(',\n')}\n]`,
    `output [\n${outputs.map(block).join(',\n')}\n]`,
    '',
  ].join('\n');
}

/**
 * Write `<repository>/<package id>/` for the installed package in `pkgDir` (its files verified
 * first). ApiError('conflict') when the repository already has a model of that name.
 */
export async function exportForServer(pkgDir: string, repository: string): Promise<ServerExport> {
  const pkg = await readModelPackage(pkgDir);
  await verifyModelFiles(pkg);
  const m = pkg.manifest;
  const repo = resolve(repository);
  await mkdir(repo, { recursive: true });
  const name = serverModelName(m);
  const dest = join(repo, name);
  if (await stat(dest).catch(() => null)) throw new ApiError('conflict', `${dest} already exists; remove it or choose another folder`);
  let signature: ReturnType<typeof graphSignature>;
  try {
    signature = graphSignature(await readFile(pkg.networkPath));
  } catch (e) {
    if (e instanceof ProtoError) throw new ApiError('model_error', `${m.id}: cannot read its network's inputs and outputs: ${e.message}`);
    throw e;
  }
  const tmp = await mkdtemp(join(repo, `.export-${m.id}-`));
  try {
    await mkdir(join(tmp, '1'));
    // The graph and every file beside it that is not the tokenizer (the external weights).
    for (const file of Object.keys(m.files)) {
      if (file === m.tokenizer.file) continue;
      await copyFile(join(pkg.dir, file), join(tmp, '1', file === m.network.file ? 'model.onnx' : file));
    }
    await writeFile(join(tmp, 'config.pbtxt'), tritonConfig(name, signature.inputs, signature.outputs));
    try {
      await rename(tmp, dest);
    } catch (e) {
      // Another export of the same model into the same folder finished first.
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' || code === 'ENOTEMPTY') throw new ApiError('conflict', `${dest} already exists; remove it or choose another folder`);
      throw e;
    }
  } catch (e) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw e;
  }
  const command = `docker run --rm --gpus=all -p 8000:8000 -v ${JSON.stringify(repo)}:/models ${TRITON_IMAGE} tritonserver --model-repository=/models`;
  return {
    dir: dest,
    name,
    ...signature,
    command,
    ...(m.precision === 'int8'
      ? { note: 'this package has int8 weights for the CPU: a GPU server runs its int8 products on its CPU; export the fp32 or fp16 package for a GPU' }
      : {}),
  };
}
