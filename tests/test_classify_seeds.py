"""The seed corpus: the shared documents copied unchanged, and a manifest that describes each."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from pipeline.classify.seeds import SEEDS_DIR, load_seeds

SHARED_SEEDS = Path(__file__).resolve().parent.parent.parent / "shared" / "seeds"


def test_manifest_describes_every_seed():
    manifest = tomllib.loads((SEEDS_DIR / "manifest.toml").read_text(encoding="utf-8"))["seed"]
    files = sorted(p.name for p in SEEDS_DIR.glob("*.txt"))
    assert sorted(item["file"] for item in manifest) == files and len(files) == 5
    for item in manifest:
        assert item["label"] == "relevant"
        assert item["language"] in {"es", "en"}
        assert item["title"] and item["outlet"]


def test_seeds_load_in_manifest_order():
    seeds = load_seeds()
    assert [s.file for s in seeds] == sorted(s.file for s in seeds)
    assert all(len(s.text) > 1000 for s in seeds)


@pytest.mark.corpus
@pytest.mark.skipif(
    not SHARED_SEEDS.exists(), reason="../shared/seeds is not present: nothing to compare with"
)
def test_seeds_are_the_shared_documents_unchanged():
    shared = sorted(SHARED_SEEDS.glob("*.txt"))
    assert [p.name for p in shared] == sorted(p.name for p in SEEDS_DIR.glob("*.txt"))
    for path in shared:
        assert (SEEDS_DIR / path.name).read_bytes() == path.read_bytes()
