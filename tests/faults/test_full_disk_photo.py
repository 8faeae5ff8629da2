"""A disk that fills during a photo upload: a clear 507, no attachment row, no half file; the retry then works."""

from __future__ import annotations

import hashlib
import io
import os

import numpy as np
from PIL import Image
from sqlalchemy import func, select

from registry.models import Attachment, Inspection
from tests.conftest import make_app
from tests.factories import facility, form, people
from tests.faults.disk import fill, small_disk


def noisy_jpeg(side: int = 400) -> bytes:
    """A photo that does not compress: a few hundred kilobytes, more than the space left on the disk."""
    pixels = np.random.default_rng(7).integers(0, 256, (side, side, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=95)
    return out.getvalue()


def counts(store):
    with store.session() as session:
        return (session.scalar(select(func.count()).select_from(Inspection)),
                session.scalar(select(func.count()).select_from(Attachment)))


def test_a_full_disk_during_a_photo_upload_leaves_no_half_file(gpkg_url, tmp_path):
    photo = noisy_jpeg()
    with small_disk(tmp_path / "instance", "4m") as instance:
        app = make_app(gpkg_url, INSTANCE_PATH=str(instance))
        store = app.extensions["registry_store"]
        assert app.instance_path == str(instance)
        mgr = people(store)["mgr"]
        site = facility(store)
        client = app.test_client()
        signed_in = client.post("/login", data={"username": mgr.name, "password": f"{mgr.name}-password"})
        assert signed_in.status_code == 302
        fill(instance)
        # Leave room for a small file but not for the photo: the write fails part-way through.
        with open(instance / "filler", "r+b") as handle:
            handle.truncate(os.path.getsize(instance / "filler") - 100 * 1024)

        def submit():
            data = {**form(key="full-disk-key-01"), "photos": (io.BytesIO(photo), "front.jpg")}
            return client.post(f"/manage/facilities/{site.id}/inspect", data=data,
                               content_type="multipart/form-data")

        response = submit()
        body = response.get_data(as_text=True)
        assert response.status_code == 507, body[:300]
        assert response.headers["Retry-After"] and "Traceback" not in body
        assert "存储空间已满" in body and "未保存" in body
        assert counts(store) == (0, 0)
        left = [p for p in (instance / "attachments").rglob("*") if p.is_file()]
        # No partial file, and nothing an attachment row could point at half-written.
        assert [p.name for p in left if ".part" in p.name] == []
        for path in left:
            assert path.stat().st_size > 0
        assert hashlib.sha256(photo).hexdigest() not in {p.stem for p in left}

        (instance / "filler").unlink()  # room again: the same form, the same key, is taken once
        response = submit()
        assert response.status_code == 303
        assert counts(store) == (1, 1)
        with store.session() as session:
            attachment = session.scalars(select(Attachment)).one()
        original = instance / attachment.storage_path
        digest = hashlib.sha256(photo).hexdigest()
        assert hashlib.sha256(original.read_bytes()).hexdigest() == attachment.sha256 == digest
        assert [p.name for p in instance.rglob("*") if ".part" in p.name] == []
        store.dispose()
