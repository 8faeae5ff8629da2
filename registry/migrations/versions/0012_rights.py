"""Journey lines start at the public origin: the first vertex of every relocation's line snapped to the 0.01° grid.

The public relocations collection (OGC, tiles) hides the exact origin fields but published the line, whose
first vertex was the surveyed point of a scattered grave. From now on the services draw the line from
``geodata.origins.public_origin``; this rewrites the lines already stored. ``origin_lon``/``origin_lat``
keep the exact point for staff. Downgrading restores the exact first vertex from those columns.

Revision ID: 0012_rights
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

from geodata import gpkg as blobs
from geodata.origins import public_origin

revision = "0012_rights"
down_revision = "0011"
branch_labels = None
depends_on = None

CHUNK = 2000


def _rewrite(exact: bool) -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, origin_lon, origin_lat FROM relocations "
                                "WHERE geom IS NOT NULL AND origin_lon IS NOT NULL AND origin_lat IS NOT NULL")).all()
    points = [(rid, (lon, lat) if exact else public_origin(lon, lat)) for rid, lon, lat in rows]
    if conn.dialect.name == "postgresql":
        statement = sa.text("UPDATE relocations SET geom = ST_SetPoint(geom, 0, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) "
                            "WHERE id = :id")
        for start in range(0, len(points), CHUNK):
            conn.execute(statement, [{"id": rid, "x": x, "y": y} for rid, (x, y) in points[start:start + CHUNK]])
        return
    wanted = dict(points)
    ids = list(wanted)
    statement = sa.text("UPDATE relocations SET geom = :geom WHERE id = :id")
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        found = conn.execute(sa.text("SELECT id, geom FROM relocations WHERE id IN :ids")
                             .bindparams(sa.bindparam("ids", expanding=True)), {"ids": chunk}).all()
        updates = []
        for rid, blob in found:
            line = blobs.decode(blob)
            if line is None or line.is_empty:
                continue
            coords = list(line.coords)
            coords[0] = wanted[rid]
            updates.append({"id": rid, "geom": blobs.encode(type(line)(coords))})
        if updates:
            conn.execute(statement, updates)


def upgrade() -> None:
    _rewrite(exact=False)


def downgrade() -> None:
    _rewrite(exact=True)
