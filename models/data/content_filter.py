"""Content filter for the lacuna-mini corpus: keep prose, drop or cap verse, drama, critical
apparatus and tabular text (issue 13, item 3). Stdlib only; used by build_corpus.py.

Everything works on the cleaned document text as build_corpus writes it: paragraphs separated
by one blank line, the lines of verse / drama / lists kept as single newlines inside a
paragraph. Each paragraph gets one label from simple, measurable rules (checked in this order):

* ``table``      -- digits are >= 30 % of its non-space characters (>= 20 of them), or it has
  >= 2 lines and >= half of them hold >= 2 separate numbers or a dot leader (``.....``).
* ``apparatus``  -- an editor's note rather than the text: it starts with a note marker
  (``=5 a subtill thing.=`` as in the Jonson edition, ``[12]``, ``(12)``, ``*``, ``†``,
  ``Note 3``, ``12 line 4`` / ``l. 12``), or scholarly abbreviations and references (``ibid.``,
  ``cf.``, ``op. cit.``, ``i. e.``, ``p. 13``, ``l. 4``, ``vol. ii``, ``ed.``, ``sc. 2``,
  ``Act III``, ``fol.`` …) come at >= 4 per 100 words (>= 3 of them).
* ``drama``      -- a speech or stage direction: the first line starts with a speaker name in
  capitals followed by ``.`` or ``:`` (``HAMLET.``, ``MRS PETERS:``, ``FIRST CITIZEN.``), or the
  paragraph is a stage direction (``Enter …``, ``Exit``, ``Exeunt``, ``[Aside]``, ``Re-enter``),
  or an ``ACT``/``SCENE`` heading.
* ``verse``      -- it kept >= 2 line breaks' worth of lines (>= 3 lines) whose mean length is
  under 60 characters (poetry, songs, lists of short lines).
* ``prose``      -- everything else.

Policy (``filter_document``):

1. A document whose verse + drama + apparatus + table share of characters is >= ``doc_max``
   (0.5) is dropped whole (a play, a book of poems, an annotated edition, a table-heavy
   document); its characters are reported under its largest non-prose label.
2. In the documents that stay, ``table``, ``apparatus`` and ``drama`` paragraphs are removed;
   ``verse`` paragraphs of more than ``verse_max_lines`` (4) lines are removed (a quoted couplet
   or a short song in a novel stays, a long poem goes).
3. A document left with under 200 characters is dropped (``empty``).

The removed characters are counted per label (whole documents and single paragraphs apart) so
that the manifest reports what was removed.
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Dict, List, Tuple

LABELS = ("table", "apparatus", "drama", "verse")

_NUM = re.compile(r"(?<![\w.])[-+]?\d[\d,.:/]*%?(?![\w])")
_LEADER = re.compile(r"\.\s?\.\s?\.\s?\.\s?\.|…\s?…")
_NOTE_START = re.compile(
    r"^(?:=\s*\d+\b|\[\d{1,3}\]|[*†‡§¶]\s*\S|\d{1,4}\s+(?:l\.|ll\.|line)\s|" r"\d{1,4}\.\s*\d{1,4}\.\s|(?:Note|NOTE|Notes|NOTES)\s+(?:\d|[IVXLC]+\b|on\b|to\b))"
)
_SCHOLAR = re.compile(
    r"\b(?:ibid|ib|id|cf|op\.\s?cit|loc\.\s?cit|i\.\s?e|viz|sq|sqq|fol|ff|edd?|vols?|pp?|ll?|"
    r"sc|ch|chap|st|vv?|n|nn|q\.\s?v|etc|al|seq|MS|MSS|Fo|Qo|Ff|Qq)\.\s?(?=[\divxlcIVXLC(A-Z]|$)"
    r"|\b(?:Act|Sc|Scene)\s+[IVXLC]+\b|\[[A-Z][a-z]{0,3}\.\]|--[A-Z]\.(?!\w)"
)
_SPEAKER = re.compile(
    r"^((?:[A-Z][A-Z'’\-]+(?:\s+(?:[A-Z][A-Z'’\-]+|OF|THE|DE|LA|ST\.|MR\.?|MRS\.?)){0,3})"
    r"|[A-Z][a-z]+\s[A-Z]{2,}[A-Z'’\-]*|[A-Z][a-z]{1,5}(?:\s[A-Z][a-z]{1,5})?)\s?[.:](?:\s|$)"
)
# words that start headings or prose, not speeches
_NOT_SPEAKER = re.compile(
    r"^(?:[IVXLCDM]+|BOOK|CHAPTER|CHAP|PART|SECTION|VOLUME|VOL|CANTO|LETTER|STAVE|PREFACE|"
    r"INTRODUCTION|NOTE|NOTES|APPENDIX|FOOTNOTE|SONG|PSALM|EPILOGUE|PROLOGUE|ACT|SCENE|"
    r"GENTLEMEN|TO|FELLOW|MR|MRS|DR|ST|Mr|Mrs|Dr|St|Mt|Messrs|Capt|Col|Gen|Gov|Lieut|Sen|Rev|"
    r"Hon|Prof|Vol|Ch|Chap|Sect|Fig|No|Nos|Art|Sec|Ibid|Cf|Viz|Oh|Ah|Yes|No|Well|So|Now|Then|"
    r"Thus|Hence|And|But|Or|The|Ans|Obj|Q|A)\b"
)
_STAGE = re.compile(
    r"^[\[(]?\s*(?:Enter|Exit|Exeunt|Re-enter|Reenter|Manet|Manent|Aside|Dies|Dying|Flourish|"
    r"Alarum|Alarums|Sound|Trumpets|Music|Curtain|Scene|SCENE|ACT|Act)\b[^\n]{0,200}$"
)
_WORDS = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


def speaker_of(p: str) -> str:
    """The speaker-name candidate that starts a paragraph ('' if none)."""
    m = _SPEAKER.match(p)
    if not m or _NOT_SPEAKER.match(m.group(1)):
        return ""
    first = p.split("\n", 1)[0]
    if "\n" not in p and len(first.split()) <= 6 and first.upper() == first:
        return ""  # a one-line capitalised heading, not a speech
    return m.group(1)


def document_speakers(paras: List[str], min_count: int = 3) -> set:
    """Speaker candidates that start at least `min_count` paragraphs of the document (a play
    names its speakers again and again; a prose paragraph opening 'GENTLEMEN OF THE CONGRESS:'
    does not make a play), and only when there are at least two of them (numbered sections
    such as 'Sect. 36.' repeat one word)."""
    c = Counter(speaker_of(p) for p in paras)
    c.pop("", None)
    names = {k for k, v in c.items() if v >= min_count}
    return names if len(names) >= 2 else set()


def classify_paragraph(p: str, speakers: set = frozenset()) -> str:
    """One label from LABELS or ``prose`` (rules in the module docstring); `speakers` are the
    document's repeated speaker names (document_speakers)."""
    lines = [l for l in p.split("\n") if l.strip()]
    if not lines:
        return "prose"
    nonspace = sum(1 for c in p if not c.isspace())
    digits = sum(1 for c in p if c.isdigit())
    if digits >= 20 and digits >= 0.3 * nonspace:
        return "table"
    if len(lines) >= 2:
        numeric = sum(1 for l in lines if len(_NUM.findall(l)) >= 2 or _LEADER.search(l))
        if numeric * 2 >= len(lines):
            return "table"
    first = lines[0].strip()
    if _NOTE_START.match(first):
        return "apparatus"
    words = len(_WORDS.findall(p))
    refs = len(_SCHOLAR.findall(p))
    if refs >= 3 and refs * 100 >= 4 * max(words, 1):
        return "apparatus"
    if first.startswith("[") and "]" not in p and len(p) >= 120 or (p.rstrip().endswith("]") and "[" not in p and len(p) >= 40):
        return "apparatus"  # an editor's bracketed note running over paragraphs
    if speakers and speaker_of(p) in speakers:
        return "drama"
    if len(lines) <= 2 and _STAGE.match(first) and len(p) < 300:
        return "drama"
    if len(lines) >= 3 and sum(len(l) for l in lines) / len(lines) < 60:
        return "verse"
    return "prose"


def filter_document(text: str, doc_max: float = 0.5, verse_max_lines: int = 4) -> Tuple[str, str, Dict[str, int], Dict[str, int]]:
    """Returns (kept text, verdict, removed characters per label, characters per label).

    verdict: ``kept``, or ``dropped:<label>`` when the whole document goes (its largest
    non-prose label), or ``empty`` when too little prose is left."""
    paras = text.split("\n\n")
    speakers = document_speakers(paras)
    labels = [classify_paragraph(p, speakers) for p in paras]
    size = Counter()
    for p, lab in zip(paras, labels):
        size[lab] += len(p)
    total = sum(size.values()) or 1
    nonprose = sum(v for k, v in size.items() if k != "prose")
    if nonprose >= doc_max * total:
        worst = max(LABELS, key=lambda k: size.get(k, 0))
        return "", f"dropped:{worst}", {}, dict(size)
    removed = Counter()
    out = []
    for p, lab in zip(paras, labels):
        if lab in ("table", "apparatus", "drama") or (lab == "verse" and p.count("\n") + 1 > verse_max_lines):
            removed[lab] += len(p)
            continue
        out.append(p)
    kept = "\n\n".join(out)
    if len(kept) < 200:
        return "", "empty", dict(removed), dict(size)
    return kept, "kept", dict(removed), dict(size)
