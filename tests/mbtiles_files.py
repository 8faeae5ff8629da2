"""Small MBTiles files made in a test: a few PNG tiles (Pillow) in the MBTiles 1.3 schema, rows in TMS order."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

from PIL import Image

# Tiles as XYZ (z, x, y) -> an opaque colour; the file stores them with the row flipped (TMS).
TILES = {(0, 0, 0): (200, 30, 30), (1, 1, 0): (30, 160, 30), (1, 1, 1): (30, 30, 200)}
LONGYAN_TILES = {(z, x, y): (80 + 20 * z, 120, 160) for z in (7, 8, 9) for x, y in
                 {7: [(105, 54), (105, 55)], 8: [(210, 109), (211, 109), (210, 110), (211, 110)],
                  9: [(x, y) for x in range(420, 424) for y in range(218, 222)]}[z]}


def png(colour) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (256, 256), colour).save(out, format="PNG")
    return out.getvalue()


def make_mbtiles(path: Path, tiles=None, *, metadata: dict | None = None) -> Path:
    """Write an MBTiles file at ``path`` holding ``tiles`` ({(z, x, y) XYZ: RGB}) and ``metadata``."""
    tiles = TILES if tiles is None else tiles
    meta = {"name": "Test streets", "format": "png", "minzoom": str(min(z for z, _, _ in tiles)),
            "maxzoom": str(max(z for z, _, _ in tiles)), "attribution": "Test tiles <b>bold</b>",
            "bounds": "-180,-85,180,85"}
    meta.update(metadata or {})
    con = sqlite3.connect(path)
    with con:
        con.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
        con.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)")
        con.executemany("INSERT INTO metadata VALUES (?, ?)", [(k, v) for k, v in meta.items() if v is not None])
        con.executemany("INSERT INTO tiles VALUES (?, ?, ?, ?)",
                        [(z, x, 2**z - 1 - y, png(colour)) for (z, x, y), colour in tiles.items()])
    con.close()
    return path
