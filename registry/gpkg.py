"""The GeoPackage side of the embedded store: file header, core tables, feature registration, R*Tree triggers."""

from __future__ import annotations

import sqlite3
from pathlib import Path

APPLICATION_ID = 0x47504B47  # 'GPKG'
USER_VERSION = 10400  # GeoPackage 1.4
RTREE_EXTENSION = "gpkg_rtree_index"
RTREE_DEFINITION = "http://www.geopackage.org/spec120/#extension_rtree"

WGS84_WKT = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,'
    'AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,'
    'AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],'
    'AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]'
)

CORE_DDL = (
    """CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
        srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
        organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT)""",
    """CREATE TABLE IF NOT EXISTS gpkg_contents (
        table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
        description TEXT DEFAULT '',
        last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
        CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id))""",
    """CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
        table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
        srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
        CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
        CONSTRAINT uk_gc_table_name UNIQUE (table_name),
        CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
        CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id))""",
    """CREATE TABLE IF NOT EXISTS gpkg_extensions (
        table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL,
        definition TEXT NOT NULL, scope TEXT NOT NULL,
        CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))""",
)

SRS_ROWS = (
    ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", "undefined cartesian coordinate reference system"),
    ("Undefined geographic SRS", 0, "NONE", 0, "undefined", "undefined geographic coordinate reference system"),
    ("WGS 84 geodetic", 4326, "EPSG", 4326, WGS84_WKT,
     "longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid (CGCS2000 accepted as equal)"),
)


def create_file(path: str | Path) -> None:
    """Create a new, empty GeoPackage file with its core tables.

    The file is made in rollback-journal mode so the header (application_id, user_version) is on
    disk at once, then switched to WAL so readers (GDAL, QGIS) never block the application's writes.
    """
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"refusing to create {path}: a file is already there")
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA journal_mode=DELETE")
        con.execute(f"PRAGMA application_id={APPLICATION_ID}")
        con.execute(f"PRAGMA user_version={USER_VERSION}")
        for ddl in CORE_DDL:
            con.execute(ddl)
        con.executemany("INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES (?,?,?,?,?,?)", SRS_ROWS)
        con.commit()
        con.execute("PRAGMA journal_mode=WAL")
    finally:
        con.close()


def _trigger_sql(t: str, c: str, i: str = "id") -> list[str]:
    """The R*Tree maintenance triggers of the GeoPackage 1.4 extension, for table t, column c, key i."""
    rt = f"rtree_{t}_{c}"
    bounds = f"ST_MinX(NEW.{c}), ST_MaxX(NEW.{c}), ST_MinY(NEW.{c}), ST_MaxY(NEW.{c})"
    nonempty_new = f"(NEW.{c} NOTNULL AND NOT ST_IsEmpty(NEW.{c}))"
    return [
        f"""CREATE TRIGGER {rt}_insert AFTER INSERT ON {t}
            WHEN (new.{c} NOT NULL AND NOT ST_IsEmpty(NEW.{c}))
            BEGIN INSERT OR REPLACE INTO {rt} VALUES (NEW.{i}, {bounds}); END""",
        f"""CREATE TRIGGER {rt}_update6 AFTER UPDATE OF {c} ON {t}
            WHEN OLD.{i} = NEW.{i} AND {nonempty_new} AND (OLD.{c} NOTNULL AND NOT ST_IsEmpty(OLD.{c}))
            BEGIN UPDATE {rt} SET minx = ST_MinX(NEW.{c}), maxx = ST_MaxX(NEW.{c}),
                  miny = ST_MinY(NEW.{c}), maxy = ST_MaxY(NEW.{c}) WHERE id = NEW.{i}; END""",
        f"""CREATE TRIGGER {rt}_update7 AFTER UPDATE OF {c} ON {t}
            WHEN OLD.{i} = NEW.{i} AND {nonempty_new} AND (OLD.{c} ISNULL OR ST_IsEmpty(OLD.{c}))
            BEGIN INSERT INTO {rt} VALUES (NEW.{i}, {bounds}); END""",
        f"""CREATE TRIGGER {rt}_update2 AFTER UPDATE OF {c} ON {t}
            WHEN OLD.{i} = NEW.{i} AND (NEW.{c} ISNULL OR ST_IsEmpty(NEW.{c}))
            BEGIN DELETE FROM {rt} WHERE id = OLD.{i}; END""",
        f"""CREATE TRIGGER {rt}_update5 AFTER UPDATE ON {t}
            WHEN OLD.{i} != NEW.{i} AND {nonempty_new}
            BEGIN DELETE FROM {rt} WHERE id = OLD.{i};
                  INSERT OR REPLACE INTO {rt} VALUES (NEW.{i}, {bounds}); END""",
        f"""CREATE TRIGGER {rt}_update4 AFTER UPDATE ON {t}
            WHEN OLD.{i} != NEW.{i} AND (NEW.{c} ISNULL OR ST_IsEmpty(NEW.{c}))
            BEGIN DELETE FROM {rt} WHERE id IN (OLD.{i}, NEW.{i}); END""",
        f"""CREATE TRIGGER {rt}_delete AFTER DELETE ON {t}
            WHEN old.{c} NOT NULL
            BEGIN DELETE FROM {rt} WHERE id = OLD.{i}; END""",
    ]


def register_feature_table(execute, table: str, column: str, geometry_type: str,
                           identifier: str, description: str, srs_id: int = 4326) -> None:
    """Register an existing table as a GeoPackage feature table with an R*Tree spatial index.

    ``execute`` runs one SQL statement with optional parameters (an Alembic ``op.execute`` wrapper or
    a DB-API cursor's ``execute``), so the same code serves migrations and tests.
    """
    execute(
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) "
        "VALUES (?, 'features', ?, ?, ?)",
        (table, identifier, description, srs_id),
    )
    execute(
        "INSERT INTO gpkg_geometry_columns VALUES (?, ?, ?, ?, 0, 0)",
        (table, column, geometry_type, srs_id),
    )
    execute(
        "INSERT INTO gpkg_extensions VALUES (?, ?, ?, ?, 'write-only')",
        (table, column, RTREE_EXTENSION, RTREE_DEFINITION),
    )
    execute(f"CREATE VIRTUAL TABLE rtree_{table}_{column} USING rtree(id, minx, maxx, miny, maxy)")
    execute(
        f"INSERT OR REPLACE INTO rtree_{table}_{column} SELECT id, ST_MinX({column}), ST_MaxX({column}), "
        f"ST_MinY({column}), ST_MaxY({column}) FROM {table} WHERE {column} NOT NULL AND NOT ST_IsEmpty({column})"
    )
    for sql in _trigger_sql(table, column):
        execute(sql)


def refresh_contents_extent(execute, table: str, column: str = "geom") -> None:
    """Set a feature table's extent and last_change in gpkg_contents from a scan of its R*Tree.

    Run after bulk loads, not per edit: the scan reads every node of the tree.
    """
    execute(
        f"UPDATE gpkg_contents SET "
        f"min_x = (SELECT min(minx) FROM rtree_{table}_{column}), "
        f"max_x = (SELECT max(maxx) FROM rtree_{table}_{column}), "
        f"min_y = (SELECT min(miny) FROM rtree_{table}_{column}), "
        f"max_y = (SELECT max(maxy) FROM rtree_{table}_{column}), "
        f"last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE table_name = ?",
        (table,),
    )
