#!/usr/bin/env node
// Check a model package's ONNX graph against its parity.json with onnxruntime-node, at the
// default graph optimisation level.  Also verifies manifest file sizes / sha256.
//   node models/tools/check_parity.cjs [models/fixtures/tiny-fixture]
// Prints the max abs diff over all stored values and the largest diff of the per-case
// full-output statistics (max_abs, sum); exits 1 if a stored value differs by > tolerance.
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const ort = require(path.join(__dirname, '..', '..', 'node_modules', 'onnxruntime-node'));

async function main() {
  const dir = path.resolve(process.argv[2] || path.join(__dirname, '..', 'fixtures', 'tiny-fixture'));
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  for (const [f, e] of Object.entries(manifest.files)) {
    const buf = fs.readFileSync(path.join(dir, f));
    const sha = crypto.createHash('sha256').update(buf).digest('hex');
    if (buf.length !== e.bytes || sha !== e.sha256) throw new Error(`manifest mismatch for ${f}`);
  }
  const parity = JSON.parse(fs.readFileSync(path.join(dir, 'parity.json'), 'utf8'));
  const session = await ort.InferenceSession.create(path.join(dir, manifest.network.file));
  let worst = 0, worstStat = 0, drawFailures = 0;
  for (const c of parity.cases) {
    const [B, L, V] = c.shape;
    const idx = BigInt64Array.from(c.indices.flat().map((v) => BigInt(v)));
    const feeds = {
      indices: new ort.Tensor('int64', idx, [B, L]),
      sigma: new ort.Tensor('float32', Float32Array.from(c.sigma), [B]),
    };
    // Network I/O 2 (models/FORMAT.md): rows at every position; [B*L, V] has [B, L, V]'s layout.
    const io2 = session.inputNames.includes('positions');
    if (io2) feeds.positions = new ort.Tensor('int64', BigInt64Array.from({ length: B * L }, (_, i) => BigInt(i)), [B * L]);
    if (session.inputNames.includes('uniforms')) feeds.uniforms = new ort.Tensor('float32', new Float32Array(B * L), [B * L]);
    const out = await session.run(feeds, ['log_score']);
    const y = out.log_score;
    if (y.dims.join() !== (io2 ? [B * L, V] : c.shape).join()) throw new Error(`${c.name}: shape ${y.dims}`);
    let diff = 0, maxAbs = 0, sum = 0;
    for (let i = 0; i < y.data.length; i++) { maxAbs = Math.max(maxAbs, Math.abs(y.data[i])); sum += y.data[i]; }
    c.positions.forEach(([b, l], r) => {
      const row = c.values[r];
      for (let v = 0; v < V; v++) diff = Math.max(diff, Math.abs(y.data[(b * L + l) * V + v] - row[v]));
    });
    const statDiff = Math.max(Math.abs(maxAbs - c.max_abs), Math.abs(sum - c.sum) / (B * L * V));
    worst = Math.max(worst, diff); worstStat = Math.max(worstStat, statDiff);
    if (c.draw && session.outputNames.includes('token')) {
      // The fused draw at the case's MASK positions: same tokens as PyTorch, log_norm within tolerance.
      const d = c.draw, K = d.positions.length;
      const r = await session.run({ ...feeds,
        positions: new ort.Tensor('int64', BigInt64Array.from(d.positions, BigInt), [K]),
        uniforms: new ort.Tensor('float32', Float32Array.from(d.uniforms), [K]) }, ['token', 'log_norm']);
      let tokDiff = 0, normDiff = 0;
      for (let k = 0; k < K; k++) {
        if (Number(r.token.data[k]) !== d.token[k]) tokDiff++;
        normDiff = Math.max(normDiff, Math.abs(r.log_norm.data[k] - d.log_norm[k]));
      }
      console.log(`${(c.name + ' draw').padEnd(34)} ${K} positions: ${tokDiff} tokens differ, max|Δ log_norm| ${normDiff.toExponential(2)}`);
      if (tokDiff > 0) drawFailures++;
      worst = Math.max(worst, normDiff);
    }
    console.log(`${c.name.padEnd(34)} max|diff| ${diff.toExponential(2)}  (|max| ${maxAbs.toFixed(4)} vs ${c.max_abs.toFixed(4)}, ` +
      `mean diff ${(Math.abs(sum - c.sum) / (B * L * V)).toExponential(2)})`);
  }
  console.log(`overall max abs diff ${worst.toExponential(3)} (tolerance ${parity.tolerance}); stats ${worstStat.toExponential(3)}`);
  if (!(worst <= parity.tolerance) || !(worstStat <= parity.tolerance) || drawFailures > 0) process.exit(1);
}
main().catch((e) => { console.error(e); process.exit(1); });
