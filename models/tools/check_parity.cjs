#!/usr/bin/env node
// Check a model package's ONNX graph against its parity.json with onnxruntime-node, at the
// default graph optimisation level.  Also verifies manifest file sizes / sha256.
//   node models/tools/check_parity.cjs [models/tiny-fixture]
// Prints the max abs diff over all stored values and the largest diff of the per-case
// full-output statistics (max_abs, sum); exits 1 if a stored value differs by > tolerance.
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const ort = require(path.join(__dirname, '..', '..', 'node_modules', 'onnxruntime-node'));

async function main() {
  const dir = path.resolve(process.argv[2] || path.join(__dirname, '..', 'tiny-fixture'));
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  for (const [f, e] of Object.entries(manifest.files)) {
    const buf = fs.readFileSync(path.join(dir, f));
    const sha = crypto.createHash('sha256').update(buf).digest('hex');
    if (buf.length !== e.bytes || sha !== e.sha256) throw new Error(`manifest mismatch for ${f}`);
  }
  const parity = JSON.parse(fs.readFileSync(path.join(dir, 'parity.json'), 'utf8'));
  const session = await ort.InferenceSession.create(path.join(dir, manifest.network.file));
  let worst = 0, worstStat = 0;
  for (const c of parity.cases) {
    const [B, L, V] = c.shape;
    const idx = BigInt64Array.from(c.indices.flat().map((v) => BigInt(v)));
    const out = await session.run({
      indices: new ort.Tensor('int64', idx, [B, L]),
      sigma: new ort.Tensor('float32', Float32Array.from(c.sigma), [B]),
    });
    const y = out.log_score;
    if (y.dims.join() !== c.shape.join()) throw new Error(`${c.name}: shape ${y.dims}`);
    let diff = 0, maxAbs = 0, sum = 0;
    for (let i = 0; i < y.data.length; i++) { maxAbs = Math.max(maxAbs, Math.abs(y.data[i])); sum += y.data[i]; }
    c.positions.forEach(([b, l], r) => {
      const row = c.values[r];
      for (let v = 0; v < V; v++) diff = Math.max(diff, Math.abs(y.data[(b * L + l) * V + v] - row[v]));
    });
    const statDiff = Math.max(Math.abs(maxAbs - c.max_abs), Math.abs(sum - c.sum) / (B * L * V));
    worst = Math.max(worst, diff); worstStat = Math.max(worstStat, statDiff);
    console.log(`${c.name.padEnd(34)} max|diff| ${diff.toExponential(2)}  (|max| ${maxAbs.toFixed(4)} vs ${c.max_abs.toFixed(4)}, mean diff ${(Math.abs(sum - c.sum) / (B * L * V)).toExponential(2)})`);
  }
  console.log(`overall max abs diff ${worst.toExponential(3)} (tolerance ${parity.tolerance}); stats ${worstStat.toExponential(3)}`);
  if (!(worst <= parity.tolerance) || !(worstStat <= parity.tolerance)) process.exit(1);
}
main().catch((e) => { console.error(e); process.exit(1); });
