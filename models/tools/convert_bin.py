"""Convert a SEDD checkpoint folder's ``pytorch_model.bin`` into ``model.safetensors``, so that
Lacuna can import it without Python (``lacuna models import DIR``).

    OPENBLAS_NUM_THREADS=1 python3 models/tools/convert_bin.py DIR [--out FILE]

Needs torch (any version; ``torch.load(weights_only=True)`` is used where torch supports it, so a
malicious pickle cannot run code there — on older torch only load files you trust). Does not need
the ``safetensors`` package: the format (8-byte little-endian header length, JSON header
``name -> {dtype, shape, data_offsets}``, raw little-endian data) is written here. Tensor names
and dtypes are kept as they are (F32/F16/BF16; the importer converts to float32 and handles
``module.``-style prefixes). A checkpoint dict holding the weights under ``state_dict``, ``model``
or ``ema`` is unwrapped (the EMA copy is preferred, as the authors sample with it).
"""
from __future__ import annotations

import argparse
import inspect
import json
import os
import struct
import sys
from typing import Dict, List, Optional, Tuple

import torch

DTYPES = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.float64: "F64",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}
ALIGN = 8  # header padded with spaces so the data starts 8-byte aligned (as the reference writer does)


def tensor_bytes(t: torch.Tensor) -> bytes:
    t = t.detach().cpu().contiguous()
    if t.dtype == torch.bfloat16:
        # numpy has no bfloat16: reinterpret the bits as int16
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    return t.numpy().tobytes()  # little-endian on every host torch supports


def save_safetensors(tensors: Dict[str, torch.Tensor], path: str, metadata: Optional[Dict[str, str]] = None) -> None:
    """Write ``tensors`` (in the given order) as a safetensors file."""
    header: Dict[str, object] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs: List[bytes] = []
    offset = 0
    for name, t in tensors.items():
        if t.dtype not in DTYPES:
            raise ValueError(f"{name}: unsupported dtype {t.dtype}")
        data = tensor_bytes(t)
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % ALIGN)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def load_safetensors(path: str) -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
    """Read a safetensors file (F32/F16/BF16/I64 ...) into CPU tensors (for tests and tools)."""
    import numpy as np

    np_types = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?", "BF16": "<i2"}
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        base = 8 + n
        out: Dict[str, torch.Tensor] = {}
        meta = header.pop("__metadata__", {}) or {}
        for name, e in header.items():
            b, end = e["data_offsets"]
            f.seek(base + b)
            arr = np.frombuffer(f.read(end - b), dtype=np_types[e["dtype"]]).reshape(e["shape"]).copy()
            t = torch.from_numpy(arr)
            if e["dtype"] == "BF16":
                t = t.view(torch.bfloat16)
            out[name] = t
    return out, meta


def load_bin(path: str) -> Dict[str, torch.Tensor]:
    kwargs = {"map_location": "cpu"}
    if "weights_only" in inspect.signature(torch.load).parameters:
        kwargs["weights_only"] = True
    obj = torch.load(path, **kwargs)
    for key in ("ema", "state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict) and obj[key] and all(isinstance(v, torch.Tensor) for v in obj[key].values()):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise SystemExit(f"{path}: not a state dict of tensors")
    return obj


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description="pytorch_model.bin -> model.safetensors")
    ap.add_argument("dir", help="checkpoint folder holding pytorch_model.bin (and config.json)")
    ap.add_argument("--out", help="output file (default DIR/model.safetensors)")
    a = ap.parse_args(argv)
    src = os.path.join(a.dir, "pytorch_model.bin")
    out = a.out or os.path.join(a.dir, "model.safetensors")
    if os.path.exists(out) and not a.out:
        raise SystemExit(f"{out} already exists")
    state = load_bin(src)
    save_safetensors(state, out, {"format": "pt", "source": "pytorch_model.bin"})
    print(f"{out}: {len(state)} tensors, {os.path.getsize(out)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
