"""What every input check shares: the error that names the field, place and reason, and the rough box of China."""

from __future__ import annotations

__all__ = ["CHINA_BOUNDS", "GeometryError"]

#: Rough bounding box of China as (west, south, east, north) in degrees.
#: It is only a plausibility filter: it takes in parts of neighbouring
#: countries (Mongolia, the Korean peninsula, northern Vietnam and others) and
#: leaves out the South China Sea islands south of 18.1N. For a registry of
#: sites in mainland China that trade-off is fine: it catches the real mistakes
#: (swapped axes, projected metres, a missing minus sign, zeros).
CHINA_BOUNDS = (73.5, 18.1, 135.1, 53.6)


class GeometryError(ValueError):
    """A coordinate or geometry that failed a check, with where and why.

    Parameters
    ----------
    reason : str
        What is wrong, in words a data-entry clerk can act on.
    field : str, optional
        Name of the form field or attribute that held the bad value.
    location : tuple of float, optional
        ``(lon, lat)`` of the fault, when there is one.

    Examples
    --------
    >>> err = GeometryError("the outline crosses itself", "boundary", (117.0, 25.0))
    >>> str(err)
    'boundary: the outline crosses itself (at lon 117.000000, lat 25.000000)'
    """

    def __init__(self, reason, field=None, location=None):
        # Passing everything to ValueError keeps the error picklable, which
        # matters when checks run in worker processes.
        super().__init__(reason, field, location)
        self.reason = reason
        self.field = field
        self.location = location

    def __str__(self):
        text = f"{self.field}: {self.reason}" if self.field else self.reason
        if self.location is not None:
            lon, lat = self.location
            text += f" (at lon {lon:.6f}, lat {lat:.6f})"
        return text
