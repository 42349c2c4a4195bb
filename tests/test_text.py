"""The one accent-folding function and the two decompositions it offers."""

from __future__ import annotations

import unicodedata

import duckdb
import pytest

from pipeline.text import fold_accents

SAMPLES = [
    "Extorsión en SJL",
    "ÑAÑA, Áncash, Huánuco, Apurímac",
    "naïve façade Ångström Øresund",
    "ﬁnanciamiento ² ½ №",  # compatibility characters: only NFKD folds them
    "Peru’s «sicariato» — 1º de mayo",
    "e\u0301 a\u0308 (already decomposed)",
    "Ελληνικά, русский, 日本語",
    "a\U0001d167b 𝒳 \U0001e130x",  # marks beyond U+FFFF (musical, Nyiakeng Puachue Hmong)
    "",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_the_duckdb_variant_agrees_with_duckdb_strip_accents(text):
    """Search folds the query here and the stored text in SQL: both must give the same words."""
    with duckdb.connect() as con:
        (expected,) = con.execute("select strip_accents(lower(?))", [text]).fetchone()
    assert fold_accents(text.lower(), like_duckdb=True) == expected


@pytest.mark.parametrize("text", SAMPLES)
def test_the_default_removes_exactly_the_combining_marks_after_nfkd(text):
    expected = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    assert fold_accents(text) == expected


def test_the_two_variants_differ_only_on_compatibility_characters():
    assert (
        fold_accents("Extorsión Áncash")
        == fold_accents("Extorsión Áncash", like_duckdb=True)
        == "Extorsion Ancash"
    )
    assert fold_accents("ﬁn") == "fin"
    assert fold_accents("ﬁn", like_duckdb=True) == "ﬁn"


@pytest.mark.parametrize("text", SAMPLES)
def test_the_ascii_variant_is_the_default_without_what_is_left_outside_ascii(text):
    assert fold_accents(text, ascii_only=True) == "".join(c for c in fold_accents(text) if c.isascii())
