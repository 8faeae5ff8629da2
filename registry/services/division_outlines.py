"""The registry's county and township boundaries as one small, simplified GeoJSON per level (the light base layer)."""

from __future__ import annotations

import hashlib
import json
import threading
import weakref

import shapely
from shapely.geometry import mapping

from registry.services import divisions
from registry.services.base import NotFound

# Simplification per level, in degrees (about 300 m and 100 m here): outlines for orientation, not for checks.
TOLERANCE = {"county": 0.003, "township": 0.001}
LEVELS = tuple(TOLERANCE)

_lock = threading.Lock()


class _Answers:
    """The answers for one divisions snapshot; a new snapshot (the tables changed) drops them."""

    def __init__(self):
        self.snapshot = lambda: None
        self.by_level: dict[str, tuple[bytes, str]] = {}


_cache = _Answers()


def outlines(source, level: str) -> tuple[bytes, str]:
    """GeoJSON bytes of the current divisions of ``level`` that have a boundary, and their ETag.

    Each feature carries ``code``, ``name`` and ``approximate`` (the division's ``boundary_approximate``:
    a sketch, which no check judges by; a demo row's surveyed boundary is not approximate); coordinates are
    rounded to five decimals (about a metre).
    """
    if level not in TOLERANCE:
        raise NotFound(f"no boundary level {level!r}; levels: {', '.join(LEVELS)}")
    snapshot = divisions.current(source)
    with _lock:
        if _cache.snapshot() is not snapshot:
            _cache.snapshot, _cache.by_level = weakref.ref(snapshot), {}
        if level not in _cache.by_level:
            _cache.by_level[level] = _build(snapshot, level)
        return _cache.by_level[level]


def _build(snapshot, level: str) -> tuple[bytes, str]:
    features = []
    for d in snapshot.current(level):
        if d.outline is None:
            continue
        shape = shapely.set_precision(d.outline.simplify(TOLERANCE[level], preserve_topology=True), 1e-5)
        features.append({"type": "Feature", "geometry": mapping(shape),
                         "properties": {"code": d.code, "name": d.name, "approximate": d.boundary_approximate}})
    body = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False,
                      separators=(",", ":")).encode()
    return body, hashlib.sha256(body).hexdigest()[:20]
