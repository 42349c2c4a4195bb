"""Language identification (py3langid) and word stems (Snowball, through PyStemmer).

Both are well-kept libraries whose data ship inside their packages. docs/relevance.md gives the measured
comparison with the hand-written code they replace (a stop-word count and a six-letter prefix).
Analyst search uses a Snowball stemmer too, so a stem here is the same word there.
"""

from __future__ import annotations

import contextlib
import fcntl
import lzma
import shutil
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.classify import lexicon
from pipeline.classify.cache import read_arrays, write_arrays

# py3langid reads this much of the text: enough to be sure, little enough to stay cheap
# (a Python walk over bytes: 0.1 to 0.3 ms for 300 characters, measured here).
IDENTIFY_CHARS = 300
SNOWBALL = {
    "es": "spanish",
    "en": "english",
    "pt": "portuguese",
    "fr": "french",
    "it": "italian",
    "de": "german",
    "nl": "dutch",
    "ca": "catalan",
}
DEFAULT = "es"  # the feeds' majority, for a text with no letters at all


# The arrays of py3langid's model, as its package ships them (an LZMA-compressed .npz).
MODEL_ARRAYS = ("ptc", "pc", "classes", "nextmove", "nextmove_row", "out_feat")


@lru_cache(maxsize=1)
def _identifier() -> Any:
    """py3langid's identifier, from the model's arrays unpacked in the classifier's cache directory
    (memory-mapped: 7 ms) when there is one, else from the package's compressed file (0.35 s of CPU,
    0.26 s of it decompressing 65 MB). Every extraction worker of every cycle identifies languages."""
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    directory = lexicon.cache_dir()
    arrays = _unpacked_model(directory, MODEL_DIR / MODEL_FILE) if directory is not None else None
    if arrays is None:
        return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=False)
    # As py3langid's own loader makes them (modelio.load_model), except that the transition tables
    # stay in the mapped file: a memoryview is indexed like the stdlib array the loader copies into.
    return LanguageIdentifier(
        arrays["ptc"],
        np.asarray(arrays["pc"]),
        arrays["classes"].tolist(),
        _flat(arrays["nextmove"]),
        arrays["out_feat"].tolist(),
        norm_probs=False,
        tk_row=_flat(arrays["nextmove_row"]),
    )


def _unpacked_model(directory: Path, packed: Path) -> dict[str, Any] | None:
    """The model's arrays from ``directory``, unpacked there first when missing (by one process at a
    time: a new deployment's workers all want it at once; older unpacked models are removed, 66 MB
    each). When they cannot be kept there, this process's copy of them."""
    from importlib.metadata import version

    target = directory / f"langid-{version('py3langid')}-{packed.stat().st_size}"
    arrays = read_arrays(target, MODEL_ARRAYS, _inconsistency)
    if arrays is not None:
        return arrays
    with contextlib.ExitStack() as stack:
        with contextlib.suppress(OSError):  # a cache that cannot be written: unpacked below all the same
            directory.mkdir(parents=True, exist_ok=True)
            lock = stack.enter_context(open(directory / ".langid.lock", "a"))
            fcntl.flock(lock, fcntl.LOCK_EX)
            arrays = read_arrays(target, MODEL_ARRAYS, _inconsistency)  # unpacked while this process waited
            if arrays is not None:
                return arrays
        # As py3langid does it: through a temporary file, so that the 65 MB .npz is never in memory
        # beside its arrays (an extraction worker has an address-space limit).
        with tempfile.TemporaryFile(suffix=".npz") as tmp:
            with lzma.open(packed) as source:
                shutil.copyfileobj(source, tmp, length=1 << 20)
            tmp.seek(0)
            with np.load(tmp, allow_pickle=False) as stored:
                arrays = {name: stored[name] for name in MODEL_ARRAYS}
        if not write_arrays(target, arrays):
            return arrays  # this process's own copy, as py3langid's loader would have made it
    for old in directory.glob("langid-*"):
        if old != target:
            shutil.rmtree(old, ignore_errors=True)
    return read_arrays(target, MODEL_ARRAYS, _inconsistency) or arrays


def _inconsistency(arrays: dict[str, Any]) -> str | None:
    """What makes the arrays unusable together (a file cut short or swapped keeps its header; only
    shapes are checked, not values: that would read all 66 MB)."""
    ptc, pc, classes, nextmove, rows, output = (arrays[name] for name in MODEL_ARRAYS)
    if ptc.ndim != 2 or ptc.shape[1] != len(pc) or len(pc) != len(classes):
        return f"{ptc.shape} weights for {len(pc)} priors and {len(classes)} languages"
    if nextmove.ndim != 1 or len(nextmove) % 256 or len(rows) != len(output):
        return f"{len(nextmove)} transitions, {len(rows)} states and {len(output)} outputs"
    return None


def _flat(array: Any) -> memoryview:
    return memoryview(array).cast("B").cast(array.dtype.char)


def identify(title: str, text: str) -> str:
    """The ISO 639-1 code of the text's language ("es", "en", "pt"...)."""
    sample = f"{title}\n{text[:IDENTIFY_CHARS]}" if title else text[:IDENTIFY_CHARS]
    if not any(ch.isalpha() for ch in sample):
        return DEFAULT
    language, _score = _identifier().classify(sample)
    return str(language)


@lru_cache(maxsize=16)
def stemmer(language: str) -> Callable[[str], str]:
    """The Snowball stemmer of a language (Spanish for languages Snowball lacks here)."""
    import Stemmer

    return Stemmer.Stemmer(SNOWBALL.get(language, SNOWBALL[DEFAULT])).stemWord  # type: ignore[no-any-return]
