"""Photo checks: a picture bomb is refused from its header, before its pixels are decoded."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from registry.files.images import ImageError, check_image


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("L", (width, height)).save(out, "PNG")
    return out.getvalue()


def test_a_picture_bomb_is_refused_from_its_header(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png(4000, 3000))
    with pytest.raises(ImageError) as refused:
        check_image(path, "bomb.png", max_pixels=1_000_000)
    assert refused.value.kind == "pixels" and "megapixels" in str(refused.value)
