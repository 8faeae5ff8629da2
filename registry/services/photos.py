"""Photos of inspections and work orders: checked, stored under the instance folder, shown without EXIF."""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.db import Store
from registry.files.images import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, ImageError, PhotoInfo, check_image, renditions
from registry.models import Attachment, Facility, Inspection, MaintenanceTask, ProblemReport
from registry.services.access import require_county
from registry.services.base import Actor, InvalidInput, NotFound, TooLarge, load

MAX_PHOTOS = 10
EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/heic": ".heic"}
VARIANTS = ("thumb", "display", "original")


@dataclass(frozen=True)
class PhotoLimits:
    max_bytes: int = DEFAULT_MAX_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_count: int = MAX_PHOTOS

    @classmethod
    def from_config(cls, config) -> PhotoLimits:
        """MANAGE_PHOTO_MAX_MB, MANAGE_PHOTO_MAX_MEGAPIXELS and MANAGE_PHOTO_MAX_COUNT, with defaults."""
        mb = config.get("MANAGE_PHOTO_MAX_MB")
        mp = config.get("MANAGE_PHOTO_MAX_MEGAPIXELS")
        count = config.get("MANAGE_PHOTO_MAX_COUNT")
        return cls(int(float(mb) * 1048576) if mb else DEFAULT_MAX_BYTES,
                   int(float(mp) * 1e6) if mp else DEFAULT_MAX_PIXELS,
                   int(count) if count else MAX_PHOTOS)


@dataclass(frozen=True)
class CheckedPhoto:
    """An upload that passed the checks, with its renditions, ready to be written."""

    name: str
    data: bytes
    info: PhotoInfo
    sha256: str
    display: bytes
    thumb: bytes


def check_photos(uploads: list[tuple[str, bytes]], limits: PhotoLimits, field: str = "photos") -> list[CheckedPhoto]:
    """Check every upload before anything is written; the first bad one is refused with its name."""
    uploads = [(name, data) for name, data in uploads if name or data]
    if len(uploads) > limits.max_count:
        raise InvalidInput(f"{len(uploads)} photos were sent; at most {limits.max_count} are accepted", field=field)
    checked = []
    for name, data in uploads:
        label = name or "photo"
        try:
            info = check_image(data, label, max_bytes=limits.max_bytes, max_pixels=limits.max_pixels)
            copies = renditions(data, label)
        except ImageError as exc:
            raise InvalidInput(str(exc), field=field) from None
        checked.append(CheckedPhoto(label, data, info, hashlib.sha256(data).hexdigest(), copies.display,
                                    copies.thumb))
    return checked


def _paths(root: Path, sha: str, content_type: str) -> dict[str, Path]:
    folder = root / sha[:2]
    return {"original": folder / f"{sha}{EXTENSIONS[content_type]}",
            "display": folder / f"{sha}-display.jpg",
            "thumb": folder / f"{sha}-thumb.jpg"}


def write_whole_file(path: Path, data: bytes | Path) -> None:
    """Write a content-addressed file whole or not at all (a temporary name, then an atomic rename).

    ``data`` is the bytes, or a staged file to copy (an upload streamed to disk).
    """
    if path.exists():
        return  # content-addressed: the same bytes are already there (a retry, or the same photo twice)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A name of its own per writer: two requests (threads of one process) may write the same photo at once.
    temp = path.with_suffix(path.suffix + f".{uuid.uuid4().hex}.part")
    try:
        if isinstance(data, (bytes, bytearray)):
            temp.write_bytes(data)
        else:
            shutil.copyfile(data, temp)
        os.replace(temp, path)  # atomic: a reader never sees half a file
    except BaseException:
        # A full disk (ENOSPC, EFBIG) leaves half a file: remove it, so only whole files ever sit here.
        temp.unlink(missing_ok=True)
        raise


def write_files(attachments_dir: str | os.PathLike, photos: list[CheckedPhoto]) -> None:
    """Write the originals and their renditions, named by content hash (a retry rewrites nothing)."""
    root = Path(attachments_dir)
    for photo in photos:
        paths = _paths(root, photo.sha256, photo.info.content_type)
        write_whole_file(paths["original"], photo.data)
        write_whole_file(paths["display"], photo.display)
        write_whole_file(paths["thumb"], photo.thumb)


def add_attachments(session: Session, actor: Actor, entity_type: str, entity_id: int, kind: str,
                    photos: list[CheckedPhoto], is_demo: bool = False) -> list[Attachment]:
    """Attachment rows for written photos; the database holds only their names and hashes."""
    rows = []
    for photo in photos:
        relative = _paths(Path("attachments"), photo.sha256, photo.info.content_type)["original"]
        row = Attachment(entity_type=entity_type, entity_id=entity_id, kind=kind, filename=photo.name[:200],
                         content_type=photo.info.content_type, size=len(photo.data), sha256=photo.sha256,
                         storage_path=relative.as_posix(), taken_at=photo.info.taken_at, public=False,
                         created_by_id=actor.id, is_demo=is_demo)
        session.add(row)
        rows.append(row)
    return rows


def owner_county(session: Session, attachment: Attachment) -> str | None:
    if attachment.entity_type == "inspections":
        return session.scalar(select(Facility.county_code).join(Inspection, Inspection.facility_id == Facility.id)
                              .where(Inspection.id == attachment.entity_id))
    if attachment.entity_type == "maintenance_tasks":
        return session.scalar(select(Facility.county_code)
                              .join(MaintenanceTask, MaintenanceTask.facility_id == Facility.id)
                              .where(MaintenanceTask.id == attachment.entity_id))
    if attachment.entity_type == "problem_reports":
        return session.scalar(select(Facility.county_code)
                              .join(ProblemReport, ProblemReport.facility_id == Facility.id)
                              .where(ProblemReport.photo_attachment_id == attachment.id))
    if attachment.entity_type == "facilities":
        return session.scalar(select(Facility.county_code).where(Facility.id == attachment.entity_id))
    return None


def photo_file(store: Store, actor: Actor, instance_path: str | os.PathLike, attachment_id: int,
               variant: str) -> tuple[Path, str]:
    """The file of one rendition of a photo the actor may read, and its content type.

    Originals (with EXIF, position included) are for staff of the county; display and thumb copies
    carry no EXIF.
    """
    if variant not in VARIANTS:
        raise NotFound(f"no photo variant {variant!r}; variants are {', '.join(VARIANTS)}")
    with store.session() as session:
        attachment = load(session, Attachment, attachment_id, "photo", active_only=True)
        county = owner_county(session, attachment)
    if county is None:
        raise NotFound(f"photo {attachment_id} belongs to no facility")
    require_county(actor, county, write=False)
    original = Path(instance_path) / attachment.storage_path
    if variant == "original" or attachment.entity_type == "problem_reports":
        # Visitors' photos are kept as sent (the public side makes no renditions): staff see the file itself.
        return original, attachment.content_type
    return original.with_name(f"{attachment.sha256}-{variant}.jpg"), "image/jpeg"


def original_path(instance_path: str | os.PathLike, attachment: Attachment) -> Path:
    return Path(instance_path) / attachment.storage_path


def photos_of(store: Store, entity_type: str, entity_id: int) -> list[Attachment]:
    """The active photos of one record (the caller has already checked the actor may read that record)."""
    with store.session() as session:
        return list(session.scalars(select(Attachment).where(Attachment.entity_type == entity_type,
                                                             Attachment.entity_id == entity_id,
                                                             Attachment.status == "active")
                                    .order_by(Attachment.id)))


@dataclass(frozen=True)
class Photo:
    """A visitor's uploaded photo as the view received it (a report's, a correction's)."""

    filename: str
    data: bytes


VISITOR_PHOTO_MAX_BYTES = 5 * 1024 * 1024


def visitor_photo(photo: Photo | None, max_bytes: int = VISITOR_PHOTO_MAX_BYTES,
                  max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes | None:
    """The copy of a visitor's photo that is kept: checked to be a real image, resized, without EXIF.

    A phone photo's EXIF holds where the visitor stood and their device; the registry needs the picture only.
    A refusal carries the check that failed (``errors=[kind]``: size, pixels, format...) so the page can
    tell the visitor the right reason.
    """
    if photo is None or not photo.data:
        return None
    try:
        check_image(photo.data, "photo", max_bytes=max_bytes, max_pixels=max_pixels)
        return renditions(photo.data, "photo").display
    except ImageError as exc:
        error = TooLarge if exc.kind in ("size", "pixels") else InvalidInput
        raise error(str(exc), field="photo", errors=[exc.kind]) from None


def keep_visitor_photo(session: Session, stored: bytes, photo: Photo, instance_path, *, folder: str,
                       entity_type: str, kind: str) -> Attachment:
    """File the kept copy under ``attachments/<folder>/<sha256>.jpg`` and add its (private) attachment row.

    Content-addressed and written whole: a retry or a rolled-back transaction finds the same file.
    """
    digest = hashlib.sha256(stored).hexdigest()
    relative = Path("attachments") / folder / f"{digest}.jpg"
    write_whole_file(Path(instance_path) / relative, stored)
    attachment = Attachment(entity_type=entity_type, entity_id=0, kind=kind,
                            filename=Path(photo.filename or "photo").name[:100] or "photo",
                            content_type="image/jpeg", size=len(stored), sha256=digest,
                            storage_path=relative.as_posix(), public=False)
    session.add(attachment)
    session.flush()
    return attachment
