"""Project Gutenberg books: header metadata, cleaning (boilerplate, notes, tables of contents)
and unwrapping of one plain-text book per document."""
from __future__ import annotations

import glob
import hashlib
import os
import re
from collections import Counter
from typing import List, Tuple

from text import _ITALIC, Doc, is_table_block, join_paragraphs, normalise_text, unwrap_block, wrap_width

_PG_START = re.compile(r"^\*\*\* ?START OF (THE|THIS) PROJECT GUTENBERG EBOOK.*$", re.M | re.I)
_PG_END = re.compile(r"^\*\*\* ?END OF (THE|THIS) PROJECT GUTENBERG EBOOK.*$", re.M | re.I)
_PG_BOILER = re.compile(
    r"project gutenberg|gutenberg-tm|gutenberg\.org|gutenberg\.net|pgdp\.net|"
    r"distributed proofread|^produced by|^e-?text prepared by|^transcribed from|"
    r"^this (e-?book|e-?text) (was|is)|^updated editions will|^end of (the|this) ",
    re.I,
)
_BRACKETED = re.compile(
    r"\[(?:Illustration|Transcriber[’']?s? ?[Nn]ote|Footnote|Sidenote|Blank Page|Pg \d|" r"Page \d)[^\[\]]{0,4000}(?:\[[^\[\]]{0,200}\][^\[\]]{0,4000})*\]",
    re.I,
)
_FOOTMARK = re.compile(r"\[(?:\d{1,3}|[A-Z]|[a-z])\]")
_TOC_HEAD = re.compile(r"^(?:table of )?contents?\.?:?$|^(?:list of )?illustrations\.?$|" r"^list of [\w ]{1,30}\.?$|^index\.?$", re.I)
_TOC_LINE = re.compile(
    r"^(?:(?:chapter|chap\.|book|part|act|scene|canto|letter|section|stave|volume|vol\.|"
    r"appendix|preface|introduction|prologue|epilogue|note|notes|footnotes)\b|"
    r"[IVXLC]+\.?(?:\s|$)|\d+\.?(?:\s|$))|\s\d+$|\.{3,}|[IVXLC]+\.?$",
    re.I,
)
_TAIL_NOTE = re.compile(
    r"^\W*(transcriber[’']?s?\b|changes to the text|typographical errors|obvious typo|"
    r"errata\b|notes? on the text|spelling (and|has been)|archaic or variant spelling|"
    r"inconsistencies in)",
    re.I,
)
_IMAGE_LINE = re.compile(r"\b\S+\.(?:jpe?g|png|gif)\b|^\s*Full Size\s*$", re.I)
_META_LINE = re.compile(r"^(Title|Author|Translator|Editor|Illustrator|Release date|" r"Language|Credits|Original publication|Most recently updated):", re.I)


def gutenberg_header(raw: str) -> dict:
    head = raw[: _PG_START.search(raw).start()] if _PG_START.search(raw) else raw[:5000]
    meta = {}
    for key in ("Title", "Author", "Translator", "Language", "Release date"):
        m = re.search(r"^" + key + r":\s*(.+(?:\n[ \t]+.+)*)", head, re.M)
        if m:
            meta[key.lower().replace(" ", "_")] = re.sub(r"\s+", " ", m.group(1)).strip()
    m = re.search(r"\[e-?book #(\d+)\]", head, re.I)
    if m:
        meta["ebook_no"] = int(m.group(1))
    return meta


def _looks_like_toc(block: List[str]) -> bool:
    ls = [l.strip() for l in block if l.strip()]
    if not ls:
        return True
    if any(len(l) > 90 for l in ls):
        return False
    hits = sum(1 for l in ls if _TOC_LINE.search(l) or (l.upper() == l and len(l) < 70))
    short = sum(1 for l in ls if len(l.split()) <= 12)
    return hits * 2 >= len(ls) and short == len(ls) or (len(ls) >= 3 and short == len(ls) and block[0][:1] == " ")


def _is_prose(block: List[str], width: int) -> bool:
    return sum(len(l.split()) for l in block) >= 25 or any(len(l.rstrip()) >= 0.72 * width for l in block[:-1])


def clean_gutenberg(raw: str) -> Tuple[str, dict]:
    """Return (clean text, stats) for one Project Gutenberg plain-text book."""
    stats = Counter()
    raw = raw.lstrip("\ufeff")
    ms, me = _PG_START.search(raw), _PG_END.search(raw)
    if not ms or not me:
        raise ValueError("no START/END markers")
    body = raw[ms.end() : me.start()]
    stats["chars_raw"] = len(raw)
    body = normalise_text(body)
    body, n = _BRACKETED.subn("", body)
    stats["bracketed_notes_removed"] = n
    body = _FOOTMARK.sub("", body)
    body = re.sub(r"\{(\d+|[ivxlc]+)\}", "", body)  # page markers {12}
    lines = body.split("\n")
    width = wrap_width(lines)
    # blocks between blank lines
    blocks: List[List[str]] = []
    cur: List[str] = []
    for l in lines + [""]:
        if l.strip():
            cur.append(l)
        elif cur:
            blocks.append(cur)
            cur = []
    # transcriber / editorial notes at the end of the book: cut from there to the end
    for k in range(int(len(blocks) * 0.85), len(blocks)):
        if _TAIL_NOTE.search(" ".join(x.strip() for x in blocks[k][:2])):
            stats["tail_note_blocks_removed"] = len(blocks) - k
            blocks = blocks[:k]
            break
    kept: List[List[str]] = []
    i = 0
    while i < len(blocks):
        b = [l for l in blocks[i] if not _IMAGE_LINE.search(l)]
        if not b:
            i += 1
            continue
        first = b[0].strip()
        joined = " ".join(x.strip() for x in b)
        if is_table_block(b):
            stats["boxed_blocks_removed"] += 1  # ASCII-art boxes (notes, tables)
            i += 1
            continue
        if _PG_BOILER.search(first) or re.search(r"project gutenberg|gutenberg\.org", joined, re.I):
            stats["boilerplate_blocks_removed"] += 1
            i += 1
            continue
        if re.match(r"^\[?transcriber[’']?s?\s+note", first, re.I):
            stats["transcriber_notes_removed"] += 1
            i += 1
            continue
        if all(_META_LINE.match(x.strip()) for x in b):
            i += 1
            continue
        if len(b) == 1 and _TOC_HEAD.match(first):
            # table of contents / list of illustrations: drop following list-like blocks
            j = i + 1
            dropped = 0
            while j < len(blocks) and dropped < 400 and _looks_like_toc(blocks[j]):
                # a lone heading followed by prose is the first chapter: keep it
                if len(blocks[j]) == 1 and j + 1 < len(blocks) and _is_prose(blocks[j + 1], width):
                    break
                dropped += len(blocks[j])
                j += 1
            if j > i + 1 or i + 1 >= len(blocks):
                stats["toc_lines_removed"] += dropped + 1
                i = j
                continue
        kept.append(b)
        i += 1
    paras: List[str] = []
    for b in kept:
        for p in unwrap_block(b, width).split("\n\n"):
            p = _ITALIC.sub("", p)
            p = re.sub(r"^[ *.·]{5,}$", "* * *", p)  # section breaks
            if p.strip():
                paras.append(p)
    text = join_paragraphs(paras)
    stats["wrap_width"] = width
    stats["verse_blocks"] = sum(1 for p in paras if "\n" in p)
    return text, dict(stats)


def load_gutenberg(gdir: str) -> List[Doc]:
    docs = []
    for path in sorted(glob.glob(os.path.join(gdir, "*.txt"))):
        name = os.path.splitext(os.path.basename(path))[0]
        with open(path, "rb") as f:
            data = f.read()
        raw = data.decode("utf-8")
        meta = gutenberg_header(raw)
        meta["file"] = os.path.basename(path)
        meta["sha256_raw"] = hashlib.sha256(data).hexdigest()
        text, stats = clean_gutenberg(raw)
        meta.update(stats)
        d = Doc("gutenberg", name, meta.get("title", name), text, meta)
        lang = meta.get("language", "English")
        letters = [c for c in text[:200000] if c.isalpha()]
        latin = sum(1 for c in letters if c < "\u0250") / max(1, len(letters))
        if lang.lower() != "english" or latin < 0.8:
            d.status = f"excluded:language {lang} (latin letters {latin:.0%})"
        docs.append(d)
    return docs
