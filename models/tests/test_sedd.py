"""Tests for models/sedd (network layout, tokenizer, samplers, export) and the committed
tiny fixture.  Run from the repository root:

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 -m unittest discover -s models/tests -t models -v
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import random
import sys
import tempfile
import unittest
from typing import Dict, Iterator, Tuple
from unittest import mock

MODELS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if MODELS not in sys.path:
    sys.path.insert(0, MODELS)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from sedd.export import check_layernorm_bias, export_onnx, write_manifest  # noqa: E402
from sedd.graph import Absorbing, Uniform  # noqa: E402
from sedd.model import SEDD, SEDDConfig, count_params, log_expm1  # noqa: E402
from sedd.noise import GeometricNoise, LogLinearNoise  # noqa: E402
from sedd.sampling import AnalyticPredictor, sample, sample_categorical  # noqa: E402
from sedd.tokenizer import ByteLevelBPE, pre_tokenize  # noqa: E402

FIXTURE = os.path.join(MODELS, "fixtures", "tiny-fixture")
FIXTURE_TEXT = os.path.join(MODELS, "tools", "fixture_text.txt")
torch.set_num_threads(1)


@contextlib.contextmanager
def no_init() -> Iterator[None]:
    """Skip weight initialisation so a 170M-parameter model is built instantly (the
    uninitialised memory is never touched, so it costs no RAM either)."""
    with mock.patch.object(nn.Linear, "reset_parameters", lambda self: None), mock.patch.object(nn.init, "kaiming_uniform_", lambda t, **k: t):
        yield


def tiny_config(**kw) -> SEDDConfig:
    base = dict(hidden_size=32, n_blocks=2, n_heads=2, cond_dim=16, vocab_size=41, graph_type="absorb", scale_by_sigma=True, dropout=0.1)
    base.update(kw)
    return SEDDConfig(**base)


def official_shapes(H: int, n_blocks: int, V: int = 50258, cond: int = 128) -> Dict[str, Tuple[int, ...]]:
    """The checkpoint table of sedd.md section 1."""
    shapes: Dict[str, Tuple[int, ...]] = {
        "vocab_embed.embedding": (V, H),
        "sigma_map.mlp.0.weight": (cond, 256),
        "sigma_map.mlp.0.bias": (cond,),
        "sigma_map.mlp.2.weight": (cond, cond),
        "sigma_map.mlp.2.bias": (cond,),
        "rotary_emb.inv_freq": (32,),
    }
    for i in range(n_blocks):
        p = f"blocks.{i}."
        shapes.update(
            {
                p + "norm1.weight": (H,),
                p + "norm2.weight": (H,),
                p + "attn_qkv.weight": (3 * H, H),
                p + "attn_out.weight": (H, H),
                p + "mlp.0.weight": (4 * H, H),
                p + "mlp.0.bias": (4 * H,),
                p + "mlp.2.weight": (H, 4 * H),
                p + "mlp.2.bias": (H,),
                p + "adaLN_modulation.weight": (6 * H, cond),
                p + "adaLN_modulation.bias": (6 * H,),
            }
        )
    shapes.update(
        {
            "output_layer.norm_final.weight": (H,),
            "output_layer.linear.weight": (V, H),
            "output_layer.linear.bias": (V,),
            "output_layer.adaLN_modulation.weight": (2 * H, cond),
            "output_layer.adaLN_modulation.bias": (2 * H,),
        }
    )
    return shapes


def reference_forward(model: SEDD, indices: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """An independent forward written after the authors' code (rearrange-style qkv split,
    rotary tables repeated over q/k/v with v's set to identity, official esigm1 formula in
    float64), reading the state dict only."""
    sd = model.state_dict()
    cfg = model.config
    H, nh = cfg.hidden_size, cfg.n_heads
    d = H // nh
    B, L = indices.shape

    def lin(x, name, bias=True):
        return F.linear(x, sd[name + ".weight"], sd.get(name + ".bias") if bias else None)

    def ln(x, w):
        return F.layer_norm(x.float(), [H]) * w[None, None, :]

    x = sd["vocab_embed.embedding"][indices]
    half = 128
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / half)
    args = sigma[:, None].float() * freqs[None]
    temb = torch.cat([torch.cos(args), torch.sin(args)], -1)
    c = F.silu(lin(F.silu(lin(temb, "sigma_map.mlp.0")), "sigma_map.mlp.2"))

    inv_freq = 1.0 / (10000 ** (torch.arange(0, d, 2).float() / d))
    t = torch.arange(L).float()
    fr = torch.einsum("i,j->ij", t, inv_freq)
    emb = torch.cat((fr, fr), -1)
    cos = emb.cos()[None, :, None, None, :].repeat(1, 1, 3, 1, 1)
    sin = emb.sin()[None, :, None, None, :].repeat(1, 1, 3, 1, 1)
    cos[:, :, 2] = 1.0
    sin[:, :, 2] = 0.0

    for i in range(cfg.n_blocks):
        p = f"blocks.{i}."
        mod = lin(c, p + "adaLN_modulation")[:, None]
        s1, sc1, g1, s2, sc2, g2 = mod.chunk(6, dim=2)
        h = ln(x, sd[p + "norm1.weight"]) * (1 + sc1) + s1
        qkv = F.linear(h, sd[p + "attn_qkv.weight"]).reshape(B, L, 3, nh, d)  # b s (three h d)
        x1, x2 = qkv.chunk(2, dim=-1)
        qkv = qkv * cos + torch.cat((-x2, x1), -1) * sin
        q, k, v = (qkv[:, :, j].permute(0, 2, 1, 3) for j in range(3))
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), -1) @ v
        x = x + g1 * F.linear(a.permute(0, 2, 1, 3).reshape(B, L, H), sd[p + "attn_out.weight"])
        h = ln(x, sd[p + "norm2.weight"]) * (1 + sc2) + s2
        h = lin(F.gelu(lin(h, p + "mlp.0"), approximate="tanh"), p + "mlp.2")
        x = x + g2 * h
    shift, scale = lin(c, "output_layer.adaLN_modulation")[:, None].chunk(2, dim=2)
    x = lin(ln(x, sd["output_layer.norm_final.weight"]) * (1 + scale) + shift, "output_layer.linear")
    if cfg.scale_by_sigma:
        s64 = sigma.double()
        esigm1_log = torch.where(s64 < 0.5, torch.expm1(s64), s64.exp() - 1).log()
        x = x - esigm1_log.float()[:, None, None] - math.log(x.shape[-1] - 1)
    return torch.scatter(x, -1, indices[..., None], torch.zeros_like(x[..., :1]))


class TestNetwork(unittest.TestCase):
    def test_state_dict_matches_official_small_and_medium(self) -> None:
        for cfg, H, n in [(SEDDConfig.small(), 768, 12), (SEDDConfig.medium(), 1024, 24)]:
            with no_init():
                model = SEDD(cfg)
            got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
            self.assertEqual(got, official_shapes(H, n))
            if H == 768:
                n_params = count_params(model)
                self.assertAlmostEqual(n_params / 1e6, 169.6, delta=0.05)
                self.assertAlmostEqual((n_params - 2 * 50258 * 768 - 50258) / 1e6, 92.4, delta=0.1)
            del model

    def test_inv_freq_buffer(self) -> None:
        model = SEDD(tiny_config(hidden_size=128, n_heads=2))  # head dim 64 as official
        expected = 10000.0 ** (-2 * torch.arange(32, dtype=torch.float64) / 64)
        torch.testing.assert_close(model.rotary_emb.inv_freq.double(), expected, rtol=1e-6, atol=0)

    def test_matches_reference_forward(self) -> None:
        torch.manual_seed(0)
        for nh in (1, 2, 4):
            model = SEDD(tiny_config(n_heads=nh)).eval()
            idx = torch.randint(0, 41, (3, 9))
            idx[0, :4] = 40
            sigma = torch.tensor([1e-4, 0.7, 6.0])
            with torch.no_grad():
                torch.testing.assert_close(model(idx, sigma), reference_forward(model, idx, sigma), rtol=1e-5, atol=2e-5)

    def test_any_length_and_dropout_only_in_training(self) -> None:
        torch.manual_seed(1)
        model = SEDD(tiny_config(dropout=0.5))
        model.eval()
        for L in (1, 5, 64):
            idx = torch.randint(0, 41, (2, L))
            s = torch.tensor([0.1, 2.0])
            with torch.no_grad():
                y1, y2 = model(idx, s), model(idx, s)
            self.assertEqual(tuple(y1.shape), (2, L, 41))
            torch.testing.assert_close(y1, y2, rtol=0, atol=0)
        model.train()
        with torch.no_grad():
            self.assertFalse(torch.equal(model(idx, s), model(idx, s)))

    def test_scale_by_sigma_shift_and_zero_at_index(self) -> None:
        torch.manual_seed(2)
        scaled = SEDD(tiny_config()).eval()
        plain = SEDD(tiny_config(scale_by_sigma=False)).eval()
        plain.load_state_dict(scaled.state_dict())
        idx = torch.randint(0, 41, (4, 6))
        idx[:, ::2] = 40
        sig = torch.tensor([1e-5, 1e-3, 0.49, 5.0])
        with torch.no_grad():
            ys, yp = scaled(idx, sig), plain(idx, sig)
        s64 = sig.double().numpy()
        shift = np.log(np.expm1(s64)) + np.log(41 - 1)
        diff = (yp - ys).double().numpy()
        off_index = np.ones(diff.shape, dtype=bool)
        np.put_along_axis(off_index, idx.numpy()[..., None], False, axis=-1)
        for b in range(4):
            np.testing.assert_allclose(diff[b][off_index[b]], shift[b], rtol=1e-6, atol=2e-5)
        self.assertTrue(torch.all(ys.gather(-1, idx[..., None]) == 0))
        self.assertTrue(torch.all(yp.gather(-1, idx[..., None]) == 0))

    def test_log_expm1_accuracy(self) -> None:
        s = np.concatenate([np.logspace(-8, 2, 400), [0.4999, 0.5, 0.5001, 20.0, 80.0, 200.0]])
        got = log_expm1(torch.tensor(s, dtype=torch.float32)).double().numpy()
        s32 = s.astype(np.float32).astype(np.float64)
        np.testing.assert_allclose(got, np.log(np.expm1(s32)), rtol=2e-6, atol=2e-6)


class TestTokenizer(unittest.TestCase):
    tok: ByteLevelBPE

    @classmethod
    def setUpClass(cls) -> None:
        with open(FIXTURE_TEXT, encoding="utf-8") as f:
            cls.tok = ByteLevelBPE.train(f.read(), 300)

    def test_sizes_and_ids(self) -> None:
        self.assertEqual(len(self.tok), 300)
        self.assertEqual(self.tok.eos_id, 299)
        self.assertEqual(len(self.tok.merges), 300 - 256 - 1)
        self.assertEqual(self.tok.id_to_token[0], "!")  # GPT-2 byte order
        self.assertEqual(self.tok.vocab["Ġ"], 220)

    def test_pre_tokenize_gpt2(self) -> None:
        self.assertEqual(pre_tokenize("Hello world, it's 2024!  ok\n\n x"), ["Hello", " world", ",", " it", "'s", " 2024", "!", " ", " ok", "\n\n", " x"])
        self.assertEqual(pre_tokenize("e\u0301te \u0663\u0664 日本"), ["e", "\u0301", "te", " \u0663\u0664", " 日本"])
        s = "any text\u3000with\u00a0odd  spaces \ufeff\u0085 end  "
        self.assertEqual("".join(pre_tokenize(s)), s)

    def test_round_trip_fixed(self) -> None:
        strings = [
            "",
            "a",
            "Hello, world!",
            "line\n\nbreaks\r\n\ttab",
            "😀👨‍👩‍👧 🇫🇷",
            "中文 日本語 한국어",
            "e\u0301 Z\u0351\u0352",
            "العربية עברית",
            "<|endoftext|>",
            "\x00\x7f\u0085\ufeff",
            "   ",
            "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
        ]
        for s in strings:
            ids = self.tok.encode(s)
            self.assertEqual(self.tok.decode(ids), s)
            self.assertNotIn(self.tok.eos_id, ids)

    def test_round_trip_random_unicode(self) -> None:
        rng = random.Random(0)
        pools = [(0x20, 0x7E), (0x00, 0x20), (0x80, 0x7FF), (0x800, 0xD7FF), (0xE000, 0xFFFF), (0x10000, 0x10FFFF)]
        for _ in range(200):
            chars = []
            for _ in range(rng.randint(0, 40)):
                lo, hi = rng.choice(pools)
                chars.append(chr(rng.randint(lo, hi)))
            s = "".join(chars)
            self.assertEqual(self.tok.decode(self.tok.encode(s)), s)

    def test_special_tokens(self) -> None:
        ids = self.tok.encode("a<|endoftext|>b", allow_special=True)
        self.assertEqual(ids.count(self.tok.eos_id), 1)
        self.assertEqual(self.tok.decode(ids), "a<|endoftext|>b")
        self.assertEqual(self.tok.decode(ids, skip_special=True), "ab")

    def test_hf_json_round_trip(self) -> None:
        data = self.tok.to_hf_json()
        self.assertEqual(data["model"]["type"], "BPE")
        self.assertEqual(data["pre_tokenizer"]["type"], "ByteLevel")
        self.assertEqual(data["decoder"]["type"], "ByteLevel")
        self.assertEqual(data["added_tokens"][0]["content"], "<|endoftext|>")
        self.assertTrue(all(isinstance(m, list) and len(m) == 2 for m in data["model"]["merges"]))
        text = "The lighthouse keeper wrote three lines."
        for merges in (data["model"]["merges"], [" ".join(m) for m in data["model"]["merges"]]):
            d = json.loads(json.dumps(data))
            d["model"]["merges"] = merges
            self.assertEqual(ByteLevelBPE.from_hf_json(d).encode(text), self.tok.encode(text))

    def test_training_is_deterministic(self) -> None:
        with open(FIXTURE_TEXT, encoding="utf-8") as f:
            again = ByteLevelBPE.train(f.read(), 300)
        self.assertEqual(again.merges, self.tok.merges)


class TestSampling(unittest.TestCase):
    def setUp(self) -> None:
        torch.manual_seed(3)
        self.V = 41
        self.model = SEDD(tiny_config(dropout=0.0)).eval()
        self.graph = Absorbing(self.V)
        self.noise = LogLinearNoise(1e-3)

    def test_unmasked_tokens_never_change_and_masks_removed(self) -> None:
        B, L, M = 3, 20, self.V - 1
        g = torch.Generator().manual_seed(4)
        known_ids = torch.randint(0, M, (B, L), generator=g)
        known_mask = torch.rand(B, L, generator=g) < 0.4
        for predictor in ("analytic", "euler"):
            prev = {"x": self.graph.sample_limit(B, L)}

            def on_step(call: int, x: torch.Tensor) -> None:
                before = torch.where(known_mask, known_ids, prev["x"])
                unmasked = before != M
                self.assertTrue(torch.equal(x[unmasked], before[unmasked]), (predictor, call))
                prev["x"] = x

            x = sample(
                self.model, self.graph, self.noise, (B, L), 6, predictor=predictor, known_ids=known_ids, known_mask=known_mask, generator=g, on_step=on_step
            )
            self.assertFalse((x == M).any())
            self.assertTrue(torch.equal(x[known_mask], known_ids[known_mask]))

    def test_explicit_exp_noise_is_deterministic_and_euler_equals_analytic(self) -> None:
        B, L = 2, 10

        def exp_noise(call: int, shape):
            gen = torch.Generator().manual_seed(100 + call)
            return -torch.log(torch.rand(shape, generator=gen, dtype=torch.float64))

        runs = [sample(self.model, self.graph, self.noise, (B, L), 5, predictor=p, exp_noise=exp_noise) for p in ("analytic", "analytic", "euler")]
        self.assertTrue(torch.equal(runs[0], runs[1]))
        # sedd.md section 3: for absorb + log-linear, Euler and analytic coincide exactly.
        self.assertTrue(torch.equal(runs[0], runs[2]))

    def test_analytic_matches_closed_form(self) -> None:
        """At a masked position the step t -> s unmasks to j with probability
        c_j (t - s) / t, c_j = exp(out_j - log(V - 1)) with out before the shift."""
        M = self.V - 1
        plain = SEDD(tiny_config(dropout=0.0, scale_by_sigma=False)).eval()
        plain.load_state_dict(self.model.state_dict())
        x = torch.full((1, 4), M)
        x[0, 1] = 7
        t, s = 0.6, 0.45
        sig_t = self.noise.total_noise(torch.tensor([t], dtype=torch.float64))
        dsig = sig_t - self.noise.total_noise(torch.tensor([s], dtype=torch.float64))
        with torch.no_grad():
            score = self.model(x, sig_t.float()).double().exp()
            out = plain(x, sig_t.float()).double()
        probs = self.graph.staggered_score(score, dsig) * self.graph.transp_transition(x, dsig)
        probs = probs / probs.sum(-1, keepdim=True)
        c = torch.exp(out - math.log(self.V - 1))
        for l in (0, 2, 3):
            expected = c[0, l, :M] * (t - s) / t
            torch.testing.assert_close(probs[0, l, :M], expected, rtol=2e-5, atol=1e-7)
            torch.testing.assert_close(probs[0, l, M], 1 - expected.sum(), rtol=2e-5, atol=1e-6)
        self.assertEqual(probs[0, 1].argmax().item(), 7)
        self.assertAlmostEqual(probs[0, 1, 7].item(), 1.0, places=12)

    def test_sample_categorical(self) -> None:
        p = torch.tensor([[0.0, 2.0, 1.0, -1.0]], dtype=torch.float64)
        e = torch.tensor([[0.1, 4.0, 1.0, 0.01]], dtype=torch.float64)
        self.assertEqual(sample_categorical(p, e).item(), 2)  # 1/1 > 2/4
        g = torch.Generator().manual_seed(0)
        draws = sample_categorical(p.expand(20000, 4), generator=g)
        freq = torch.bincount(draws, minlength=4).double() / 20000
        torch.testing.assert_close(freq, torch.tensor([0, 2 / 3, 1 / 3, 0], dtype=torch.float64), atol=0.015, rtol=0)

    def test_uniform_graph_and_geometric_noise(self) -> None:
        torch.manual_seed(5)
        model = SEDD(tiny_config(graph_type="uniform", scale_by_sigma=False, vocab_size=30, dropout=0.0)).eval()
        x = sample(model, Uniform(30), GeometricNoise(), (2, 8), 4)
        self.assertEqual(tuple(x.shape), (2, 8))
        self.assertTrue(((x >= 0) & (x < 30)).all())
        P = Uniform(30).transp_transition(torch.tensor([[3]]), torch.tensor([0.7], dtype=torch.float64))
        self.assertAlmostEqual(P.sum().item(), 1.0, places=12)

    def test_noise_schedules(self) -> None:
        n = LogLinearNoise(1e-3)
        t = torch.tensor([0.0, 0.3, 1.0], dtype=torch.float64)
        torch.testing.assert_close(1 - torch.exp(-n.total_noise(t)), (1 - 1e-3) * t)
        h = 1e-6
        torch.testing.assert_close((n.total_noise(t[1:2] + h) - n.total_noise(t[1:2] - h)) / (2 * h), n.rate_noise(t[1:2]), rtol=1e-6, atol=0)
        g = GeometricNoise(1e-4, 20.0)
        torch.testing.assert_close(g.total_noise(torch.tensor([0.0, 1.0], dtype=torch.float64)), torch.tensor([1e-4, 20.0], dtype=torch.float64))


class TestExport(unittest.TestCase):
    def test_export_checker_and_manifest(self) -> None:
        import onnx

        torch.manual_seed(6)
        model = SEDD(tiny_config(hidden_size=32, n_heads=2, n_blocks=1, vocab_size=50))
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "model.onnx")
            export_onnx(model, path)  # runs onnx.checker (full_check) itself
            proto = onnx.load(path)
            onnx.checker.check_model(proto)
            check_layernorm_bias(proto)
            self.assertEqual(proto.opset_import[0].version, 17)
            ins = {i.name: i for i in proto.graph.input}
            self.assertEqual(set(ins), {"indices", "sigma", "positions", "uniforms"})
            self.assertEqual(ins["indices"].type.tensor_type.elem_type, onnx.TensorProto.INT64)
            self.assertEqual(ins["sigma"].type.tensor_type.elem_type, onnx.TensorProto.FLOAT)
            self.assertEqual(ins["positions"].type.tensor_type.elem_type, onnx.TensorProto.INT64)
            self.assertEqual(ins["uniforms"].type.tensor_type.elem_type, onnx.TensorProto.FLOAT)
            dims = [dd.dim_param for dd in ins["indices"].type.tensor_type.shape.dim]
            self.assertEqual(dims, ["batch", "length"])
            outs = {o.name: o for o in proto.graph.output}
            self.assertEqual(list(outs), ["log_score", "token", "log_norm"])
            odims = [dd.dim_param or dd.dim_value for dd in outs["log_score"].type.tensor_type.shape.dim]
            self.assertEqual(odims, ["count", 50])
            self.assertEqual(outs["token"].type.tensor_type.elem_type, onnx.TensorProto.INT64)
            self.assertFalse(any(n.op_type == "LayerNormalization" and len(n.input) < 3 for n in proto.graph.node))
            with open(os.path.join(d, "tokenizer.json"), "w") as f:
                f.write("{}")
            m = write_manifest(d, id="t", name="t", description="t", model=model, noise=LogLinearNoise().to_manifest(), length=16, eos_id=48)
            self.assertEqual(m["mask_id"], 49)
            self.assertEqual(m["files"]["model.onnx"]["bytes"], os.path.getsize(path))
            with open(os.path.join(d, "manifest.json")) as f:
                self.assertEqual(json.load(f), m)


@unittest.skipUnless(os.path.isdir(FIXTURE), "models/fixtures/tiny-fixture not built")
class TestNetworkGraph(unittest.TestCase):
    """models/sedd/export.py NetworkGraph: the exported form (I/O 2)."""

    def test_rows_equal_the_full_output_at_positions(self) -> None:
        from sedd.export import NetworkGraph

        for graph_type in ("absorb", "uniform"):
            torch.manual_seed(8)
            cfg = tiny_config(hidden_size=32, n_heads=2, n_blocks=1, vocab_size=40, graph_type=graph_type, scale_by_sigma=graph_type == "absorb")
            model = SEDD(cfg).eval()
            x = torch.randint(0, 40, (3, 11))
            sigma = torch.tensor([0.01, 0.7, 6.0])
            positions = torch.tensor([0, 32, 5, 11, 21, 22, 10])
            with torch.no_grad():
                full = model(x, sigma).reshape(-1, 40)
                rows = NetworkGraph(model).rows(x, sigma, positions)
            self.assertLess(float((rows - full[positions]).abs().max()), 1e-5, graph_type)

    def test_fused_draw_is_the_inverse_cdf_of_softmax_without_mask(self) -> None:
        from sedd.export import fused_draw

        g = torch.Generator().manual_seed(1)
        logits = torch.randn(1, 9, generator=g) * 2
        logits[0, 3] = -1e30  # a token that can never be drawn
        n = 20000
        u = (torch.arange(n, dtype=torch.float32) + 0.5) / n
        token, log_norm = fused_draw(logits.expand(n, 9), u)
        p = torch.softmax(logits[0, :8].double(), dim=0)
        counts = torch.bincount(token, minlength=8).double()
        self.assertEqual(int(token.max()), int(token.max().clamp(max=7)))  # never MASK (index 8)
        self.assertEqual(int(counts[3]), 0)
        self.assertLessEqual(float((counts - n * p).abs().max()), 1.0001)  # stratified: within 1
        self.assertAlmostEqual(float(log_norm[0]), float(torch.logsumexp(logits[0, :8].double(), 0)), places=5)


def run_onnx_rows(model_path: str, indices: torch.Tensor, sigma: torch.Tensor) -> np.ndarray:
    """log_score [B, L, V] of an exported network (I/O 2) at every position through
    onnxruntime-node (the engine's runtime, from the repo's node_modules)."""
    import shutil
    import subprocess

    root = os.path.dirname(MODELS)
    ort = os.path.join(root, "node_modules", "onnxruntime-node")
    if not (shutil.which("node") and os.path.isdir(ort)):
        raise unittest.SkipTest("node or node_modules/onnxruntime-node missing")
    script = (
        "const ort=require(process.argv[1]);const a=JSON.parse(require('fs').readFileSync(0,'utf8'));"
        "(async()=>{const s=await ort.InferenceSession.create(a.model);"
        "const n=a.shape[0]*a.shape[1];"
        "const f={indices:new ort.Tensor('int64',BigInt64Array.from(a.idx.map(BigInt)),a.shape),"
        "sigma:new ort.Tensor('float32',Float32Array.from(a.sig),[a.shape[0]]),"
        "positions:new ort.Tensor('int64',BigInt64Array.from({length:n},(_,i)=>BigInt(i)),[n]),"
        "uniforms:new ort.Tensor('float32',new Float32Array(n),[n])};"
        "const r=await s.run(f,['log_score']);const o=r.log_score;"
        "process.stdout.write(JSON.stringify({dims:[...a.shape,o.dims[1]],data:Array.from(o.data)}));})()"
        ".catch(e=>{console.error(e);process.exit(1)});"
    )
    payload = json.dumps({"model": model_path, "idx": indices.flatten().tolist(), "shape": list(indices.shape), "sig": sigma.tolist()})
    r = subprocess.run(["node", "-e", script, ort], input=payload, capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"onnxruntime-node failed: {r.stderr.strip()[-500:]}")
    o = json.loads(r.stdout)
    return np.array(o["data"], dtype=np.float32).reshape(o["dims"])


def randomized(model: SEDD, seed: int) -> SEDD:
    """Non-zero weights everywhere, small enough for well-conditioned outputs."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * (0.1 if p.dim() > 1 else 0.3))
    return model.eval()


class TestAdaptationNetwork(unittest.TestCase):
    """Issue 13: DiffuGPT's shift, attention-mask annealing and the MDLM x0-parameterisation
    as network options (SEDDConfig.shift / x0_param), in PyTorch and in the exported graph."""

    def test_new_options_default_off_and_absent_from_to_dict(self) -> None:
        cfg = SEDDConfig()
        self.assertFalse(cfg.shift)
        self.assertFalse(cfg.x0_param)
        self.assertNotIn("shift", cfg.to_dict())
        self.assertNotIn("x0_param", cfg.to_dict())
        on = tiny_config(shift=True, x0_param=True).to_dict()
        self.assertTrue(on["shift"] and on["x0_param"])
        self.assertEqual(SEDDConfig(**on), tiny_config(shift=True, x0_param=True))
        # no parameter added: same state-dict names and shapes
        a = SEDD(tiny_config()).state_dict()
        b = SEDD(tiny_config(shift=True, x0_param=True)).state_dict()
        self.assertEqual({k: v.shape for k, v in a.items()}, {k: v.shape for k, v in b.items()})

    def test_shift_with_causal_mask_is_the_ar_network(self) -> None:
        """Shifted network + causal attention (mask annealing at step 0) on x = the AR
        baseline (causal, no shift) on [BOS, x_0 .. x_{L-2}]: the hidden state at i-1 predicts
        token i, position 0 from BOS."""
        from sedd.model import annealed_attention_mask

        V, L = 41, 9
        ar = randomized(SEDD(tiny_config(causal=True, scale_by_sigma=False, time_conditioned=False, dropout=0.0)), 3)
        dm = SEDD(tiny_config(shift=True, x0_param=True, time_conditioned=False, dropout=0.0)).eval()
        dm.load_state_dict(ar.state_dict())
        x = torch.randint(0, V - 1, (2, L), generator=torch.Generator().manual_seed(1))
        sigma = torch.zeros(2)
        bos = torch.full((2, 1), V - 1)
        with torch.no_grad():
            h_ar, _ = ar.features(torch.cat([bos, x[:, :-1]], dim=1), sigma)
            h_dm, _ = dm.features(x, sigma, annealed_attention_mask(L + 1, 0.0))
            self.assertTrue(torch.allclose(h_ar, h_dm, atol=1e-6))
            # without the mask the shifted network sees the whole sequence: different states
            h_full, _ = dm.features(x, sigma)
            self.assertGreater(float((h_full - h_ar).abs().max()), 1e-3)
            # and a shifted network's output at i does not depend on x_i+1.. under the causal mask
            y = x.clone()
            y[:, 5:] = (y[:, 5:] + 1) % (V - 1)
            h_y, _ = dm.features(y, sigma, annealed_attention_mask(L + 1, 0.0))
            self.assertTrue(torch.allclose(h_y[:, :6], h_dm[:, :6], atol=1e-6))

    def test_annealed_mask_goes_from_causal_to_full(self) -> None:
        from sedd.model import annealed_attention_mask

        n = 64
        causal = torch.ones(n, n, dtype=torch.bool).tril()
        self.assertTrue(torch.equal(annealed_attention_mask(n, 0.0), causal))
        self.assertTrue(bool(annealed_attention_mask(n, 1.0).all()))
        g = torch.Generator().manual_seed(0)
        half = annealed_attention_mask(n, 0.5, generator=g)
        self.assertTrue(bool(half[causal].all()))  # never less than causal
        future = half[~causal].float().mean().item()
        self.assertAlmostEqual(future, 0.5, delta=0.05)
        # a masked row attends to at least itself: the softmax is always defined
        m = SEDD(tiny_config(dropout=0.0)).eval()
        with torch.no_grad():
            out = m(torch.randint(0, 41, (2, n)), torch.tensor([0.5, 1.0]), annealed_attention_mask(n, 0.3, generator=g))
        self.assertTrue(bool(torch.isfinite(out).all()))

    def test_x0_log_score_is_mdlm_subs_score(self) -> None:
        """The x0-parameterised network's log score equals models/sedd/mdlm.py's conversion of
        the same raw logits (SUBS + get_score), masked and unmasked rows."""
        from sedd.mdlm import subs_log_probs, subs_log_score

        V = 41
        m = randomized(SEDD(tiny_config(x0_param=True, time_conditioned=False, dropout=0.0)), 5)
        x = torch.randint(0, V - 1, (3, 12), generator=torch.Generator().manual_seed(2))
        x[:, ::3] = V - 1
        sigma = torch.tensor([0.01, 0.7, 6.0])
        with torch.no_grad():
            h, c = m.features(x, sigma)
            raw = m.output_layer(h, c)
            ref = subs_log_score(subs_log_probs(raw, x, V - 1), x, sigma, V - 1)
            out = m(x, sigma)
        self.assertLess(float((out - ref).abs().max()), 1e-4)
        masked = x == V - 1
        # masked rows: exp sums to 1/(e^sigma - 1) over the real tokens
        tot = out[..., :-1].exp().sum(-1)
        r = 1 / torch.expm1(sigma)[:, None].expand_as(tot)
        self.assertTrue(torch.allclose(tot[masked], r[masked], rtol=1e-4))

    def test_export_parity_shift_and_mdlm(self) -> None:
        """NetworkGraph rows = model(x, sigma) and the exported ONNX (run by onnxruntime-node)
        = PyTorch for the shifted network, the x0-parameterised one and both, at a length
        other than the tracing one."""
        from sedd.export import NetworkGraph

        V = 41
        for i, kw in enumerate([dict(shift=True), dict(x0_param=True), dict(shift=True, x0_param=True, time_conditioned=False)]):
            m = randomized(SEDD(tiny_config(dropout=0.0, **kw)), 10 + i)
            x = torch.randint(0, V - 1, (2, 13), generator=torch.Generator().manual_seed(i))
            x[0, 2:9] = V - 1
            x[1, ::2] = V - 1
            sigma = torch.tensor([0.05, 2.5])
            positions = torch.arange(2 * 13)
            with torch.no_grad():
                full = m(x, sigma)
                rows = NetworkGraph(m).rows(x, sigma, positions)
            self.assertLess(float((rows - full.reshape(-1, V)).abs().max()), 1e-5, kw)
            with tempfile.TemporaryDirectory() as d:
                path = os.path.join(d, "model.onnx")
                export_onnx(m, path)
                got = run_onnx_rows(path, x, sigma)
            diff = np.abs(got - full.numpy())
            self.assertLess(float(diff.max()), 1e-4, kw)


class TestFixture(unittest.TestCase):
    """The committed fixture is consistent with the code that builds it."""

    def test_manifest(self) -> None:
        with open(os.path.join(FIXTURE, "manifest.json")) as f:
            m = json.load(f)
        self.assertEqual((m["id"], m["vocab_size"], m["mask_id"], m["tokenizer"]["eos_id"]), ("tiny-fixture", 512, 511, 510))
        from sedd.export import file_entry

        for name, entry in m["files"].items():
            self.assertEqual(file_entry(os.path.join(FIXTURE, name)), entry)

    def test_tokenizer_cases(self) -> None:
        tok = ByteLevelBPE.load(os.path.join(FIXTURE, "tokenizer.json"))
        with open(os.path.join(FIXTURE, "tokenizer-cases.json"), encoding="utf-8") as f:
            cases = json.load(f)
        for c in cases["cases"]:
            self.assertEqual(tok.encode(c["text"]), c["ids"], c["text"])
            self.assertEqual(pre_tokenize(c["text"]), c["pre_tokens"])
            self.assertEqual(tok.decode(c["ids"]), c["text"])
        for c in cases["special_cases"]:
            self.assertEqual(tok.encode(c["text"], allow_special=True), c["ids"])

    def test_parity_matches_rebuilt_model(self) -> None:
        sys.path.insert(0, os.path.join(MODELS, "tools"))
        import make_fixture

        model = make_fixture.build_model()
        with open(os.path.join(FIXTURE, "parity.json")) as f:
            parity = json.load(f)
        for c in parity["cases"]:
            with torch.no_grad():
                y = model(torch.tensor(c["indices"]), torch.tensor(c["sigma"], dtype=torch.float32))
            rows = torch.stack([y[b, l] for b, l in c["positions"]])
            torch.testing.assert_close(rows, torch.tensor(c["values"]), rtol=0, atol=1e-5)
            self.assertAlmostEqual(float(y.double().abs().max()), c["max_abs"], places=5)


if __name__ == "__main__":
    unittest.main()
