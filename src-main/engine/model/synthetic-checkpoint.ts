/**
 * Test support: a synthetic SEDD checkpoint in the exact official layout (Hugging Face
 * louaaron/sedd-small and sedd-medium: `config.json` + `model.safetensors`), random float32 weights
 * under the official tensor names and shapes (model/import.ts `expectedTensors`), for a given
 * network configuration. A slow test makes a sedd-small-shaped one (678 MB), fast tests a tiny one.
 *
 * model.safetensors as safetensors' torch writer lays it out: an 8-byte little-endian header
 * length, a JSON header (`__metadata__: {format: "pt"}`, then the tensors in state-dict order)
 * padded with spaces to a multiple of 8, then the raw little-endian data; streamed in chunks,
 * deterministic for a seed. Weights are uniform with a small spread, norms near 1, and
 * `rotary_emb.inv_freq` holds the true rotary frequencies.
 */
import { copyFile, mkdir, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expectedTensors, type NetworkConfig } from './import';

/** The official sedd-small network (hidden 768, 12 blocks, 12 heads, GPT-2 vocabulary + mask). */
export const SEDD_SMALL_NETWORK: NetworkConfig = {
  hidden_size: 768,
  n_blocks: 12,
  n_heads: 12,
  cond_dim: 128,
  vocab_size: 50258,
  graph_type: 'absorb',
  scale_by_sigma: true,
};
/** A tiny network with sedd-small's vocabulary (GPT-2 + MASK): a stand-in for the Hub's checkpoints in download tests. */
export const HUB_TINY_NETWORK: NetworkConfig = {
  hidden_size: 32,
  n_blocks: 1,
  n_heads: 1,
  cond_dim: 16,
  vocab_size: 50258,
  graph_type: 'absorb',
  scale_by_sigma: true,
};
/** The official sedd-medium network. */
export const SEDD_MEDIUM_NETWORK: NetworkConfig = {
  hidden_size: 1024,
  n_blocks: 24,
  n_heads: 16,
  cond_dim: 128,
  vocab_size: 50258,
  graph_type: 'absorb',
  scale_by_sigma: true,
};
/** The import fixture's tiny network (models/tests/import-fixture: its templates and tokenizer.json fit it). */
export const TINY_NETWORK: NetworkConfig = {
  hidden_size: 64,
  n_blocks: 2,
  n_heads: 2,
  cond_dim: 32,
  vocab_size: 512,
  graph_type: 'absorb',
  scale_by_sigma: true,
};

export interface SyntheticCheckpointOptions {
  network: NetworkConfig;
  /** config.json's model.name (the importer's default id is `sedd-<name>`); default 'synthetic'. */
  name?: string;
  /** config.json's model.length; default 1024. */
  length?: number;
  noise?: 'loglinear' | 'geometric';
  /** PRNG seed; default 1. */
  seed?: number;
  /** Half-width of the uniform weights; default 0.05. */
  spread?: number;
  /** A tokenizer.json to copy into the folder (needed unless the vocabulary is GPT-2's). */
  tokenizer?: string;
  /** config.json's tokens, when it should disagree with the network (to test errors). */
  tokens?: number;
}

export interface SyntheticCheckpoint {
  dir: string;
  files: string[];
  /** Bytes of model.safetensors. */
  weightsBytes: number;
}

/** config.json in the official format (as PyTorchModelHubMixin saved the training config). */
export function officialConfig(o: SyntheticCheckpointOptions): Record<string, unknown> {
  const n = o.network;
  const tokens = o.tokens ?? (n.graph_type === 'absorb' ? n.vocab_size - 1 : n.vocab_size);
  return {
    ngpus: 8,
    tokens,
    training: {
      batch_size: 512,
      accum: 1,
      n_iters: 1300001,
      snapshot_freq: 50000,
      log_freq: 50,
      eval_freq: 100,
      snapshot_freq_for_preemption: 10000,
      weight: 'standard',
      snapshot_sampling: true,
      ema: 0.9999,
    },
    data: { train: 'openwebtext', valid: 'wikitext103', cache_dir: 'data' },
    graph: { type: n.graph_type, file: 'data', report_all: false },
    noise: o.noise === 'geometric' ? { type: 'geometric', sigma_min: 0.0001, sigma_max: 20 } : { type: 'loglinear', sigma_min: 0.0001, sigma_max: 20 },
    sampling: { predictor: 'euler', steps: 128, noise_removal: true },
    eval: { batch_size: 512, perplexity: true, perplexity_batch_size: 32 },
    optim: { weight_decay: 0, optimizer: 'AdamW', lr: 0.0003, beta1: 0.9, beta2: 0.999, eps: 1e-8, warmup: 2500, grad_clip: 1.0 },
    model: {
      name: o.name ?? 'synthetic',
      type: 'ddit',
      hidden_size: n.hidden_size,
      cond_dim: n.cond_dim,
      length: o.length ?? 1024,
      n_blocks: n.n_blocks,
      n_heads: n.n_heads,
      scale_by_sigma: n.scale_by_sigma,
      dropout: 0.1,
    },
  };
}

/** mulberry32: small, fast, deterministic. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CHUNK = 1 << 20;

/** Write config.json and model.safetensors (and tokenizer.json if given) into `dir`. */
export async function writeSyntheticCheckpoint(dir: string, o: SyntheticCheckpointOptions): Promise<SyntheticCheckpoint> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), `${JSON.stringify(officialConfig(o), null, 2)}\n`);
  const files = ['config.json', 'model.safetensors'];
  if (o.tokenizer) {
    await copyFile(o.tokenizer, join(dir, 'tokenizer.json'));
    files.push('tokenizer.json');
  }

  const tensors = [...expectedTensors(o.network)];
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const [name, shape] of tensors) {
    const bytes = 4 * shape.reduce((a, b) => a * b, 1);
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));

  const rand = prng(o.seed ?? 1);
  const spread = o.spread ?? 0.05;
  const fh = await open(join(dir, 'model.safetensors'), 'w');
  let pos = 0;
  const put = async (b: Uint8Array): Promise<void> => {
    let done = 0;
    while (done < b.length) done += (await fh.write(b, done, b.length - done, pos + done)).bytesWritten;
    pos += b.length;
  };
  try {
    await put(head);
    await put(Buffer.from(json));
    const headDim = o.network.hidden_size / o.network.n_heads;
    for (const [name, shape] of tensors) {
      const n = shape.reduce((a, b) => a * b, 1);
      const isNorm = /(^|\.)norm(1|2|_final)\.weight$/.test(name);
      for (let start = 0; start < n; start += CHUNK) {
        const v = new Float32Array(Math.min(CHUNK, n - start));
        for (let i = 0; i < v.length; i++) {
          if (name === 'rotary_emb.inv_freq') v[i] = 1 / 10000 ** ((2 * (start + i)) / headDim);
          else v[i] = (isNorm ? 1 : 0) + (rand() * 2 - 1) * spread;
        }
        await put(new Uint8Array(v.buffer));
      }
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  return { dir, files, weightsBytes: pos };
}
