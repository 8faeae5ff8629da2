"""How precisely the public sees where a scattered grave was: a 0.01° grid, about a village's extent.

The public grave page names the origin down to its village; the public journey line (OGC, tiles) may
place it no more precisely, so its first vertex is the origin snapped to this grid. The surveyed point
stays in the record's ``origin_lon``/``origin_lat`` for staff.
"""

from __future__ import annotations

import math

import numpy as np

# About 1.1 km north-south and 1.0 km east-west at latitude 25N.
ORIGIN_GRID_DEG = 0.01


def public_origin(lon: float, lat: float) -> tuple[float, float]:
    """The origin as the public may see it: snapped to the nearest grid point (halves round up).

    >>> public_origin(116.61234, 25.15678)
    (116.61, 25.16)
    >>> public_origin(116.615, 25.0)
    (116.62, 25.0)
    """
    return _snap(lon), _snap(lat)


def _snap(value: float) -> float:
    # Rounding the product first keeps 116.615 (stored as 116.61499…) on the same side as the database's
    # floor(value * 100 + 0.5) / 100, which the migration uses.
    return round(math.floor(round(value / ORIGIN_GRID_DEG, 9) + 0.5) * ORIGIN_GRID_DEG, 6)


def public_origins(lons: np.ndarray, lats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``public_origin`` of many points at once (NaN stays NaN)."""
    def snap(values):
        return np.round(np.floor(np.round(np.asarray(values, dtype=float) / ORIGIN_GRID_DEG, 9) + 0.5)
                        * ORIGIN_GRID_DEG, 6)
    return snap(lons), snap(lats)
