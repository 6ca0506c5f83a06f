/**
 * Just enough of the protocol-buffer wire format and of ONNX's messages (onnx.proto3) to rewrite a
 * model graph in TypeScript: the int8 quantiser (quantize.ts) reads a ModelProto, swaps some
 * nodes and initializers and writes it back. Every field it does not touch is kept byte for byte
 * (a message is a list of raw fields), so nothing it does not understand is lost.
 *
 * Wire types: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32 (groups, 3/4, do not occur in
 * ONNX and are refused). Field numbers used here (onnx.proto3):
 *   ModelProto     1 ir_version · 7 graph · 8 opset_import (OperatorSetIdProto: 1 domain, 2 version)
 *   GraphProto     1 node · 5 initializer · 12 output (ValueInfoProto: 1 name)
 *   NodeProto      1 input · 2 output · 3 name · 4 op_type · 5 attribute · 7 domain
 *   AttributeProto 1 name · 2 f · 3 i · 5 t · 8 ints · 20 type
 *   TensorProto    1 dims · 2 data_type · 4 float_data · 8 name · 9 raw_data · 13 external_data
 *                  (StringStringEntryProto: 1 key, 2 value) · 14 data_location (1 = EXTERNAL)
 */

export interface Field {
  no: number;
  wire: 0 | 1 | 2 | 5;
  /** varint: the value; fixed64/fixed32/length-delimited: the bytes (a view into the source). */
  value: bigint | Uint8Array;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

export class ProtoError extends Error {}

/** The fields of one message, in order. */
export function readFields(buf: Uint8Array): Field[] {
  const out: Field[] = [];
  let p = 0;
  const varint = (): bigint => {
    const [value, next] = readVarint(buf, p);
    p = next;
    return value;
  };
  const take = (n: number): Uint8Array => {
    if (n < 0 || p + n > buf.length) throw new ProtoError('field runs past the end of its message');
    const v = buf.subarray(p, p + n);
    p += n;
    return v;
  };
  while (p < buf.length) {
    const key = varint();
    const no = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (no < 1) throw new ProtoError('field number 0');
    if (wire === 0) out.push({ no, wire, value: varint() });
    else if (wire === 1) out.push({ no, wire, value: take(8) });
    else if (wire === 2) out.push({ no, wire, value: take(Number(varint())) });
    else if (wire === 5) out.push({ no, wire, value: take(4) });
    else throw new ProtoError(`unsupported wire type ${wire}`);
  }
  return out;
}

function varintBytes(v: bigint): number[] {
  let x = BigInt.asUintN(64, v);
  const bytes: number[] = [];
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x) b |= 0x80;
    bytes.push(b);
  } while (x);
  return bytes;
}

/** The bytes of a message made of these fields. */
export function writeFields(fields: readonly Field[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = 0;
  for (const f of fields) {
    const head = varintBytes(BigInt((f.no << 3) | f.wire));
    if (f.wire === 0) {
      const b = Uint8Array.from([...head, ...varintBytes(f.value as bigint)]);
      parts.push(b);
      size += b.length;
    } else {
      const v = f.value as Uint8Array;
      const h = Uint8Array.from(f.wire === 2 ? [...head, ...varintBytes(BigInt(v.length))] : head);
      parts.push(h, v);
      size += h.length + v.length;
    }
  }
  const out = new Uint8Array(size);
  let p = 0;
  for (const b of parts) {
    out.set(b, p);
    p += b.length;
  }
  return out;
}

export const bytesField = (no: number, value: Uint8Array): Field => ({ no, wire: 2, value });
export const stringField = (no: number, s: string): Field => ({ no, wire: 2, value: encoder.encode(s) });
export const intField = (no: number, v: number | bigint): Field => ({ no, wire: 0, value: BigInt(v) });

export function fieldString(f: Field): string {
  if (f.wire !== 2) throw new ProtoError(`field ${f.no} is not a string`);
  return utf8.decode(f.value as Uint8Array);
}

export function firstString(fields: readonly Field[], no: number): string {
  const f = fields.find((x) => x.no === no);
  return f ? fieldString(f) : '';
}

export function strings(fields: readonly Field[], no: number): string[] {
  return fields.filter((x) => x.no === no).map(fieldString);
}

export function firstInt(fields: readonly Field[], no: number): bigint | undefined {
  const f = fields.find((x) => x.no === no);
  if (!f) return undefined;
  if (f.wire !== 0) throw new ProtoError(`field ${no} is not a varint`);
  return f.value as bigint;
}

/** A repeated int64 field, packed or not (as signed values). */
export function ints(fields: readonly Field[], no: number): bigint[] {
  const out: bigint[] = [];
  for (const f of fields) {
    if (f.no !== no) continue;
    if (f.wire === 0) out.push(BigInt.asIntN(64, f.value as bigint));
    else if (f.wire === 2) for (const x of readPackedVarints(f.value as Uint8Array)) out.push(BigInt.asIntN(64, x));
    else throw new ProtoError(`field ${no} is not an integer list`);
  }
  return out;
}

/** The varint at `p` and the position after it. */
function readVarint(buf: Uint8Array, p: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    if (p >= buf.length) throw new ProtoError('truncated varint');
    const b = buf[p++]!;
    result |= BigInt(b & 0x7f) << shift;
    if (!(b & 0x80)) return [result, p];
    shift += 7n;
    if (shift > 63n) throw new ProtoError('varint longer than 10 bytes');
  }
}

function readPackedVarints(buf: Uint8Array): bigint[] {
  const out: bigint[] = [];
  for (let p = 0; p < buf.length;) {
    const [value, next] = readVarint(buf, p);
    out.push(value);
    p = next;
  }
  return out;
}

// ── ONNX messages ────────────────────────────────────────────────────────────────────────────────

export const MODEL = { irVersion: 1, graph: 7, opsetImport: 8 } as const;
export const GRAPH = { node: 1, initializer: 5, output: 12 } as const;
export const NODE = { input: 1, output: 2, name: 3, opType: 4, attribute: 5, domain: 7 } as const;
export const ATTRIBUTE = { name: 1, f: 2, i: 3, t: 5, ints: 8, type: 20 } as const;
export const TENSOR = { dims: 1, dataType: 2, floatData: 4, name: 8, rawData: 9, externalData: 13, dataLocation: 14 } as const;
/** TensorProto.DataType values used here. */
export const DATA_TYPE = { float: 1, int8: 3 } as const;
const DATA_LOCATION_EXTERNAL = 1n;

/** A node: its raw fields plus the parts the quantiser reads. */
export interface OnnxNode {
  fields: Field[];
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
}

export function readNode(buf: Uint8Array): OnnxNode {
  const fields = readFields(buf);
  return {
    fields,
    opType: firstString(fields, NODE.opType),
    domain: firstString(fields, NODE.domain),
    inputs: strings(fields, NODE.input),
    outputs: strings(fields, NODE.output),
  };
}

/** A node's attributes by name: the int, float or ints value (whichever is set). */
export function nodeAttributes(node: OnnxNode): Map<string, { i?: bigint; f?: number; ints?: bigint[] }> {
  const out = new Map<string, { i?: bigint; f?: number; ints?: bigint[] }>();
  for (const f of node.fields) {
    if (f.no !== NODE.attribute) continue;
    const a = readFields(f.value as Uint8Array);
    const v: { i?: bigint; f?: number; ints?: bigint[] } = {};
    const i = firstInt(a, ATTRIBUTE.i);
    if (i !== undefined) v.i = BigInt.asIntN(64, i);
    const fl = a.find((x) => x.no === ATTRIBUTE.f);
    if (fl) v.f = new DataView((fl.value as Uint8Array).buffer, (fl.value as Uint8Array).byteOffset, 4).getFloat32(0, true);
    const list = ints(a, ATTRIBUTE.ints);
    if (list.length) v.ints = list;
    out.set(firstString(a, ATTRIBUTE.name), v);
  }
  return out;
}

/** A new node (no attributes). */
export function makeNode(opType: string, domain: string, inputs: readonly string[], outputs: readonly string[], name: string): Field[] {
  return [
    ...inputs.map((s) => stringField(NODE.input, s)),
    ...outputs.map((s) => stringField(NODE.output, s)),
    stringField(NODE.name, name),
    stringField(NODE.opType, opType),
    ...(domain ? [stringField(NODE.domain, domain)] : []),
  ];
}

/** Where a tensor's bytes are: inline (`raw_data` / `float_data`) or at an offset of an external file. */
export type TensorData = { kind: 'inline'; bytes: Uint8Array } | { kind: 'external'; location: string; offset: number; length: number };

export interface OnnxTensor {
  fields: Field[];
  name: string;
  dataType: number;
  dims: number[];
  data: TensorData;
}

export function readTensor(buf: Uint8Array): OnnxTensor {
  const fields = readFields(buf);
  const name = firstString(fields, TENSOR.name);
  const dataType = Number(firstInt(fields, TENSOR.dataType) ?? 0n);
  const dims = ints(fields, TENSOR.dims).map(Number);
  let data: TensorData;
  if (firstInt(fields, TENSOR.dataLocation) === DATA_LOCATION_EXTERNAL) {
    const entries = new Map<string, string>();
    for (const f of fields.filter((x) => x.no === TENSOR.externalData)) {
      const kv = readFields(f.value as Uint8Array);
      entries.set(firstString(kv, 1), firstString(kv, 2));
    }
    const location = entries.get('location');
    if (!location) throw new ProtoError(`initializer ${name}: external data without a location`);
    const offset = Number(entries.get('offset') ?? '0');
    const count = dims.reduce((a, b) => a * b, 1);
    const length = Number(entries.get('length') ?? String(count * elementBytes(dataType)));
    data = { kind: 'external', location, offset, length };
  } else {
    const raw = fields.find((x) => x.no === TENSOR.rawData);
    const floats = fields.filter((x) => x.no === TENSOR.floatData);
    if (raw) data = { kind: 'inline', bytes: raw.value as Uint8Array };
    else if (floats.length && dataType === DATA_TYPE.float) data = { kind: 'inline', bytes: packedFloats(floats) };
    else data = { kind: 'inline', bytes: new Uint8Array(0) };
  }
  return { fields, name, dataType, dims, data };
}

function packedFloats(fields: readonly Field[]): Uint8Array {
  const parts = fields.map((f) => f.value as Uint8Array); // packed (wire 2) or one fixed32 each (wire 5): little-endian floats either way
  const out = new Uint8Array(parts.reduce((a, b) => a + b.length, 0));
  let p = 0;
  for (const b of parts) {
    out.set(b, p);
    p += b.length;
  }
  return out;
}

export function elementBytes(dataType: number): number {
  switch (dataType) {
    case 1: // float
    case 6: // int32
    case 12: // uint32
      return 4;
    case 2: // uint8
    case 3: // int8
    case 9: // bool
      return 1;
    case 4: // uint16
    case 5: // int16
    case 10: // float16
    case 16: // bfloat16
      return 2;
    case 7: // int64
    case 11: // double
    case 13: // uint64
      return 8;
    default:
      throw new ProtoError(`unsupported tensor data type ${dataType}`);
  }
}

/** A tensor message: name, type, dims and either inline bytes or an external-data reference. */
export function makeTensor(name: string, dataType: number, dims: readonly number[], data: TensorData): Field[] {
  const head: Field[] = [...dims.map((d) => intField(TENSOR.dims, d)), intField(TENSOR.dataType, dataType), stringField(TENSOR.name, name)];
  if (data.kind === 'inline') return [...head, bytesField(TENSOR.rawData, data.bytes)];
  const entry = (k: string, v: string): Field => bytesField(TENSOR.externalData, writeFields([stringField(1, k), stringField(2, v)]));
  return [
    ...head,
    entry('location', data.location),
    entry('offset', String(data.offset)),
    entry('length', String(data.length)),
    intField(TENSOR.dataLocation, DATA_LOCATION_EXTERNAL),
  ];
}
