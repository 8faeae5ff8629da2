"""Staged uploads: kept under their SHA-256 while needed, the committed originals archived, the rest purged."""

from __future__ import annotations

import hashlib
import io
import os
import re
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from registry import config
from registry.models import AuditEvent, Facility, ImportBatch, Relocation
from registry.services import InvalidInput
from registry.uploads import Staging, TooLarge, areas
from tests.conftest import make_app
from tests.factories import FIXED_MAPPING_TEXT, make_destinations, people, write_messy_ledger

EXPIRED = "上传的文件已失效，请重新上传。"
CSV = "code,name,category,county_code,lon,lat\nST-1,才溪乡调查纪念馆,memorial_hall,350823,116.45,25.0\n".encode()


def _age(path: Path, hours: float) -> None:
    """Make a file look last used this many hours ago."""
    then = time.time() - hours * 3600
    os.utime(path, (then, then))


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under a folder (archive included), by relative path, with its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def area(tmp_path) -> Staging:
    return Staging(tmp_path / "uploads", retention_hours=72)


# --- save and load --------------------------------------------------------------------------------


def test_a_file_is_kept_under_its_sha256_and_loaded_by_it(area):
    token = area.save(b"ledger bytes")
    assert token == hashlib.sha256(b"ledger bytes").hexdigest()
    assert area.load(token) == b"ledger bytes"
    # The same bytes again are the same file, not a second copy.
    assert area.save(b"ledger bytes") == token
    assert _files(area.folder) == {token: b"ledger bytes"}


def test_a_stream_is_kept_in_chunks_and_one_over_the_limit_leaves_nothing(area):
    data = os.urandom(3 * 1024 * 1024 + 17)
    token = area.save(io.BytesIO(data), max_bytes=len(data))
    assert area.load(token) == data
    with pytest.raises(TooLarge):
        area.save(io.BytesIO(data + b"!"), max_bytes=len(data))
    assert _files(area.folder) == {token: data}


@pytest.mark.parametrize("token", ["../x", "../" + "a" * 61, "a" * 63, "a" * 65, "A" * 64, "g" * 64, "",
                                   "a" * 63 + "/", None])
def test_bad_tokens_are_refused_by_name_and_change_nothing(area, token):
    kept = area.save(b"kept")
    outside = area.folder.parent / "x"
    outside.write_bytes(b"not an upload")
    before = _files(area.folder.parent)
    for call in (area.load, area.path, area.archive):
        with pytest.raises(InvalidInput) as refused:
            call(token)
        assert refused.value.field == "file" and refused.value.message == EXPIRED
    assert _files(area.folder.parent) == before
    assert area.load(kept) == b"kept"


def test_a_token_whose_file_is_gone_is_refused(area):
    token = area.save(b"soon gone")
    (area.folder / token).unlink()
    with pytest.raises(InvalidInput, match=EXPIRED):
        area.load(token)
    with pytest.raises(InvalidInput, match=EXPIRED):
        area.load(hashlib.sha256(b"never uploaded").hexdigest())


def test_an_expired_file_is_refused_even_before_a_purge(area):
    token = area.save(b"left overnight for three days")
    _age(area.folder / token, 73)
    with pytest.raises(InvalidInput, match=EXPIRED):
        area.load(token)
    assert area.purge() == [area.folder / token]
    assert _files(area.folder) == {}


def test_using_a_file_renews_it(area):
    token = area.save(b"still being checked")
    _age(area.folder / token, 71)
    assert area.load(token) == b"still being checked"  # a second dry run, say
    assert area.purge() == []
    assert area.load(token) == b"still being checked"


# --- purge and archive ----------------------------------------------------------------------------


def test_purge_leaves_archived_and_fresh_files(area):
    old, fresh, committed = area.save(b"old"), area.save(b"fresh"), area.save(b"committed")
    area.archive(committed)
    _age(area.folder / old, 100)
    _age(area.archive_folder / committed, 10_000)  # archived long ago: still kept
    partial = area.folder / ".part-abandoned"
    partial.write_bytes(b"half an upload")
    _age(partial, 80)
    before = _files(area.folder)

    assert sorted(area.purge(dry_run=True)) == sorted([area.folder / old, partial])
    assert _files(area.folder) == before  # a dry run removes nothing

    assert sorted(area.purge()) == sorted([area.folder / old, partial])
    assert _files(area.folder) == {fresh: b"fresh", f"imported/{committed}": b"committed"}
    assert area.purge() == []


def test_a_shorter_limit_purges_sooner(area):
    token = area.save(b"two hours old")
    _age(area.folder / token, 2)
    assert area.purge() == []
    assert area.purge(older_than_hours=1) == [area.folder / token]


def test_each_save_purges_what_expired(area):
    old = area.save(b"abandoned preview")
    _age(area.folder / old, 73)
    new = area.save(b"next upload")
    assert _files(area.folder) == {new: b"next upload"}


def test_archive_on_commit_moves_the_file_and_keeps_it_loadable(area):
    token = area.save(b"committed original")
    assert area.archive(token) == area.archive_folder / token
    assert _files(area.folder) == {f"imported/{token}": b"committed original"}
    # A second confirm of the same preview still finds the file (and the import then adds nothing).
    assert area.load(token) == b"committed original"
    assert area.archive(token) is None
    assert _files(area.folder) == {f"imported/{token}": b"committed original"}


def test_archived_originals_outlive_the_retention(area):
    token = area.save(b"imported in spring")
    area.archive(token)
    _age(area.archive_folder / token, 5000)
    assert area.purge(older_than_hours=1) == []
    assert area.load(token) == b"imported in spring"


# --- the setting and the command ------------------------------------------------------------------


def test_the_retention_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("REGISTRY_UPLOAD_RETENTION_HOURS", "12")
    monkeypatch.setenv("REGISTRY_RELOCATION_FILES_DIR", str(tmp_path / "files"))
    found = areas(config.load(instance_path=tmp_path), tmp_path)
    assert found["gis"] == Staging(tmp_path / "gis-imports", 12)
    assert found["ledgers"] == Staging(tmp_path / "files" / "ledger-uploads", 12)
    monkeypatch.delenv("REGISTRY_UPLOAD_RETENTION_HOURS")
    assert areas(config.load(instance_path=tmp_path), tmp_path)["gis"].retention_hours == 72


@pytest.mark.parametrize("value", ["abc", "0", "-1"])
def test_a_retention_that_is_not_a_positive_number_stops_start_up_by_name(monkeypatch, tmp_path, value):
    monkeypatch.setenv("REGISTRY_UPLOAD_RETENTION_HOURS", value)
    with pytest.raises(config.ConfigError, match="REGISTRY_UPLOAD_RETENTION_HOURS"):
        config.load(instance_path=tmp_path)


def test_the_purge_command_prints_what_it_removed(gpkg_url, tmp_path):
    app = make_app(gpkg_url, RELOCATION_FILES_DIR=str(tmp_path / "files"))
    app.instance_path = str(tmp_path / "instance")
    gis, ledgers = Staging(tmp_path / "instance" / "gis-imports"), Staging(tmp_path / "files" / "ledger-uploads")
    stale, fresh, two_hours = gis.save(b"stale"), gis.save(b"fresh"), ledgers.save(b"two hours")
    committed = ledgers.save(b"committed")
    ledgers.archive(committed)
    _age(gis.folder / stale, 80)
    _age(ledgers.folder / two_hours, 2)
    _age(ledgers.archive_folder / committed, 80)
    runner = app.test_cli_runner()
    try:
        dry = runner.invoke(args=["uploads", "purge", "--dry-run"])
        assert dry.exit_code == 0, dry.output
        assert f"would remove {gis.folder / stale}" in dry.output
        assert (gis.folder / stale).exists()

        done = runner.invoke(args=["uploads", "purge"])
        assert done.exit_code == 0, done.output
        assert f"removed {gis.folder / stale}" in done.output and "gis: removed 1 staged file(s)" in done.output
        assert _files(gis.folder) == {fresh: b"fresh"}

        sooner = runner.invoke(args=["uploads", "purge", "--older-than", "1"])
        assert sooner.exit_code == 0, sooner.output
        assert f"removed {ledgers.folder / two_hours}" in sooner.output
        assert _files(ledgers.folder) == {f"imported/{committed}": b"committed"}
        assert _files(gis.folder) == {fresh: b"fresh"}

        assert "nothing to purge" in runner.invoke(args=["uploads", "purge"]).output
        refused = runner.invoke(args=["uploads", "purge", "--older-than", "0"])
        assert refused.exit_code != 0 and "--older-than" in refused.output
    finally:
        app.extensions["registry_store"].dispose()


def test_the_purge_command_removes_uploads_a_killed_worker_left_half_received(gpkg_url, tmp_path):
    app = make_app(gpkg_url)
    app.instance_path = str(tmp_path / "instance")
    receiving = tmp_path / "instance" / "upload-tmp"
    left, in_flight = receiving / "upload-killed", receiving / "upload-now"
    for folder in (left, in_flight):
        folder.mkdir(parents=True)
        (folder / "upload").write_bytes(b"half a file")
    _age(left, 2)
    runner = app.test_cli_runner()
    try:
        dry = runner.invoke(args=["uploads", "purge", "--dry-run"])
        assert dry.exit_code == 0, dry.output
        assert f"would remove {left}" in dry.output and left.exists()

        done = runner.invoke(args=["uploads", "purge"])
        assert done.exit_code == 0, done.output
        assert f"removed {left}" in done.output and "receiving: removed 1 unfinished upload(s)" in done.output
        assert sorted(p.name for p in receiving.iterdir()) == ["upload-now"]
    finally:
        app.extensions["registry_store"].dispose()


# --- both import flows, on both stores ------------------------------------------------------------


@pytest.fixture
def flow_app(store_url, tmp_path):
    application = make_app(store_url, RELOCATION_FILES_DIR=str(tmp_path / "files"))
    application.instance_path = str(tmp_path / "instance")
    yield application
    application.extensions["registry_store"].dispose()


def _signed_in(app, name):
    client = app.test_client()
    assert client.post("/login", data={"username": name, "password": f"{name}-password"}).status_code == 302
    return client


def _token(page: str) -> str:
    return re.search(r'name="token" value="([0-9a-f]{64})"', page).group(1)


def test_a_committed_gis_import_is_archived_and_a_refused_one_stays_staged(flow_app, tmp_path):
    people(flow_app.extensions["registry_store"])
    client = _signed_in(flow_app, "planner1")
    folder = tmp_path / "instance" / "gis-imports"
    form = {"kind": "facilities", "crs": "EPSG:4326"}
    page = client.post("/gis/import/preview", data={**form, "file": (io.BytesIO(CSV), "设施.csv")},
                       content_type="multipart/form-data").get_data(as_text=True)
    token = _token(page)
    assert _files(folder) == {token: CSV}  # staged by the dry run

    done = client.post("/gis/import/commit", data={**form, "token": token, "filename": "设施.csv"})
    assert done.status_code == 200 and 'id="import-done"' in done.get_data(as_text=True)
    assert _files(folder) == {f"imported/{token}": CSV}
    with flow_app.extensions["registry_store"].session() as s:
        assert s.scalar(select(func.count()).select_from(Facility)) == 1
        # The created row's history names the file and the archived original it came from.
        notes = s.scalars(select(AuditEvent.note).where(AuditEvent.action == "import")).all()
    assert notes == [f"设施.csv sha256:{token}"]
    history = client.get("/history/facilities/1").get_data(as_text=True)
    assert f"sha256:{token}" in history

    bad = CSV.replace(b"116.45", b"216.45")
    client.post("/gis/import/preview", data={**form, "file": (io.BytesIO(bad), "bad.csv")},
                content_type="multipart/form-data")
    bad_token = hashlib.sha256(bad).hexdigest()
    forced = client.post("/gis/import/commit", data={**form, "token": bad_token, "filename": "bad.csv"})
    assert forced.status_code == 200 and 'id="not-clean"' in forced.get_data(as_text=True)
    assert _files(folder) == {bad_token: bad, f"imported/{token}": CSV}  # nothing committed, nothing archived


def test_a_committed_ledger_is_archived_under_its_batch_content_hash(flow_app, tmp_path):
    store = flow_app.extensions["registry_store"]
    people(store)
    make_destinations(store)
    client = _signed_in(flow_app, "admin1")  # the ledger spans two counties: an administrator imports it
    ledger = write_messy_ledger(tmp_path / "上杭台账.xlsx", with_errors=False)
    form = {"crs": "EPSG:4326", "mapping": FIXED_MAPPING_TEXT}
    page = client.post("/relocations/import/preview", data={**form, "file": (io.BytesIO(ledger.read_bytes()),
                                                                            ledger.name)},
                       content_type="multipart/form-data").get_data(as_text=True)
    assert 'id="import-commit"' in page
    token = _token(page)
    folder = tmp_path / "files" / "ledger-uploads"
    assert _files(folder) == {token: ledger.read_bytes()}

    commit = client.post("/relocations/import/commit", data={**form, "token": token, "filename": ledger.name})
    assert commit.status_code == 302
    assert _files(folder) == {f"imported/{token}": ledger.read_bytes()}
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Relocation)) == 9
        assert list(s.scalars(select(ImportBatch.content_hash))) == [token]  # the batch finds its original

    again = client.post("/relocations/import/commit", data={**form, "token": token, "filename": ledger.name})
    assert "again=1" in again.headers["Location"]
    assert _files(folder) == {f"imported/{token}": ledger.read_bytes()}
