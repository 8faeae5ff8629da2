"""Consistent backups of either store with its files, a manifest of hashes and row counts, and checked restores."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import text
from sqlalchemy.engine import make_url

from registry import __version__
from registry.db import Store
from registry.uploads import ARCHIVE

FORMAT = "registry-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PARTIAL_SUFFIX = ".partial"
DATABASE_FILES = {"geopackage": "registry.gpkg", "postgis": "registry.dump"}
# PostGIS's own table: the extension creates and fills it; it is not the registry's data.
POSTGIS_OWN = {"spatial_ref_sys"}
_CHUNK = 1024 * 1024


class BackupError(RuntimeError):
    """A backup or restore that cannot go on; the message names what and why, and what was left behind."""


@dataclass(frozen=True)
class FileArea:
    """A folder of files the registry keeps beside its store, named in the backup by ``name``."""

    name: str
    root: Path


def file_areas(config, instance_path: str | os.PathLike) -> list[FileArea]:
    """Every folder of kept files: inspection and report photos, relocation scans, imported originals."""
    instance = Path(instance_path)
    files = Path(config.get("RELOCATION_FILES_DIR") or instance)
    # Staged uploads waiting for a commit are not kept: only the archive of committed originals is.
    return [FileArea("attachments", instance / "attachments"),
            FileArea("relocation-scans", files / "relocations"),
            FileArea("gis-imports", instance / "gis-imports" / ARCHIVE),
            FileArea("ledger-uploads", files / "ledger-uploads" / ARCHIVE)]


# --- small file helpers -------------------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_hashed(source: Path, target: Path) -> tuple[str, int]:
    """Copy a file, flushed to disk, and return its SHA-256 and size as read."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    with open(source, "rb") as src, open(target, "wb") as dst:
        for chunk in iter(lambda: src.read(_CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    return digest.hexdigest(), size


def _kept_files(root: Path) -> list[Path]:
    """Whole files under ``root``; the temporary names of writes still in flight are not data yet."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*")
                  if p.is_file() and not p.name.endswith(".part") and not p.name.startswith(".part-"))


# --- backup -------------------------------------------------------------------------------------------


def backup(store: Store, config, instance_path, dest: str | os.PathLike) -> dict:
    """Write a consistent copy of the store and its files to the folder ``dest``; return the manifest.

    Everything goes into ``dest.partial`` first; the manifest is written last, flushed, and the folder
    renamed to ``dest``, so a folder named ``dest`` is always complete and one without a manifest never is.
    The database is copied before the files: files are written before the rows that name them, so every
    file a copied row refers to is already there.
    """
    dest = Path(dest).absolute()
    if dest.exists():
        raise BackupError(f"{dest} already exists; choose a new folder for each backup (nothing was written)")
    partial = dest.with_name(dest.name + PARTIAL_SUFFIX)
    try:
        if partial.exists():
            shutil.rmtree(partial)  # a previous attempt that failed half-way: never complete, ours to remove
        partial.mkdir(parents=True)
        database = partial / DATABASE_FILES[store.kind]
        if store.kind == "geopackage":
            tables = _backup_gpkg(store, database)
        else:
            tables = _backup_postgis(store, database)
        manifest = {
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "registry_version": __version__, "store": store.kind,
            "schema_revision": tables.pop("alembic_version:revision", None),
            "database": {"file": database.name, "sha256": sha256_of(database), "size": database.stat().st_size},
            "tables": tables, "files": {},
        }
        for area in file_areas(config, instance_path):
            for path in _kept_files(area.root):
                name = f"files/{area.name}/{path.relative_to(area.root).as_posix()}"
                try:
                    digest, size = _copy_hashed(path, partial / name)
                except FileNotFoundError:
                    continue  # removed while we looked (a purge): it was not part of the copied store
                manifest["files"][name] = {"sha256": digest, "size": size}
        _write_manifest(partial, manifest)
        os.rename(partial, dest)
        _fsync_dir(dest.parent)
    except BaseException as exc:
        shutil.rmtree(partial, ignore_errors=True)
        if isinstance(exc, OSError):
            reason = f"{exc.strerror or exc} ({exc.filename or dest})"
        elif isinstance(exc, sqlite3.Error):
            # SQLite says "database or disk is full" for the copy it writes; the disk is the backup's.
            reason = "No space left on device" if "full" in str(exc) else str(exc)
        else:
            raise
        raise BackupError(f"the backup to {dest} failed: {reason}; the incomplete copy was removed and "
                          "no backup was made") from None
    return manifest


def _write_manifest(folder: Path, manifest: dict) -> None:
    for name in ("files",):
        manifest[name] = dict(sorted(manifest[name].items()))
    # Flush every copied file's folder entry before the manifest that vouches for them.
    for sub in sorted({p.parent for p in folder.rglob("*") if p.is_file()} | {folder}):
        _fsync_dir(sub)
    path = folder / MANIFEST
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, ensure_ascii=False, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    _fsync_dir(folder)


def _sqlite_tables(con: sqlite3.Connection) -> dict:
    """Rows per table of a SQLite file, and its schema revision (under a key the caller pops)."""
    names = [row[0] for row in con.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    # R*Tree shadow tables (_node, _parent, _rowid) mirror their index; the index's own count says it all.
    rtrees = {n for n in names if n.startswith("rtree_")}
    names = [n for n in names if not any(n.startswith(r + "_") for r in rtrees)]
    counts = {name: con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}
    if "alembic_version" in names:
        heads = sorted(r[0] for r in con.execute("SELECT version_num FROM alembic_version"))
        counts["alembic_version:revision"] = "+".join(heads) or None
    return counts


def _open_copy(path: Path, readonly: bool = False) -> sqlite3.Connection:
    """A connection to a backup's own copy (never the live store); GeoPackage functions are not needed to read."""
    if readonly:
        return sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    return sqlite3.connect(path)


def _backup_gpkg(store: Store, target: Path) -> dict:
    # SQLite's online backup API through the engine's own connection: a consistent snapshot taken while
    # the application writes, and no second descriptor on the live file.
    raw = store.engine.raw_connection()
    try:
        copy = sqlite3.connect(target)
        try:
            raw.driver_connection.backup(copy)
            # One self-contained file: everything in the main file, and rollback-journal mode so no
            # -wal file is needed beside it (a restore puts the store back into WAL mode).
            copy.execute("PRAGMA journal_mode=DELETE")
            tables = _sqlite_tables(copy)
        finally:
            copy.close()
    finally:
        raw.close()
    with open(target, "rb+") as handle:
        os.fsync(handle.fileno())
    return tables


def _pg_tool(name: str, store: Store) -> str:
    """The PostgreSQL client tool of the server's major version (Debian keeps one per version), else PATH's."""
    with store.engine.connect() as conn:
        major = conn.execute(text("SHOW server_version_num")).scalar()
    candidates = [Path(f"/usr/lib/postgresql/{int(major) // 10000}/bin/{name}")] if major else []
    found = shutil.which(name)
    candidates += [Path(found)] if found else []
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client-"
                      f"{int(major) // 10000 if major else 15}); it is needed to back up or restore PostGIS")


def _libpq(url: str) -> tuple[str, dict]:
    """A libpq URL without the password, and the environment that carries it (never on a command line)."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = parsed.password
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _pg_tables(conn) -> dict:
    names = conn.execute(text(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")).scalars().all()
    counts = {n: conn.execute(text(f'SELECT count(*) FROM "{n}"')).scalar() for n in names if n not in POSTGIS_OWN}
    if "alembic_version" in counts:
        heads = sorted(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
        counts["alembic_version:revision"] = "+".join(heads) or None
    return counts


def _backup_postgis(store: Store, target: Path) -> dict:
    tool = _pg_tool("pg_dump", store)
    dsn, env = _libpq(store.url)
    with store.engine.connect() as conn:
        # Counts and dump see one snapshot: the dump joins this transaction's exported snapshot.
        conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar()
        tables = _pg_tables(conn)
        done = subprocess.run([tool, "-Fc", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
                               "-f", str(target), "-d", dsn], env=env, capture_output=True, text=True)
        conn.rollback()
    if done.returncode != 0:
        message = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
        if "No space left" in done.stderr or "could not write" in done.stderr:
            raise OSError(28, message, str(target))
        raise BackupError(f"pg_dump failed: {message}")
    with open(target, "rb+") as handle:
        os.fsync(handle.fileno())
    return tables


# --- keeping N copies ---------------------------------------------------------------------------------


def read_manifest(folder: Path) -> dict | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("format") == FORMAT else None


def prune(parent: Path, keep: int) -> list[Path]:
    """Remove all but the ``keep`` newest complete backups in ``parent``; folders without a manifest stay."""
    backups = []
    for folder in parent.iterdir():
        manifest = read_manifest(folder) if folder.is_dir() and not folder.is_symlink() else None
        if manifest is not None:
            backups.append((str(manifest.get("created", "")), folder.name, folder))
    backups.sort(reverse=True)
    removed = []
    for _created, _name, folder in backups[keep:]:
        shutil.rmtree(folder)
        removed.append(folder)
    return removed


# --- restore ------------------------------------------------------------------------------------------


def verify(src: Path) -> dict:
    """The manifest of the complete backup at ``src`` after checking every hash; BackupError names a mismatch."""
    if not src.is_dir():
        raise BackupError(f"{src} is not a backup folder")
    if not (src / MANIFEST).is_file():
        raise BackupError(f"{src} has no {MANIFEST}: it is not a complete backup (a backup that stopped "
                          "half-way has none); nothing was restored")
    manifest = read_manifest(src)
    if manifest is None:
        raise BackupError(f"{src / MANIFEST} is not a registry backup manifest; nothing was restored")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(f"the backup's format version {manifest.get('format_version')} is not {FORMAT_VERSION}, "
                          "the one this registry reads; nothing was restored")
    database = manifest.get("database") or {}
    checks = [(database.get("file", ""), database)] + list((manifest.get("files") or {}).items())
    for name, expected in checks:
        path = src / name
        if not name or ".." in Path(name).parts or Path(name).is_absolute():
            raise BackupError(f"manifest mismatch: {name!r} is not a path inside the backup; nothing was restored")
        if not path.is_file():
            raise BackupError(f"manifest mismatch: {name} is listed but missing from the backup; nothing was restored")
        actual = sha256_of(path)
        if actual != expected.get("sha256") or path.stat().st_size != expected.get("size"):
            raise BackupError(f"manifest mismatch: {name} has SHA-256 {actual}, the manifest says "
                              f"{expected.get('sha256')}; the backup is damaged, nothing was restored")
    if manifest["store"] == "geopackage":
        con = _open_copy(src / database["file"], readonly=True)
        try:
            tables = _sqlite_tables(con)
        finally:
            con.close()
        tables.pop("alembic_version:revision", None)
        _compare_counts(manifest["tables"], tables, "in the backup's copy")
    return manifest


def _compare_counts(expected: dict, actual: dict, where: str) -> None:
    for table, rows in sorted(expected.items()):
        if actual.get(table) != rows:
            raise BackupError(f"manifest mismatch: table {table} has {actual.get(table)} rows {where}, "
                              f"the manifest says {rows}")


def _check_schema(manifest: dict) -> None:
    from registry.migrate import alembic_config

    revision = manifest.get("schema_revision")
    scripts = ScriptDirectory.from_config(alembic_config())
    for rev in (revision or "").split("+"):
        try:
            known = scripts.get_revision(rev) if rev else None
        except CommandError:
            known = None
        if rev and known is None:
            heads = "+".join(sorted(scripts.get_heads()))
            raise BackupError(f"the backup's schema revision {revision} is newer than this registry knows "
                              f"(its newest is {heads}); restore it with the registry version that made it "
                              f"({manifest.get('registry_version')}) or a later one. Nothing was restored")


def _store_is_empty(store: Store) -> list[str]:
    """The registry tables holding anything in the target store (empty list: safe to restore into)."""
    if store.kind == "geopackage":
        if not store.path.exists():
            return []
        with store.engine.connect() as conn:
            names = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE "
                                         "'sqlite_%' AND name NOT LIKE 'gpkg_%' AND name NOT LIKE 'rtree_%'"
                                         ).scalars().all()
    else:
        with store.engine.connect() as conn:
            names = [n for n in conn.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars() if n not in POSTGIS_OWN]
    return sorted(names)


def restore(store: Store, config, instance_path, src: str | os.PathLike) -> dict:
    """Put the backup at ``src`` into the empty ``store`` and the file folders; return its manifest.

    Refuses, before writing anything, a backup whose hashes or counts disagree with its manifest, one
    made with a newer schema, one of the other store kind, and a store that already holds a registry.
    """
    src = Path(src).absolute()
    manifest = verify(src)
    _check_schema(manifest)
    if manifest["store"] != store.kind:
        raise BackupError(f"the backup is of a {manifest['store']} store and REGISTRY_DATABASE_URL names a "
                          f"{store.kind} store; restore it into a {manifest['store']} store. Nothing was restored")
    occupied = _store_is_empty(store)
    if occupied:
        raise BackupError(f"the target store is not empty (it holds {', '.join(occupied[:6])}"
                          f"{'…' if len(occupied) > 6 else ''}); restore only into a new, empty store so no "
                          "record is overwritten. Nothing was restored")
    database = src / manifest["database"]["file"]
    if store.kind == "geopackage":
        _restore_gpkg(store, database)
    else:
        _restore_postgis(store, database)
    with store.engine.connect() as conn:
        if store.kind == "geopackage":
            con = conn.connection.driver_connection
            tables = _sqlite_tables(con)
        else:
            tables = _pg_tables(conn)
    tables.pop("alembic_version:revision", None)
    _compare_counts(manifest["tables"], tables, "after the restore")
    areas = {area.name: area.root for area in file_areas(config, instance_path)}
    for name, expected in manifest["files"].items():
        _prefix, area, relative = name.split("/", 2)
        if area not in areas:
            raise BackupError(f"the backup holds files of an unknown kind ({area}); nothing more was restored")
        target = areas[area] / relative
        if target.is_file() and sha256_of(target) == expected["sha256"]:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
        try:
            digest, _size = _copy_hashed(src / name, temp)
            os.replace(temp, target)
        finally:
            temp.unlink(missing_ok=True)
        if digest != expected["sha256"]:
            raise BackupError(f"{name} changed while it was restored; run the restore again")
    return manifest


def _restore_gpkg(store: Store, database: Path) -> None:
    # The application's pooled connections are let go first, so this process holds only the
    # restoring connection to the target file; the copy is done by SQLite's backup API.
    store.dispose()
    store.path.parent.mkdir(parents=True, exist_ok=True)
    source = _open_copy(database, readonly=True)
    target = sqlite3.connect(store.path)
    try:
        source.backup(target)
        target.execute("PRAGMA journal_mode=WAL")
    finally:
        target.close()
        source.close()


def _restore_postgis(store: Store, database: Path) -> None:
    tool = _pg_tool("pg_restore", store)
    dsn, env = _libpq(store.url)
    store.dispose()
    with tempfile.TemporaryFile(mode="w+") as log:
        done = subprocess.run([tool, "--single-transaction", "--exit-on-error", "--no-owner", "--no-privileges",
                               "-d", dsn, str(database)], env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        log.seek(0)
        output = log.read().strip()
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed, nothing was restored (one transaction): "
                          f"{output.splitlines()[-1] if output else done.returncode}")
