/**
 * Int8 weights for the CPU, made in TypeScript (no Python): rewrite a float32 ONNX score network
 * so that its large matrix multiplications run as onnxruntime's `DynamicQuantizeMatMul`
 * (com.microsoft) — the scheme of onnxruntime's dynamic quantiser, per output channel:
 *
 *   weights   W [K, N] → q [K, N] int8 and a scale s [N]: s_n = max_k |W_kn| / Q, q_kn = round(W_kn / s_n),
 *             symmetric (zero point 0), Q = 127;
 *   inputs    quantised on the fly, per tensor, to uint8 with a scale and zero point from their
 *             range (onnxruntime does this inside the operator at every call);
 *   product   accumulated in int32 and rescaled to float32, plus the float32 bias.
 *
 * docs/sedd.md §8 derives the error this adds. Which products: every `MatMul(A, W)` and
 * `Gemm(A, W, C)` whose weight is a float32 initializer (directly, or through a `Transpose` as
 * torch exports `nn.Linear`) with both dimensions ≥ MIN_DIMENSION — the attention, MLP and output
 * projections applied at every token. The conditioning MLPs (σ embedding, adaLN modulation, whose
 * inner dimension is cond_dim = 128) and the embedding table stay float32: they are a small share
 * of the work and their outputs scale every activation.
 *
 * Q = 127 needs a CPU whose int8 dot product cannot saturate: x86 with VNNI (AVX512-VNNI /
 * AVX-VNNI) or ARM. On x86 CPUs without VNNI onnxruntime's u8×s8 kernel (VPMADDUBSW) adds pairs of
 * products in 16 bits, which overflows for |q| > 64 (255·127·2 > 32767); there the weights use
 * Q = 63 ("reduced range", as onnxruntime's quantiser recommends), one bit less precision
 * (measured in docs/cpu-speed.md).
 *
 * Every field the rewrite does not touch is copied unchanged (onnx-proto.ts). Weights stored as
 * external data are copied into the new weights file, those of a page or more at 4096-byte-aligned
 * offsets (so onnxruntime can memory-map them); inline weights stay inline.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, open, readFile, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiError } from '../../common/api';
import { readModelPackage, verifyModelFiles } from './package';
import {
  ATTRIBUTE,
  DATA_TYPE,
  GRAPH,
  MODEL,
  NODE,
  ProtoError,
  bytesField,
  elementBytes,
  intField,
  makeNode,
  makeTensor,
  nodeAttributes,
  readFields,
  readNode,
  readTensor,
  stringField,
  writeFields,
  type Field,
  type OnnxNode,
  type OnnxTensor,
  type TensorData,
} from './onnx-proto';

/** Products with a dimension under this stay float32 (cond_dim-sized conditioning layers). */
export const MIN_DIMENSION = 256;
/** Alignment of tensors of a page or more in the written weights file (memory-mappable); smaller ones: SMALL_ALIGNMENT. */
export const WEIGHTS_ALIGNMENT = 4096;
export const SMALL_ALIGNMENT = 64;
export const QUANTIZED_OP = 'DynamicQuantizeMatMul';
export const MS_DOMAIN = 'com.microsoft';

export interface QuantizeOptions {
  /** Largest |q|: 127 (full int8) or 63 (reduced range, for x86 without VNNI). Default: weightRangeForThisCpu(). */
  qmax?: 127 | 63;
  /** Products with a dimension under this stay float32. Default MIN_DIMENSION. */
  minDimension?: number;
  /** Fuse the GELU chains into FastGelu and bias adds into the products (default true). */
  fuse?: boolean;
  /** Quantise the products (default true); false with `fuse` only fuses (tests: the fusion alone keeps fp32 parity). */
  quantize?: boolean;
}

export interface QuantizeResult {
  /** Products rewritten to DynamicQuantizeMatMul. */
  matrices: number;
  /** Weights quantised (elements). */
  quantizedElements: number;
  qmax: 127 | 63;
  /** The written files: the graph and, when the source kept its weights outside, the weights file. */
  files: Record<string, { bytes: number; sha256: string }>;
}

/**
 * Whether this CPU's int8 dot products are exact at full range (x86 with VNNI, or not x86): 127,
 * else 63. Read from /proc/cpuinfo on Linux; elsewhere x86 is assumed to lack VNNI (63, safe).
 */
export function weightRangeForThisCpu(arch: string = process.arch, cpuinfo?: string): 127 | 63 {
  if (arch !== 'x64' && arch !== 'ia32') return 127;
  let info = cpuinfo;
  if (info === undefined) {
    try {
      info = readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      return 63;
    }
  }
  const flags = /^flags\s*:(.*)$/m.exec(info)?.[1]?.split(/\s+/) ?? [];
  return flags.includes('avx512_vnni') || flags.includes('avx_vnni') ? 127 : 63;
}

/**
 * Why this CPU cannot run an int8 package made with full-range weights (|q| ≤ 127: its 8-bit dot
 * products would saturate without VNNI), or undefined when it can (or the package is not int8).
 */
export function int8Problem(m: { id: string; int8_range?: 127 | 63 | undefined }, cpuRange: 127 | 63 = weightRangeForThisCpu()): string | undefined {
  if (m.int8_range !== 127 || cpuRange === 127) return undefined;
  return (
    `${m.id} was made with full-range int8 weights on a computer whose CPU has VNNI; this CPU has none, and its int8 products ` +
    `would overflow: make the int8 copy again on this computer (remove ${m.id}, then Models → Make an int8 copy, or lacuna models quantize)`
  );
}

/** Per-output-channel symmetric int8 of W viewed as [K, N] (`transposed`: W is stored [N, K]). */
export function quantizeMatrix(w: Float32Array, k: number, n: number, transposed: boolean, qmax: number): { q: Int8Array; scale: Float32Array } {
  if (w.length !== k * n) throw new ProtoError(`matrix of ${w.length} values is not ${k} × ${n}`);
  const scale = new Float32Array(n);
  const q = new Int8Array(k * n);
  const at = transposed ? (kk: number, nn: number) => nn * k + kk : (kk: number, nn: number) => kk * n + nn;
  for (let c = 0; c < n; c++) {
    let m = 0;
    for (let r = 0; r < k; r++) {
      const v = Math.abs(w[at(r, c)]!);
      if (v > m) m = v;
      else if (v !== v) throw new ProtoError('the weights hold NaN');
    }
    if (!Number.isFinite(m)) throw new ProtoError('the weights hold an infinite value');
    const s = m > 0 ? m / qmax : 1;
    scale[c] = s;
    const inv = 1 / Math.fround(s);
    for (let r = 0; r < k; r++) {
      const x = w[at(r, c)]! * inv;
      const rounded = Math.sign(x) * Math.round(Math.abs(x));
      q[r * n + c] = Math.max(-qmax, Math.min(qmax, rounded));
    }
  }
  return { q, scale };
}

/** One quantised weight: the float32 initializer it comes from and the names of its int8 copy and scales. */
interface Source {
  tensor: OnnxTensor;
  transposed: boolean;
  k: number;
  n: number;
  q: string;
  scale: string;
}

interface WeightRef {
  tensor: OnnxTensor;
  /** The initializer is [N, K] (Gemm transB = 1, or MatMul through a Transpose). */
  transposed: boolean;
}

const decode = (f: Field): string => new TextDecoder().decode(f.value as Uint8Array);

function newNode(opType: string, domain: string, inputs: readonly string[], outputs: readonly string[]): OnnxNode {
  return { fields: makeNode(opType, domain, inputs, outputs, `${outputs[0]}.${opType}`), opType, domain, inputs: [...inputs], outputs: [...outputs] };
}

/** A float32 bias of n values. */
function isBias(t: OnnxTensor | undefined, n: number): boolean {
  return !!t && t.dataType === DATA_TYPE.float && t.dims.length === 1 && t.dims[0] === n;
}

/** The value of a one-element float32 constant (a Constant node's `value`, or an initializer), else undefined. */
function scalarOf(name: string, producer: ReadonlyMap<string, OnnxNode>, inits: ReadonlyMap<string, OnnxTensor>): number | undefined {
  let t = inits.get(name);
  const p = producer.get(name);
  if (!t && p?.opType === 'Constant' && p.domain === '') {
    for (const f of p.fields) {
      if (f.no !== NODE.attribute) continue;
      const a = readFields(f.value as Uint8Array);
      const tensor = a.find((x) => x.no === ATTRIBUTE.t);
      if (tensor && a.some((x) => x.no === ATTRIBUTE.name && decode(x) === 'value')) t = readTensor(tensor.value as Uint8Array);
    }
  }
  if (!t || t.dataType !== DATA_TYPE.float || t.dims.reduce((a, b) => a * b, 1) !== 1 || t.data.kind !== 'inline' || t.data.bytes.length !== 4)
    return undefined;
  return new DataView(t.data.bytes.buffer, t.data.bytes.byteOffset, 4).getFloat32(0, true);
}

function usesOf(nodes: readonly OnnxNode[]): Map<string, OnnxNode[]> {
  const uses = new Map<string, OnnxNode[]>();
  for (const n of nodes) for (const x of n.inputs) if (x) uses.set(x, [...(uses.get(x) ?? []), n]);
  return uses;
}

/**
 * The tanh GELU as torch 1.13 exports it — out = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x·x·x))), nine
 * element-wise nodes — becomes one com.microsoft `FastGelu` (the same formula in one pass over the
 * [L, 4H] activations); a bias added to x just before (the MLP's first Linear) goes into it too.
 */
export function fuseGelu(nodes: readonly OnnxNode[], inits: ReadonlyMap<string, OnnxTensor>): OnnxNode[] {
  const producer = new Map<string, OnnxNode>();
  for (const n of nodes) for (const o of n.outputs) producer.set(o, n);
  const uses = usesOf(nodes);
  const scalar = (name: string | undefined): number | undefined => (name === undefined ? undefined : scalarOf(name, producer, inits));
  const near = (v: number | undefined, want: number): boolean => v !== undefined && Math.abs(v - want) <= 1e-6 * Math.abs(want);
  const binary = (n: OnnxNode | undefined, op: string): n is OnnxNode => !!n && n.domain === '' && n.opType === op && n.inputs.length === 2;
  /** The input of a binary node that is not `name` (or the scalar constant's partner). */
  const partnerOfScalar = (n: OnnxNode, want: number): string | undefined =>
    near(scalar(n.inputs[0]), want) ? n.inputs[1] : near(scalar(n.inputs[1]), want) ? n.inputs[0] : undefined;
  const soleUse = (name: string): OnnxNode | undefined => {
    const u = uses.get(name) ?? [];
    return u.length === 1 ? u[0] : undefined;
  };

  const dropped = new Set<OnnxNode>();
  const replacement = new Map<OnnxNode, OnnxNode>();
  for (const g of nodes) {
    if (g.opType !== 'Tanh' || g.domain !== '') continue;
    const f = producer.get(g.inputs[0]!);
    if (!binary(f, 'Mul')) continue;
    const e = producer.get(partnerOfScalar(f, Math.sqrt(2 / Math.PI)) ?? '');
    if (!binary(e, 'Add')) continue;
    let x: string | undefined;
    let chain: OnnxNode[] | undefined;
    for (const [xi, di] of [
      [e.inputs[0]!, e.inputs[1]!],
      [e.inputs[1]!, e.inputs[0]!],
    ] as const) {
      const d = producer.get(di);
      if (!binary(d, 'Mul')) continue;
      const b = producer.get(partnerOfScalar(d, 0.044715) ?? '');
      if (!binary(b, 'Mul') || !b.inputs.includes(xi)) continue;
      const a = producer.get(b.inputs[0] === xi ? b.inputs[1]! : b.inputs[0]!);
      if (!binary(a, 'Mul') || a.inputs[0] !== xi || a.inputs[1] !== xi) continue;
      x = xi;
      chain = [a, b, d];
    }
    if (!x || !chain) continue;
    const h = soleUse(g.outputs[0]!);
    if (!binary(h, 'Add') || partnerOfScalar(h, 1) !== g.outputs[0]) continue;
    const k = soleUse(h.outputs[0]!);
    if (!binary(k, 'Mul') || !(k.inputs.includes(x) && k.inputs.includes(h.outputs[0]!))) continue;
    const out = soleUse(k.outputs[0]!);
    if (!binary(out, 'Mul') || partnerOfScalar(out, 0.5) !== k.outputs[0]) continue;
    const inner = [...chain, e, f, g, h, k];
    // Every intermediate value is read inside the chain only.
    if (!inner.every((n) => n.outputs.length === 1 && (uses.get(n.outputs[0]!) ?? []).every((u) => inner.includes(u) || u === out))) continue;
    // The bias of the Linear before, when x is only read by the GELU.
    const add = producer.get(x);
    let inputs = [x];
    if (binary(add, 'Add') && (uses.get(x) ?? []).every((u) => inner.includes(u))) {
      const [p, q] = add.inputs as [string, string];
      const bias = isBias(inits.get(p), inits.get(p)?.dims[0] ?? -1) ? p : isBias(inits.get(q), inits.get(q)?.dims[0] ?? -1) ? q : undefined;
      if (bias) {
        inputs = [bias === p ? q : p, bias];
        dropped.add(add);
      }
    }
    for (const n of inner) dropped.add(n);
    replacement.set(out, newNode('FastGelu', MS_DOMAIN, inputs, out.outputs));
  }
  return nodes.filter((n) => !dropped.has(n)).map((n) => replacement.get(n) ?? n);
}

/** A quantised product whose output only feeds `Add(·, bias)` takes the bias as its own fifth input. */
function foldBiasAdds(nodes: readonly OnnxNode[], inits: ReadonlyMap<string, OnnxTensor>, columns: (q: string) => number | undefined): OnnxNode[] {
  const uses = usesOf(nodes);
  const dropped = new Set<OnnxNode>();
  const replacement = new Map<OnnxNode, OnnxNode>();
  for (const n of nodes) {
    if (n.opType !== QUANTIZED_OP || n.domain !== MS_DOMAIN || n.inputs.length !== 3) continue;
    const u = uses.get(n.outputs[0]!) ?? [];
    const add = u[0];
    if (u.length !== 1 || add?.opType !== 'Add' || add.domain !== '' || add.inputs.length !== 2) continue;
    const bias = add.inputs[0] === n.outputs[0] ? add.inputs[1]! : add.inputs[0]!;
    if (!isBias(inits.get(bias), columns(n.inputs[1]!) ?? -1)) continue;
    dropped.add(add);
    replacement.set(n, newNode(QUANTIZED_OP, MS_DOMAIN, [...n.inputs, '', bias], add.outputs));
  }
  return nodes.filter((n) => !dropped.has(n)).map((n) => replacement.get(n) ?? n);
}

/** The nodes some output of the graph still depends on (a node list in topological order). */
function withoutDeadNodes(nodes: readonly OnnxNode[], graphOutputs: ReadonlySet<string>): OnnxNode[] {
  for (const n of nodes) if (['If', 'Loop', 'Scan'].includes(n.opType)) throw new ProtoError(`graphs with control flow (${n.opType}) are not supported`);
  const live = new Set(graphOutputs);
  const kept: OnnxNode[] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i]!;
    if (!n.outputs.some((o) => live.has(o))) continue;
    kept.push(n);
    for (const x of n.inputs) live.add(x);
  }
  return kept.reverse();
}

/**
 * Read a float32 ONNX model (`modelPath`, with external data relative to its folder) and write its
 * int8 rewrite to `outModel` (+ `outWeights`, a file name in the same folder as outModel, when the
 * source's weights are external). Throws ProtoError for a graph it cannot read.
 */
export async function quantizeOnnx(
  modelPath: string,
  outDir: string,
  names: { model: string; weights: string },
  options: QuantizeOptions = {},
): Promise<QuantizeResult> {
  const qmax = options.qmax ?? weightRangeForThisCpu();
  const minDimension = options.minDimension ?? MIN_DIMENSION;
  const srcDir = join(modelPath, '..');
  const modelFields = readFields(await readFile(modelPath));
  const graphIndex = modelFields.findIndex((f) => f.no === MODEL.graph);
  if (graphIndex < 0) throw new ProtoError('the model has no graph');
  const graphFields = readFields(modelFields[graphIndex]!.value as Uint8Array);

  const nodes: OnnxNode[] = [];
  const inits = new Map<string, OnnxTensor>();
  for (const f of graphFields) {
    if (f.no === GRAPH.node) nodes.push(readNode(f.value as Uint8Array));
    else if (f.no === GRAPH.initializer) {
      const t = readTensor(f.value as Uint8Array);
      inits.set(t.name, t);
    }
  }
  const producer = new Map<string, OnnxNode>();
  for (const n of nodes) for (const o of n.outputs) producer.set(o, n);

  const floatInit = (name: string): OnnxTensor | undefined => {
    const t = inits.get(name);
    return t && t.dataType === DATA_TYPE.float && t.dims.length === 2 ? t : undefined;
  };
  const weightOf = (name: string): WeightRef | undefined => {
    const direct = floatInit(name);
    if (direct) return { tensor: direct, transposed: false };
    const p = producer.get(name);
    if (p?.opType !== 'Transpose' || p.domain !== '') return undefined;
    const perm = nodeAttributes(p).get('perm')?.ints;
    if (perm && !(perm.length === 2 && perm[0] === 1n && perm[1] === 0n)) return undefined;
    const t = floatInit(p.inputs[0]!);
    return t ? { tensor: t, transposed: true } : undefined;
  };

  // The rewrite, on the node list: GELU chains fused, products quantised, bias adds folded in, then
  // every node whose outputs nothing reads any more dropped (the weights' Transposes, constants).
  let list = options.fuse === false ? nodes : fuseGelu(nodes, inits);
  const sources = new Map<string, Source>();
  let matrices = 0;
  list = list.map((node) => {
    if (options.quantize === false || node.domain !== '' || (node.opType !== 'MatMul' && node.opType !== 'Gemm') || node.inputs.length < 2) return node;
    let ref: WeightRef | undefined;
    let bias = '';
    if (node.opType === 'MatMul') {
      ref = weightOf(node.inputs[1]!);
    } else {
      const a = nodeAttributes(node);
      const num = (k: string, d: number): number => Number(a.get(k)?.i ?? d);
      const real = (k: string): number => a.get(k)?.f ?? 1;
      if (num('transA', 0) !== 0 || real('alpha') !== 1 || real('beta') !== 1) return node;
      const t = floatInit(node.inputs[1]!);
      if (!t) return node;
      ref = { tensor: t, transposed: num('transB', 0) === 1 };
      bias = node.inputs[2] ?? '';
      if (bias && !isBias(inits.get(bias), ref.transposed ? t.dims[0]! : t.dims[1]!)) return node;
    }
    if (!ref) return node;
    const [d0, d1] = ref.tensor.dims as [number, number];
    const [k, n] = ref.transposed ? [d1, d0] : [d0, d1];
    if (k < minDimension || n < minDimension) return node;
    const key = `${ref.tensor.name}\u0000${ref.transposed ? 'T' : ''}`;
    let s = sources.get(key);
    if (!s) {
      const base = `${ref.tensor.name}${ref.transposed ? '.T' : ''}`;
      s = { tensor: ref.tensor, transposed: ref.transposed, k, n, q: `${base}.int8`, scale: `${base}.scale` };
      sources.set(key, s);
    }
    matrices++;
    return newNode(QUANTIZED_OP, MS_DOMAIN, bias ? [node.inputs[0]!, s.q, s.scale, '', bias] : [node.inputs[0]!, s.q, s.scale], node.outputs);
  });
  if (!matrices && options.quantize !== false)
    throw new ProtoError(`no matrix product with a float32 weight of at least ${minDimension} × ${minDimension} to quantise`);
  list = options.fuse === false ? list : foldBiasAdds(list, inits, (q) => [...sources.values()].find((x) => x.q === q)?.n);
  const graphOutputs = new Set<string>();
  for (const f of graphFields) if (f.no === GRAPH.output) for (const x of readFields(f.value as Uint8Array)) if (x.no === 1) graphOutputs.add(decode(x));
  list = withoutDeadNodes(list, graphOutputs);
  const used = new Set<string>(graphOutputs);
  for (const n of list) for (const x of n.inputs) used.add(x);

  const external = [...inits.values()].some((t) => t.data.kind === 'external');
  const files: QuantizeResult['files'] = {};
  let weights: { handle: FileHandle; pos: number; hash: ReturnType<typeof createHash> } | undefined;
  const sourceFiles = new Map<string, FileHandle>();
  if (external) weights = { handle: await open(join(outDir, names.weights), 'wx'), pos: 0, hash: createHash('sha256') };
  let quantizedElements = 0;
  try {
    const readData = async (t: OnnxTensor): Promise<Uint8Array> => {
      if (t.data.kind === 'inline') return t.data.bytes;
      const d = t.data;
      if (d.location.includes('..') || d.location.startsWith('/')) throw new ProtoError(`initializer ${t.name}: external data outside the model folder`);
      let h = sourceFiles.get(d.location);
      if (!h) {
        h = await open(join(srcDir, d.location), 'r');
        sourceFiles.set(d.location, h);
      }
      const buf = new Uint8Array(d.length);
      const { bytesRead } = await h.read(buf, 0, d.length, d.offset);
      if (bytesRead !== d.length) throw new ProtoError(`initializer ${t.name}: ${d.location} ends before its data (offset ${d.offset}, ${d.length} bytes)`);
      return buf;
    };
    const place = async (bytes: Uint8Array): Promise<TensorData> => {
      if (!weights) return { kind: 'inline', bytes };
      const align = bytes.length >= WEIGHTS_ALIGNMENT ? WEIGHTS_ALIGNMENT : SMALL_ALIGNMENT;
      const pad = (align - (weights.pos % align)) % align;
      const chunks = pad ? [new Uint8Array(pad), bytes] : [bytes];
      for (const c of chunks) {
        weights.hash.update(c);
        let done = 0;
        while (done < c.length) done += (await weights.handle.write(c, done, c.length - done, weights.pos + done)).bytesWritten;
        weights.pos += c.length;
      }
      return { kind: 'external', location: names.weights, offset: weights.pos - bytes.length, length: bytes.length };
    };
    const floats = (bytes: Uint8Array): Float32Array => {
      const copy = bytes.byteOffset % 4 === 0 ? bytes : new Uint8Array(bytes); // (a Buffer's slice() would share the offset)
      return new Float32Array(copy.buffer, copy.byteOffset, copy.byteLength / 4);
    };

    const newInits: Field[] = [];
    const quantizedFrom = new Map<string, Source[]>();
    for (const s of sources.values()) quantizedFrom.set(s.tensor.name, [...(quantizedFrom.get(s.tensor.name) ?? []), s]);
    for (const t of inits.values()) {
      const qs = quantizedFrom.get(t.name) ?? [];
      if (qs.length) {
        const w = floats(await readData(t));
        if (w.length * 4 !== t.dims[0]! * t.dims[1]! * 4) throw new ProtoError(`initializer ${t.name}: ${w.length} values for ${t.dims.join(' × ')}`);
        for (const s of qs) {
          const { q, scale } = quantizeMatrix(w, s.k, s.n, s.transposed, qmax);
          quantizedElements += q.length;
          newInits.push(bytesField(GRAPH.initializer, writeFields(makeTensor(s.q, DATA_TYPE.int8, [s.k, s.n], await place(new Uint8Array(q.buffer))))));
          newInits.push(bytesField(GRAPH.initializer, writeFields(makeTensor(s.scale, DATA_TYPE.float, [s.n], await place(new Uint8Array(scale.buffer))))));
        }
      }
      if (!used.has(t.name)) continue;
      if (t.data.kind === 'external' || weights) {
        const bytes = await readData(t);
        const count = t.dims.reduce((a, b) => a * b, 1);
        if (bytes.length !== count * elementBytes(t.dataType)) throw new ProtoError(`initializer ${t.name}: ${bytes.length} bytes for ${t.dims.join(' × ')}`);
        const kept = t.fields.filter((f) => f.no !== 9 && f.no !== 4 && f.no !== 13 && f.no !== 14 && f.no !== 1 && f.no !== 2 && f.no !== 8);
        newInits.push(bytesField(GRAPH.initializer, writeFields([...makeTensor(t.name, t.dataType, t.dims, await place(bytes)), ...kept])));
      } else {
        newInits.push(bytesField(GRAPH.initializer, writeFields(t.fields)));
      }
    }

    // The graph: nodes in order (rewritten or dropped), initializers replaced, everything else kept.
    const out: Field[] = [];
    let nodesWritten = false;
    let initsWritten = false;
    for (const f of graphFields) {
      if (f.no === GRAPH.node) {
        if (!nodesWritten) out.push(...list.map((n) => bytesField(GRAPH.node, writeFields(n.fields))));
        nodesWritten = true;
      } else if (f.no === GRAPH.initializer) {
        if (!initsWritten) out.push(...newInits);
        initsWritten = true;
      } else {
        out.push(f);
      }
    }
    if (!initsWritten) out.push(...newInits);

    const opsets = modelFields.filter((f) => f.no === MODEL.opsetImport).map((f) => readFields(f.value as Uint8Array));
    const hasMs = opsets.some((o) => o.some((x) => x.no === 1 && decode(x) === MS_DOMAIN));
    const model: Field[] = modelFields.map((f, i) => (i === graphIndex ? bytesField(MODEL.graph, writeFields(out)) : f));
    if (!hasMs) model.push(bytesField(MODEL.opsetImport, writeFields([stringField(1, MS_DOMAIN), intField(2, 1)])));
    const bytes = writeFields(model);
    const mh = await open(join(outDir, names.model), 'wx');
    try {
      let done = 0;
      while (done < bytes.length) done += (await mh.write(bytes, done, bytes.length - done)).bytesWritten;
    } finally {
      await mh.close();
    }
    files[names.model] = { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
    if (weights) files[names.weights] = { bytes: weights.pos, sha256: weights.hash.digest('hex') };
  } finally {
    await weights?.handle.close();
    for (const h of sourceFiles.values()) await h.close();
  }
  return { matrices, quantizedElements, qmax, files };
}

/**
 * The int8 copy of an installed float32 package (`src`, a folder) as a new package in `dest` (an
 * existing empty folder): model.onnx rewritten by quantizeOnnx (its weights file too, when it has
 * one), every other file copied, manifest.json with the new id, `precision: "int8"` and the new
 * files' sizes and hashes. Products with a dimension under the network's hidden size (from
 * manifest `network.config.hidden_size`, else MIN_DIMENSION) stay float32.
 */
export async function quantizePackage(src: string, dest: string, meta: { id: string; options?: QuantizeOptions }): Promise<QuantizeResult> {
  const pkg = await readModelPackage(src);
  await verifyModelFiles(pkg); // nothing is made from a damaged package
  const m = pkg.manifest;
  if (m.precision && m.precision !== 'fp32') throw new ApiError('bad_request', `${m.id} is ${m.precision}; int8 is made from an fp32 package`);
  const hidden = m.network.config?.['hidden_size'];
  const minDimension = typeof hidden === 'number' && Number.isSafeInteger(hidden) && hidden > 0 ? hidden : MIN_DIMENSION;
  const external = Object.keys(m.files).find((f) => f !== m.network.file && f !== m.tokenizer.file && f.endsWith('.bin'));
  let result: QuantizeResult;
  try {
    result = await quantizeOnnx(pkg.networkPath, dest, { model: m.network.file, weights: external ?? 'weights.bin' }, { minDimension, ...meta.options });
  } catch (e) {
    if (e instanceof ProtoError) throw new ApiError('model_error', `cannot make the int8 variant of ${m.id}: ${e.message}`);
    throw e;
  }
  const files: Record<string, { bytes: number; sha256: string }> = {};
  for (const [name, entry] of Object.entries(m.files)) {
    if (name === m.network.file || name === external) continue;
    await copyFile(join(src, name), join(dest, name));
    files[name] = entry;
  }
  Object.assign(files, result.files);
  const note =
    `int8 variant made by Lacuna: ${result.matrices} matrix products with int8 weights per output channel ` +
    `(|q| ≤ ${result.qmax}) and int8 activations quantised at run time; the rest float32. Faster on a CPU; ` +
    'its error against the float32 network is measured in docs/cpu-speed.md of the Lacuna repository.';
  const cardFile = 'MODEL_CARD.md';
  if (existsSync(join(src, cardFile))) {
    const card = await readFile(join(src, cardFile), 'utf8');
    await writeFile(join(dest, cardFile), `${card.trimEnd()}\n\n## Precision\n\n${note}\n`);
  }
  const manifest = {
    ...m,
    id: meta.id,
    name: `${m.name} (int8)`,
    description: `${m.description}${m.description ? ' ' : ''}int8 weights for the CPU.`,
    precision: 'int8' as const,
    int8_range: result.qmax,
    files,
  };
  await writeFile(join(dest, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return result;
}
