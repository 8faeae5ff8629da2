"""Photo checks with Pillow: real image, size and pixel limits, EXIF time and GPS, resized copies without EXIF."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from geodata.sniff import pointer_reason

try:  # HEIC/HEIF (iPhone photos) when pillow-heif is installed; JPEG and PNG work without it.
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF_SUPPORTED = True
except ImportError:  # pragma: no cover - depends on the installation
    HEIF_SUPPORTED = False

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PIXELS",
    "FORMATS",
    "HEIF_SUPPORTED",
    "ImageError",
    "PhotoInfo",
    "Renditions",
    "check_image",
    "renditions",
]

DEFAULT_MAX_BYTES = 15 * 1024 * 1024
# 50 megapixels: more than any phone camera takes, far below what would exhaust memory when decoded.
DEFAULT_MAX_PIXELS = 50_000_000
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "HEIF": "image/heic"}
DISPLAY_EDGE = 1600
THUMB_EDGE = 320
# JPEG decodes at 1/2, 1/4 or 1/8 scale almost for free; asking for at least this long an edge lets a
# 12-megapixel phone photo decode at half scale (its display copy then has a long edge of 1500 to 1600 px).
DRAFT_EDGE = 1200


class ImageError(ValueError):
    """A file that is not an acceptable photo; the message names the file and why.

    ``kind`` says which check refused it: ``empty``, ``size`` (bytes), ``format``, ``pixels`` or ``damaged``,
    so a page can tell a visitor the right reason in their language.
    """

    def __init__(self, message: str, kind: str = "format"):
        super().__init__(message)
        self.kind = kind


# Only these Pillow plugins may read an upload: no other decoder (EPS, which runs Ghostscript, and dozens
# more) ever sees one, whatever its bytes say.
_PLUGINS = ("JPEG", "PNG", "HEIF")


@dataclass(frozen=True)
class PhotoInfo:
    """What a checked photo is: format, content type, pixel size, and what its EXIF says (time, lon/lat)."""

    format: str
    content_type: str
    width: int
    height: int
    taken_at: datetime | None = None
    lon: float | None = None
    lat: float | None = None


@dataclass(frozen=True)
class Renditions:
    """JPEG copies for showing: ``display`` (long edge at most 1600 px) and ``thumb`` (320 px), both without EXIF."""

    display: bytes
    thumb: bytes


def _open(data: bytes | Path, name: str) -> Image.Image:
    """The image's header only (Pillow decodes nothing until load), by an allowed plugin."""
    try:
        with warnings.catch_warnings():
            # Pillow warns (and our test settings turn warnings into errors) on large images; the
            # pixel count is checked explicitly below with a message naming the file.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            source = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
            return Image.open(source, formats=[p for p in _PLUGINS if p != "HEIF" or HEIF_SUPPORTED])
    except Image.DecompressionBombError:
        raise ImageError(f"{name} declares far too many pixels (a picture bomb); it was not decoded",
                         "pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        kinds = "JPEG, PNG" + (" or HEIC" if HEIF_SUPPORTED else "")
        other = _other_kind(data)
        if other:
            raise ImageError(f"{name} is a {other} image; photos must be {kinds}") from None
        raise ImageError(f"{name} is not a photo this registry reads ({kinds})") from None


_OTHER_SIGNATURES = ((b"GIF8", "GIF"), (b"BM", "BMP"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"),
                     (b"\x00\x00\x01\x00", "ICO"), (b"8BPS", "PSD"))


def _head(data: bytes | Path, size: int = 4096) -> bytes:
    if isinstance(data, (bytes, bytearray)):
        return bytes(data[:size])
    with open(data, "rb") as handle:
        return handle.read(size)


def _other_kind(data: bytes | Path) -> str | None:
    """The name of a common image format Pillow was not allowed to open, from its signature, to say so."""
    head = _head(data, 16)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return next((what for magic, what in _OTHER_SIGNATURES if head.startswith(magic)), None)


def _draft(image: Image.Image) -> None:
    # Pillow picks the scale from both sides, so ask for the photo's own shape with a long edge of DRAFT_EDGE.
    width, height = image.size
    factor = DRAFT_EDGE / max(width, height, 1)
    if factor < 1:
        image.draft("RGB", (max(1, int(width * factor)), max(1, int(height * factor))))


def _rational(value) -> float:
    if isinstance(value, tuple) and len(value) == 2:
        return value[0] / value[1] if value[1] else 0.0
    return float(value)


def _gps(exif: Image.Exif) -> tuple[float | None, float | None]:
    try:
        info = exif.get_ifd(ExifTags.IFD.GPSInfo)
    except (KeyError, ValueError, TypeError, OSError):
        return None, None
    try:
        lat_parts, lon_parts = info[ExifTags.GPS.GPSLatitude], info[ExifTags.GPS.GPSLongitude]
        lat = sum(_rational(v) / 60**i for i, v in enumerate(lat_parts))
        lon = sum(_rational(v) / 60**i for i, v in enumerate(lon_parts))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None, None
    if str(info.get(ExifTags.GPS.GPSLatitudeRef, "N")).upper().startswith("S"):
        lat = -lat
    if str(info.get(ExifTags.GPS.GPSLongitudeRef, "E")).upper().startswith("W"):
        lon = -lon
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None, None
    return round(lon, 7), round(lat, 7)


def _taken_at(exif: Image.Exif, utc_offset_hours: float) -> datetime | None:
    try:
        sub = exif.get_ifd(ExifTags.IFD.Exif)
    except (KeyError, ValueError, TypeError, OSError):
        sub = {}
    text = sub.get(ExifTags.Base.DateTimeOriginal) or exif.get(ExifTags.Base.DateTime)
    if not text:
        return None
    try:
        local = datetime.strptime(str(text).strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    # EXIF times have no zone; cameras in China keep Beijing time (UTC+8) unless told otherwise.
    return local.replace(tzinfo=timezone(timedelta(hours=utc_offset_hours))).astimezone(UTC)


def check_image(data: bytes | Path, name: str = "photo", *, max_bytes: int = DEFAULT_MAX_BYTES,
                max_pixels: int = DEFAULT_MAX_PIXELS, utc_offset_hours: float = 8.0) -> PhotoInfo:
    """Check that ``data`` is a real JPEG, PNG (or HEIC) photo of acceptable size and read its EXIF.

    Only the header is parsed before the pixel count is checked, so a picture bomb (a small file
    that decodes to billions of pixels) is refused without being decoded. Then the whole image is
    decoded once, so a truncated or corrupt file is refused too.

    Parameters
    ----------
    data : bytes or Path
        The file's content, or the uploaded file holding it.
    name : str, default "photo"
        How to call the file in messages (its upload name).
    max_bytes, max_pixels : int
        Limits on the file size and on width times height.
    utc_offset_hours : float, default 8.0
        Zone of the camera clock, used to read the EXIF time (which has none).

    Returns
    -------
    PhotoInfo
        Format, content type, size in pixels, EXIF time (UTC) and EXIF position (lon, lat) if any.

    Raises
    ------
    ImageError
        Empty, too large, not an image, an unsupported format, too many pixels, or corrupt.

    Examples
    --------
    >>> from PIL import Image
    >>> buf = io.BytesIO(); Image.new("RGB", (40, 30)).save(buf, "PNG")
    >>> info = check_image(buf.getvalue(), "a.png")
    >>> info.format, info.width, info.height, info.taken_at
    ('PNG', 40, 30, None)
    >>> check_image(b"hello", "notes.txt")
    Traceback (most recent call last):
    ...
    registry.files.images.ImageError: notes.txt is not a photo this registry reads (JPEG, PNG or HEIC)
    """
    size = len(data) if isinstance(data, (bytes, bytearray)) else Path(data).stat().st_size
    if not size:
        raise ImageError(f"{name} is empty", "empty")
    if size > max_bytes:
        raise ImageError(f"{name} is {size / 1048576:.1f} MB; photos may be at most "
                         f"{max_bytes / 1048576:.0f} MB", "size")
    pointer = pointer_reason(_head(data))
    if pointer:
        raise ImageError(f"{name} is not a photo: {pointer}; nothing of what it names was read")
    image = _open(data, name)
    try:
        fmt = image.format or ""
        if fmt not in FORMATS:
            raise ImageError(f"{name} is a {fmt or 'unknown'} image; photos must be JPEG, PNG"
                             + (" or HEIC" if HEIF_SUPPORTED else ""))
        width, height = image.size
        if width * height > max_pixels:
            raise ImageError(f"{name} is {width} x {height} pixels ({width * height / 1e6:.0f} megapixels); "
                             f"at most {max_pixels / 1e6:.0f} megapixels are accepted", "pixels")
        exif = image.getexif()
        if fmt == "JPEG":
            # Decode at a reduced scale (JPEG's DCT scaling): every byte is still read, so damage is still
            # found, at a fraction of the time of a full decode of a 12-megapixel photo.
            _draft(image)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                image.load()
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            raise ImageError(f"{name} is damaged or truncated and cannot be read", "damaged") from None
    finally:
        image.close()  # the file of an upload on disk, and the decoded pixels
    lon, lat = _gps(exif)
    return PhotoInfo(fmt, FORMATS[fmt], width, height, _taken_at(exif, utc_offset_hours), lon, lat)


def _jpeg(image: Image.Image, edge: int, quality: int) -> bytes:
    copy = image.copy()
    copy.thumbnail((edge, edge), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    # A fresh save without exif= writes no EXIF block: position and camera data stay out of the copy.
    copy.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()


def renditions(data: bytes | Path, name: str = "photo") -> Renditions:
    """Make the display and thumbnail JPEGs of a checked photo, upright and without EXIF.

    Parameters
    ----------
    data : bytes
        A photo that :func:`check_image` accepted.
    name : str, default "photo"
        How to call the file in messages.

    Returns
    -------
    Renditions
        ``display`` and ``thumb`` JPEG bytes. A large JPEG is decoded at a reduced scale, so its
        display copy may be a little under 1600 px (1500 px for a 3000 px photo).

    Examples
    --------
    >>> from PIL import Image
    >>> buf = io.BytesIO(); Image.new("RGB", (3200, 1600)).save(buf, "PNG")
    >>> r = renditions(buf.getvalue())
    >>> Image.open(io.BytesIO(r.display)).size, Image.open(io.BytesIO(r.thumb)).size
    ((1600, 800), (320, 160))
    """
    source = image = _open(data, name)
    try:
        if image.format == "JPEG":
            _draft(image)  # decode at half or quarter scale when that still leaves enough pixels
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            # Turn by the EXIF orientation before the EXIF is dropped, or phone photos would lie on their side.
            image = ImageOps.exif_transpose(image)
            if image.mode not in ("RGB", "L"):
                background = Image.new("RGB", image.size, "white")
                rgba = image.convert("RGBA")
                background.paste(rgba, mask=rgba.getchannel("A"))
                image = background
            display = image.copy()
            display.thumbnail((DISPLAY_EDGE, DISPLAY_EDGE), Image.Resampling.LANCZOS, reducing_gap=2.0)
            # The thumbnail is made from the display copy: the same picture, a tenth of the pixels to read.
            return Renditions(display=_jpeg(display, DISPLAY_EDGE, 82), thumb=_jpeg(display, THUMB_EDGE, 75))
    finally:
        source.close()  # the file of an upload on disk


def exif_summary(data: bytes, utc_offset_hours: float = 8.0) -> tuple[datetime | None, float | None, float | None]:
    """EXIF time (UTC) and position (lon, lat) of a stored original, or Nones; never raises on a bad file.

    Examples
    --------
    >>> exif_summary(b"not an image")
    (None, None, None)
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            exif = Image.open(io.BytesIO(data)).getexif()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None, None, None
    lon, lat = _gps(exif)
    return _taken_at(exif, utc_offset_hours), lon, lat
