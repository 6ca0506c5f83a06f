"""Write a random-weight network in the sedd-small shape (H 768, 12 blocks, 12 heads, V 50258) as
ONNX, for `npm run bench` only (scripts/bench.mjs calls this when the file is missing).

    /usr/bin/python3 scripts/bench-make-small.py OUT.onnx

About 680 MB (fp32). The weights are random: the timings are meaningful, the outputs are not.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "models"))

import torch  # noqa: E402

from sedd.export import export_onnx  # noqa: E402
from sedd.model import SEDD, SEDDConfig  # noqa: E402


def main() -> None:
    out = sys.argv[1]
    torch.manual_seed(0)
    model = SEDD(SEDDConfig()).eval()  # the defaults are sedd-small
    tmp = out + ".partial"
    export_onnx(model, tmp)
    os.replace(tmp, out)
    print(f"wrote {out} ({os.path.getsize(out) / 1e6:.0f} MB)")


if __name__ == "__main__":
    main()
