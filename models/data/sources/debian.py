"""Sources from Debian 12 data packages (``apt-get download`` + ``dpkg-deb -x``, see ensure_debs):
the World English Bible (SWORD module, exported with mod2imp), "Copyright Does Not Exist" (HTML),
the Jargon File's prose chapters, The Devil's Dictionary (dictd database) and WordNet's usage
examples."""
from __future__ import annotations

import glob
import gzip
import hashlib
import html
import html.parser
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from typing import Dict, List, Tuple

from text import _ITALIC, Doc, collapse_spaces, join_paragraphs, normalise_text, unwrap_text

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
        info[pkg] = dict(version=ver, deb=os.path.basename(path), sha256=sha, how="apt-get download + dpkg-deb -x")
    for pkg, exe in DEB_TOOLS.items():
        if not shutil.which(exe):
            cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", pkg]
            if not install:
                raise SystemExit(f"{exe} missing: run  " + " ".join(cmd))
            print("  " + " ".join(cmd), file=sys.stderr)
            if subprocess.run(cmd, env=env).returncode != 0:
                subprocess.run(["apt-get", "update", "-q"], env=env, check=True)
                subprocess.run(cmd, env=env, check=True)
        r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True)
        info[pkg] = dict(version=r.stdout.strip(), how="apt-get install (tool)")
    return root, info


_OSIS_BOOK = re.compile(r'<div [^>]*type="book"[^>]*/>')


def load_web_bible(root: str) -> List[Doc]:
    env = dict(os.environ, SWORD_PATH=os.path.join(root, "usr/share/sword"))
    imp = subprocess.run(["mod2imp", "engWEB2015eb"], capture_output=True, check=True, env=env).stdout
    raw = imp.decode("utf-8")
    # entries "$$$Key\n<osis>"; concatenate the OSIS stream in module order
    # verses follow each other in running text: join entries with a space
    stream = " ".join(part.split("\n", 1)[1].strip() if "\n" in part else "" for part in raw.split("$$$")[1:])
    stream = re.sub(r'<div [^>]*sID="([^"]+)"[^>]*type="glossary"[^>]*/>.*?' r'<div [^>]*eID="\1"[^>]*/>', " ", stream, flags=re.S)
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
            continue  # text after a book's end marker (whitespace only)
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
    BLOCK = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "tr", "blockquote", "pre", "table", "ul", "ol", "dd", "dt", "hr"}

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
        m = re.search(rb"charset=([\w-]+)", data[:2000])
        src = data.decode(m.group(1).decode() if m else "latin-1", errors="replace")
        paras = [
            p
            for p in html_to_paragraphs(src)
            if p.upper() not in ("INDEX", "PREVIOUS", "NEXT", "HOME") and not re.fullmatch(r"(INDEX|PREVIOUS|NEXT|[\s<>|]+)+", p, re.I)
        ]
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
    starts = [(i, l) for i, l in enumerate(lines) if re.match(r"^(Chapter\s\d+\.|Appendix\s[A-Z]\.|Glossary$|Bibliography$)", l)]
    docs = []
    for k, (i, head) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else len(lines)
        if not _JARGON_KEEP.match(head):
            continue
        body = "\n".join(lines[i + 1 : end])
        body = re.sub(r"\{([^{}]+)\}", r"\1", body)  # {cross-reference} markup
        paras = [p for p in unwrap_text(body, 78) if p.strip() != "Table of Contents"]
        # each chapter opens with a list of its section headings, repeated later: drop it
        first_prose = next((k for k, p in enumerate(paras) if len(p.split()) >= 15), 0)
        later = set(paras[first_prose:])
        paras = [collapse_spaces(head)] + [p for k, p in enumerate(paras) if k >= first_prose or p not in later]
        docs.append(Doc("jargon", re.sub(r"\W+", "_", head.split(".")[0]).lower(), head.strip(), join_paragraphs(paras)))
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
        chunk = normalise_text(data[off : off + ln].decode("utf-8"))
        if word.startswith("00database"):
            if word == "00databaseinfo" and "PREFACE" in chunk:
                by_letter["preface"].append(chunk[chunk.index("PREFACE") :])
            continue
        by_letter[word[:1].upper()].append(chunk)
    docs = []
    for letter in ["preface"] + sorted(k for k in by_letter if k != "preface"):
        text = "\n\n".join(by_letter[letter])
        paras = [_ITALIC.sub("", p) for p in unwrap_text(text, 70)]
        # right-aligned attributions ("   G.J.") were collapsed onto their own line; keep
        docs.append(Doc("devil", letter.lower(), "The Devil's Dictionary: " + letter, join_paragraphs(paras)))
    return docs


_WN_FILES = [("noun", "data.noun"), ("verb", "data.verb"), ("adj", "data.adj"), ("adv", "data.adv")]


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
                docs.append(Doc("wordnet", f"{pos}-{k:03d}", f"WordNet examples ({pos}) {k}", join_paragraphs(paras)))
                paras, size, k = [], 0, k + 1
        if paras:
            docs.append(Doc("wordnet", f"{pos}-{k:03d}", f"WordNet examples ({pos}) {k}", join_paragraphs(paras)))
    return docs
