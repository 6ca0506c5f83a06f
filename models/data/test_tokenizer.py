#!/usr/bin/env python3
"""Checks for models/lacuna-mini/tokenizer.json.

    models/data/.venv/bin/python models/data/test_tokenizer.py        # unittest, verbose

* the file has the layout models/FORMAT.md and the engine expect (BPE, ByteLevel pre-tokenizer
  with GPT-2's regex and add_prefix_space false, ByteLevel decoder, no normalizer,
  <|endoftext|> as the last id, the 256 byte symbols at ids 0..255);
* any UTF-8 text round-trips exactly (emoji, CJK, combining marks, RTL, NUL, controls, CRLF,
  random code points from every plane) through Hugging Face ``tokenizers``;
* ``models/sedd/tokenizer.py`` (the training-side reader) and, when node and the app's
  node_modules are present, the engine's ``src-main/engine/model/tokenizer.ts`` produce exactly
  the same ids as Hugging Face ``tokenizers`` for the same texts.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
TOKENIZER = os.environ.get("LACUNA_TOKENIZER", os.path.join(REPO, "models", "lacuna-mini", "tokenizer.json"))
TEST_TXT = os.path.join(HERE, "build", "test.txt")
EOS = "<|endoftext|>"
V_TOK = 8191

try:
    from tokenizers import Tokenizer
except ImportError:  # pragma: no cover
    Tokenizer = None

TRICKY = [
    "",
    " ",
    "\n",
    "Hello, world!",
    " leading space and trailing space ",
    "Tabs\tand\r\nCRLF\rand\u000blines\u000c",
    "NUL\x00in\x00the\x00middle\x00",
    "\x00",
    "control \x01\x02\x1b[31m\x7f chars",
    "emoji 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 🇯🇵 🫠",
    "CJK 漢字かなカナ한국어 呻吟語 𠀋𡈽 (astral CJK)",
    "combining: e\u0301 n\u0303 a\u030a\u0323 Z\u0351\u0307\u0352 (decomposed) vs é ñ å",
    "RTL: שלום עולם, مرحبا بالعالم \u200f\u202eevil\u202c \u200e",
    "zero width: a\u200bb\u200cc\u200dd\ufeffe\u2060f",
    "whitespace zoo:\u00a0\u1680\u2000\u2001\u2002\u2003\u2009\u200a\u2028\u2029\u202f\u205f\u3000\u0085end",
    "non-characters \ufffe \uffff \U0010ffff \U000e0001",
    "    indented\n\n\n\nmany blank lines   \n",
    "It’s a “curly” test — with dashes – and ellipses…",
    "don't can't I'm we've they'll he'd 's 't",
    "numbers 1234567890 ١٢٣ ½ Ⅻ",
    "math ∑∫√∞ ≠ ≤ ≥ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "<|endoftext|>",
    "before<|endoftext|>after",
    "<|endoftext|><|endoftext|>",
    "<|endoftext",
    "a" * 5000,
    "\u00e9" * 1000 + "\U0001f600" * 500,
]

RANGES = [
    (0x00, 0x7F),
    (0x80, 0x7FF),
    (0x800, 0xD7FF),
    (0xE000, 0xFFFF),
    (0x10000, 0x10FFFF),
    (0x0300, 0x036F),
    (0x0590, 0x06FF),
    (0x4E00, 0x9FFF),
    (0x1F300, 0x1FAFF),
]


def random_strings(n: int, seed: int = 1234):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        k = rng.randint(1, 80)
        chars = []
        for _ in range(k):
            if rng.random() < 0.3:
                chars.append(rng.choice(" \n\t\x00abcdefghij,.'’"))
            else:
                lo, hi = rng.choice(RANGES)
                chars.append(chr(rng.randint(lo, hi)))
        out.append("".join(chars))
    return out


def test_text_sample(limit: int = 300_000) -> str:
    if not os.path.exists(TEST_TXT):
        return ""
    with open(TEST_TXT, encoding="utf-8") as f:
        raw = f.read()
    # a slice from each third of the file, so several sources are represented
    n = len(raw)
    return "".join(raw[i * n // 3 : i * n // 3 + limit // 3] for i in range(3))


@unittest.skipIf(Tokenizer is None, "tokenizers is not installed (use models/data/.venv)")
class TokenizerFile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(TOKENIZER, encoding="utf-8") as f:
            cls.data = json.load(f)
        cls.tok = Tokenizer.from_file(TOKENIZER)

    def enc(self, s):
        return self.tok.encode(s, add_special_tokens=False).ids

    def dec(self, ids):
        return self.tok.decode(ids, skip_special_tokens=False)

    def test_layout(self):
        d = self.data
        self.assertEqual(d["model"]["type"], "BPE")
        self.assertIsNone(d["normalizer"])
        pre = d["pre_tokenizer"]
        self.assertEqual(pre["type"], "ByteLevel")
        self.assertFalse(pre["add_prefix_space"])
        self.assertTrue(pre["use_regex"])
        self.assertEqual(d["decoder"]["type"], "ByteLevel")
        m = d["model"]
        self.assertIsNone(m["dropout"])
        self.assertFalse(m.get("continuing_subword_prefix"))
        self.assertFalse(m.get("end_of_word_suffix"))
        self.assertFalse(m.get("byte_fallback", False))
        self.assertFalse(m.get("ignore_merges", False))

    def test_sizes_and_ids(self):
        m = self.data["model"]
        added = self.data["added_tokens"]
        self.assertEqual(len(added), 1)
        self.assertEqual(added[0]["content"], EOS)
        self.assertTrue(added[0]["special"])
        self.assertEqual(added[0]["id"], V_TOK - 1)
        self.assertEqual(len(m["vocab"]), V_TOK - 1)
        self.assertEqual(sorted(m["vocab"].values()), list(range(V_TOK - 1)))
        self.assertEqual(len(m["merges"]), V_TOK - 1 - 256)
        self.assertEqual(self.tok.get_vocab_size(with_added_tokens=True), V_TOK)
        self.assertEqual(self.tok.token_to_id(EOS), V_TOK - 1)
        # byte symbols at ids 0..255, in GPT-2's bytes_to_unicode order
        bs = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
        order = bs + [b for b in range(256) if b not in bs]
        cs = [chr(b) for b in bs] + [chr(256 + i) for i in range(256 - len(bs))]
        for i, c in enumerate(cs):
            self.assertEqual(m["vocab"][c], i, (order[i], c))

    def test_round_trip_tricky(self):
        for s in TRICKY:
            ids = self.enc(s)
            self.assertTrue(all(0 <= i < V_TOK for i in ids))
            self.assertEqual(self.dec(ids), s, repr(s[:60]))

    def test_round_trip_random(self):
        for s in random_strings(2000):
            self.assertEqual(self.dec(self.enc(s)), s, repr(s))

    def test_round_trip_random_bytes_as_utf8(self):
        rng = random.Random(99)
        for _ in range(500):
            s = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64))).decode("utf-8", errors="replace")
            self.assertEqual(self.dec(self.enc(s)), s)

    def test_eos(self):
        ids = self.enc("one" + EOS + "two")
        self.assertEqual(ids.count(V_TOK - 1), 1)
        self.assertEqual(self.dec(ids), "one" + EOS + "two")
        self.assertEqual(self.enc(EOS), [V_TOK - 1])
        self.assertEqual(self.tok.decode(ids, skip_special_tokens=True), "onetwo")

    def test_no_unknowns_and_common_words(self):
        # common words should be single tokens after training on prose
        for w in [" the", " and", " of", " said", " which", "\n"]:
            self.assertEqual(len(self.enc(w)), 1, w)
        # GPT-2's split regex gives "a\n\nB" the pieces "a", "\n", "\n", "B"
        self.assertEqual(len(self.enc("a\n\nB")), 4)

    def test_round_trip_test_split(self):
        s = test_text_sample()
        if not s:
            self.skipTest("build/test.txt not built")
        self.assertEqual(self.dec(self.enc(s)), s)

    def test_matches_models_sedd_reader(self):
        """models/sedd/tokenizer.py reads the file and encodes exactly like HF."""
        sys.path.insert(0, os.path.join(REPO, "models"))
        try:
            from sedd.tokenizer import ByteLevelBPE
        except Exception as e:  # pragma: no cover
            self.skipTest(f"models/sedd/tokenizer.py not importable: {e}")
        finally:
            sys.path.pop(0)
        ref = ByteLevelBPE.load(TOKENIZER)
        self.assertEqual(len(ref), V_TOK)
        self.assertEqual(ref.eos_id, V_TOK - 1)
        texts = TRICKY + random_strings(300, seed=7) + [test_text_sample(60_000)]
        for s in texts:
            self.assertEqual(ref.encode(s, allow_special=True), self.enc(s), repr(s[:60]))
            self.assertEqual(ref.decode(self.enc(s)), s)

    def test_matches_engine_tokenizer_ts(self):
        """The app engine's TypeScript reader encodes exactly like HF (needs node + jiti)."""
        jiti = os.path.join(REPO, "node_modules", ".bin", "jiti")
        ts = os.path.join(REPO, "src-main", "node", "engine", "tokenizer.ts")
        if not (shutil.which("node") and os.path.exists(jiti) and os.path.exists(ts)):
            self.skipTest("node, node_modules/.bin/jiti or src-main/engine/model/tokenizer.ts " "missing")
        texts = TRICKY + random_strings(300, seed=11) + [test_text_sample(60_000)]
        with tempfile.TemporaryDirectory() as tmp:
            inp = os.path.join(tmp, "texts.json")
            with open(inp, "w", encoding="utf-8") as f:
                json.dump(texts, f)
            script = os.path.join(tmp, "enc.ts")
            with open(script, "w", encoding="utf-8") as f:
                f.write(
                    f"import {{ readFileSync, writeFileSync }} from 'node:fs';\n"
                    f"import {{ Tokenizer }} from {json.dumps(ts)};\n"
                    f"const tok = new Tokenizer(JSON.parse(readFileSync({json.dumps(TOKENIZER)}, "
                    f"'utf8')));\n"
                    f"const texts: string[] = JSON.parse(readFileSync({json.dumps(inp)}, 'utf8'));\n"
                    f"writeFileSync({json.dumps(os.path.join(tmp, 'out.json'))}, JSON.stringify("
                    f"{{ size: tok.size, "
                    f"ids: texts.map((t) => tok.encode(t, {{ allowSpecial: true }})), "
                    f"back: texts.map((t) => tok.decode(tok.encode(t))) }}));\n"
                )
            r = subprocess.run([jiti, script], cwd=REPO, capture_output=True, text=True, timeout=300)
            if r.returncode != 0:
                self.fail("engine tokenizer failed:\n" + r.stderr[-3000:])
            with open(os.path.join(tmp, "out.json"), encoding="utf-8") as f:
                out = json.load(f)
        self.assertEqual(out["size"], V_TOK)
        for s, ids, back in zip(texts, out["ids"], out["back"]):
            self.assertEqual(ids, self.enc(s), repr(s[:60]))
            self.assertEqual(back, s, repr(s[:60]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
