#!/usr/bin/env python3
"""Train lacuna-mini's byte-level BPE tokenizer on build/train.txt (only) and report token
counts.

    models/data/.venv/bin/python models/data/train_tokenizer.py

Writes ``models/lacuna-mini/tokenizer.json`` (Hugging Face format) and
``models/data/build/tokenizer_report.json``, and prints the report.

Vocabulary layout (V_tok = ``--vocab-size`` = 8191 by default):

* ids 0..255: the 256 byte symbols (GPT-2 byte-to-unicode alphabet),
* ids 256..V_tok-2: merges in rank order,
* id V_tok-1 = 8190: ``<|endoftext|>`` (eos, special, added token),
* MASK is not a tokenizer token: the absorbing-state network uses MASK = V_tok = 8191, so the
  network's output size is V = V_tok + 1 = 8192 (``vocab_size`` 8192, ``mask_id`` 8191,
  ``eos_id`` 8190 in the model manifest; the same layout as tiny-fixture's 512/511/510).

Pre-tokenizer: ByteLevel with GPT-2's split regex, ``add_prefix_space: false``; decoder:
ByteLevel; no normalizer (so any UTF-8 text round-trips exactly).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time

os.environ.setdefault("RAYON_NUM_THREADS", "2")  # shared 2-core machine
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from build_corpus import EOS, read_documents  # noqa: E402

DEFAULT_OUT = os.path.join(HERE, "..", "lacuna-mini", "tokenizer.json")


def build_tokenizer() -> Tokenizer:
    tok = Tokenizer(models.BPE(dropout=None, unk_token=None, fuse_unk=False, byte_fallback=False))
    tok.normalizer = None
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    return tok


def train(train_docs, vocab_size: int, min_frequency: int) -> Tokenizer:
    tok = build_tokenizer()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - 1,  # the last id is left for <|endoftext|>
        min_frequency=min_frequency,
        special_tokens=[],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(train_docs, trainer=trainer, length=len(train_docs))
    tok.add_special_tokens([AddedToken(EOS, special=True, normalized=False, single_word=False, lstrip=False, rstrip=False)])
    return tok


def count_tokens(tok: Tokenizer, docs, batch: int = 64):
    counts = []
    for i in range(0, len(docs), batch):
        enc = tok.encode_batch(docs[i : i + batch], add_special_tokens=False)
        counts.extend(len(e.ids) for e in enc)
    return counts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(HERE, "build"))
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--vocab-size", type=int, default=8191, help="V_tok: tokenizer size including <|endoftext|> (MASK = V_tok)")
    ap.add_argument("--min-frequency", type=int, default=2)
    args = ap.parse_args(argv)

    with open(os.path.join(args.build, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    train_docs = read_documents(os.path.join(args.build, "train.txt"))
    test_docs = read_documents(os.path.join(args.build, "test.txt"))
    assert len(train_docs) == manifest["splits"]["train"]["documents"]
    assert len(test_docs) == manifest["splits"]["test"]["documents"]

    t0 = time.time()
    tok = train(train_docs, args.vocab_size, args.min_frequency)
    train_s = time.time() - t0
    v = tok.get_vocab_size(with_added_tokens=True)
    eos_id = tok.token_to_id(EOS)
    assert v == args.vocab_size, (v, args.vocab_size)
    assert eos_id == args.vocab_size - 1, eos_id

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tok.save(args.out, pretty=True)
    with open(args.out, "rb") as f:
        data = f.read()
    sha = hashlib.sha256(data).hexdigest()

    # token report: every document plus one <|endoftext|> after it
    report = dict(
        tokenizer=os.path.relpath(os.path.abspath(args.out), os.path.join(HERE, "..")),
        tokenizer_sha256=sha,
        tokenizer_bytes=len(data),
        vocab_size_tokenizer=v,
        eos_id=eos_id,
        mask_id=v,
        network_vocab_size=v + 1,
        merges=v - 256 - 1,
        min_frequency=args.min_frequency,
        train_seconds=round(train_s, 1),
        tokenizers_version=__import__("tokenizers").__version__,
        corpus_sha256={s: manifest["splits"][s]["sha256"] for s in ("train", "test")},
        splits={},
        sources={},
    )
    per_source = {}
    for split, docs in (("train", train_docs), ("test", test_docs)):
        counts = count_tokens(tok, docs)
        order = manifest["splits"][split]["order"]
        chars = sum(len(d) for d in docs)
        nbytes = sum(len(d.encode("utf-8")) for d in docs)
        ntok = sum(counts)
        report["splits"][split] = dict(
            documents=len(docs),
            characters=chars,
            bytes=nbytes,
            tokens=ntok,
            tokens_with_eos=ntok + len(docs),
            tokens_per_char=round(ntok / chars, 4),
            bytes_per_token=round(nbytes / ntok, 4),
        )
        for key, doc, n in zip(order, docs, counts):
            src = key.split("/")[0]
            s = per_source.setdefault(src, {"train": [0, 0, 0], "test": [0, 0, 0]})
            s[split][0] += 1
            s[split][1] += len(doc)
            s[split][2] += n
    total = sum(report["splits"][s]["tokens"] for s in ("train", "test"))
    for src, s in per_source.items():
        toks = s["train"][2] + s["test"][2]
        report["sources"][src] = dict(
            documents=dict(train=s["train"][0], test=s["test"][0]),
            characters=dict(train=s["train"][1], test=s["test"][1]),
            tokens=dict(train=s["train"][2], test=s["test"][2]),
            share_of_tokens=round(toks / total, 4),
        )
    # the round trip on the whole test split (byte-level: must be exact)
    bad = 0
    for d in test_docs:
        if tok.decode(tok.encode(d, add_special_tokens=False).ids, skip_special_tokens=False) != d:
            bad += 1
    report["test_round_trip_failures"] = bad
    with open(os.path.join(args.build, "tokenizer_report.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
        f.write("\n")

    print(f"tokenizer: {args.out}  V_tok={v}  eos_id={eos_id}  MASK={v}  network V={v + 1}  " f"sha256={sha[:16]}…  ({train_s:.0f}s)")
    for split, r in report["splits"].items():
        print(
            f"{split:<6}{r['documents']:>5} docs {r['characters']:>12,} chars "
            f"{r['tokens']:>12,} tokens (+{r['documents']} eos)  "
            f"{r['tokens_per_char']:.4f} tok/char  {r['bytes_per_token']:.3f} bytes/tok"
        )
    print(f"{'source':<11}{'train tokens':>14}{'test tokens':>13}{'share':>8}")
    for src, r in sorted(report["sources"].items(), key=lambda kv: -kv[1]["share_of_tokens"]):
        print(f"{src:<11}{r['tokens']['train']:>14,}{r['tokens']['test']:>13,}" f"{r['share_of_tokens']:>8.1%}")
    print(f"test round-trip failures: {bad}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
