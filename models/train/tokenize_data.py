#!/usr/bin/env python3
"""Tokenise a corpus file (models/data/build/{train,test}.txt) into a flat uint16 token file.

Stdlib only (plus the optional PyPI ``tokenizers`` package), so it runs under Debian's
python3, under the pyenv python3 and under models/data/.venv/bin/python alike.

Format of the corpus (models/data/build_corpus.py): every document is followed by a line
holding only ``<|endoftext|>``; documents and markers are separated by one blank line, i.e.
``doc1 + "\\n\\n<|endoftext|>\\n\\n" + doc2 + ... + "\\n\\n<|endoftext|>\\n"``.  A file without
any marker (e.g. models/tools/fixture_text.txt) is one document.

Output: the ids of every document followed by the ``<|endoftext|>`` id (GPT-2 style packing),
as little-endian uint16 (``OUT``), plus ``OUT.json`` with counts, hashes and the backend.
Special-token strings inside a document are encoded as plain text (FORMAT.md), exactly like
``sedd.tokenizer.ByteLevelBPE.encode``.

Backends: ``hf`` (the Rust ``tokenizers`` package: documents are cut into paragraphs at
"X\\n|\\nY" boundaries, which are pre-token boundaries of GPT-2's split pattern, and encoded in
parallel batches) and ``python`` (models/sedd/tokenizer.py, ~1 MB/s).  ``--check N`` encodes
the first N characters with both and fails on any difference.

    python3 models/train/tokenize_data.py --text models/data/build/train.txt \\
        --tokenizer models/lacuna-mini/tokenizer.json --out models/train/runs/cache/train.u16
"""
from __future__ import annotations

import argparse
import array
import hashlib
import json
import os
import re
import sys
import time
from typing import Iterator, List, Optional, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.dirname(HERE)
EOS = "<|endoftext|>"
DOC_SEP = "\n\n" + EOS + "\n\n"
TAIL = "\n\n" + EOS + "\n"
# Cut "X\n\nY" (X, Y not whitespace) between the two newlines: both pieces pre-tokenise
# exactly as the whole (the first newline is a pre-token of its own either way).
_PARA_CUT = re.compile(r"(?<=\S\n)(?=\n\S)")


def split_documents(text: str) -> List[str]:
    if text.endswith(TAIL):
        text = text[: -len(TAIL)]
    elif text.endswith("\n" + EOS + "\n") or text.endswith("\n" + EOS):
        text = text.rsplit(EOS, 1)[0].rstrip("\n")
    if not text:
        return []
    return text.split(DOC_SEP)


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _python_tokenizer(tok_path: str):
    if MODELS not in sys.path:
        sys.path.insert(0, MODELS)
    from sedd.tokenizer import ByteLevelBPE

    return ByteLevelBPE.load(tok_path)


def have_hf() -> bool:
    try:
        import tokenizers  # noqa: F401

        return True
    except ImportError:
        return False


class Encoder:
    def __init__(self, tok_path: str, backend: str = "auto") -> None:
        if backend == "auto":
            backend = "hf" if have_hf() else "python"
        self.backend = backend
        self.py = _python_tokenizer(tok_path)  # also gives eos id / vocab size
        self.eos_id = self.py.eos_id
        self.n_ids = len(self.py)
        if backend == "hf":
            from tokenizers import Tokenizer

            self.hf = Tokenizer.from_file(tok_path)

    def encode_docs(self, docs: Sequence[str]) -> Iterator[List[int]]:
        """Yields the ids of each document (no EOS)."""
        if self.backend == "python":
            for d in docs:
                yield self.py.encode(d)
            return
        # Groups of documents (~2 MB); each group's paragraphs are encoded in one parallel
        # batch.  Documents holding a literal "<|endoftext|>" go through the Python encoder
        # (HF would match the added token inside the text).
        group: List[str] = []
        size = 0
        for d in list(docs) + [None]:  # type: ignore[list-item]
            if d is not None:
                group.append(d)
                size += len(d)
            if group and (d is None or size > 2_000_000):
                yield from self._encode_group(group)
                group, size = [], 0

    def _encode_group(self, docs: List[str]) -> Iterator[List[int]]:
        pieces: List[str] = []
        owners: List[int] = []
        for i, d in enumerate(docs):
            if EOS in d:
                continue
            for p in _PARA_CUT.split(d):
                pieces.append(p)
                owners.append(i)
        out: List[List[int]] = [[] for _ in docs]
        for o, e in zip(owners, self.hf.encode_batch(pieces, add_special_tokens=False)):
            out[o].extend(e.ids)
        for i, d in enumerate(docs):
            yield self.py.encode(d) if EOS in d else out[i]


def encode_file(text_path: str, tok_path: str, out_path: str, backend: str = "auto", log=print) -> dict:
    t0 = time.time()
    with open(text_path, encoding="utf-8") as f:
        text = f.read()
    docs = split_documents(text)
    enc = Encoder(tok_path, backend)
    if enc.n_ids > 65535:
        raise ValueError("vocabulary too large for uint16")
    ids = array.array("H")
    for doc_ids in enc.encode_docs(docs):
        ids.extend(doc_ids)
        ids.append(enc.eos_id)
    if sys.byteorder != "little":
        ids.byteswap()
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    tmp = out_path + ".tmp"
    with open(tmp, "wb") as f:
        ids.tofile(f)
    os.replace(tmp, out_path)
    meta = {
        "text": os.path.abspath(text_path),
        "text_sha256": sha256_file(text_path),
        "tokenizer": os.path.abspath(tok_path),
        "tokenizer_sha256": sha256_file(tok_path),
        "n_documents": len(docs),
        "n_chars": len(text),
        "n_tokens": len(ids),
        "eos_id": enc.eos_id,
        "tokenizer_size": enc.n_ids,
        "backend": enc.backend,
        "dtype": "uint16-le",
        "seconds": round(time.time() - t0, 1),
    }
    with open(out_path + ".json.tmp", "w") as f:
        json.dump(meta, f, indent=1)
    os.replace(out_path + ".json.tmp", out_path + ".json")
    log(
        f"tokenised {text_path}: {len(docs)} docs, {len(text)} chars -> {len(ids)} tokens "
        f"({len(text) / max(len(ids), 1):.2f} chars/token) with {enc.backend} in {meta['seconds']} s"
    )
    return meta


def check_backends(text_path: str, tok_path: str, n_chars: int) -> None:
    with open(text_path, encoding="utf-8") as f:
        text = f.read(n_chars)
    docs = split_documents(text)
    a = list(Encoder(tok_path, "python").encode_docs(docs))
    b = list(Encoder(tok_path, "hf").encode_docs(docs))
    bad = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
    n = sum(len(x) for x in a)
    if bad or len(a) != len(b):
        raise SystemExit(f"backend mismatch in documents {bad[:10]}")
    print(f"check ok: {len(docs)} docs, {n} tokens identical (python vs hf)")


def main(argv: Optional[Sequence[str]] = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--text", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--out")
    ap.add_argument("--backend", choices=["auto", "hf", "python"], default="auto")
    ap.add_argument("--check", type=int, default=0, metavar="N_CHARS", help="compare the hf and python backends on the first N characters")
    a = ap.parse_args(argv)
    if a.check:
        check_backends(a.text, a.tokenizer, a.check)
    if a.out:
        encode_file(a.text, a.tokenizer, a.out, a.backend)


if __name__ == "__main__":
    main()
