"""Backup and restore on both stores: every table's rows and every file's hash come back; bad cases refused."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from registry import backup as backups
from registry.models import Relocation, Tribute
from registry.services import Actor
from registry.services.manage.inspections import submit_inspection
from registry.services.public.tribute import lay_flower
from registry.services.relocations import attach_scan
from tests.conftest import make_app, new_store_url
from tests.factories import demo_like, facility, form, jpeg, people, png
from tests.faults.disk import fill, small_disk

PDF = b"%PDF-1.4\n" + b"scan of a consent form\n" * 40


def seed(store, instance: Path, files: Path) -> dict:
    """Demo-like records with inspection photos, a relocation scan, a flower and an archived import."""
    ids = demo_like(store)
    actors = people(store)
    site = facility(store)
    submit_inspection(store, actors["mgr"], site.id, form(lon="116.8181", lat="25.2251"),
                      [("front.jpg", jpeg()), ("side.png", png())], attachments_dir=instance / "attachments")
    with store.session() as session:
        relocation = session.scalars(select(Relocation.id)).first()
    attach_scan(store, Actor.system("test"), relocation, "consent_on", "consent.pdf", PDF, files)
    lay_flower(store, "martyr", ids["martyrs"][0], client="c1", idempotency_key="backup-key-1")
    archived = instance / "gis-imports" / "imported"
    archived.mkdir(parents=True)
    (archived / ("a" * 64)).write_bytes(b"id,name\n1,imported layer\n")
    return ids


def table_rows(store, tables) -> dict:
    """Every row of every table, in a stable order, read through the store's own engine."""
    out = {}
    with store.engine.connect() as conn:
        for table in tables:
            rows = conn.exec_driver_sql(f'SELECT * FROM "{table}"').all()
            out[table] = sorted(repr(tuple(bytes(v) if isinstance(v, memoryview) else v for v in row))
                                for row in rows)
    return out


def file_hashes(config, instance) -> dict:
    found = {}
    for area in backups.file_areas(config, instance):
        for path in sorted(p for p in area.root.rglob("*") if p.is_file()) if area.root.exists() else []:
            found[f"{area.name}/{path.relative_to(area.root)}"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@pytest.fixture
def source(store_kind, any_app, tmp_path):
    store = any_app.extensions["registry_store"]
    instance, files = tmp_path / "instance-a", tmp_path / "files-a"
    ids = seed(store, instance, files)
    return store, {"RELOCATION_FILES_DIR": str(files)}, instance, ids


def empty_store(store_kind, tmp_path, request):
    url = new_store_url(store_kind, tmp_path, request)
    if store_kind == "geopackage":
        # A path where no registry is yet: restore creates it.
        Path(url.removeprefix("sqlite:///")).unlink()
    else:
        from tests.conftest import throwaway_database

        url = throwaway_database(request)  # a new database without even PostGIS
    app = make_app(url)
    request.addfinalizer(app.extensions["registry_store"].dispose)
    return app.extensions["registry_store"]


def test_a_backup_restores_every_row_and_every_file(source, store_kind, tmp_path, request):
    store, config, instance, ids = source
    manifest = backups.backup(store, config, instance, tmp_path / "backup")
    assert (tmp_path / "backup" / "manifest.json").is_file()
    assert not (tmp_path / "backup.partial").exists()
    assert manifest["tables"]["tributes"] == 1 and manifest["tables"]["attachments"] == 3
    assert len(manifest["files"]) == 8  # 2 photos x 3 renditions, a scan, an archived import

    target = empty_store(store_kind, tmp_path, request)
    config_b = {"RELOCATION_FILES_DIR": str(tmp_path / "files-b")}
    backups.restore(target, config_b, tmp_path / "instance-b", tmp_path / "backup")

    tables = sorted(manifest["tables"])
    assert table_rows(target, tables) == table_rows(store, tables)
    assert file_hashes(config_b, tmp_path / "instance-b") == file_hashes(config, instance)
    assert len(file_hashes(config, instance)) == 8
    if store_kind == "geopackage":
        with target.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA application_id").scalar() == 0x47504B47  # still a GeoPackage
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_a_backup_taken_while_flowers_are_laid_is_consistent(source, store_kind, tmp_path, request):
    store, config, instance, ids = source
    stop = threading.Event()
    laid = []

    def lay():
        for i in range(400):
            if stop.is_set():
                break
            lay_flower(store, "martyr", ids["martyrs"][1], client=f"writer-{i}",
                       idempotency_key=f"during-backup-{i:04d}")
            laid.append(i)

    writer = threading.Thread(target=lay)
    writer.start()
    try:
        manifest = backups.backup(store, config, instance, tmp_path / "backup")
    finally:
        stop.set()
        writer.join(60)
    target = empty_store(store_kind, tmp_path, request)
    # The restore checks every table's count against the manifest, taken from the same snapshot as the copy.
    backups.restore(target, {"RELOCATION_FILES_DIR": str(tmp_path / "files-b")}, tmp_path / "instance-b",
                    tmp_path / "backup")
    with target.session() as session:
        restored = session.scalar(select(func.count()).select_from(Tribute))
    assert restored == manifest["tables"]["tributes"]
    assert 1 <= restored <= 1 + len(laid)


# --- refusals -------------------------------------------------------------------------------------------


def _tamper_file(backup: Path) -> str:
    manifest = json.loads((backup / "manifest.json").read_text())
    name = next(n for n in manifest["files"] if n.endswith(".pdf"))
    (backup / name).write_bytes(b"%PDF-1.4\nsomething else\n")
    return name


def _tamper_database(backup: Path) -> str:
    manifest = json.loads((backup / "manifest.json").read_text())
    name = manifest["database"]["file"]
    with open(backup / name, "r+b") as handle:
        handle.seek(-10, 2)
        handle.write(b"0123456789")
    return name


def _drop_manifest(backup: Path) -> str:
    (backup / "manifest.json").unlink()
    return "manifest.json"


def _newer_schema(backup: Path) -> str:
    manifest = json.loads((backup / "manifest.json").read_text())
    manifest["schema_revision"] = "0099_future"
    (backup / "manifest.json").write_text(json.dumps(manifest))
    return "0099_future"


@pytest.mark.parametrize("damage, words", [
    (_tamper_file, "manifest mismatch"),
    (_tamper_database, "manifest mismatch"),
    (_drop_manifest, "not a complete backup"),
    (_newer_schema, "is newer than this registry knows"),
])
def test_restore_refuses_a_damaged_or_newer_backup_and_writes_nothing(source, store_kind, tmp_path, request,
                                                                      damage, words):
    store, config, instance, ids = source
    backups.backup(store, config, instance, tmp_path / "backup")
    named = damage(tmp_path / "backup")
    target = empty_store(store_kind, tmp_path, request)
    app = make_app(target.url)
    result = app.test_cli_runner().invoke(args=["restore", str(tmp_path / "backup")])
    app.extensions["registry_store"].dispose()
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert words in result.output and named in result.output and "nothing was restored" in result.output.lower()
    assert backups._store_is_empty(target) == []


def test_restore_refuses_a_store_that_holds_a_registry(source, tmp_path):
    store, config, instance, ids = source
    backups.backup(store, config, instance, tmp_path / "backup")
    app = make_app(store.url)  # the source itself: it holds every table
    result = app.test_cli_runner().invoke(args=["restore", str(tmp_path / "backup")])
    app.extensions["registry_store"].dispose()
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "the target store is not empty" in result.output and "audit_events" in result.output


def test_backup_refuses_an_existing_destination(app, tmp_path):
    (tmp_path / "taken").mkdir()
    result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "taken")])
    assert result.exit_code == 1 and "already exists" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("disk", ["full", "read-only"])
def test_backup_to_a_full_or_read_only_disk_fails_and_leaves_nothing_complete(source, tmp_path, disk):
    store, config, instance, ids = source
    with small_disk(tmp_path / "disk", "512k", readonly=disk == "read-only") as mount:
        if disk == "full":
            fill(mount)
        app = make_app(store.url, RELOCATION_FILES_DIR=config["RELOCATION_FILES_DIR"])
        result = app.test_cli_runner().invoke(args=["backup", str(mount / "nightly")])
        app.extensions["registry_store"].dispose()
        assert result.exit_code == 1 and "Traceback" not in result.output
        reason = "No space left on device" if disk == "full" else "Read-only file system"
        assert "the backup to" in result.output and reason in result.output, result.output
        assert "no backup was made" in result.output
        assert not (mount / "nightly").exists() and not (mount / "nightly.partial").exists()
        assert not list(mount.rglob("manifest.json"))


def test_keep_leaves_the_newest_backups(source, tmp_path):
    store, config, instance, ids = source
    folder = tmp_path / "nightly"
    for n in range(4):
        backups.backup(store, config, instance, folder / f"registry-{n}")
    (folder / "unrelated").mkdir()  # not a backup: never removed
    removed = backups.prune(folder, 2)
    assert sorted(p.name for p in removed) == ["registry-0", "registry-1"]
    assert sorted(p.name for p in folder.iterdir()) == ["registry-2", "registry-3", "unrelated"]


def test_restore_refuses_a_backup_of_the_other_store_kind(gpkg_url, tmp_path, request):
    app = make_app(gpkg_url)
    store = app.extensions["registry_store"]
    demo_like(store)
    backups.backup(store, {}, tmp_path / "instance", tmp_path / "backup")
    store.dispose()
    target = empty_store("postgis", tmp_path, request)
    other = make_app(target.url)
    result = other.test_cli_runner().invoke(args=["restore", str(tmp_path / "backup")])
    other.extensions["registry_store"].dispose()
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "the backup is of a geopackage store" in result.output and "postgis" in result.output
    assert backups._store_is_empty(target) == []
