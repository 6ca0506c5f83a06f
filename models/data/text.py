"""Shared text utilities of the corpus build (models/data/build_corpus.py and its loaders in
models/data/sources/): the ``Doc`` record every loader returns, normalisation (line ends, NFC,
control characters, spaces) and the unwrapping of hard-wrapped plain text into paragraphs
(prose joined, verse / drama / lists keeping their line breaks, ASCII tables dropped).
Stdlib only."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Iterable, List, Optional


@dataclass
class Doc:
    source: str
    doc_id: str
    title: str
    text: str
    meta: dict = field(default_factory=dict)
    status: str = "kept"  # kept | excluded:<why> | duplicate-of:<id> | capped | empty
    split: str = ""

    @property
    def key(self) -> str:
        return f"{self.source}/{self.doc_id}"


_CTRL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\ufeff]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_ITALIC = re.compile(r"(?<!_)_(?!_)")  # PG italics markers; runs like "Mr. ____" stay
_BLANKS = re.compile(r"\n{3,}")
_CAP_START = re.compile(r"^\s*[\W\d_]*[A-Z\u00c0-\u00de]")


def normalise_text(s: str) -> str:
    """Line endings to LF, NFC, drop control characters and BOMs, tabs and exotic spaces to
    one space, strip trailing spaces."""
    s = s.replace("\r\n", "\n").replace("\r", "\n")
    s = unicodedata.normalize("NFC", s)
    s = _CTRL.sub("", s)
    s = s.replace("\t", "    ")
    s = s.replace("\u00a0", " ").replace("\u2028", "\n").replace("\u2029", "\n\n")
    s = "\n".join(line.rstrip() for line in s.split("\n"))
    return s


def collapse_spaces(line: str) -> str:
    return _SPACES.sub(" ", line).strip()


def join_paragraphs(paras: Iterable[str]) -> str:
    out = [p.strip("\n") for p in paras]
    return "\n\n".join(p for p in out if p.strip())


def unwrap_block(lines: List[str], width: int) -> str:
    """Turn one blank-line-delimited block of hard-wrapped lines into text.

    Prose (most lines near the wrap width) is joined into one line per paragraph; a line that
    is indented deeper than the block's base indent after a full line starts a new paragraph.
    Verse, drama and lists (many lines well short of the width) keep their line breaks, with
    the indentation removed."""
    lines = [l for l in lines if l.strip()]
    if not lines:
        return ""
    if len(lines) == 1:
        return collapse_spaces(lines[0])
    body = lines[:-1]
    short = sum(1 for l in body if len(l.rstrip()) < 0.72 * width)
    caps = sum(1 for l in lines[1:] if _CAP_START.match(l))
    if short * 2 >= len(body) or len(body) == 1 and len(lines[0].rstrip()) < 0.6 * width or len(lines) >= 4 and caps >= 0.8 * (len(lines) - 1):
        return "\n".join(collapse_spaces(l) for l in lines)
    base = min(len(l) - len(l.lstrip()) for l in lines)
    paras: List[List[str]] = [[]]
    prev_full = True
    for l in lines:
        ind = len(l) - len(l.lstrip())
        if paras[-1] and ind > base and prev_full and len(l.strip()) > 0:
            paras.append([])
        paras[-1].append(collapse_spaces(l))
        prev_full = len(l.rstrip()) >= 0.72 * width
    out = []
    for p in paras:
        s = ""
        for piece in p:
            if not s:
                s = piece
            elif s.endswith(("—", "--")):
                s += piece
            else:
                s += " " + piece
        out.append(s)
    return "\n\n".join(out)


def wrap_width(lines: List[str]) -> int:
    lens = sorted(len(l) for l in lines if len(l.strip()) > 0)
    if not lens:
        return 72
    w = lens[int(0.95 * (len(lens) - 1))]
    # mostly-verse books: their "width" is the verse line length; use the usual PG width
    return 72 if w < 60 else min(w, 200)


_BOX = re.compile(r"[\u2500-\u257f]|^\s*[|+][-=+|]")


def is_table_block(lines: List[str]) -> bool:
    """ASCII-art or box-drawing tables and boxed notes."""
    ls = [l for l in lines if l.strip()]
    return bool(ls) and (sum(1 for l in ls if _BOX.search(l) or l.lstrip()[:1] in ("|", "+")) * 10 >= 3 * len(ls))


def unwrap_text(text: str, width: Optional[int] = None) -> List[str]:
    """Split normalised text into blocks at blank lines and unwrap each; returns paragraphs
    (a paragraph may hold several lines for verse)."""
    lines = text.split("\n")
    if width is None:
        width = wrap_width(lines)
    paras: List[str] = []
    block: List[str] = []
    for line in lines + [""]:
        if line.strip():
            block.append(line)
        elif block:
            if not is_table_block(block):
                paras.extend(p for p in unwrap_block(block, width).split("\n\n") if p.strip())
            block = []
    return paras
