#!/usr/bin/env python3
"""Token counts of a corpus build per source and split (for DATA.md), with the existing
tokenizer and without the Hugging Face venv (models/train/tokenize_data.py's encoder: the
`tokenizers` library when installed, else the pure-Python one; identical ids).

    python3 models/data/corpus_report.py [--build models/data/build]

Reads build/manifest.json (the ordered source/doc_id list of each split), build/train.txt and
build/test.txt; writes build/corpus_report.json and prints a Markdown table: documents,
characters and tokens (without the one eos per document) per source and split, and the
content filter's removed characters per label.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "train"))
from build_corpus import read_documents  # noqa: E402
from tokenize_data import Encoder  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(HERE, "build"))
    ap.add_argument("--tokenizer", default=os.path.join(HERE, "..", "lacuna-mini", "tokenizer.json"))
    args = ap.parse_args(argv)
    with open(os.path.join(args.build, "manifest.json"), encoding="utf-8") as f:
        man = json.load(f)
    enc = Encoder(args.tokenizer)
    rows = defaultdict(lambda: defaultdict(lambda: dict(documents=0, characters=0, tokens=0)))
    totals = {}
    for split in ("train", "test"):
        docs = read_documents(os.path.join(args.build, f"{split}.txt"))
        order = man["splits"][split]["order"]
        assert len(docs) == len(order), (split, len(docs), len(order))
        t = dict(documents=0, characters=0, tokens=0)
        for key, ids, text in zip(order, enc.encode_docs(docs), docs):
            r = rows[key.split("/", 1)[0]][split]
            r["documents"] += 1
            r["characters"] += len(text)
            r["tokens"] += len(ids)
            for k, v in (("documents", 1), ("characters", len(text)), ("tokens", len(ids))):
                t[k] += v
        totals[split] = t
    all_tokens = sum(t["tokens"] for t in totals.values())
    out = dict(
        tokenizer=os.path.relpath(args.tokenizer),
        backend=enc.backend,
        splits=totals,
        sources={k: dict(v) for k, v in rows.items()},
        content_filter={s["name"]: s.get("content_filter") for s in man["sources"]},
    )
    with open(os.path.join(args.build, "corpus_report.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print("| source | documents (train / test) | characters (train / test) | " "tokens (train / test) | share of tokens |")
    print("|---|---:|---:|---:|---:|")
    for src, v in sorted(rows.items(), key=lambda kv: -sum(x["tokens"] for x in kv[1].values())):
        tr, te = v["train"], v["test"]
        share = (tr["tokens"] + te["tokens"]) / max(1, all_tokens)
        print(
            f"| {src} | {tr['documents']} / {te['documents']} | {tr['characters']:,} / "
            f"{te['characters']:,} | {tr['tokens']:,} / {te['tokens']:,} | {share:.1%} |"
        )
    print()
    for split, t in totals.items():
        print(f"{split}: {t['documents']} documents, {t['characters']:,} characters, " f"{t['tokens']:,} tokens (+{t['documents']} eos)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
