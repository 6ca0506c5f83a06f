/**
 * Importing MDLM checkpoints (Hugging Face kuleshov-group/mdlm-owt layout; model/import.ts,
 * models/sedd/mdlm.py): the Hub config.json, the `backbone.` tensor names, the mdlm-owt templates,
 * and a synthetic checkpoint in the exact layout (models/tests/import-fixture-mdlm, made by
 * models/tools/make_mdlm_fixture.py) imported and run through onnxruntime-node against the
 * PyTorch reference (the Hub model's logits → diffusion.py's SUBS → get_score's SEDD log score).
 */
import { copyFile, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { appRoot } from '../../platform/paths';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../common/api';
import { AbsorbingGraph } from '../sampling/graph';
import { scoreEntropyTerms } from '../likelihood';
import { expectedTensors, findTemplate, importModel, matchTensors, parseCheckpointConfig, readTemplate, type NetworkConfig } from './import';
import { verifyModelFiles } from './package';
import { LogLinearNoise } from '../sampling/noise';
import { Random } from '../random';
import { sampleAnalyticAbsorbingFused } from '../sampling/fused';
import { ScoreModel } from '../runtime/score-model';
import { SEDD_SMALL_NETWORK } from './synthetic-checkpoint';
import { importError as importErrorOf, tempDirs, writeSafetensors as writeTestSafetensors } from './import-test-support';

const ROOT = appRoot();
const FIXTURE = join(ROOT, 'models/tests/import-fixture-mdlm');
const CHECKPOINT = join(FIXTURE, 'checkpoint');
const TEMPLATES = join(FIXTURE, 'templates');
const OFFICIAL_TEMPLATES = join(ROOT, 'models/templates');

/** config.json of huggingface.co/kuleshov-group/mdlm-owt (489 bytes, commit 25ce5c5), verbatim. */
const HUB_CONFIG = `{
  "_name_or_path": "kuleshov-group/mdlm-owt",
  "architectures": [
    "MDLM"
  ],
  "auto_map": {
    "AutoConfig": "configuration_mdlm.MDLMConfig",
    "AutoModelForMaskedLM": "modeling_mdlm.MDLM"
  },
  "cond_dim": 128,
  "dropout": 0.1,
  "hidden_dim": 768,
  "model_length": 1024,
  "model_type": "mdlm",
  "n_blocks": 12,
  "n_heads": 12,
  "return_dict": false,
  "time_conditioning": false,
  "torch_dtype": "float32",
  "transformers_version": "4.38.2",
  "vocab_size": 50258
}
`;

const OWT: NetworkConfig = { ...SEDD_SMALL_NETWORK, family: 'mdlm', time_conditioning: false };
const TINY: NetworkConfig = { ...OWT, hidden_size: 64, n_blocks: 2, n_heads: 2, cond_dim: 32, vocab_size: 512 };

interface Reference {
  tolerance: number;
  mask_id: number;
  cases: {
    name: string;
    indices: number[][];
    sigma: number[];
    shape: [number, number, number];
    positions: [number, number][];
    values: number[][];
    draw: { positions: number[]; uniforms: number[]; token: number[]; log_norm: number[] };
  }[];
}

const tempDir = tempDirs('lacuna-mdlm-');

async function reference(): Promise<Reference> {
  return JSON.parse(await readFile(join(FIXTURE, 'reference.json'), 'utf8')) as Reference;
}

/** A safetensors file (F32) with the given names and shapes; values are arbitrary (sin of the index). */
function writeSafetensors(path: string, tensors: Record<string, number[]>): Promise<void> {
  return writeTestSafetensors(path, Object.fromEntries(Object.entries(tensors).map(([name, shape]) => [name, { shape }])), (i) => Math.sin(i));
}

function names(prefix: string, config = TINY): Record<string, number[]> {
  return Object.fromEntries([...expectedTensors(config)].map(([k, v]) => [prefix + k, v]));
}

const importError = (src: string, modelsDir: string, templateDirs = [TEMPLATES]): Promise<ApiError> => importErrorOf(src, modelsDir, templateDirs);

describe('MDLM layout (kuleshov-group/mdlm-owt)', () => {
  it('reads the Hub config.json: SEDD-small shape, 50258 outputs with MASK 50257, not time conditioned', () => {
    expect(Buffer.byteLength(HUB_CONFIG)).toBe(489); // the Hub's file size: the text above is the file
    const cfg = parseCheckpointConfig(JSON.parse(HUB_CONFIG));
    expect(cfg.network).toEqual(OWT);
    expect(cfg.tokens).toBe(50257);
    expect(cfg.length).toBe(1024);
    expect(cfg.noise).toEqual({ type: 'loglinear', eps: 1e-3 });
    expect(cfg.name).toBe('mdlm-owt');
    const tc = parseCheckpointConfig({ ...JSON.parse(HUB_CONFIG), time_conditioning: true });
    expect(tc.network.time_conditioning).toBe(true);
    expect(() => parseCheckpointConfig({ ...JSON.parse(HUB_CONFIG), hidden_dim: 770 })).toThrow(/hidden_dim 770 is not a multiple of n_heads 12/);
    expect(() => parseCheckpointConfig({ ...JSON.parse(HUB_CONFIG), time_conditioning: 'no' })).toThrow(/time_conditioning must be true or false/);
  });

  it.each([
    ['mdlm-owt', 'fp32'],
    ['mdlm-owt-fp16', 'fp16'],
  ] as const)('template %s has the trunk of the Hub file and is found for its config (not for SEDD-small)', async (name, precision) => {
    const t = await readTemplate(join(OFFICIAL_TEMPLATES, name)); // checks every name/shape
    expect(t.config).toEqual(OWT);
    expect(t.precision).toBe(precision);
    expect(t.tensors.length).toBe(131);
    const shapes = new Map(t.tensors.map((x) => [x.name, x.shape]));
    expect(shapes.get('vocab_embed.embedding')).toEqual([50258, 768]);
    expect(shapes.get('output_layer.linear.weight')).toEqual([50258, 768]);
    expect(shapes.get('sigma_map.mlp.0.weight')).toEqual([128, 256]);
    expect(t.tensors.find((x) => x.name === 'rotary_emb.inv_freq')?.default?.length).toBe(32);
    const width = precision === 'fp16' ? 2 : 4;
    const params = t.tensors.reduce((n, x) => n + x.shape.reduce((a, b) => a * b, 1), 0);
    expect(params).toBe(169_627_250); // 679 MB of float32 on the Hub (model.safetensors)
    expect(t.weights_bytes).toBeGreaterThanOrEqual(width * params);
    expect(t.weights_bytes).toBeLessThan(width * params + 131 * 4096);
    const found = await findTemplate([OFFICIAL_TEMPLATES], parseCheckpointConfig(JSON.parse(HUB_CONFIG)).network, precision);
    expect(found?.dir).toBe(join(OFFICIAL_TEMPLATES, name));
    // the SEDD-small configuration (same shapes, no family) picks the SEDD template, never this one
    const { family: _f, time_conditioning: _t, ...sedd } = OWT;
    expect((await findTemplate([OFFICIAL_TEMPLATES], sedd, precision))?.dir).toBe(
      join(OFFICIAL_TEMPLATES, precision === 'fp16' ? 'sedd-small-fp16' : 'sedd-small'),
    );
    expect(await findTemplate([OFFICIAL_TEMPLATES], { ...OWT, time_conditioning: true }, precision)).toBeUndefined();
  });

  it('matches backbone.-prefixed names (alone or under module./ema.), and only for MDLM', () => {
    const exp = expectedTensors(TINY);
    const withDtype = (o: Record<string, number[]>) => new Map(Object.entries(o).map(([k, shape]) => [k, { shape, dtype: 'F32' }]));
    const segs = new Set(['module', 'score_model', 'model', '_orig_mod', 'ema', 'ema_model', 'model_ema', 'backbone']);
    const m = matchTensors('f', withDtype(names('backbone.')), exp, segs);
    expect(m.prefix).toBe('backbone.');
    expect(m.names.get('blocks.1.attn_qkv.weight')).toBe('backbone.blocks.1.attn_qkv.weight');
    expect(m.names.get('rotary_emb.inv_freq')).toBe('backbone.rotary_emb.inv_freq');
    expect(matchTensors('f', withDtype(names('ema.backbone.')), exp, segs).prefix).toBe('ema.backbone.');
    expect(matchTensors('f', withDtype(names('')), exp, segs).prefix).toBe('');
    // SEDD files keep the official prefixes only
    expect(() => matchTensors('f', withDtype(names('backbone.')), exp)).toThrow(/missing vocab_embed\.embedding.*unexpected backbone\./);
  });
});

describe('importModel (MDLM)', () => {
  it('imports the mdlm-owt-layout checkpoint and matches PyTorch through onnxruntime, fused draw included', async () => {
    const modelsDir = join(await tempDir(), 'models');
    const pkg = await importModel(CHECKPOINT, { templateDirs: [TEMPLATES], modelsDir });
    expect(pkg.dir).toBe(join(modelsDir, 'mdlm-tiny'));
    // time-independent: exact is already as fast as fast mode; no mode in the manifest
    expect(pkg.manifest.sampling?.mode).toBeUndefined();
    const m = pkg.manifest;
    expect([m.vocab_size, m.mask_id, m.length, m.graph.type, m.noise.type, m.scale_by_sigma, m.time_conditioned, m.tokenizer.eos_id]).toEqual([
      512,
      511,
      128,
      'absorb',
      'loglinear',
      true,
      false,
      510,
    ]);
    expect(m.name).toBe('MDLM mdlm-tiny');
    expect(Object.keys(m.files).sort()).toEqual(['model.onnx', 'tokenizer.json', 'weights.bin']);
    await verifyModelFiles(pkg);
    const card = await readFile(join(pkg.dir, 'MODEL_CARD.md'), 'utf8');
    expect(card).toMatch(/tensors under "backbone\."/);
    expect(card).toMatch(/MDLM; Sahoo et al\., 2024.*not time conditioned/);

    const ref = await reference();
    const model = await ScoreModel.load(pkg.networkPath, m.vocab_size, { threads: 1, device: 'cpu' });
    let worst = 0;
    let draws = 0;
    try {
      expect(model.fusedDraw).toBe(true);
      for (const c of ref.cases) {
        const [B, L, V] = c.shape;
        const out = await model.run(
          BigInt64Array.from(c.indices.flat(), (v) => BigInt(v)),
          Float32Array.from(c.sigma),
          B,
          L,
        );
        expect(out.length).toBe(B * L * V);
        c.positions.forEach(([b, l], r) => {
          for (let j = 0; j < V; j++) worst = Math.max(worst, Math.abs(out[(b * L + l) * V + j]! - c.values[r]![j]!));
        });
        const d = await model.maskedDraw(
          Int32Array.from(c.indices.flat()),
          Float32Array.from(c.sigma),
          B,
          Int32Array.from(c.draw.positions),
          Float32Array.from(c.draw.uniforms),
        );
        expect(Array.from(d.tokens)).toEqual(c.draw.token);
        d.logNorm.forEach((v, k) => expect(Math.abs(v - c.draw.log_norm[k]!)).toBeLessThanOrEqual(ref.tolerance));
        draws += d.tokens.length;
      }
    } finally {
      await model.release();
    }
    console.log(`MDLM import parity: max abs diff ${worst.toExponential(2)}, ${draws} fused draws equal`);
    expect(worst).toBeLessThanOrEqual(ref.tolerance);
    expect(draws).toBeGreaterThan(20);
  });

  it(
    'is a time-independent network whose masked rows are log p(x0) − log(e^σ − 1), its bound terms are the weighted cross-entropy, ' +
      'and it fills blanks with exact reuse',
    async () => {
      const modelsDir = join(await tempDir(), 'models');
      const pkg = await importModel(CHECKPOINT, { templateDirs: [TEMPLATES], modelsDir });
      const V = pkg.manifest.vocab_size;
      const mask = pkg.manifest.mask_id!;
      const model = await ScoreModel.load(pkg.networkPath, V, { threads: 1, device: 'cpu' });
      try {
        const rng = new Random(7);
        const L = 24;
        const tokens = Int32Array.from({ length: L }, () => Math.floor(rng.uniform() * (V - 1)));
        tokens.fill(mask, 5, 15);
        const idx = BigInt64Array.from(tokens, (v) => BigInt(v));
        const a = await model.run(idx, Float32Array.of(0.5), 1, L);
        const b = await model.run(idx, Float32Array.of(2), 1, L);
        const shift = Math.log(Math.expm1(Math.fround(2))) - Math.log(Math.expm1(Math.fround(0.5)));
        for (let i = 0; i < L; i++) {
          const row = a.subarray(i * V, (i + 1) * V);
          if (tokens[i] === mask) {
            let lse = -Infinity;
            for (let j = 0; j < V - 1; j++) lse = Math.max(lse, row[j]!) + Math.log1p(Math.exp(-Math.abs(lse - row[j]!)));
            expect(Math.abs(lse + Math.log(Math.expm1(Math.fround(0.5))))).toBeLessThan(1e-4); // Σ p = 1
            expect(row[mask]).toBe(0);
            for (let j = 0; j < V - 1; j++) expect(Math.abs(b[i * V + j]! - (row[j]! - shift))).toBeLessThan(1e-4);
          } else {
            // carry-over: only the current token (0) and MASK (log(e^σ − 1)) are possible
            expect(row[tokens[i]!]).toBe(0);
            expect(Math.abs(row[mask]! - Math.log(Math.expm1(Math.fround(0.5))))).toBeLessThan(1e-5);
            expect(row[(tokens[i]! + 1) % (V - 1)]).toBe(-1e6);
          }
        }

        // the score-entropy bound term at a masked position is MDLM's −log p(x0)/(e^σ − 1) (rate 1)
        const x0 = Int32Array.from(tokens, (v) => (v === mask ? Math.floor(rng.uniform() * (V - 1)) : v));
        const isMasked = Uint8Array.from(tokens, (v) => (v === mask ? 1 : 0));
        const sigma = Math.fround(0.5);
        const terms = scoreEntropyTerms(a, x0, isMasked, V, sigma, 1);
        for (let i = 0; i < L; i++) {
          const logp = isMasked[i] ? a[i * V + x0[i]!]! + Math.log(Math.expm1(sigma)) : 0;
          expect(Math.abs(terms[i]! - (isMasked[i] ? -logp / Math.expm1(sigma) : 0))).toBeLessThan(1e-3);
        }

        const template = tokens.slice();
        const rows = [new Random(1)];
        const r = await sampleAnalyticAbsorbingFused({
          template,
          graph: new AbsorbingGraph(V),
          noise: new LogLinearNoise(pkg.manifest.noise.type === 'loglinear' ? pkg.manifest.noise.eps : 1e-3),
          steps: 32,
          reuse: pkg.manifest.time_conditioned ? 'never' : 'exact',
          scaleBySigma: pkg.manifest.scale_by_sigma,
          uniform: (row) => rows[row]!.uniform(),
          draw: (t, sigma, batch, positions, uniforms) => model.maskedDraw(t, sigma, batch, positions, uniforms),
        });
        for (let i = 0; i < L; i++) {
          if (template[i] === mask) expect(r.tokens[i]).toBeLessThan(mask);
          else expect(r.tokens[i]).toBe(template[i]);
        }
        expect(r.networkCalls).toBeLessThan(33); // steps that unmask nothing reuse the output
      } finally {
        await model.release();
      }
    },
  );

  it('imports the float16 variant (masked rows within float16 error)', async () => {
    const modelsDir = join(await tempDir(), 'models');
    const pkg = await importModel(CHECKPOINT, { templateDirs: [TEMPLATES], modelsDir, precision: 'fp16' });
    expect(pkg.dir).toBe(join(modelsDir, 'mdlm-tiny-fp16'));
    await verifyModelFiles(pkg);
    const ref = await reference();
    const model = await ScoreModel.load(pkg.networkPath, pkg.manifest.vocab_size, { threads: 1, device: 'cpu' });
    let worst = 0;
    try {
      for (const c of ref.cases) {
        const [B, L, V] = c.shape;
        const out = await model.run(
          BigInt64Array.from(c.indices.flat(), (v) => BigInt(v)),
          Float32Array.from(c.sigma),
          B,
          L,
        );
        c.positions.forEach(([b, l], r) => {
          const masked = c.indices[b]![l] === ref.mask_id;
          for (let j = 0; j < V; j++) {
            const got = out[(b * L + l) * V + j]!;
            const want = c.values[r]![j]!;
            // unmasked rows: impossible moves are −1e6 in fp32, −1e4 once float16 (both exp to 0)
            if (!masked && want === -1e6) expect(got).toBeLessThanOrEqual(-1e4);
            else worst = Math.max(worst, Math.abs(got - want));
          }
        });
      }
    } finally {
      await model.release();
    }
    console.log(`MDLM fp16 import parity: max abs diff ${worst.toExponential(2)}`);
    expect(worst).toBeGreaterThan(0);
    expect(worst).toBeLessThanOrEqual(0.05);
  });

  it('refuses a wrong prefix, a missing template and a tokenizer that does not fit, leaving nothing behind', async () => {
    const modelsDir = join(await tempDir(), 'models');
    const folder = async (tensors: Record<string, number[]>, config?: object, tokenizer = true): Promise<string> => {
      const dir = await tempDir();
      if (config) await writeFile(join(dir, 'config.json'), JSON.stringify(config));
      else await copyFile(join(CHECKPOINT, 'config.json'), join(dir, 'config.json'));
      if (tokenizer) await copyFile(join(CHECKPOINT, 'tokenizer.json'), join(dir, 'tokenizer.json'));
      await writeSafetensors(join(dir, 'model.safetensors'), tensors);
      return dir;
    };
    const e1 = await importError(await folder(names('net.')), modelsDir);
    expect(e1.message).toMatch(/^model\.safetensors: missing backbone\.|^model\.safetensors: missing vocab_embed\.embedding/);
    expect(e1.message).toMatch(/unexpected net\./);
    const hubTiny = JSON.parse(await readFile(join(CHECKPOINT, 'config.json'), 'utf8')) as Record<string, unknown>;
    const e2 = await importError(await folder(names('backbone.'), { ...hubTiny, time_conditioning: true }), modelsDir);
    expect(e2.message).toMatch(/no graph template for this configuration .*"family":"mdlm","time_conditioning":true.*make_templates\.py --config/);
    const e3 = await importError(await folder(names('backbone.'), { ...hubTiny, vocab_size: 513 }, false), modelsDir);
    expect(e3.message).toMatch(/vocab_embed\.embedding has shape \[512, 64\], expected \[513, 64\]/);
    const e4 = await importError(await folder(names('backbone.'), undefined, false), modelsDir);
    expect(e4.message).toMatch(/no tokenizer\.json and config\.json's vocab_size = 512 is not GPT-2's 50257 \+ MASK/);
    expect(await readdir(modelsDir).catch(() => [])).toEqual([]);
  });
});
