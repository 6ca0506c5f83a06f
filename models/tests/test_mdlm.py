"""Tests for the MDLM reference (models/sedd/mdlm.py), its templates (make_templates.py) and the
synthetic mdlm-owt-layout fixture (models/tools/make_mdlm_fixture.py). Run from the repository
root:

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 -m unittest models.tests.test_mdlm

(The TypeScript import of the fixture is tested by src-main/engine/model/mdlm-import.test.ts.)
"""
from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import unittest

MODELS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = os.path.join(MODELS, "tools")
for p in (MODELS, TOOLS, os.path.dirname(os.path.abspath(__file__))):
    if p not in sys.path:
        sys.path.insert(0, p)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import torch  # noqa: E402

import convert_bin  # noqa: E402
import make_mdlm_fixture  # noqa: E402
import make_templates  # noqa: E402
from sedd.export import fused_draw  # noqa: E402
from sedd.graph import Absorbing  # noqa: E402
from sedd.mdlm import NEG_INFINITY, MDLM, MDLMConfig, MDLMNetworkGraph, MDLMScore, subs_log_probs  # noqa: E402
from sedd.model import SEDD, SEDDConfig  # noqa: E402

FIXTURE = os.path.join(MODELS, "tests", "import-fixture-mdlm")
SMALL = MDLMConfig(hidden_size=32, n_blocks=2, n_heads=2, cond_dim=16, vocab_size=40)
torch.set_num_threads(1)

# huggingface.co/kuleshov-group/mdlm-owt config.json (489 bytes), as a dict
HUB_CONFIG = {
    "_name_or_path": "kuleshov-group/mdlm-owt",
    "architectures": ["MDLM"],
    "auto_map": {"AutoConfig": "configuration_mdlm.MDLMConfig", "AutoModelForMaskedLM": "modeling_mdlm.MDLM"},
    "cond_dim": 128,
    "dropout": 0.1,
    "hidden_dim": 768,
    "model_length": 1024,
    "model_type": "mdlm",
    "n_blocks": 12,
    "n_heads": 12,
    "return_dict": False,
    "time_conditioning": False,
    "torch_dtype": "float32",
    "transformers_version": "4.38.2",
    "vocab_size": 50258,
}


def randomised(cfg: MDLMConfig, seed: int = 0) -> MDLM:
    """An MDLM with every parameter random (the Hub init zeroes adaLN and the output layer)."""
    m = MDLM(cfg).eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in m.named_parameters():
            p.copy_(torch.randn(p.shape, generator=g) * (0.3 if "norm" not in name else 0.1) + (1.0 if "norm" in name else 0.0))
    return m


def tokens_with_masks(cfg: MDLMConfig, B: int, L: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, cfg.vocab_size - 1, (B, L), generator=g)
    idx[torch.rand(B, L, generator=g) < 0.5] = cfg.mask_id
    return idx


class TestLayout(unittest.TestCase):
    def test_hub_config(self):
        cfg = make_templates.config_from_file(HUB_CONFIG)
        self.assertEqual(cfg, MDLMConfig.owt())
        text = json.dumps(MDLMConfig.owt().hub_config(), indent=2, sort_keys=True) + "\n"
        self.assertEqual(json.loads(text), HUB_CONFIG)
        self.assertEqual(len(text.encode()), 489)  # the Hub file's size
        self.assertEqual(cfg.mask_id, 50257)

    def test_state_dict_is_backbone_plus_the_sedd_names(self):
        sedd = SEDD(SEDDConfig(hidden_size=32, n_blocks=2, n_heads=2, cond_dim=16, vocab_size=40))
        want = {"backbone." + k: tuple(v.shape) for k, v in sedd.state_dict().items()}
        got = {k: tuple(v.shape) for k, v in MDLM(SMALL).state_dict().items()}
        self.assertEqual(got, want)
        self.assertEqual(list(got), list(want))  # same order too

    def test_trunk_is_sedds_at_sigma_zero_and_ignores_sigma(self):
        """time_conditioning false: c = silu(sigma_map(0)) (not zero); the logits are SEDD's raw
        output (before its shift and scatter) at sigma = 0, whatever sigma is passed."""
        m = randomised(SMALL)
        sedd = SEDD(SEDDConfig(hidden_size=32, n_blocks=2, n_heads=2, cond_dim=16, vocab_size=40, scale_by_sigma=False)).eval()
        sedd.load_state_dict({k[len("backbone.") :]: v for k, v in m.state_dict().items()})
        idx = tokens_with_masks(SMALL, 2, 9)
        with torch.no_grad():
            c = m.backbone.cond(torch.tensor([0.3, 4.0]))
            self.assertGreater(float(c.abs().min()), 0.0)
            self.assertTrue(torch.equal(c[0], c[1]))
            want = sedd.output_layer(*sedd.features(idx, torch.zeros(2)))
            for s in (0.0, 0.7, 9.0):
                self.assertLess(float((m(idx, torch.full((2,), s)) - want).abs().max()), 1e-5)
            self.assertLess(float((m(idx) - want).abs().max()), 1e-5)

    def test_time_conditioned_variant_sees_sigma(self):
        cfg = MDLMConfig(**{**SMALL.to_dict(), "time_conditioning": True})
        m = randomised(cfg)
        idx = tokens_with_masks(cfg, 1, 6)
        with torch.no_grad():
            self.assertGreater(float((m(idx, torch.tensor([0.1])) - m(idx, torch.tensor([3.0]))).abs().max()), 1e-3)


class TestScore(unittest.TestCase):
    def test_subs_and_score_conversion(self):
        m = randomised(SMALL)
        idx = tokens_with_masks(SMALL, 2, 11)
        sigma = torch.tensor([1e-3, 2.5])
        mask = SMALL.mask_id
        with torch.no_grad():
            logits = m(idx, sigma)
            logp = subs_log_probs(logits, idx, mask)
            score = MDLMScore(m)(idx, sigma)
        for b in range(2):
            lk = -math.log(math.expm1(float(sigma[b])))
            for i in range(11):
                if idx[b, i] == mask:
                    want = torch.log_softmax(logits[b, i, :-1].double(), -1)
                    self.assertLess(float((logp[b, i, :-1] - want).abs().max()), 1e-5)
                    self.assertLess(float((score[b, i, :-1] - (want + lk)).abs().max()), 1e-4)
                    self.assertEqual(float(score[b, i, mask]), 0.0)
                    # normalised: logsumexp over y != MASK of the log score is log k
                    self.assertAlmostEqual(float(torch.logsumexp(score[b, i, :-1].double(), -1)), lk, places=4)
                else:
                    row = score[b, i]
                    self.assertEqual(float(row[idx[b, i]]), 0.0)
                    self.assertAlmostEqual(float(row[mask]), -lk, places=4)
                    others = [j for j in range(mask) if j != int(idx[b, i])]
                    self.assertTrue(bool((row[others] == NEG_INFINITY).all()))

    def test_graph_rows_equal_the_reference(self):
        for tc in (False, True):
            cfg = MDLMConfig(**{**SMALL.to_dict(), "time_conditioning": tc})
            m = randomised(cfg, seed=3)
            idx = tokens_with_masks(cfg, 3, 7)
            sigma = torch.tensor([1e-4, 0.5, 6.0])
            pos = torch.tensor([20, 0, 5, 7, 13, 14])
            with torch.no_grad():
                want = MDLMScore(m)(idx, sigma).reshape(21, -1)[pos]
                got = MDLMNetworkGraph(m.backbone).rows(idx, sigma, pos)
            self.assertLess(float((got - want).abs().max()), 1e-4, tc)

    def test_analytic_step_is_mdlms_reverse_posterior(self):
        """SEDD's analytic step (staggered score x transposed transition) from this score equals
        MDLM's _ddpm_update: unmask to y with p(y)(alpha_s - alpha_t)/(1 - alpha_t), stay MASK with
        (1 - alpha_s)/(1 - alpha_t) (log-linear noise, eps 1e-3)."""
        m = randomised(SMALL, seed=5)
        idx = tokens_with_masks(SMALL, 1, 8)
        eps = 1e-3
        sig = lambda t: -math.log1p(-(1 - eps) * t)  # noqa: E731
        t, s = 0.6, 0.45
        with torch.no_grad():
            score = MDLMScore(m)(idx, torch.tensor([sig(t)])).double().exp()
            p = torch.softmax(m(idx)[..., :-1].double(), -1)
        graph = Absorbing(SMALL.vocab_size)
        ds = torch.tensor([sig(t) - sig(s)], dtype=torch.float64)
        probs = graph.staggered_score(score, ds) * graph.transp_transition(idx, ds)
        a_t, a_s = 1 - (1 - eps) * t, 1 - (1 - eps) * s
        for i in range(8):
            if idx[0, i] != SMALL.mask_id:
                continue
            self.assertLess(float((probs[0, i, :-1] - p[0, i] * (a_s - a_t) / (1 - a_t)).abs().max()), 1e-6)
            self.assertAlmostEqual(float(probs[0, i, -1]), (1 - a_s) / (1 - a_t), places=6)

    def test_score_entropy_is_mdlms_weighted_cross_entropy(self):
        """sedd.md section 4 at a masked position: sum_j s_j - r log s_x0 + r (log r - 1) with
        r = 1/(e^sigma - 1) equals -r log p(x0) for this score."""
        m = randomised(SMALL, seed=6)
        idx = tokens_with_masks(SMALL, 1, 8)
        x0 = torch.randint(0, SMALL.vocab_size - 1, (8,), generator=torch.Generator().manual_seed(2))
        sigma = 0.8
        with torch.no_grad():
            out = MDLMScore(m)(idx, torch.tensor([sigma])).double()[0]
            logp = torch.log_softmax(m(idx)[0, :, :-1].double(), -1)
        r = 1 / math.expm1(sigma)
        for i in range(8):
            if idx[0, i] != SMALL.mask_id:
                continue
            se = float(out[i, :-1].exp().sum() - r * out[i, x0[i]] + r * (math.log(r) - 1))
            self.assertAlmostEqual(se, -r * float(logp[i, x0[i]]), places=4)


class TestTemplates(unittest.TestCase):
    def test_template_names_config_and_onnx_run(self):
        from test_import import run_onnx_in_node

        with tempfile.TemporaryDirectory() as d:
            t = make_templates.make_template(SMALL, d)
            self.assertEqual(
                t["config"],
                {
                    "hidden_size": 32,
                    "n_blocks": 2,
                    "n_heads": 2,
                    "cond_dim": 16,
                    "vocab_size": 40,
                    "graph_type": "absorb",
                    "scale_by_sigma": True,
                    "family": "mdlm",
                    "time_conditioning": False,
                },
            )
            m = randomised(SMALL, seed=9)
            trunk = {k[len("backbone.") :]: v for k, v in m.state_dict().items()}
            self.assertEqual([x["name"] for x in t["tensors"]], list(trunk))
            make_templates.write_weights(t, trunk, os.path.join(d, "weights.bin"))
            idx = tokens_with_masks(SMALL, 2, 5)
            sig = torch.tensor([0.3, 2.0])
            out = run_onnx_in_node(os.path.join(d, "model.onnx"), idx, sig)
            with torch.no_grad():
                want = MDLMScore(m)(idx, sig).numpy()
            self.assertEqual(out.shape, want.shape)
            self.assertLess(abs(out - want).max(), 1e-4)

    def test_committed_mdlm_owt_templates(self):
        for name, dtype in (("mdlm-owt", "float32"), ("mdlm-owt-fp16", "float16")):
            path = os.path.join(MODELS, "templates", name, "template.json")
            if not os.path.exists(path):
                self.skipTest(f"{name} not made")
            with open(path, encoding="utf-8") as f:
                t = json.load(f)
            self.assertEqual(t["config"], make_templates.template_config(MDLMConfig.owt()))
            self.assertEqual(len(t["tensors"]), 131)
            self.assertTrue(all(x["dtype"] == dtype for x in t["tensors"]))
            self.assertEqual(sum(math.prod(x["shape"]) for x in t["tensors"]), 169_627_250)


class TestFixture(unittest.TestCase):
    def test_committed_fixture_is_reproducible(self):
        from test_import import assert_json_close

        with tempfile.TemporaryDirectory() as d:
            make_mdlm_fixture.build(d)
            for rel in ("checkpoint/config.json", "checkpoint/model.safetensors", "reference.json", "templates/mdlm-tiny/template.json"):
                with open(os.path.join(d, rel), "rb") as a, open(os.path.join(FIXTURE, rel), "rb") as b:
                    got, want = a.read(), b.read()
                if rel == "reference.json":
                    assert_json_close(self, json.loads(got), json.loads(want), rel)
                else:
                    self.assertEqual(got, want, rel)

    def test_fixture_layout_is_the_hubs(self):
        with open(os.path.join(FIXTURE, "checkpoint", "config.json"), encoding="utf-8") as f:
            cfg = json.load(f)
        self.assertEqual(sorted(cfg), sorted(HUB_CONFIG))
        self.assertEqual(make_templates.config_from_file(cfg), make_mdlm_fixture.TINY)
        st, _ = convert_bin.load_safetensors(os.path.join(FIXTURE, "checkpoint", "model.safetensors"))
        want = {k: list(v.shape) for k, v in MDLM(make_mdlm_fixture.TINY).state_dict().items()}
        self.assertEqual({k: list(v.shape) for k, v in st.items()}, want)
        self.assertTrue(all(k.startswith("backbone.") for k in st))
        self.assertIn("backbone.rotary_emb.inv_freq", st)
        self.assertTrue(all(v.dtype == torch.float32 for v in st.values()))

    def test_reference_draws_follow_the_scores(self):
        with open(os.path.join(FIXTURE, "reference.json"), encoding="utf-8") as f:
            ref = json.load(f)
        for c in ref["cases"]:
            if not c["full"]:
                continue
            B, L, V = c["shape"]
            rows = torch.tensor(c["values"], dtype=torch.float32)
            d = c["draw"]
            tok, ln = fused_draw(rows[torch.tensor(d["positions"])], torch.tensor(d["uniforms"]))
            self.assertEqual(tok.tolist(), d["token"])
            self.assertLess(max(abs(a - b) for a, b in zip(ln.tolist(), d["log_norm"])), 1e-4)


if __name__ == "__main__":
    unittest.main()
