"""The relevance model: its interface, its decisions on the hard cases, and its determinism."""

from __future__ import annotations

import json

import pytest

from pipeline.classify import MODEL_THRESHOLD, Model, ModelError
from pipeline.classify.model import make_version
from pipeline.classify.seeds import load_seeds
from pipeline.classify.training import Design, build_base_params
from pipeline.classify.versions import base_model, load_model
from pipeline.records import Classification, Place
from tests.conftest import shared_base_model

# Short texts in the shape of feed items, written for these tests (not taken from any data set).
RELEVANT = [
    (
        "Extorsionadores queman mototaxis en Chimbote",
        "Una banda incendió tres mototaxis en Nuevo Chimbote "
        "porque sus dueños no pagaron el cupo semanal. La Policía Nacional investiga.",
    ),
    (
        "Peru police arrest gang behind bus attacks",
        "Peruvian police arrested eight suspected members of a gang "
        "that shot at buses in Lima after transport companies refused to pay extortion money.",
    ),
    (
        "INPE aísla a cabecillas en el penal de Challapalca",
        "El Instituto Nacional Penitenciario trasladó a "
        "internos que dirigían extorsiones desde las cárceles de Lima.",
    ),
    (
        "Soldiers patrol Trujillo under state of emergency",
        "Troops joined police patrols in Trujillo, Peru, "
        "after the government declared a state of emergency over contract killings.",
    ),
]
NOT_RELEVANT = [
    # crime abroad, Peru in passing
    (
        "Ecuador: masacre en cárcel de Guayaquil",
        "Veinte reos murieron en la Penitenciaría del Litoral. El "
        "gobierno ecuatoriano militarizó las prisiones; Perú reforzó su frontera en Tumbes.",
    ),
    (
        "Cartel violence grips Culiacán",
        "Gunmen of rival Sinaloa cartel factions clashed in Culiacán, Mexico. "
        "Mexican troops were deployed; analysts compared the violence with Colombia and Peru.",
    ),
    # a state of emergency that is about weather
    (
        "Declaran estado de emergencia por El Niño costero",
        "El Gobierno declaró en emergencia 90 distritos de "
        "Piura y Tumbes por lluvias intensas, huaicos e inundaciones previstas por el ENFEN.",
    ),
    # economy, mining output, football, tourism
    (
        "Peru copper output rises 4%",
        "Peru's copper production rose 4% on higher output at Antamina and "
        "Quellaveco, the energy and mines ministry said; gold output fell.",
    ),
    (
        "Perú empata con Uruguay en Lima",
        "La selección peruana empató 1-1 en el Estadio Nacional por las "
        "Eliminatorias; el delantero anotó de penal.",
    ),
    (
        "Machu Picchu bate récord de visitantes",
        "El santuario recibió más turistas que nunca en julio, informó "
        "el Ministerio de Cultura, y los hoteles del Cusco están llenos.",
    ),
]


@pytest.fixture(scope="module")
def model() -> Model:
    return load_model()


def test_contract(model):
    c = model.classify(*RELEVANT[0])
    assert isinstance(c, Classification)
    assert 0.0 <= c.score <= 1.0
    assert c.is_relevant == (c.score >= model.threshold)
    assert model.threshold == MODEL_THRESHOLD
    assert c.model_version == model.version and model.version.startswith("base-")
    assert "extortion" in c.topics
    assert [p.ubigeo for p in c.places] == ["02"] and isinstance(c.places[0], Place)
    assert c.places[0].name == "Áncash" and c.places[0].mentions >= 1
    assert c.evidence.terms and all(isinstance(w, float) for _, w in c.evidence.terms)
    assert c.evidence.nearest_seed in {s.file for s in load_seeds()}
    assert 0.0 < c.evidence.seed_similarity <= 1.0


@pytest.mark.parametrize(("title", "text"), RELEVANT)
def test_relevant(model, title, text):
    assert model.classify(title, text).is_relevant


@pytest.mark.parametrize(("title", "text"), NOT_RELEVANT)
def test_hard_negatives(model, title, text):
    assert not model.classify(title, text).is_relevant


def test_evidence_explains_a_foreign_crime(model):
    c = model.classify(*NOT_RELEVANT[1])
    terms = dict(c.evidence.terms)
    assert any(w < 0 for w in terms.values())  # the foreign anchors pull down
    assert any("outweigh Peru" in note for note in c.evidence.notes)


def test_classify_many_keeps_order(model):
    items = [(t, x, None) for t, x in RELEVANT + NOT_RELEVANT]
    assert model.classify_many(items) == [model.classify(t, x) for t, x, _ in items]


def test_empty_and_long_texts(model):
    assert not model.classify("", "").is_relevant
    # The lead states the subject; 8,000 characters of unrelated detail follow.
    long_text = " ".join([RELEVANT[1][1]] + ["The committee met on Tuesday to review its agenda."] * 160)
    assert model.classify(RELEVANT[1][0], long_text).is_relevant


def test_base_model_is_deterministic():
    # Fitted here and in the process that built the run's model cache (tests/conftest.py).
    params = build_base_params()
    assert make_version("base", params) == base_model().version
    assert json.dumps(params, sort_keys=True) == json.dumps(base_model().params, sort_keys=True)


def test_the_training_matrix_multiplies_as_its_dense_form():
    # Training keeps the stem columns as their non-zero entries (training.Design): both products the
    # descent takes must equal the full matrix's, zero rows and columns and repeated rows included.
    import numpy as np

    rng = np.random.default_rng(7)
    dense = rng.normal(size=(6, 3))
    stems = np.zeros((6, 5))
    stems[[0, 0, 2, 3, 3, 3], [1, 4, 0, 1, 2, 4]] = rng.uniform(0.1, 1.0, size=6)
    rows, columns = np.nonzero(stems)
    x = Design(dense, rows, columns, stems[rows, columns], stems=5)
    full = np.hstack([dense, stems])
    beta, r = rng.normal(size=8), rng.normal(size=6)
    assert x.width == 8
    assert np.allclose(x.times(beta), full @ beta, rtol=0, atol=1e-12)
    assert np.allclose(x.transposed_times(r), full.T @ r, rtol=0, atol=1e-12)


def test_params_round_trip_through_json(model):
    copy = Model(json.loads(json.dumps(model.params)), model.version)
    assert copy.classify(*RELEVANT[1]) == model.classify(*RELEVANT[1])


def test_unusable_params_raise_a_model_error():
    with pytest.raises(ModelError):
        Model({"format": 99}, "x")
    with pytest.raises(ModelError):
        Model({"format": 1, "bias": 0.0}, "x")


@pytest.fixture
def fresh_process(monkeypatch):
    """As in a new process: no base model built yet. A fit is counted in ``fresh_process.builds`` and
    gives the model the run's cache holds: the fit itself is ``_build_base_model`` as the process
    that built that cache ran it (tests/conftest.py), and test_base_model_is_deterministic fits it
    again here."""
    import pipeline.classify.versions as versions_module

    builds: list[int] = []
    monkeypatch.setattr(versions_module, "_BASE", None)
    monkeypatch.setattr(versions_module, "_build_base_model", lambda: builds.append(1) or shared_base_model())
    monkeypatch.setattr(versions_module, "builds", builds, raising=False)
    return versions_module


def test_base_model_params_are_kept_between_processes(fresh_process, tmp_path, monkeypatch):
    built = fresh_process.base_model(tmp_path / "cache")
    assert fresh_process.builds == [1]
    (cached,) = (tmp_path / "cache").glob("base-model-*.json")
    assert fresh_process.base_inputs_digest() in cached.name

    # The next process reads the params instead of fitting them again.
    monkeypatch.setattr(fresh_process, "_BASE", None)
    monkeypatch.setattr(fresh_process, "_build_base_model", lambda: pytest.fail("rebuilt despite the cache"))
    read = fresh_process.base_model(tmp_path / "cache")
    assert read.version == built.version == make_version("base", read.params)
    assert json.dumps(read.params, sort_keys=True) == json.dumps(built.params, sort_keys=True)
    assert read.classify(*RELEVANT[0]) == built.classify(*RELEVANT[0])


def test_a_damaged_base_model_cache_is_rebuilt(fresh_process, tmp_path, monkeypatch):
    good = fresh_process.base_model(tmp_path)
    (cached,) = tmp_path.glob("base-model-*.json")
    for damage in ("{not json", json.dumps({"version": good.version, "params": {"threshold": 0.1}})):
        cached.write_text(damage, encoding="utf-8")
        monkeypatch.setattr(fresh_process, "_BASE", None)
        before = len(fresh_process.builds)
        assert fresh_process.base_model(tmp_path).version == good.version
        assert len(fresh_process.builds) == before + 1, "the damaged cache was used, not rebuilt"
        assert json.loads(cached.read_text(encoding="utf-8"))["version"] == good.version  # rewritten


def test_base_model_without_a_writable_cache_is_still_built(fresh_process, tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a directory", encoding="utf-8")
    assert fresh_process.base_model(blocked / "cache").version == shared_base_model().version
    assert fresh_process.builds == [1] and blocked.read_text(encoding="utf-8") == "not a directory"


def test_the_cache_key_follows_the_seeds(fresh_process, tmp_path, monkeypatch):
    import shutil

    import pipeline.classify.seeds as seeds_module

    seeds = tmp_path / "seeds"
    shutil.copytree(seeds_module.SEEDS_DIR, seeds)
    monkeypatch.setattr(seeds_module, "SEEDS_DIR", seeds)
    fresh_process.base_inputs_digest.cache_clear()
    before = fresh_process.base_inputs_digest()
    first = sorted(seeds.glob("*.txt"))[0]
    first.write_text(first.read_text(encoding="utf-8") + "\nUna línea más.", encoding="utf-8")
    fresh_process.base_inputs_digest.cache_clear()
    try:
        assert fresh_process.base_inputs_digest() != before
    finally:
        fresh_process.base_inputs_digest.cache_clear()


# Lines in the languages the feeds carry, written for this test, and texts py3langid finds hard.
LANGUAGE_SAMPLES = [
    *(f"{title}\n{text}" for title, text in RELEVANT + NOT_RELEVANT),
    "A polícia prendeu três suspeitos de extorsão em São Paulo nesta terça-feira.",
    "La police a arrêté trois suspects d'extorsion à Marseille mardi soir.",
    "La polizia ha arrestato tre sospettati di estorsione a Napoli martedì.",
    "Die Polizei hat am Dienstag drei Verdächtige wegen Erpressung festgenommen.",
    "EXTORSIONADORES ATACAN BUS EN SAN JUAN DE LURIGANCHO",
    "1234 5678",
    "",
]


@pytest.fixture
def fresh_identifier(monkeypatch):
    """As in a new process: no language identifier loaded yet, and no cache directory chosen."""
    from pipeline.classify import language, lexicon

    monkeypatch.setattr(lexicon, "_CACHE_DIR", None)
    language._identifier.cache_clear()
    yield language
    language._identifier.cache_clear()


def test_the_language_model_is_unpacked_once_and_mapped_and_identifies_as_the_packaged_one(
    fresh_identifier, tmp_path, monkeypatch
):
    import numpy as np
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    from pipeline.classify import lexicon

    packaged = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=False)
    cache = tmp_path / "cache"
    (cache / "langid-0.0.1-1234").mkdir(parents=True)  # an older py3langid's: removed
    lexicon.use_cache(cache)
    unpacked = fresh_identifier._identifier()
    (kept,) = cache.glob("langid-*")
    assert kept.name != "langid-0.0.1-1234" and isinstance(unpacked.nb_ptc, np.memmap)

    # The next process maps what the first unpacked: it never decompresses the package's file.
    fresh_identifier._identifier.cache_clear()
    monkeypatch.setattr(fresh_identifier.lzma, "open", lambda *a, **k: pytest.fail("decompressed again"))
    mapped = fresh_identifier._identifier()
    for sample in LANGUAGE_SAMPLES:
        assert mapped.rank(sample) == unpacked.rank(sample) == packaged.rank(sample), sample
    assert [fresh_identifier.identify("", s) for s in LANGUAGE_SAMPLES[-7:-3]] == ["pt", "fr", "it", "de"]


def test_a_damaged_or_unwritable_language_cache_still_identifies(fresh_identifier, tmp_path, caplog):
    from pipeline.classify import lexicon

    lexicon.use_cache(tmp_path)
    expected = [fresh_identifier.identify("", s) for s in LANGUAGE_SAMPLES]
    (kept,) = tmp_path.glob("langid-*")
    sizes = {p.name: p.stat().st_size for p in kept.iterdir()}
    import shutil

    def truncated() -> None:
        with open(kept / "ptc.npy", "r+b") as damaged:
            damaged.truncate(1000)

    def swapped() -> None:  # a whole, readable file in another's place
        shutil.copyfile(kept / "pc.npy", kept / "out_feat.npy")

    for damage in (truncated, swapped):  # rebuilt, with a warning
        damage()
        caplog.clear()
        fresh_identifier._identifier.cache_clear()
        assert [fresh_identifier.identify("", s) for s in LANGUAGE_SAMPLES] == expected
        assert {p.name: p.stat().st_size for p in kept.iterdir()} == sizes
        assert "unreadable" in caplog.text, damage.__name__

    blocked = tmp_path / "file"
    blocked.write_text("not a directory", encoding="utf-8")
    lexicon.use_cache(blocked / "cache")
    fresh_identifier._identifier.cache_clear()
    assert [fresh_identifier.identify("", s) for s in LANGUAGE_SAMPLES] == expected
    assert blocked.read_text(encoding="utf-8") == "not a directory"
