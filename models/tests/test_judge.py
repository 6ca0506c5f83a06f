"""models/train/export_judge.py: a tiny random AR network exported as the fill benchmark's judge
gives the same log-probs through onnxruntime-node as in PyTorch, and they are the training loss's.

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 -m unittest models.tests.test_judge -v
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import unittest

MODELS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN = os.path.join(MODELS, "train")
for p in (MODELS, TRAIN):
    if p not in sys.path:
        sys.path.insert(0, p)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402

import export_judge as J  # noqa: E402
import trainlib as T  # noqa: E402
from sedd.losses import ar_loss  # noqa: E402

torch.set_num_threads(1)
ORT = os.path.join(os.path.dirname(MODELS), "node_modules", "onnxruntime-node")


def tiny_ar(seed: int = 0, V: int = 1500):
    spec = T.ModelSpec(kind="ar", hidden=32, blocks=2, heads=2, cond_dim=16, vocab_size=V, time_conditioned=False, dropout=0.0)
    model = T.SEDD(spec.config())
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * (0.1 if p.dim() > 1 else 0.3))
    return model.eval()


@unittest.skipUnless(shutil.which("node") and os.path.isdir(ORT), "node or node_modules/onnxruntime-node missing")
class JudgeExportTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def ids(self, V: int, B: int = 2, L: int = 24) -> np.ndarray:
        g = torch.Generator().manual_seed(7)
        x = torch.randint(0, V - 1, (B, L), generator=g)
        x[:, 0] = V - 1  # BOS = the MASK id
        return x.numpy()

    def export(self, model, fp16: bool) -> str:
        path = os.path.join(self.tmp, f"judge-{fp16}.onnx")
        with open(path, "wb") as f:
            f.write(J.export_proto(model, fp16).SerializeToString())
        return path

    def test_fp32_parity_and_training_loss(self):
        model = tiny_ar()
        V = model.config.vocab_size
        path = self.export(model, fp16=False)
        ids = self.ids(V)
        diff = J.parity(model, path, ids)
        print(f"\n  tiny AR judge, fp32: max abs diff onnxruntime-node vs PyTorch {diff:.3g}")
        self.assertLess(diff, 1e-4)
        # the log-probs are the training loss's: ar_loss(x0) = -sum log p(x0_i | BOS, x0_<i)
        x0 = torch.from_numpy(ids[:, 1:])
        full = torch.cat([x0, torch.zeros_like(x0[:, :1])], dim=1)  # ar_loss reads L tokens
        lp = J.run_onnxruntime_node(path, ids)
        self.assertEqual(lp.shape, (2, ids.shape[1], V - 1))
        nll = -np.take_along_axis(lp[:, :-1], ids[:, 1:, None], axis=-1)[..., 0].sum(axis=1)
        want = ar_loss(model, full).detach().numpy()
        last = -torch.log_softmax(J.CausalLM(model)(torch.from_numpy(ids))[:, -1], -1)[:, 0].detach().numpy()
        np.testing.assert_allclose(nll, want - last, rtol=1e-4, atol=1e-3)
        # any length (rotary positions built in the graph), rows sum to one
        lp8 = J.run_onnxruntime_node(path, ids[:1, :8])
        self.assertEqual(lp8.shape, (1, 8, V - 1))
        np.testing.assert_allclose(np.exp(lp8).sum(-1), 1.0, atol=1e-4)

    def test_fp16_initializers_with_casts(self):
        model = tiny_ar(seed=3)
        V = model.config.vocab_size
        path16 = self.export(model, fp16=True)
        path32 = self.export(model, fp16=False)
        proto = onnx.load(path16)
        halves = [t for t in proto.graph.initializer if t.data_type == onnx.TensorProto.FLOAT16]
        casts = [n for n in proto.graph.node if n.op_type == "Cast"]
        self.assertGreaterEqual(len(halves), 10)  # embedding, qkv, mlp, output ...
        self.assertGreaterEqual(len(casts), len(halves))
        self.assertLess(os.path.getsize(path16), 0.6 * os.path.getsize(path32))
        rounded = J.round_to_fp16(tiny_ar(seed=3))
        diff = J.parity(rounded, path16, self.ids(V))
        print(f"\n  tiny AR judge, fp16 weights: max abs diff onnxruntime-node vs PyTorch (rounded weights) {diff:.3g}")
        self.assertLess(diff, 1e-4)


if __name__ == "__main__":
    unittest.main()
