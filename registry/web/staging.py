"""Uploads staged between a dry run and its commit: kept under their SHA-256, archived on commit, purged when stale.

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
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from flask_babel import gettext as _

from registry.services.base import InvalidInput

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
