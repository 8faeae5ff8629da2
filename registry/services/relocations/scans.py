"""Scans of a relocation's papers (consent, approval…), checked like photos and kept by their hash."""

from __future__ import annotations

import hashlib
from pathlib import Path

from registry.db import Store
from registry.files.images import DEFAULT_MAX_PIXELS, ImageError, check_image
from registry.models import Attachment, Relocation
from registry.models.vocab import RELOCATION_STEPS
from registry.services.access import (
    may_see_personal,
)
from registry.services.base import (
    Actor,
    Forbidden,
    InvalidInput,
    NotFound,
    TooLarge,
    load,
    record_audit,
    unit_of_work,
)
from registry.services.photos import write_whole_file
from registry.services.relocations.rules import relocation_counties, require_read, require_write

SCAN_TYPES = {b"%PDF": ("application/pdf", "pdf"), b"\x89PNG": ("image/png", "png"),
              b"\xff\xd8\xff": ("image/jpeg", "jpg")}
MAX_SCAN_BYTES = 20 * 1024 * 1024


def _checked_scan(filename: str, data: bytes | Path, max_bytes: int, max_pixels: int) -> tuple[str, str]:
    """(content type, suffix) of a scan checked like a photo: signature, size, and pixels read from the header."""
    size = len(data) if isinstance(data, (bytes, bytearray)) else Path(data).stat().st_size
    if not size:
        raise InvalidInput("the file is empty", field="file")
    if size > max_bytes:
        raise TooLarge(f"{filename} is larger than {max_bytes / 1024 / 1024:g} MB, the most a scan may be",
                       field="file")
    if isinstance(data, (bytes, bytearray)):
        head = bytes(data[:16])
    else:
        with Path(data).open("rb") as handle:
            head = handle.read(16)
    kind = next((v for magic, v in SCAN_TYPES.items() if head.startswith(magic)), None)
    if kind is None:
        raise InvalidInput(f"{filename} is not a PDF, PNG or JPEG scan", field="file")
    if kind[1] != "pdf":
        try:
            # The pixel count comes from the header before anything is decoded: a picture bomb never is.
            check_image(data, filename, max_bytes=max_bytes, max_pixels=max_pixels)
        except ImageError as exc:
            error = TooLarge if exc.kind in ("pixels", "size") else InvalidInput
            raise error(str(exc), field="file") from None
    return kind


def attach_scan(store: Store, actor: Actor, relocation_id: int, step: str, filename: str, data: bytes | Path,
                folder: str | Path, *, max_bytes: int = MAX_SCAN_BYTES,
                max_pixels: int = DEFAULT_MAX_PIXELS) -> Attachment:
    """Attach a scan (PDF, PNG or JPEG) to one step of a relocation; the file is kept under ``folder``.

    ``data`` is the scan's bytes or the uploaded file holding them; an image scan is checked like a photo.
    """
    if step not in RELOCATION_STEPS:
        raise InvalidInput(f"step {step!r} is not one of {', '.join(RELOCATION_STEPS)}", field="step")
    kind = _checked_scan(filename, data, max_bytes, max_pixels)
    if isinstance(data, (bytes, bytearray)):
        digest, size = hashlib.sha256(data).hexdigest(), len(data)
    else:
        digest, size = _file_sha256(Path(data)), Path(data).stat().st_size
    with unit_of_work(store) as session:
        relocation = load(session, Relocation, relocation_id, "relocation")
        require_write(session, actor, relocation)
        target = Path(folder) / "relocations" / str(relocation_id) / f"{digest}.{kind[1]}"
        # Whole or not at all: a half-written scan left by a full disk would be taken as done by a retry.
        write_whole_file(target, data)
        attachment = Attachment(entity_type="relocations", entity_id=relocation_id, kind=f"scan:{step}",
                                filename=Path(filename or "scan").name, content_type=kind[0], size=size,
                                sha256=digest, storage_path=str(target), public=False, created_by_id=actor.id)
        session.add(attachment)
        record_audit(session, actor, "attach", attachment, note=f"{relocation.code} {step}")
    return attachment


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def get_attachment(store: Store, actor: Actor, relocation_id: int, attachment_id: int) -> Attachment:
    """A relocation's scan, for those who may see its family's consent: its counties' managers, reviewers
    and administrators (planners read relocations without it)."""
    with store.session() as session:
        relocation = load(session, Relocation, relocation_id, "relocation")
        require_read(session, actor, relocation, what="relocation scans")
        if not may_see_personal(actor, relocation_counties(session, relocation)):
            raise Forbidden(f"{actor.name} may not open consent scans: they name the family, and only the "
                            "county's managers, reviewers and administrators see them")
        att = session.get(Attachment, attachment_id)
        if att is None or att.entity_type != "relocations" or att.entity_id != relocation_id:
            raise NotFound(f"no attachment {attachment_id} on relocation {relocation_id}")
        return att
