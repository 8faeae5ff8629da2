"""Reading a divisions file (CSV, GeoJSON or GeoPackage) into plain rows for the registry to check and load."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from geodata.readers import ReadError, read_geometries

COLUMNS = ("code", "name", "level", "parent", "seat_lon", "seat_lat", "valid_from", "valid_to", "relocation_target",
           "boundary_approximate")
MAX_BYTES = 64 * 1024 * 1024


def read_divisions(data: bytes, filename: str) -> list[dict]:
    """The rows of a divisions file, each with its ``row`` number (the CSV line or the feature number).

    CSV columns: code, name, level, parent, seat_lon, seat_lat[, valid_from, valid_to]; GeoJSON and
    GeoPackage features carry the same properties and a polygon boundary (``boundary_approximate`` true marks
    it a sketch: drawn on the map, never used to judge a point) (read through the checked
    readers: a wrong CRS or an invalid polygon is refused naming the feature).

    Example
    -------
    >>> rows = read_divisions("code,name,level,parent,seat_lon,seat_lat\\n990100,甲市,city,,116.5,25.0\\n"
    ...                       .encode(), "d.csv")
    >>> rows[0]["code"], rows[0]["row"], rows[0]["seat_lon"]
    ('990100', 2, '116.5')
    """
    if len(data) > MAX_BYTES:
        raise ReadError(f"the file is larger than {MAX_BYTES // 2**20} MB", field="file")
    suffix = Path(filename).suffix.lower()
    if suffix in (".csv", ".txt"):
        return _read_csv(data)
    if suffix in (".geojson", ".json", ".gpkg"):
        result = read_geometries(data, filename, kinds=("polygon",))
        rows = []
        for number, (geom, attrs) in enumerate(zip(result.geometries, result.attributes, strict=True), start=1):
            row = {k: attrs.get(k) for k in COLUMNS if k in attrs}
            row.update(boundary=geom, row=number)
            rows.append(row)
        return rows
    raise ReadError(f"a divisions file is .csv, .geojson or .gpkg, not {suffix or 'a file without suffix'}",
                    field="file")


def _read_csv(data: bytes) -> list[dict]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise ReadError("the CSV file is neither UTF-8 nor GB 18030 text", field="file") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS[:3] if c not in (reader.fieldnames or ())]
    if missing:
        raise ReadError(f"the CSV file lacks the column(s) {', '.join(missing)}; its columns are "
                        f"{', '.join(COLUMNS)}", field="file")
    rows = []
    for record in reader:
        rows.append({k: (v.strip() if isinstance(v, str) else v) for k, v in record.items() if k}
                    | {"row": reader.line_num})
    return rows
