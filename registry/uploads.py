"""Every upload's way in: streamed to disk under a limit, checked by geodata.sniff, staged until its commit.

Each upload form takes its file with :func:`receive` (a temporary file, removed after the request's
work) or :meth:`Staging.save` (kept under its SHA-256 for a later commit); both copy the request's
stream in chunks and stop at the form's limit with a 413 naming it, so no upload is held in memory
whole. :func:`limits` reads the REGISTRY_UPLOAD_* settings into the :class:`geodata.sniff.Limits` the
readers check against.


A staged file is named by the SHA-256 of its bytes (the token the preview page carries to the commit), so
uploading the same file again finds the same name. When a commit succeeds the file moves into the
``imported`` folder beside it (``<folder>/imported/<sha256>``): the original of every committed import is
kept for good. Files left in the staging folder are removed once unused for the retention
(UPLOAD_RETENTION_HOURS, 72 by default), on each save and by ``flask --app registry uploads purge``.
Only ``current_app`` in the two accessors at the end ties this to Flask; the rest takes folders and settings.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flask import current_app, request
from flask_babel import gettext as _

from geodata.sniff import Limits, UploadRefused, check_file
from registry.services.base import InvalidInput
from registry.services.base import TooLarge as TooLargeError
from registry.services.base import refused as _refused

DEFAULT_RETENTION_HOURS = 72.0
ARCHIVE = "imported"
_TOKEN = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 20


class TooLarge(ValueError):
    """The upload is longer than the limit the flow allows; nothing was kept."""


def retention_hours(config) -> float:
    """UPLOAD_RETENTION_HOURS as a number of hours; unset or empty means the default."""
    value = config.get("UPLOAD_RETENTION_HOURS")
    return float(value) if value not in (None, "") else DEFAULT_RETENTION_HOURS


def _checked(token) -> str:
    # A token is exactly 64 lower-case hex digits, so no name can reach outside the folder ("../x").
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        raise _expired()
    return token


def _expired() -> InvalidInput:
    return InvalidInput(_("上传的文件已失效，请重新上传。"), field="file")


@dataclass(frozen=True)
class Staging:
    """One staging folder (and its archive) with the retention of its unused files."""

    folder: Path
    retention_hours: float = DEFAULT_RETENTION_HOURS

    @property
    def archive_folder(self) -> Path:
        return self.folder / ARCHIVE

    def save(self, data: bytes | BinaryIO, max_bytes: int | None = None) -> str:
        """Keep bytes (or a stream, read in chunks) under their SHA-256 and return it, the token.

        A stream longer than ``max_bytes`` raises TooLarge and leaves nothing behind. Stale staged
        files are purged first, so the folder holds only what is still in use.
        """
        self.purge()
        self.folder.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        with tempfile.NamedTemporaryFile(dir=self.folder, prefix=".part-", delete=False) as tmp:
            try:
                chunks = [data] if isinstance(data, (bytes, bytearray)) else iter(lambda: data.read(_CHUNK), b"")
                for chunk in chunks:
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise TooLarge(f"more than {max_bytes} bytes")
                    digest.update(chunk)
                    tmp.write(chunk)
            except BaseException:
                tmp.close()
                Path(tmp.name).unlink(missing_ok=True)
                raise
        token = digest.hexdigest()
        # Replacing refreshes the time of an identical file already staged: it is in use again.
        Path(tmp.name).replace(self.folder / token)
        return token

    def path(self, token: str) -> Path:
        """The file for a token: staged and not expired, else archived; InvalidInput on "file" otherwise.

        Reading a staged file renews its retention (the user is still working with it). An archived
        original answers too, so confirming a committed import twice finds the file and adds nothing.
        """
        staged = self.folder / _checked(token)
        try:
            age = time.time() - staged.stat().st_mtime
        except FileNotFoundError:
            age = None
        if age is not None and age <= self.retention_hours * 3600:
            os.utime(staged)
            return staged
        archived = self.archive_folder / token
        if archived.is_file():
            return archived
        raise _expired()

    def load(self, token: str) -> bytes:
        """The bytes kept under a token (see ``path``)."""
        return self.path(token).read_bytes()

    def archive(self, token: str) -> Path | None:
        """After a successful commit: move the staged file into the archive, where it is never purged.

        Returns the archived file, or None when the token names no staged file (already archived).
        """
        staged = self.folder / _checked(token)
        if not staged.is_file():
            return None
        self.archive_folder.mkdir(parents=True, exist_ok=True)
        target = self.archive_folder / token
        staged.replace(target)
        return target

    def stale(self, older_than_hours: float | None = None) -> list[Path]:
        """Staged files (and abandoned partial uploads) unused for longer than the retention, oldest first."""
        hours = self.retention_hours if older_than_hours is None else older_than_hours
        cutoff = time.time() - hours * 3600
        found = []
        try:
            entries = list(os.scandir(self.folder))
        except FileNotFoundError:
            return []
        for entry in entries:
            # Only plain files directly in the folder: the archive (a folder) is never looked into.
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue
                mtime = entry.stat(follow_symlinks=False).st_mtime
            except FileNotFoundError:
                continue  # removed since the listing
            if mtime < cutoff:
                found.append((mtime, Path(entry.path)))
        return [path for _mtime, path in sorted(found)]

    def purge(self, older_than_hours: float | None = None, dry_run: bool = False) -> list[Path]:
        """Remove the stale staged files (only list them with ``dry_run``); archived originals stay."""
        removed = []
        for path in self.stale(older_than_hours):
            if not dry_run:
                try:
                    path.unlink()
                except FileNotFoundError:
                    continue  # another request purged it a moment ago
            removed.append(path)
        return removed


def areas(config, instance_path: str | os.PathLike) -> dict[str, Staging]:
    """The staging folders of the upload flows, by name: GIS imports and relocation ledgers."""
    hours = retention_hours(config)
    ledgers = Path(config.get("RELOCATION_FILES_DIR") or instance_path) / "ledger-uploads"
    return {"gis": Staging(Path(instance_path) / "gis-imports", hours), "ledgers": Staging(ledgers, hours)}


def gis_imports() -> Staging:
    """The GIS import's staging folder: instance/gis-imports."""
    return areas(current_app.config, current_app.instance_path)["gis"]


def ledger_uploads() -> Staging:
    """The ledger import's staging folder: <RELOCATION_FILES_DIR or instance>/ledger-uploads."""
    return areas(current_app.config, current_app.instance_path)["ledgers"]


# --- limits and receiving -------------------------------------------------------------------------------

MB = 1024 * 1024


def _number(config, key: str, default: float) -> float:
    value = config.get(key)
    return float(value) if value not in (None, "") else default


def limits(config=None, *, max_mb: float | None = None, features: int | None = None) -> Limits:
    """The upload limits from the REGISTRY_UPLOAD_* settings (``max_mb``/``features`` override per form)."""
    config = current_app.config if config is None else config
    return Limits(
        max_bytes=int((max_mb if max_mb is not None else _number(config, "UPLOAD_MAX_MB", 20)) * MB),
        zip_members=int(_number(config, "UPLOAD_ZIP_MAX_MEMBERS", 200)),
        zip_bytes=int(_number(config, "UPLOAD_ZIP_MAX_MB", 100) * MB),
        zip_ratio=_number(config, "UPLOAD_ZIP_MAX_RATIO", 100),
        features=features if features is not None else int(_number(config, "UPLOAD_MAX_FEATURES", 10_000)),
        pixels=int(_number(config, "UPLOAD_MAX_MEGAPIXELS", 50) * 1e6),
    )


def scan_max_mb(config=None) -> float:
    """REGISTRY_SCAN_MAX_MB: the most a relocation's step scan may be (20 MB by default)."""
    return _number(current_app.config if config is None else config, "SCAN_MAX_MB", 20)


def report_photo_max_mb(config=None) -> float:
    """REGISTRY_REPORT_PHOTO_MAX_MB: the most a visitor's problem-report photo may be (5 MB by default)."""
    return _number(current_app.config if config is None else config, "REPORT_PHOTO_MAX_MB", 5)


def too_large(filename: str, max_bytes: int) -> TooLargeError:
    return TooLargeError(f"{filename or 'the file'} is larger than {round(max_bytes / MB, 2):g} MB, the most this form "
                         "accepts; nothing was saved", field="file")


def copy_limited(stream: BinaryIO, target: BinaryIO, max_bytes: int) -> int:
    """Copy a request stream in chunks, stopping past ``max_bytes`` with TooLarge; return the size."""
    size = 0
    while chunk := stream.read(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(f"more than {max_bytes} bytes")
        target.write(chunk)
    return size


@dataclass(frozen=True)
class Received:
    """An upload streamed to a temporary file: its path, the name it was sent under, its size."""

    path: Path
    filename: str
    size: int


RECEIVING = "upload-tmp"
# A request streams its body into upload-tmp/upload-* and removes it when it ends; a folder older than
# this was left by a process that was killed mid-request.
RECEIVING_MAX_HOURS = 1.0


def _upload_dir() -> Path:
    folder = Path(current_app.instance_path) / RECEIVING
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def abandoned_receipts(instance_path: str | os.PathLike, older_than_hours: float = RECEIVING_MAX_HOURS) -> list[Path]:
    """Folders under instance/upload-tmp left by a request that never finished (a killed worker), oldest first."""
    cutoff = time.time() - older_than_hours * 3600
    found = []
    try:
        entries = list(os.scandir(Path(instance_path) / RECEIVING))
    except FileNotFoundError:
        return []
    for entry in entries:
        try:
            if not entry.name.startswith("upload-") or not entry.is_dir(follow_symlinks=False):
                continue
            mtime = entry.stat(follow_symlinks=False).st_mtime
        except FileNotFoundError:
            continue
        if mtime < cutoff:
            found.append((mtime, Path(entry.path)))
    return [path for _mtime, path in sorted(found)]


@contextmanager
def receive(name: str = "file", *, max_bytes: int, fmt: str | None = None,
            check: Limits | None = None) -> Iterator[Received | None]:
    """The form's file ``name`` streamed to a temporary file (None when no file was chosen), removed afterwards.

    More than ``max_bytes`` is a 413 naming the limit. With ``fmt``, the file is checked by
    geodata.sniff (magic bytes, pointers, zips) before the caller sees it: a refusal is a 400/413
    naming the field.
    """
    upload = request.files.get(name)
    if upload is None or not upload.filename:
        yield None
        return
    filename = Path(upload.filename).name
    folder = Path(tempfile.mkdtemp(prefix="upload-", dir=_upload_dir()))
    try:
        path = folder / "upload"
        try:
            with path.open("wb") as target:
                size = copy_limited(upload.stream, target, max_bytes)
        except TooLarge:
            raise too_large(filename, max_bytes) from None
        finally:
            upload.close()
        if fmt is not None:
            try:
                check_file(path, fmt, check or limits(), field=name)
            except UploadRefused as exc:
                raise _refused(exc) from None
        yield Received(path, filename, size)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
