"""Accent folding: the one function every stage uses to compare text without its accents.

"Extorsión", "EXTORSION" and "extorsion" must be one word to the classifier's lexicons, to the
near-duplicate keys, to full-text search and to the department names an operator types. All of them
fold here; they differ only in which Unicode decomposition comes first (see ``fold_accents``).
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache


def _character_class(codes: list[int]) -> str:
    ranges: list[str] = []
    start = previous = codes[0]
    for c in [*codes[1:], -1]:
        if c != previous + 1:
            last = "-" + re.escape(chr(previous)) if previous > start else ""
            ranges.append(re.escape(chr(start)) + last)
            start = c
        previous = c
    return "[" + "".join(ranges) + "]+"


@cache
def _marks() -> re.Pattern[str]:
    """Every combining mark (non-zero combining class) of the Basic Multilingual Plane.

    A regex pass is about 8x faster than testing ``unicodedata.combining`` on every character of
    every text, and built from ``unicodedata`` it removes exactly the same characters. Built on
    first use: scanning the code points takes time an import should not pay.
    """
    return re.compile(_character_class([c for c in range(0x10000) if unicodedata.combining(chr(c))]))


# Marks beyond U+FFFF are tested one by one: in the character class they make every pass ten times
# slower, and the only such characters news text holds are emoji, a handful a page.
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _keep_unless_mark(match: re.Match[str]) -> str:
    return "" if unicodedata.combining(match.group()) else match.group()


def _strip_marks(text: str) -> str:
    return _ASTRAL.sub(_keep_unless_mark, _marks().sub("", text))


def fold_accents(text: str, *, like_duckdb: bool = False, ascii_only: bool = False) -> str:
    """``text`` without combining marks, case kept: "Perú Ñaña ﬁn" -> "Peru Nana fin".

    By default the compatibility decomposition (NFKD) comes first, so ligatures and the like fold
    too ("ﬁ" -> "fi", "²" -> "2"): what the classifier, the near-duplicate keys and the alert
    settings compare. ``like_duckdb=True`` gives what DuckDB's ``strip_accents`` gives instead —
    canonical decomposition only, recomposed afterwards ("ﬁ" stays) — because full-text search
    folds the query in Python and the stored text in SQL, and the two must agree
    (tests/test_text.py checks it against DuckDB). ``ascii_only=True`` drops whatever else is not
    ASCII as well ("ø", "€", emoji), for the classifier's ASCII tokens: encoding to ASCII removes the
    marks with the rest, twice as fast as removing them first.
    """
    if text.isascii():
        return text
    if like_duckdb:
        return unicodedata.normalize("NFC", _strip_marks(unicodedata.normalize("NFD", text)))
    if ascii_only:
        return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _strip_marks(unicodedata.normalize("NFKD", text))
