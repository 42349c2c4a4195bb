"""Text normalisation shared by every lexicon and feature: accent folding, tokens, zones, language.

Matching is accent- and case-insensitive ("Perú", "PERU" and "peru" are one token), but a few place
names are ordinary words in lower case ("Comas", "La Libertad", "El Niño" as opposed to "el niño",
the boy), so the tokens keep their original case beside the folded form and those entries check it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.text import fold_accents

# Typographic punctuation that NFKD does not decompose to ASCII: mapped first so that "Peru’s"
# tokenises as "Peru" + "s" instead of losing the apostrophe and becoming "Perus".
_PUNCTUATION = {
    "\u2019": "'",
    "\u2018": "'",
    "\u00b4": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u00a0": " ",
    "\u00ba": " ",
    "\u00aa": " ",
}
# A substitution that calls Python only where such a character occurs: str.translate with a dict
# walks every character and costs more than the rest of the folding on a 2,000-character text.
_PUNCTUATION_RE = re.compile("[" + "".join(_PUNCTUATION) + "]")
# Tokens are runs of ASCII letters and digits. Folded text is ASCII, so a byte translation that
# blanks everything else, then split(), finds them three times faster than a regex would.
_KEEP = bytes(c if chr(c).isascii() and chr(c).isalnum() else 32 for c in range(256))
_KEEP_LOWER = _KEEP.lower()

# Title words count more than body words: headlines state the subject, bodies wander. The lead (the
# first paragraph or so) states it too; deep in a long article asides dominate, so they count less.
TITLE_WEIGHT = 2.0
LEAD_TOKENS = 120
LEAD_WEIGHT = 1.5
BODY_WEIGHT = 1.0
TAIL_START = 700  # tokens: about 4,500 characters
TAIL_WEIGHT = 0.5

STEM_LENGTH = 6  # vocabulary features and seed similarity use 6-letter prefixes as a bilingual stemmer

# Frequent function words: excluded from vocabulary features and used to guess the language.
SPANISH_STOPWORDS = frozenset(
    """de la que el en y los del se las por un para con una su al lo como mas pero sus le ya o
    este si porque esta entre cuando muy sin sobre tambien hasta hay donde quien desde todo nos
    durante todos uno les ni contra otros ese eso ante ellos e esto antes algunos unos otro otras otra
    tanto esa estos mucho quienes nada muchos cual poco ella estar estas algunas algo ha han fue son
    sera era fueron segun tras dijo asi dos tres ser hace dia anos ano estan esos esas cada mismo
    luego ademas aun tiene tienen pues solo""".split()  # noqa: SIM905 - a word list reads better as prose
)
ENGLISH_STOPWORDS = frozenset(
    """the of and to in is that for it with as was on be by at this are from have has an which or
    were but not its their they had been will who would after more said his her he she we our you
    your them there than into about over also can could may what when where while these those some
    such other all any one two three s new most up out if no do does did just so very being""".split()  # noqa: SIM905
)
STOPWORDS = SPANISH_STOPWORDS | ENGLISH_STOPWORDS


def word_set(block: str, fold_words: bool = False) -> frozenset[str]:
    """The words of a block written as prose (word lists read better so than one item a line)."""
    found = block.split()
    return frozenset(normalize(w) for w in found) if fold_words else frozenset(found)


def fold(text: str) -> str:
    """ASCII text with accents removed and case kept: "Perú’s Ñaña" -> "Peru's Nana"."""
    if text.isascii():
        return text
    return fold_accents(_PUNCTUATION_RE.sub(lambda m: _PUNCTUATION[m.group()], text), ascii_only=True)


def normalize(text: str) -> str:
    """The form every lexicon entry is written in: folded and lower-cased."""
    return fold(text).lower()


def stem(token: str) -> str:
    """A crude bilingual stem: the first six letters ("extorsiones", "extorsionador" -> "extors")."""
    return token[:STEM_LENGTH]


@dataclass(frozen=True, slots=True)
class Tokens:
    """One document's tokens, with the weight of the zone each token comes from.

    ``cased`` keeps the original capitalisation (accents folded); ``lower`` is what lexicons match.
    The title comes first, then the text; ``title_length`` says where the text starts.
    """

    cased: tuple[str, ...]
    lower: tuple[str, ...]
    weights: tuple[float, ...]
    title_length: int

    @property
    def text_length(self) -> int:
        return len(self.lower) - self.title_length


def _zone_weights(title_length: int, text_length: int) -> tuple[float, ...]:
    lead = min(text_length, LEAD_TOKENS)
    body = min(text_length, TAIL_START) - lead
    tail = text_length - lead - body
    return (
        (TITLE_WEIGHT,) * title_length
        + (LEAD_WEIGHT,) * lead
        + (BODY_WEIGHT,) * max(body, 0)
        + (TAIL_WEIGHT,) * max(tail, 0)
    )


# Links to other articles an outlet leaves in the text ("Lee también: Asesinan a comerciante en
# Trujillo | ..."): from the marker to the end of its line they are other stories, not this one's.
_RELATED = re.compile(
    r"(?i)\b(?:lee|lea|leer|mira|ver) tambi[eé]n\b|\bte puede interesar\b|\bm[aá]s noticias\b"
    r"|\bnoticias relacionadas\b|\btambi[eé]n te puede interesar\b|\balso read\b|\bread more\b"
    r"|\brelated (?:stories|articles|news)\b|\byou may also like\b"
)
_LINE_END = re.compile(r"[\r\n]")


def strip_related(text: str) -> str:
    """The text without the related-article links an outlet leaves in it (see ``_RELATED``)."""
    found = _RELATED.search(text)
    if found is None:
        return text
    pieces, at = [], 0
    while found is not None:
        pieces.append(text[at : found.start()])
        rest = found.end()
        while rest < len(text) and text[rest] in " \t:|-|\u2013\u2014":
            rest += 1
        if text[rest : rest + 1] in ("\n", "\r"):  # the marker alone on its line: the link is the next one
            rest = rest + 1 + (text[rest : rest + 2] == "\r\n")
        end = _LINE_END.search(text, rest)
        at = end.start() if end else len(text)
        found = _RELATED.search(text, at)
    pieces.append(text[at:])
    return "".join(pieces)


def tokenize(title: str, text: str) -> Tokens:
    """Tokens of a title and its text (related-article links left out), folded, with zone weights."""
    folded_title = fold(title or "").encode("ascii")
    folded = folded_title + b"\n" + fold(strip_related(text or "")).encode("ascii")
    cased = tuple(folded.translate(_KEEP).decode("ascii").split())
    lower = tuple(folded.translate(_KEEP_LOWER).decode("ascii").split())
    title_length = len(folded_title.translate(_KEEP).split())
    return Tokens(cased, lower, _zone_weights(title_length, len(cased) - title_length), title_length)


def guess_language(tokens: Tokens) -> str:
    """'es' or 'en', by counting function words; ties (or no words) go to Spanish, the feeds' majority."""
    spanish = sum(map(SPANISH_STOPWORDS.__contains__, tokens.lower))
    english = sum(map(ENGLISH_STOPWORDS.__contains__, tokens.lower))
    return "en" if english > spanish else "es"
