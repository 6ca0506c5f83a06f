"""Byte-level BPE (GPT-2 style): a small deterministic trainer, an encoder/decoder, and
Hugging Face ``tokenizer.json`` writing/reading.

Pre-tokenization
----------------
GPT-2 splits text with the pattern::

    's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+

The stdlib ``re`` module has no ``\\p{..}`` classes, and the third-party ``regex`` module is
not assumed to be installed, so this module builds explicit character classes once at
import time:

* ``\\p{L}`` = Unicode general categories Lu, Ll, Lt, Lm, Lo (from ``unicodedata``),
* ``\\p{N}`` = Nd, Nl, No,
* ``\\s``    = the Unicode ``White_Space`` property (25 code points, listed below).  This is
  what Oniguruma (used by HF ``tokenizers``) and JavaScript's ``/\\p{White_Space}/u`` match.
  Note it is NOT Python's ``\\s`` (which adds U+001C..U+001F) nor JavaScript's ``\\s``
  (which adds U+FEFF and lacks U+0085).  A JavaScript port should therefore use::

      /'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\p{White_Space}\\p{L}\\p{N}]+|\\p{White_Space}+(?!\\P{White_Space})|\\p{White_Space}+/gu

The categories come from Python's ``unicodedata`` (its Unicode version is
``unicodedata.unidata_version``); characters assigned in later Unicode versions may be
classified differently by a newer JavaScript engine. The golden cases avoid them.

Both engines are backtracking with ordered alternation and greedy quantifiers, so
the same pattern splits identically.

Byte-level BPE
--------------
Each pre-token is UTF-8 encoded and every byte is mapped to a printable unicode character
with GPT-2's ``bytes_to_unicode`` table; merges are applied lowest rank first.  Decoding maps
the characters back to bytes and UTF-8 decodes them, so ``decode(encode(s)) == s`` for every
Python string that is valid Unicode (no lone surrogates), i.e. for any UTF-8 text.
"""
from __future__ import annotations

import json
import re
import sys
import unicodedata
from collections import Counter
from functools import lru_cache
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

EOS_TOKEN = "<|endoftext|>"

# Unicode White_Space property (PropList.txt), stable since Unicode 6.3.
WHITE_SPACE: Tuple[str, ...] = tuple(
    chr(c) for c in [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680] + list(range(0x2000, 0x200B)) + [0x2028, 0x2029, 0x202F, 0x205F, 0x3000]
)


def bytes_to_unicode() -> Dict[int, str]:
    """GPT-2's reversible byte -> printable unicode character map (insertion order is the
    GPT-2 id order of the 256 byte tokens: printable bytes first, then the remapped ones)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


BYTE_ENCODER: Dict[int, str] = bytes_to_unicode()
BYTE_DECODER: Dict[str, int] = {c: b for b, c in BYTE_ENCODER.items()}


def _class_from_predicate(pred) -> str:
    """Build the body of a regex character class (ranges, escaped) for all code points
    satisfying ``pred``."""
    parts: List[str] = []
    start = None
    prev = -2
    for cp in range(sys.maxunicode + 1):
        if pred(cp):
            if start is None:
                start = cp
            prev = cp
        elif start is not None:
            parts.append(_range(start, prev))
            start = None
    if start is not None:
        parts.append(_range(start, prev))
    return "".join(parts)


def _esc(cp: int) -> str:
    return "\\U%08x" % cp


def _range(a: int, b: int) -> str:
    return _esc(a) if a == b else _esc(a) + "-" + _esc(b)


@lru_cache(maxsize=1)
def gpt2_split_pattern() -> "re.Pattern[str]":
    """The GPT-2 pre-tokenization regex with explicit Unicode classes (see module doc)."""
    cat = unicodedata.category
    letters = _class_from_predicate(lambda cp: cat(chr(cp)) in ("Lu", "Ll", "Lt", "Lm", "Lo"))
    numbers = _class_from_predicate(lambda cp: cat(chr(cp)) in ("Nd", "Nl", "No"))
    ws = "".join(_esc(ord(c)) for c in WHITE_SPACE)
    pattern = r"'s|'t|'re|'ve|'m|'ll|'d" rf"| ?[{letters}]+" rf"| ?[{numbers}]+" rf"| ?[^{ws}{letters}{numbers}]+" rf"|[{ws}]+(?![^{ws}])" rf"|[{ws}]+"
    return re.compile(pattern)


def pre_tokenize(text: str) -> List[str]:
    """Split text into GPT-2 pre-tokens (their concatenation is ``text``)."""
    return gpt2_split_pattern().findall(text)


def _to_byte_chars(piece: str) -> str:
    return "".join(BYTE_ENCODER[b] for b in piece.encode("utf-8"))


class ByteLevelBPE:
    """A trained byte-level BPE tokenizer.

    Ids: 0..255 are the byte tokens in GPT-2 order, then one id per merge (in rank order),
    then the special tokens (``<|endoftext|>``).  For an absorbing SEDD model the MASK id
    is ``len(tokenizer)`` (one past the last tokenizer id) and is not part of the tokenizer.
    """

    def __init__(self, vocab: Dict[str, int], merges: Sequence[Tuple[str, str]], special_tokens: Dict[str, int]) -> None:
        self.vocab: Dict[str, int] = dict(vocab)
        self.merges: List[Tuple[str, str]] = [tuple(m) for m in merges]  # type: ignore[misc]
        self.ranks: Dict[Tuple[str, str], int] = {m: i for i, m in enumerate(self.merges)}
        self.special_tokens: Dict[str, int] = dict(special_tokens)
        self.id_to_token: Dict[int, str] = {i: t for t, i in self.vocab.items()}
        for t, i in self.special_tokens.items():
            self.id_to_token[i] = t
        self._cache: Dict[str, List[int]] = {}

    def __len__(self) -> int:
        return len(self.id_to_token)

    @property
    def eos_id(self) -> int:
        return self.special_tokens[EOS_TOKEN]

    # -- training ---------------------------------------------------------------------
    @classmethod
    def train(cls, text: str, vocab_size: int, special_tokens: Sequence[str] = (EOS_TOKEN,)) -> "ByteLevelBPE":
        """Train on ``text`` until the tokenizer has ``vocab_size`` ids (256 bytes + merges +
        special tokens).  Deterministic: the most frequent pair wins, ties broken by the
        lexicographically smallest (left, right) pair.  Merges never cross pre-token
        boundaries.  Stops early if no pair occurs any more."""
        n_merges = vocab_size - 256 - len(special_tokens)
        if n_merges < 0:
            raise ValueError("vocab_size too small")
        word_counts = Counter(_to_byte_chars(p) for p in pre_tokenize(text))
        words: List[List[str]] = [list(w) for w in word_counts]
        counts: List[int] = [word_counts[w] for w in word_counts]
        vocab: Dict[str, int] = {c: i for i, c in enumerate(BYTE_ENCODER.values())}
        merges: List[Tuple[str, str]] = []
        for _ in range(n_merges):
            pairs: Counter = Counter()
            for w, c in zip(words, counts):
                for a, b in zip(w, w[1:]):
                    pairs[(a, b)] += c
            if not pairs:
                break
            best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0]
            merges.append(best)
            merged = best[0] + best[1]
            vocab[merged] = len(vocab)
            for w in words:
                i = 0
                while i < len(w) - 1:
                    if w[i] == best[0] and w[i + 1] == best[1]:
                        w[i : i + 2] = [merged]
                    i += 1
        specials = {t: len(vocab) + k for k, t in enumerate(special_tokens)}
        return cls(vocab, merges, specials)

    # -- encoding ---------------------------------------------------------------------
    def _bpe(self, piece: str) -> List[int]:
        """Apply merges (lowest rank first) to one pre-token."""
        cached = self._cache.get(piece)
        if cached is not None:
            return cached
        word = list(_to_byte_chars(piece))
        while len(word) > 1:
            best_rank = None
            best_i = -1
            for i in range(len(word) - 1):
                r = self.ranks.get((word[i], word[i + 1]))
                if r is not None and (best_rank is None or r < best_rank):
                    best_rank, best_i = r, i
            if best_rank is None:
                break
            a, b = self.merges[best_rank]
            # Merge every occurrence of this pair, left to right (as GPT-2 does).
            out: List[str] = []
            i = 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == a and word[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            word = out
        ids = [self.vocab[t] for t in word]
        self._cache[piece] = ids
        return ids

    def encode(self, text: str, allow_special: bool = False) -> List[int]:
        """Encode text to ids.  By default special-token strings such as ``<|endoftext|>``
        are ordinary text; with ``allow_special=True`` they are matched first (as HF
        ``tokenizers`` does for added tokens) and become their special ids."""
        if allow_special and self.special_tokens:
            alts = "|".join(re.escape(t) for t in sorted(self.special_tokens, key=len, reverse=True))
            ids: List[int] = []
            for chunk in re.split(f"({alts})", text):
                if chunk in self.special_tokens:
                    ids.append(self.special_tokens[chunk])
                elif chunk:
                    ids.extend(self.encode(chunk))
            return ids
        out: List[int] = []
        for piece in pre_tokenize(text):
            out.extend(self._bpe(piece))
        return out

    def decode(self, ids: Iterable[int], skip_special: bool = False) -> str:
        """Decode ids to text (invalid UTF-8 sequences, possible only for arbitrary id
        lists, become U+FFFD)."""
        parts: List[str] = []
        buf = bytearray()
        for i in ids:
            tok = self.id_to_token[int(i)]
            if tok in self.special_tokens:
                parts.append(buf.decode("utf-8", errors="replace"))
                buf = bytearray()
                if not skip_special:
                    parts.append(tok)
            else:
                buf.extend(BYTE_DECODER[c] for c in tok)
        parts.append(buf.decode("utf-8", errors="replace"))
        return "".join(parts)

    # -- Hugging Face tokenizer.json ----------------------------------------------------
    def to_hf_json(self) -> dict:
        byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": [
                {"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": True, "special": True}
                for t, i in sorted(self.special_tokens.items(), key=lambda kv: kv[1])
            ],
            "normalizer": None,
            "pre_tokenizer": dict(byte_level),
            "post_processor": dict(byte_level),
            "decoder": dict(byte_level),
            "model": {
                "type": "BPE",
                "dropout": None,
                "unk_token": None,
                "continuing_subword_prefix": "",
                "end_of_word_suffix": "",
                "fuse_unk": False,
                "byte_fallback": False,
                "ignore_merges": False,
                "vocab": dict(sorted(self.vocab.items(), key=lambda kv: kv[1])),
                "merges": [[a, b] for a, b in self.merges],
            },
        }

    def save(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_hf_json(), f, ensure_ascii=False, indent=1)
            f.write("\n")

    @classmethod
    def from_hf_json(cls, data: dict) -> "ByteLevelBPE":
        model = data["model"]
        if model.get("type") != "BPE":
            raise ValueError("not a BPE tokenizer.json")
        merges: List[Tuple[str, str]] = []
        for m in model["merges"]:
            if isinstance(m, str):
                a, b = m.split(" ")
                merges.append((a, b))
            else:
                merges.append((m[0], m[1]))
        specials = {t["content"]: t["id"] for t in data.get("added_tokens", [])}
        return cls(model["vocab"], merges, specials)

    @classmethod
    def load(cls, path: str) -> "ByteLevelBPE":
        with open(path, encoding="utf-8") as f:
            return cls.from_hf_json(json.load(f))
