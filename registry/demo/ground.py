"""The demo's ground: its counties (the demo cities', or for a synthetic set also made-up ones over Fujian),
their seats and a position for every township, around which its records are placed."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from geodata.placing import metres_between, offset, pull_within, scatter
from registry.demo.figures import SPREAD_M
from registry.demo.places import FUJIAN_PREFECTURES, REAL_SITES, SYNTHETIC_TOWNSHIPS, County, longyan, sanming

__all__ = ["Ground", "lay_ground"]


@dataclass
class Ground:
    """Counties in order, their seats (an n x 2 array of lon/lat) and each county's township positions."""

    counties: list[County]
    seats: np.ndarray
    anchors: list[np.ndarray]

    def place(self, rng, county_idx: np.ndarray, township_idx: np.ndarray, sigma: float, limit: float):
        """Points scattered around their townships' anchors, kept within ``SPREAD_M`` of the county seat."""
        base = np.array([self.anchors[c][t] for c, t in zip(county_idx.tolist(), township_idx.tolist(),
                                                              strict=True)]).reshape(-1, 2)
        dx, dy = scatter(rng, len(county_idx), sigma, limit)
        lon, lat = offset(base[:, 0], base[:, 1], dx, dy)
        # Pull strays back towards the seat: the first city's counties are 40-60 km across.
        return pull_within(lon, lat, self.seats[county_idx, 0], self.seats[county_idx, 1], SPREAD_M)


def lay_ground(rng, scale: int | None, second: bool) -> Ground:
    """The counties of one demo city (the second with ``second``), and for a synthetic set of ``scale`` tombs
    as many made-up counties over Fujian as its size asks for; then every township's position."""
    counties = _counties(rng, scale, second)
    seats = np.array([(c.lon, c.lat) for c in counties])
    return Ground(counties, seats, [_townships(rng, ci, county, seats) for ci, county in enumerate(counties)])


def _counties(rng, scale: int | None, second: bool) -> list[County]:
    counties = list(sanming() if second else longyan())
    if scale is None:
        return counties
    wanted = min(len(counties) + 9 * len(FUJIAN_PREFECTURES), max(len(counties), scale // 12_500))
    for code, name, lon, lat, spread_km in FUJIAN_PREFECTURES:
        for k in range(9):
            if len(counties) >= wanted:
                break
            r = spread_km * 1000.0 * math.sqrt(rng.random())
            theta = 2 * math.pi * rng.random()
            x, y = offset(lon, lat, r * math.cos(theta), r * math.sin(theta))
            counties.append(County(f"{code}9{k}", f"{name[:-1]}示例{k + 1}县", name, float(x), float(y),
                                   f"{name[:2]}{k + 1}", SYNTHETIC_TOWNSHIPS, False))
    return counties


def _townships(rng, ci: int, county: County, seats: np.ndarray) -> np.ndarray:
    """A position for every township of a county: the seat's own township at the seat, known ones at their
    site, the rest scattered within 15 km of the seat (and, in the first city, nearer this seat than any other)."""
    known = {(s["county"], s["township"]): (s["lon"], s["lat"]) for s in REAL_SITES}
    points = []
    for ti, township in enumerate(county.townships):
        if ti == 0:
            points.append((county.lon, county.lat))
        elif (county.code, township) in known:
            points.append(known[(county.code, township)])
        else:
            points.append(_scattered_township(rng, ci, county, seats[:7]))
    return np.array(points)


def _scattered_township(rng, ci: int, county: County, first_city_seats: np.ndarray) -> tuple[float, float]:
    while True:
        r = 15_000.0 * math.sqrt(rng.uniform(0.05, 1.0))
        theta = 2 * math.pi * rng.random()
        x, y = offset(county.lon, county.lat, r * math.cos(theta), r * math.sin(theta))
        if not county.longyan:
            break
        nearest = int(np.argmin(metres_between(float(x), float(y), first_city_seats[:, 0],
                                               first_city_seats[:, 1])))
        if nearest == ci:
            break
    return float(x), float(y)
