"""Peru's administrative places by INEI ubigeo code, from the table shipped in ``data/ubigeo.csv``.

Codes: a department has 2 digits ("13" La Libertad), a province 4 ("1301" Trujillo), a district 6
("130102" El Porvenir). Vigía reports Lima Metropolitana (the province of Lima, "1501") apart from
the rest of the Lima region ("15", "Lima Provincias"), because most Lima news is about the capital:
``unit(code)`` is the code a place is counted under in ``departments`` and ``primary_department``.

The table's source and licence: ``data/README.md``.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pipeline.classify.text import normalize

TABLE = Path(__file__).resolve().parent / "data" / "ubigeo.csv"
LIMA_METROPOLITANA = "1501"
LIMA_PROVINCIAS = "15"


def unit(code: str) -> str:
    """The department-level unit of a place: "1501" for Lima Metropolitana, else its 2 digits."""
    return LIMA_METROPOLITANA if code.startswith(LIMA_METROPOLITANA) else code[:2]


def province_of(code: str) -> str | None:
    return code[:4] if len(code) >= 4 else None


def district_of(code: str) -> str | None:
    return code if len(code) == 6 else None


@dataclass(frozen=True, slots=True)
class Ubigeo:
    """The table: names by code, and codes by folded name."""

    departments: dict[str, str]  # "13" -> "La Libertad"
    provinces: dict[str, str]  # "1301" -> "Trujillo"
    districts: dict[str, str]  # "130102" -> "El Porvenir"
    by_name: dict[str, tuple[str, ...]]  # folded name -> codes of every province and district so named

    def name(self, code: str) -> str:
        table = {2: self.departments, 4: self.provinces, 6: self.districts}[len(code)]
        return table[code]


@lru_cache(maxsize=1)
def table(path: Path = TABLE) -> Ubigeo:
    departments: dict[str, str] = {}
    provinces: dict[str, str] = {}
    districts: dict[str, str] = {}
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            departments[row["department_ubigeo"]] = row["department"]
            provinces[row["province_ubigeo"]] = row["province"]
            districts[row["ubigeo"]] = row["district"]
    by_name: dict[str, set[str]] = defaultdict(set)
    for names in (provinces, districts):
        for code, name in names.items():
            by_name[normalize(name).replace("-", " ")].add(code)
    return Ubigeo(
        departments,
        provinces,
        districts,
        {name: tuple(sorted(codes)) for name, codes in by_name.items()},
    )
