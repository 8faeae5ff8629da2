"""Checks for one longitude/latitude pair: numbers in any width, degrees-minutes-seconds, swapped axes, China."""

from __future__ import annotations

import math
import numbers
import re
import unicodedata
from decimal import Decimal

from geodata.checks.errors import CHINA_BOUNDS, GeometryError

__all__ = ["check_lonlat", "parse_dms"]


# --- numbers ----------------------------------------------------------------

# Characters NFKC leaves alone but people type for a minus sign.
_MINUS_SIGNS = str.maketrans({"\u2212": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-"})
# Degree look-alikes that NFKC would turn into letters or combining marks.
_DEGREE_LOOKALIKES = str.maketrans({"\u00ba": "°", "\u02da": "°", "\u2218": "°"})


def _normalise_text(text: str) -> str:
    """Fold full-width digits, signs and punctuation into plain ASCII forms."""
    text = text.translate(_DEGREE_LOOKALIKES)
    return unicodedata.normalize("NFKC", text).translate(_MINUS_SIGNS).strip()


_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _to_float(value, name: str, field: str | None):
    """Read one coordinate; return (float, axis_hint) where axis_hint comes from DMS labels."""
    if value is None:
        raise GeometryError(f"{name} is missing (got None)", field)
    if isinstance(value, bool):
        # bool is an int subclass, but True as a coordinate is always a bug.
        raise GeometryError(f"{name} {value!r} is a bool, not a number", field)
    hint = None
    if isinstance(value, (numbers.Real, Decimal)):
        number = float(value)
    elif isinstance(value, str):
        text = _normalise_text(value)
        if _PLAIN_NUMBER.fullmatch(text):
            number = float(text)
        else:
            try:
                number, hint = _parse_dms(value)
            except ValueError:
                raise GeometryError(f"{name} {value!r} is not a number (nor degrees-minutes-seconds)", field) from None
    else:
        raise GeometryError(f"{name} {value!r} is a {type(value).__name__}, not a number", field)
    if not math.isfinite(number):
        raise GeometryError(f"{name} {value!r} is not a finite number", field)
    return number, hint


def _in_china(lon, lat) -> bool:
    west, south, east, north = CHINA_BOUNDS
    return west <= lon <= east and south <= lat <= north


def check_lonlat(lon, lat, field="position"):
    """Check and normalise one longitude/latitude pair for a site in China.

    Accepts numbers, numeric strings (full-width digits such as ``"１１６.５"``
    are folded to ASCII) and degrees-minutes-seconds text understood by
    :func:`parse_dms`. Refuses None, NaN, infinities, non-numeric text and
    out-of-range values; spots swapped axes; refuses points outside the rough
    :data:`CHINA_BOUNDS` box.

    Parameters
    ----------
    lon, lat : float, str or Decimal
        Longitude and latitude in degrees.
    field : str, default "position"
        Name of the input, used in error messages.

    Returns
    -------
    tuple of float
        ``(lon, lat)``.

    Raises
    ------
    GeometryError
        Naming the problem: ``"... is missing"``, ``"... is not a number"``,
        ``"... is not a finite number"``, ``"... is outside -90..90"``,
        ``"longitude and latitude appear to be swapped"`` or
        ``"... is outside China"``.

    Examples
    --------
    >>> check_lonlat("１１６.５", 25.1)
    (116.5, 25.1)
    >>> check_lonlat(25.1, 116.5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    geodata.checks.errors.GeometryError: position: longitude and latitude appear to be swapped...
    """
    x, x_hint = _to_float(lon, "longitude", field)
    y, y_hint = _to_float(lat, "latitude", field)
    if x_hint == "lat" and y_hint == "lon":
        raise GeometryError(
            f"longitude and latitude appear to be swapped: longitude {lon!r} is marked N/S "
            f"and latitude {lat!r} is marked E/W",
            field,
        )
    if x_hint == "lat":
        raise GeometryError(f"longitude {lon!r} is marked N/S, which belongs to a latitude", field)
    if y_hint == "lon":
        raise GeometryError(f"latitude {lat!r} is marked E/W, which belongs to a longitude", field)
    swapped_fits = -90.0 <= x <= 90.0 and -180.0 <= y <= 180.0
    if not (-180.0 <= x <= 180.0 and -90.0 <= y <= 90.0):
        if swapped_fits:
            raise GeometryError(
                f"longitude and latitude appear to be swapped: latitude {y} is outside -90..90 "
                f"but would be a valid longitude (longitude {x})",
                field,
            )
        if not -180.0 <= x <= 180.0:
            raise GeometryError(f"longitude {x} is outside -180..180", field)
        raise GeometryError(f"latitude {y} is outside -90..90", field)
    if not _in_china(x, y):
        if _in_china(y, x):
            raise GeometryError(
                f"longitude and latitude appear to be swapped: ({x}, {y}) is outside China but ({y}, {x}) is inside",
                field,
                (x, y),
            )
        raise GeometryError(
            f"longitude {x}, latitude {y} is outside China "
            f"(rough box lon {CHINA_BOUNDS[0]}..{CHINA_BOUNDS[2]}, "
            f"lat {CHINA_BOUNDS[1]}..{CHINA_BOUNDS[3]})",
            field,
            (x, y),
        )
    return x, y


# --- degrees, minutes, seconds ----------------------------------------------

# Longer labels first so that "东经" wins over "东".
_HEMISPHERES = (
    ("东经", "lon", 1.0),
    ("西经", "lon", -1.0),
    ("北纬", "lat", 1.0),
    ("南纬", "lat", -1.0),
    ("东", "lon", 1.0),
    ("西", "lon", -1.0),
    ("北", "lat", 1.0),
    ("南", "lat", -1.0),
    ("E", "lon", 1.0),
    ("W", "lon", -1.0),
    ("N", "lat", 1.0),
    ("S", "lat", -1.0),
)

# One number, optionally followed by its unit. NFKC has already turned the
# double prime into two primes and full-width quotes into ASCII ones.
_DMS_PART = re.compile(r"\s*(?P<num>\d+(?:\.\d+)?|\.\d+)\s*(?P<unit>°|度|''|′′|'|′|分|\"|″|秒)?\s*")
_UNIT_RANK = {
    "°": 0,
    "度": 0,
    "'": 1,
    "′": 1,
    "分": 1,
    "''": 2,
    "′′": 2,
    '"': 2,
    "″": 2,
    "秒": 2,
}
_UNIT_NAMES = ("degrees", "minutes", "seconds")


def _strip_hemisphere(text: str):
    """Remove one hemisphere label from either end; return (rest, axis, sign)."""
    found = []
    for label, axis, sign in _HEMISPHERES:
        if text.upper().startswith(label):
            found.append((text[len(label) :].strip(), axis, sign))
            break
    for label, axis, sign in _HEMISPHERES:
        rest = found[0][0] if found else text
        if rest.upper().endswith(label):
            found.append((rest[: -len(label)].strip(), axis, sign))
            break
    if len(found) > 1:
        raise ValueError("more than one hemisphere label")
    if found:
        return found[0]
    return text, None, 1.0


def _parse_dms(text):
    """Parse DMS text; return (decimal degrees, axis) where axis is 'lon', 'lat' or None."""
    if not isinstance(text, str):
        raise ValueError(f"text {text!r} is a {type(text).__name__}, not a string")
    clean = _normalise_text(text)
    try:
        body, axis, sign = _strip_hemisphere(clean)
    except ValueError:
        raise ValueError(f"text {text!r} has more than one hemisphere label") from None
    if body and body[0] in "+-":
        if axis is not None:
            raise ValueError(f"text {text!r} has both a sign and a hemisphere label; use one of them")
        sign = -1.0 if body[0] == "-" else 1.0
        body = body[1:].lstrip()
    if not body:
        raise ValueError(f"text {text!r} has no number in it")

    values = [None, None, None]
    rank = -1
    position = 0
    while position < len(body):
        match = _DMS_PART.match(body, position)
        if match is None or match.end() == position:
            raise ValueError(f"text {text!r} is not degrees-minutes-seconds: cannot read {body[position:]!r}")
        unit = match.group("unit")
        next_rank = _UNIT_RANK[unit] if unit else rank + 1
        if next_rank <= rank or next_rank > 2:
            raise ValueError(f"text {text!r} is not degrees-minutes-seconds: {match.group('num')!r} is out of order")
        if any(v is not None and "." in v for v in values):
            raise ValueError(f"text {text!r}: only the last of degrees, minutes, seconds may have decimals")
        values[next_rank] = match.group("num")
        rank = next_rank
        position = match.end()

    degrees, minutes, seconds = (float(v) if v is not None else 0.0 for v in values)
    for amount, name in ((minutes, "minutes"), (seconds, "seconds")):
        if amount >= 60.0:
            raise ValueError(f"text {text!r} has {name} {amount:g}, which must be below 60")
    value = degrees + minutes / 60.0 + seconds / 3600.0
    limit = 90.0 if axis == "lat" else 180.0
    if value > limit:
        raise ValueError(f"text {text!r} is {value:g} degrees, more than {limit:g}")
    return sign * value, axis


def parse_dms(text):
    """Read degrees-minutes-seconds (or plain decimal degrees) text as decimal degrees.

    Understands ``116°49′12″``, ``116°49'12"``, ``116 49 12``,
    ``116度49分12秒``, decimal minutes or seconds on the last part
    (``116°49.2′``), full-width digits and punctuation, an optional sign, and a
    hemisphere label before or after the number: ``E``/``W``/``N``/``S`` or
    ``东经``/``西经``/``北纬``/``南纬`` (``W`` and ``S`` give negative values).

    Parameters
    ----------
    text : str
        The angle as typed.

    Returns
    -------
    float
        Decimal degrees.

    Raises
    ------
    ValueError
        Naming the text: unreadable parts, minutes or seconds of 60 or more,
        parts out of order, both a sign and a hemisphere label.

    Examples
    --------
    >>> parse_dms("东经116°49′12″")
    116.82
    >>> parse_dms("25 06 00 S")
    -25.1
    """
    return _parse_dms(text)[0]
