"""The order of a day's visits: a short straight-line tour in metres (nearest neighbour, then 2-opt)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely

from geodata.crs import to_metric

__all__ = ["Tour", "order_visits", "tour_length"]

# A move must shorten the tour by more than this (metres) to be taken: float noise never loops 2-opt.
_MIN_GAIN_M = 1e-6
# How many nearest-neighbour walks (from different first stops) are improved; the shortest is kept. Ten for
# a day's round (up to 60 stops), fewer for more: at 200 stops a walk takes some 50 ms and gains little more.
_SEEDS = 10
_SEED_BUDGET = 600


@dataclass(frozen=True)
class Tour:
    """A visiting order and its legs.

    Attributes
    ----------
    order : numpy.ndarray of int
        Indices into the stops, in the order to visit them (the start point is not a stop).
    legs_m : numpy.ndarray of float
        ``legs_m[k]`` is the straight-line distance in metres walked to reach ``order[k]``: from the
        start point for the first stop, else from the stop before; 0 for the first stop without a start.
    return_m : float
        The leg from the last stop back to the start point; 0 unless ``return_to_start``.
    epsg : int or None
        The metric CRS the distances were measured in (None when there was nothing to measure).
    """

    order: np.ndarray
    legs_m: np.ndarray
    return_m: float
    epsg: int | None

    @property
    def total_m(self) -> float:
        """The whole walk in metres, the way back included when asked for."""
        return float(self.legs_m.sum()) + self.return_m


def _label(names, index: int) -> str:
    return f"stop {names[index]!r}" if names is not None else f"stop {index + 1}"


def _check_point(lon, lat, where: str) -> tuple[float, float]:
    try:
        x, y = float(lon), float(lat)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: ({lon!r}, {lat!r}) is not a pair of numbers") from None
    if not math.isfinite(x) or not math.isfinite(y):
        raise ValueError(f"{where}: longitude {x} and latitude {y} must be finite numbers (NaN or infinite given)")
    if not -180.0 <= x <= 180.0:
        raise ValueError(f"{where}: longitude {x} is outside -180..180 (were longitude and latitude swapped?)")
    if not -90.0 <= y <= 90.0:
        raise ValueError(f"{where}: latitude {y} is outside -90..90 (were longitude and latitude swapped?)")
    return x, y


def _checked(stops, start, names) -> tuple[np.ndarray, tuple[float, float] | None]:
    points = list(stops)
    if names is not None and len(names) != len(points):
        raise ValueError(f"names has {len(names)} entries for {len(points)} stops")
    checked = []
    for index, point in enumerate(points):
        try:
            lon, lat = point
        except (TypeError, ValueError):
            raise ValueError(f"{_label(names, index)}: {point!r} is not a (longitude, latitude) pair") from None
        checked.append(_check_point(lon, lat, _label(names, index)))
    first = None
    if start is not None:
        try:
            lon, lat = start
        except (TypeError, ValueError):
            raise ValueError(f"start: {start!r} is not a (longitude, latitude) pair") from None
        first = _check_point(lon, lat, "start")
    return np.array(checked, dtype=np.float64).reshape(-1, 2), first


def _metric(lonlat: np.ndarray) -> tuple[np.ndarray, int]:
    """Project lon/lat rows into the metric CRS of their centroid (a CGCS2000 Gauss-Kruger zone in China)."""
    projected, epsg = to_metric(shapely.multipoints(lonlat))
    return shapely.get_coordinates(projected), epsg


def _nearest_neighbour(dist: np.ndarray, first: int, free: np.ndarray) -> list[int]:
    """From ``first``, always on to the nearest node not yet visited among ``free`` (a boolean mask)."""
    free = free.copy()
    path = [first]
    free[first] = False
    here = first
    for _ in range(int(free.sum())):
        row = np.where(free, dist[here], np.inf)
        here = int(row.argmin())
        path.append(here)
        free[here] = False
    return path


def _two_opt(path: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Reverse segments while that shortens the path; the first and last nodes stay where they are.

    For each edge (i, i+1), the gains of exchanging it with every later edge (j, j+1) are computed at
    once, and the best is taken; passes repeat until none shortens the path.
    """
    m = len(path)
    improved = True
    while improved:
        improved = False
        for i in range(m - 3):
            a, b = path[i], path[i + 1]
            c, d = path[i + 2:m - 1], path[i + 3:m]
            gains = dist[a, b] + dist[c, d] - dist[a, c] - dist[b, d]
            best = int(gains.argmax())
            if gains[best] > _MIN_GAIN_M:
                j = i + 2 + best
                path[i + 1:j + 1] = path[i + 1:j + 1][::-1].copy()
                improved = True
    return path


def _or_opt(path: np.ndarray, dist: np.ndarray) -> bool:
    """Move one run of 1 to 3 stops to the best other place in the path (either way round); True if any moved.

    For each run, the cost of putting it into every edge of the rest of the path is computed at once.
    """
    m = len(path)
    moved = False
    for length in (1, 2, 3):
        i = 1
        while i + length <= m - 1:
            run = path[i:i + length]
            prev, after = path[i - 1], path[i + length]
            saved = dist[prev, run[0]] + dist[run[-1], after] - dist[prev, after]
            rest = np.concatenate([path[:i], path[i + length:]])
            a, b = rest[:-1], rest[1:]
            forward = dist[a, run[0]] + dist[run[-1], b] - dist[a, b]
            backward = dist[a, run[-1]] + dist[run[0], b] - dist[a, b]
            cost = np.minimum(forward, backward)
            k = int(cost.argmin())
            if saved - cost[k] > _MIN_GAIN_M:
                piece = run if forward[k] <= backward[k] else run[::-1]
                path[:] = np.concatenate([rest[:k + 1], piece, rest[k + 1:]])
                moved = True
            else:
                i += 1
    return moved


def _improve(path: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """2-opt, then moves of short runs (or-opt), again until neither shortens the path."""
    while True:
        path = _two_opt(path, dist)
        if not _or_opt(path, dist):
            return path


def order_visits(stops: Sequence, start=None, *, names: Sequence[str] | None = None,
                 return_to_start: bool = False, improve: bool = True) -> Tour:
    """Order visits to shorten the straight-line walk between them.

    The points are projected into one metric CRS (the CGCS2000 Gauss-Kruger 6° zone of their centroid,
    see :func:`geodata.crs.metric_crs_for`) and distances are straight lines in metres, not roads.
    A nearest-neighbour path is then improved by 2-opt (segment reversals, each edge's exchanges with
    every later edge computed at once with numpy) and by moving runs of up to three stops elsewhere
    (or-opt), until neither shortens it; this is done from a few first stops and the shortest kept
    (within 5 % of the best tour on small cases, see the tests). The path is open: a
    day's round ends at its last stop unless ``return_to_start`` asks for the way back to be counted
    (and shortened) too. Without a start point the path may begin at any stop.

    Parameters
    ----------
    stops : sequence of (lon, lat)
        The places to visit, in WGS 84 / CGCS2000 degrees. Duplicates are allowed (a leg of 0 m).
    start : (lon, lat), optional
        Where the day begins (an office, a first facility); it is not one of the stops.
    names : sequence of str, optional
        One name per stop, used in error messages.
    return_to_start : bool, default False
        Count the walk back from the last stop to ``start``; needs ``start``.
    improve : bool, default True
        Improve the nearest-neighbour paths as above; False gives the first nearest-neighbour path
        alone (to compare with).

    Returns
    -------
    Tour
        The order, each leg in metres, the way back and the CRS measured in.

    Raises
    ------
    ValueError
        A coordinate that is not a finite number in range, naming the stop (or ``start``), or
        ``return_to_start`` without a start.

    Examples
    --------
    Four stops on a line, given out of order:

    >>> tour = order_visits([(117.00, 25.0), (117.02, 25.0), (117.01, 25.0), (117.03, 25.0)])
    >>> tour.order.tolist() in ([0, 2, 1, 3], [3, 1, 2, 0])
    True
    >>> round(tour.total_m / 1000, 2), tour.epsg
    (3.03, 4498)

    With a start point the first leg is the walk from it:

    >>> tour = order_visits([(117.00, 25.0), (117.02, 25.0)], start=(117.03, 25.0))
    >>> tour.order.tolist(), [round(m) for m in tour.legs_m]
    ([1, 0], [1010, 2019])

    Bad coordinates are refused, naming the stop:

    >>> order_visits([(117.0, 25.0), (25.0, 117.0)], names=["A", "B"])
    Traceback (most recent call last):
    ...
    ValueError: stop 'B': latitude 117.0 is outside -90..90 (were longitude and latitude swapped?)
    """
    if return_to_start and start is None:
        raise ValueError("return_to_start: there is no start point to return to")
    points, first = _checked(stops, start, names)
    n = len(points)
    if n == 0:
        return Tour(np.zeros(0, dtype=np.intp), np.zeros(0), 0.0, None)
    # Nodes: the stops, then the start point (if any), then a free end (if the path may end anywhere).
    # A free end or a free beginning is a node at 0 m from everything, so both ends of the path are fixed
    # nodes and plain 2-opt (which never moves the ends) still lets the real first and last stop change.
    everything = points if first is None else np.vstack([points, first])
    xy, epsg = _metric(everything)
    size = len(xy) + 1 + (first is None)
    dist = np.zeros((size, size))
    dist[:len(xy), :len(xy)] = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    head = n if first is not None else n + 1
    tail = n if return_to_start else len(xy)
    free = np.zeros(size, dtype=bool)
    free[:n] = True
    # Each walk goes head -> seed -> nearest neighbours -> tail. Without a start point the natural seed is the
    # stop farthest from the centre (an end of the spread suits an open path); with one, the stop nearest
    # it. A local optimum can be a few per cent off, so a few other seeds are tried and the best kept.
    anchor = xy.mean(axis=0) if first is None else xy[n]
    spread = np.hypot(*(xy[:n] - anchor).T)
    ranked = np.argsort(-spread if first is None else spread, kind="stable")
    best, best_m = None, np.inf
    for seed in ranked[:max(1, min(_SEEDS, _SEED_BUDGET // n)) if improve else 1]:
        walk = [head, *_nearest_neighbour(dist, int(seed), free)]
        path = np.array([*walk, tail], dtype=np.intp)
        if improve:
            path = _improve(path, dist)
        metres = dist[path[:-1], path[1:]].sum()
        if metres < best_m - _MIN_GAIN_M:
            best, best_m = path, metres
    path = best
    order = path[1:-1]
    legs = dist[path[:-2], order]
    if first is None:
        legs[0] = 0.0
    back = float(dist[order[-1], n]) if return_to_start else 0.0
    return Tour(order.copy(), legs, back, epsg)


def tour_length(stops: Sequence, order: Sequence[int], start=None, *, return_to_start: bool = False) -> float:
    """The straight-line length in metres of visiting ``stops`` in ``order`` (from ``start`` if given).

    Measured as :func:`order_visits` measures, so orders can be compared (e.g. against the order typed).

    Parameters
    ----------
    stops : sequence of (lon, lat)
        The places, in degrees.
    order : sequence of int
        Indices into ``stops``.
    start : (lon, lat), optional
        Where the walk begins.
    return_to_start : bool, default False
        Count the way back to ``start``.

    Returns
    -------
    float
        Metres.

    Examples
    --------
    >>> stops = [(117.00, 25.0), (117.02, 25.0), (117.01, 25.0)]
    >>> round(tour_length(stops, [0, 1, 2])), round(tour_length(stops, [0, 2, 1]))
    (3029, 2019)
    """
    if return_to_start and start is None:
        raise ValueError("return_to_start: there is no start point to return to")
    points, first = _checked(stops, start, None)
    index = np.asarray(order, dtype=np.intp)
    if len(points) == 0 or len(index) == 0:
        return 0.0
    everything = points if first is None else np.vstack([points, first])
    xy, _epsg = _metric(everything)
    walk = ([len(points)] if first is not None else []) + index.tolist()
    if return_to_start:
        walk.append(len(points))
    steps = xy[walk]
    return float(np.hypot(*np.diff(steps, axis=0).T).sum())
