"""Time how fast the GIS import refuses a zipped Shapefile of two million points, and what memory it takes."""

from __future__ import annotations

import io
import resource
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from geodata.sniff import Limits  # noqa: E402 - after the path is set
from registry.services.base import ServiceError  # noqa: E402
from registry.services.gis.files import read_rows  # noqa: E402

POINTS = 2_000_000


def _zipped_points() -> bytes:
    # A grid, so the zip is small (about 15 MB) like a real survey's points.
    i = np.arange(POINTS)
    points = shapely.points(116 + (i % 1000) * 1e-3, 25 + (i // 1000) * 1e-3)
    with tempfile.TemporaryDirectory() as folder:
        gpd.GeoDataFrame({"code": i % 10}, geometry=points, crs=4326).to_file(Path(folder) / "p.shp",
                                                                                engine="pyogrio")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for part in Path(folder).glob("p.*"):
                zf.write(part, part.name)
    return buffer.getvalue()


def main() -> None:
    data = _zipped_points()
    print(f"zip of {POINTS:,} points: {len(data) / 1e6:.1f} MB")
    # The default limits, then limits loose enough that only the feature count (read from the .shx) refuses it.
    for label, limits in (("default limits", None), ("ratio and size limits raised", Limits(zip_ratio=1000,
                                                                                            zip_bytes=500 << 20))):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        try:
            read_rows(data, "shp", None, limits)
            outcome = "read (not refused!)"
        except ServiceError as exc:
            outcome = f"{exc.status}: {exc.message}"
        elapsed = time.perf_counter() - start
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        print(f"{label}: {elapsed:.3f} s, peak memory grew {grown:.0f} MB; {outcome}")


if __name__ == "__main__":
    main()
