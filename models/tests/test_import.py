"""Tests for the import tooling: models/tools/{convert_bin,make_templates,make_official_like}.py
and the committed templates / import fixture. Run from the repository root:

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 -m unittest discover -s models/tests -t .

(The TypeScript importer itself is tested by src-main/engine/model/import.test.ts, which
imports models/tests/import-fixture and checks it against reference.json through onnxruntime.)
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import tempfile
import unittest

MODELS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = os.path.join(MODELS, "tools")
for p in (MODELS, TOOLS):
    if p not in sys.path:
        sys.path.insert(0, p)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import torch  # noqa: E402

import convert_bin  # noqa: E402
import make_official_like  # noqa: E402
import make_templates  # noqa: E402
from sedd.model import SEDD, SEDDConfig  # noqa: E402

FIXTURE = os.path.join(MODELS, "tests", "import-fixture")
torch.set_num_threads(1)


def expected_shapes(H: int, n: int, V: int = 50258, C: int = 128, heads: int = 12) -> dict:
    """The sedd.md section 1 table."""
    s = {
        "vocab_embed.embedding": [V, H],
        "sigma_map.mlp.0.weight": [C, 256],
        "sigma_map.mlp.0.bias": [C],
        "sigma_map.mlp.2.weight": [C, C],
        "sigma_map.mlp.2.bias": [C],
        "rotary_emb.inv_freq": [H // heads // 2],
        "output_layer.norm_final.weight": [H],
        "output_layer.linear.weight": [V, H],
        "output_layer.linear.bias": [V],
        "output_layer.adaLN_modulation.weight": [2 * H, C],
        "output_layer.adaLN_modulation.bias": [2 * H],
    }
    for i in range(n):
        b = f"blocks.{i}."
        s.update(
            {
                b + "norm1.weight": [H],
                b + "norm2.weight": [H],
                b + "attn_qkv.weight": [3 * H, H],
                b + "attn_out.weight": [H, H],
                b + "mlp.0.weight": [4 * H, H],
                b + "mlp.0.bias": [4 * H],
                b + "mlp.2.weight": [H, 4 * H],
                b + "mlp.2.bias": [H],
                b + "adaLN_modulation.weight": [6 * H, C],
                b + "adaLN_modulation.bias": [6 * H],
            }
        )
    return s


class TestSafetensorsWriter(unittest.TestCase):
    def test_round_trip_and_convert_bin(self):
        state = {"a.weight": torch.randn(3, 4), "b": torch.randn(5).half(), "c": torch.randn(2, 2).bfloat16()}
        with tempfile.TemporaryDirectory() as d:
            torch.save(state, os.path.join(d, "pytorch_model.bin"))
            self.assertEqual(convert_bin.main([d]), 0)
            back, meta = convert_bin.load_safetensors(os.path.join(d, "model.safetensors"))
            self.assertEqual(list(back), list(state))
            for k in state:
                self.assertEqual(back[k].dtype, state[k].dtype)
                self.assertTrue(torch.equal(back[k], state[k]), k)
            self.assertEqual(meta["source"], "pytorch_model.bin")
            with open(os.path.join(d, "model.safetensors"), "rb") as f:
                n = int.from_bytes(f.read(8), "little")
            self.assertEqual((8 + n) % 8, 0)
            with self.assertRaises(SystemExit):  # refuses to overwrite
                convert_bin.main([d])

    def test_unwraps_checkpoint_dicts(self):
        sd = {"x": torch.ones(2)}
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "pytorch_model.bin")
            torch.save({"model": {"x": torch.zeros(2)}, "ema": sd}, p)
            self.assertTrue(torch.equal(convert_bin.load_bin(p)["x"], sd["x"]))


class TestTemplates(unittest.TestCase):
    def test_official_templates_match_the_table(self):
        for name, H, n, heads in (("sedd-small", 768, 12, 12), ("sedd-medium", 1024, 24, 16)):
            d = os.path.join(MODELS, "templates", name)
            with open(os.path.join(d, "template.json"), encoding="utf-8") as f:
                t = json.load(f)
            self.assertEqual(
                t["config"],
                {"hidden_size": H, "n_blocks": n, "n_heads": heads, "cond_dim": 128, "vocab_size": 50258, "graph_type": "absorb", "scale_by_sigma": True},
            )
            self.assertEqual({x["name"]: x["shape"] for x in t["tensors"]}, expected_shapes(H, n, heads=heads))
            with open(os.path.join(d, t["graph"]), "rb") as f:
                data = f.read()
            self.assertEqual(hashlib.sha256(data).hexdigest(), t["graph_sha256"])
            self.assertLess(len(data), 2 << 20)
            import onnx

            proto = onnx.load_from_string(data)
            ext = {i.name: {e.key: e.value for e in i.external_data} for i in proto.graph.initializer}
            self.assertEqual(set(ext), {x["name"] for x in t["tensors"]})
            for x in t["tensors"]:
                self.assertEqual(ext[x["name"]], {"location": "weights.bin", "offset": str(x["offset"]), "length": str(x["bytes"])})

    def test_template_graph_runs_with_written_weights(self):
        """A template for a small config + weights.bin written from a state dict (as the importer
        does) gives the reference network's output, run through onnxruntime-node (the runtime the
        app uses) in a Node subprocess."""
        cfg = SEDDConfig(hidden_size=32, n_blocks=1, n_heads=2, cond_dim=16, vocab_size=40)
        torch.manual_seed(0)
        with tempfile.TemporaryDirectory() as d:
            t = make_templates.make_template(cfg, d)
            ref = SEDD(SEDDConfig(hidden_size=32, n_blocks=1, n_heads=2, cond_dim=16, vocab_size=40)).eval()
            make_templates.write_weights(t, ref.state_dict(), os.path.join(d, "weights.bin"))
            idx = torch.randint(0, 40, (2, 5))
            sig = torch.tensor([0.3, 2.0])
            out = run_onnx_in_node(os.path.join(d, "model.onnx"), idx, sig)
            with torch.no_grad():
                want = ref(idx, sig).numpy()
            self.assertEqual(out.shape, want.shape)
            self.assertLess(abs(out - want).max(), 1e-4)

    def test_every_parameter_keeps_its_name(self):
        cfg = SEDDConfig(hidden_size=32, n_blocks=2, n_heads=2, cond_dim=16, vocab_size=40)
        with tempfile.TemporaryDirectory() as d:
            t = make_templates.make_template(cfg, d)
            names = [x["name"] for x in t["tensors"]]
            self.assertEqual(names, list(SEDD(cfg).state_dict()))
            inv = next(x for x in t["tensors"] if x["name"] == "rotary_emb.inv_freq")
            self.assertEqual(len(inv["default"]), 8)
            self.assertAlmostEqual(inv["default"][1], 10000 ** (-2 / 16), places=6)


def assert_json_close(tc: unittest.TestCase, got, want, where: str) -> None:
    """Equal JSON except that numbers may differ by float32 rounding (relative 1e-5)."""
    if isinstance(want, dict):
        tc.assertIsInstance(got, dict, where)
        tc.assertEqual(sorted(got), sorted(want), where)
        for k in want:
            assert_json_close(tc, got[k], want[k], f"{where}.{k}")
    elif isinstance(want, list):
        tc.assertIsInstance(got, list, where)
        tc.assertEqual(len(got), len(want), where)
        for i, (g, w) in enumerate(zip(got, want)):
            assert_json_close(tc, g, w, f"{where}[{i}]")
    elif isinstance(want, float) and not isinstance(want, bool):
        tc.assertTrue(math.isclose(got, want, rel_tol=1e-5, abs_tol=1e-6), f"{where}: {got} vs {want}")
    else:
        tc.assertEqual(got, want, where)


class TestOfficialLikeFixture(unittest.TestCase):
    def test_committed_fixture_is_reproducible(self):
        with tempfile.TemporaryDirectory() as d:
            make_official_like.build(d)
            for rel in ("checkpoint/config.json", "checkpoint/model.safetensors", "reference.json", "templates/official-like-tiny/template.json"):
                with open(os.path.join(d, rel), "rb") as a, open(os.path.join(FIXTURE, rel), "rb") as b:
                    got, want = a.read(), b.read()
                if rel == "reference.json":
                    # PyTorch outputs: the last float32 digit depends on the CPU's kernels
                    # (AVX2 vs AVX-512), so compare the numbers within float32 rounding
                    assert_json_close(self, json.loads(got), json.loads(want), rel)
                else:
                    self.assertEqual(got, want, rel)

    def test_fixture_layout(self):
        st, _ = convert_bin.load_safetensors(os.path.join(FIXTURE, "checkpoint", "model.safetensors"))
        want = expected_shapes(64, 2, V=512, C=32, heads=2)
        del want["rotary_emb.inv_freq"]  # left out on purpose
        self.assertEqual({k: list(v.shape) for k, v in st.items()}, want)
        self.assertEqual(st["vocab_embed.embedding"].dtype, torch.bfloat16)
        self.assertEqual(st["blocks.0.attn_qkv.weight"].dtype, torch.float16)
        self.assertEqual(st["output_layer.linear.weight"].dtype, torch.float32)
        total = sum(os.path.getsize(os.path.join(p, f)) for p, _, fs in os.walk(FIXTURE) for f in fs)
        self.assertLess(total, 2 << 20)


def run_onnx_in_node(model_path, indices, sigma):
    """Runs an ONNX score network (I/O 2, models/FORMAT.md) through onnxruntime-node (the repo's
    node_modules) at every position and returns log_score as a numpy array [B, L, V]."""
    import json
    import subprocess
    import numpy as np

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    script = (
        "const ort=require(process.argv[1]);const a=JSON.parse(require('fs').readFileSync(0,'utf8'));"
        "(async()=>{const s=await ort.InferenceSession.create(a.model);"
        "const n=a.shape[0]*a.shape[1];"
        "const f={indices:new ort.Tensor('int64',BigInt64Array.from(a.idx.map(BigInt)),a.shape),"
        "sigma:new ort.Tensor('float32',Float32Array.from(a.sig),[a.shape[0]]),"
        "positions:new ort.Tensor('int64',BigInt64Array.from({length:n},(_,i)=>BigInt(i)),[n])};"
        "if(s.inputNames.includes('uniforms'))f.uniforms=new ort.Tensor('float32',new Float32Array(n),[n]);"
        "const r=await s.run(f,['log_score']);"
        "const o=r.log_score;process.stdout.write(JSON.stringify({dims:[...a.shape,o.dims[1]],data:Array.from(o.data)}));})()"
        ".catch(e=>{console.error(e);process.exit(1)});"
    )
    payload = json.dumps({"model": model_path, "idx": indices.flatten().tolist(), "shape": list(indices.shape), "sig": sigma.tolist()})
    r = subprocess.run(
        ["node", "-e", script, os.path.join(root, "node_modules", "onnxruntime-node")], input=payload, capture_output=True, text=True, check=False
    )
    if r.returncode != 0:
        raise AssertionError(f"onnxruntime-node run failed: {r.stderr.strip()[-500:]}")
    o = json.loads(r.stdout)
    return np.array(o["data"], dtype=np.float32).reshape(o["dims"])


if __name__ == "__main__":
    unittest.main()
