#!/usr/bin/env python3
"""Cut the fill benchmark's blanks from the held-out split (issue 14) and write the corpus vocabulary.

    python3 models/data/make_fill_blanks.py            # both files
    python3 models/data/make_fill_blanks.py --check    # rebuild in memory, compare with the committed files

Reads ``models/data/build/test.txt`` (held-out documents) and ``models/data/build/train.txt``
(git-ignored outputs of build_corpus.py) and writes, committed:

* ``models/data/fill-blanks.jsonl``: 60 blanks of each kind — ``mid-sentence``, ``sentence-end``
  (the blank's words end a sentence and the right side starts the next one), ``paragraph-end``
  (the right side starts with the paragraph break "\\n\\n") and ``continuation`` (nothing after the
  blank) — from real prose paragraphs only (content_filter.py's ``prose`` label, one line, >= 25
  words, not mostly capitals, ending a sentence; documents of WordNet usage examples and the
  Devil's Dictionary are left out: neither is running prose). Documents are drawn with weight
  sqrt(prose characters), so the books and speeches give most blanks and every short document can
  give a few; no paragraph (no 2,000-character stretch of a speech) gives two blanks. Fixed seed.
* ``models/data/vocabulary.txt``: every word (lower-cased; letters and apostrophes, ’ written ')
  seen at least 3 times in train.txt, sorted — what the join counters (scripts/fill-joins.ts) call a
  corpus word.

Each record: ``id``, ``kind``, ``doc`` (document key), ``left`` (<= ~700 characters, starting at a
word), ``blank`` (the exact text the blank replaced, spaces included), ``words`` (the same, stripped:
3-15 words), ``right`` (<= ~300 characters, ending at a word; "" for continuation), ``glue``
(``none``: left ends with a space and right starts with a space, punctuation or a paragraph
break; ``prev``: the blank sits right after the previous word, "he____ climbed", so ``blank``
starts with its space; ``next``: the blank touches the following word, "he ____climbed", so
``blank`` ends with the space), ``tokens`` (length of ``blank`` in lacuna-mini tokens, the
``{{N}}`` the benchmark asks for).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import sys
from collections import Counter
from typing import Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.dirname(HERE)
sys.path.insert(0, MODELS)
sys.path.insert(0, HERE)

from content_filter import classify_paragraph, document_speakers  # noqa: E402
from sedd.tokenizer import ByteLevelBPE  # noqa: E402

EOS_SEP = "\n\n<|endoftext|>\n\n"
KINDS = ("mid-sentence", "sentence-end", "paragraph-end", "continuation")
PER_KIND = 60
SEED = 20261202
LEFT_MAX = 700
RIGHT_MAX = 300
GLUE_SHARE = 0.25
SKIP_DOCS = ("wordnet/", "devil/")  # usage-example lists and dictionary entries, not prose
ABBREV = {
    "mr",
    "mrs",
    "dr",
    "st",
    "no",
    "vol",
    "ch",
    "mt",
    "messrs",
    "jr",
    "sr",
    "gen",
    "col",
    "capt",
    "rev",
    "u.s",
    "e.g",
    "i.e",
    "etc",
    "viz",
    "p",
    "pp",
    "a.m",
    "p.m",
    "m",
    "v",
}
CLOSERS = "\"”’')]"
SENT_END = re.compile(r"[.!?][\"”’')\]]*$")
WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


def doc_keys(manifest_path: str, n: int) -> List[str]:
    with open(manifest_path) as f:
        order = json.load(f)["splits"]["test"]["order"]
    if len(order) != n:
        raise SystemExit(f"manifest lists {len(order)} test documents, test.txt has {n}")
    return order


def is_prose(p: str, speakers: set) -> bool:
    if "\n" in p or classify_paragraph(p, speakers) != "prose":
        return False
    letters = [c for c in p if c.isalpha()]
    if len(p.split()) < 25 or not letters or sum(c.isupper() for c in letters) > 0.3 * len(letters):
        return False
    if any(s in p for s in ("___", "{{", "}}", "\\", "<|")):
        return False
    return bool(SENT_END.search(p.rstrip()))


def ends_sentence(tok: str, nxt: Optional[str]) -> bool:
    if not SENT_END.search(tok):
        return False
    core = tok.rstrip(CLOSERS).rstrip(".!?").lstrip("\"“‘'(").lower()
    if tok.rstrip(CLOSERS).endswith(".") and (core in ABBREV or len(core) == 1):
        return False
    if nxt is None:
        return True
    first = nxt.lstrip("\"“‘'(")[:1]
    return first.isupper() or first.isdigit()


def cut_left(text: str) -> str:
    """The last <= LEFT_MAX characters, starting at a word."""
    if len(text) <= LEFT_MAX:
        return text
    tail = text[-LEFT_MAX:]
    m = re.search(r"\s", tail)
    return tail[m.end() :] if m else tail


def cut_right(text: str) -> str:
    """The first <= RIGHT_MAX characters, ending at a word."""
    if len(text) <= RIGHT_MAX:
        return text
    head = text[:RIGHT_MAX]
    i = max(head.rfind(" "), head.rfind("\n"))
    return head[:i] if i > 0 else head


def candidate(rng: random.Random, paras: List[str], pi: int, kind: str, next_prose: bool) -> Optional[Tuple[int, int, str]]:
    """A blank in paragraph ``pi``: (start, end) character offsets and the trailing punctuation
    moved to the right side (mid-sentence only), or None when this paragraph has no such place."""
    p = paras[pi]
    toks = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+", p)]
    n = len(toks)
    ends = [ends_sentence(t[2], toks[k + 1][2] if k + 1 < n else None) for k, t in enumerate(toks)]
    for _ in range(40):
        size = rng.randint(3, 15)
        if kind == "paragraph-end":
            if not next_prose or not ends[n - 1]:
                return None
            j = n
        elif kind == "sentence-end":
            cands = [k + 1 for k in range(n - 1) if ends[k]]
            if not cands:
                return None
            j = rng.choice(cands)
        elif kind == "mid-sentence":
            j = rng.randint(size + 1, n - 1) if n - 1 > size + 1 else -1
            if j < 0 or ends[j - 1]:
                continue
        else:  # continuation: anywhere in the paragraph
            j = rng.randint(size, n)
        i = j - size
        if i < 1:
            continue
        # inside one sentence (the blank may end it), and not at a sentence's very start for
        # mid-sentence blanks
        if any(ends[k] for k in range(i, j - 1)):
            continue
        if kind == "mid-sentence" and ends[i - 1]:
            continue
        if not WORD.search(toks[i][2]) or not WORD.search(toks[j - 1][2]):
            continue
        start, end = toks[i][0], toks[j - 1][1]
        moved = ""
        if kind == "mid-sentence":
            m = re.search(r"[,;:]+$", toks[j - 1][2])
            if m and rng.random() < 0.5:
                moved = m.group()
                end -= len(moved)
        return start, end, moved
    return None


def build(test_path: str, manifest_path: str, tok_path: str) -> List[dict]:
    with open(test_path, encoding="utf-8") as f:
        raw = f.read()
    body = raw[: raw.rindex("\n\n<|endoftext|>")]
    docs = body.split(EOS_SEP)
    keys = doc_keys(manifest_path, len(docs))
    tok = ByteLevelBPE.load(tok_path)
    rng = random.Random(SEED)

    pool: List[Tuple[str, List[str], List[bool]]] = []
    for key, text in zip(keys, docs):
        if key.startswith(SKIP_DOCS):
            continue
        paras = text.split("\n\n")
        speakers = document_speakers(paras)
        prose = [is_prose(p, speakers) for p in paras]
        if any(prose):
            pool.append((key, paras, prose))
    weights = [math.sqrt(sum(len(p) for p, ok in zip(paras, prose) if ok)) for _, paras, prose in pool]
    used = set()
    records: List[dict] = []
    for kind in KINDS:
        got = 0
        tries = 0
        while got < PER_KIND:
            tries += 1
            if tries > 100000:
                raise SystemExit(f"cannot find {PER_KIND} {kind} blanks")
            d = rng.choices(range(len(pool)), weights)[0]
            key, paras, prose = pool[d]
            pi = rng.choice([k for k, ok in enumerate(prose) if ok])
            if (d, pi, -1) in used:
                continue
            next_prose = pi + 1 < len(paras) and prose[pi + 1]
            c = candidate(rng, paras, pi, kind, next_prose)
            if c is None:
                continue
            start, end, moved = c
            if (d, pi, start // 2000) in used:
                continue
            p = paras[pi]
            before = "\n\n".join(paras[:pi] + [p[:start]])
            if kind == "continuation":
                after = ""
            else:
                after = p[end:] + ("\n\n" + "\n\n".join(paras[pi + 1 :]) if pi + 1 < len(paras) else "")
            left, right = cut_left(before), cut_right(after)
            if len(left) < 150 or (kind != "continuation" and len(right.strip()) < 20):
                continue
            words = p[start:end]
            blank = words
            glue = "none"
            if rng.random() < GLUE_SHARE:
                can_next = kind != "continuation" and right.startswith(" ") and right[1:2].isalpha()
                glue = "next" if can_next and rng.random() < 0.7 else "prev"
                if glue == "next":
                    blank, right = words + " ", right[1:]
                else:
                    left, blank = left[:-1], " " + words
            assert (glue == "prev" or left.endswith((" ", "\n"))) and left
            assert kind != "paragraph-end" or right.startswith("\n\n")
            # a speech is one long paragraph: its 2,000-character stretches count as paragraphs
            used.add((d, pi, start // 2000) if len(p) > 4000 else (d, pi, -1))
            got += 1
            records.append(
                {
                    "id": f"{kind}-{got:02d}",
                    "kind": kind,
                    "doc": key,
                    "glue": glue,
                    "left": left,
                    "blank": blank,
                    "words": words,
                    "right": right,
                    "tokens": len(tok.encode(blank)),
                }
            )
    return records


def vocabulary(train_path: str, min_count: int = 3) -> List[str]:
    counts: Counter = Counter()
    with open(train_path, encoding="utf-8") as f:
        for line in f:
            counts.update(w.lower().replace("’", "'") for w in WORD.findall(line))
    return sorted(w for w, c in counts.items() if c >= min_count)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    build_dir = os.path.join(HERE, "build")
    ap.add_argument("--test", default=os.path.join(build_dir, "test.txt"))
    ap.add_argument("--train", default=os.path.join(build_dir, "train.txt"))
    ap.add_argument("--manifest", default=os.path.join(build_dir, "manifest.json"))
    ap.add_argument("--tokenizer", default=os.path.join(MODELS, "lacuna-mini", "tokenizer.json"))
    ap.add_argument("--out", default=os.path.join(HERE, "fill-blanks.jsonl"))
    ap.add_argument("--vocab-out", default=os.path.join(HERE, "vocabulary.txt"))
    ap.add_argument("--check", action="store_true", help="compare with the files instead of writing")
    a = ap.parse_args()
    recs = build(a.test, a.manifest, a.tokenizer)
    blanks = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs)
    vocab = "".join(w + "\n" for w in vocabulary(a.train))
    for path, text in ((a.out, blanks), (a.vocab_out, vocab)):
        if a.check:
            with open(path, encoding="utf-8") as f:
                same = f.read() == text
            print(f"{path}: {'identical' if same else 'DIFFERS'}")
            if not same:
                sys.exit(1)
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            print(f"wrote {path} ({len(text.encode('utf-8')):,} bytes)")
    kinds = Counter(r["kind"] for r in recs)
    glue = Counter(r["glue"] for r in recs)
    docs = Counter(r["doc"].split("/")[0] for r in recs)
    print(f"{len(recs)} blanks {dict(kinds)}; glue {dict(glue)}; sources {dict(docs)}; " f"{len(set(r['doc'] for r in recs))} documents")


if __name__ == "__main__":
    main()
