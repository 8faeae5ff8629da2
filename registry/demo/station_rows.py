"""Rows of the demo's veterans service stations: a city centre, a centre per county, a station per township and,
in the first city, village stations up to its figure; drawn from a random stream of their own, so every other
demo row stays the same with or without them."""

from __future__ import annotations

import numpy as np
from shapely.geometry import Point

from registry.demo.figures import (
    DEFAULT_STATIONS,
    DEMO_MARK,
    NATIONAL_MODEL_STATIONS,
    PROVINCIAL_ADVANCED_STATIONS,
)
from registry.demo.layout import Layout
from registry.demo.names import village
from registry.demo.places import LONGYAN_CITY, SANMING_CITY

__all__ = ["FIVE_HAVES", "station_rows"]

FIVE_HAVES = ("has_body", "has_posts", "has_staff", "has_funds", "has_provisions")
# How often an ordinary township or village station has each of the 五有 (a body most often, provisions least).
_HAVE_SHARE = {"township": (0.99, 0.93, 0.95, 0.85, 0.8), "village": (0.97, 0.7, 0.88, 0.72, 0.66)}
_HOURS = {"city": "周一至周五 8:30—12:00，14:30—17:30（示例）",
          "county": "周一至周五 8:30—12:00，14:30—17:30（示例）",
          "township": "周一至周五 8:30—12:00，14:30—17:30（示例）",
          "village": "每周一、三、五 9:00—11:30（示例）"}
_SUFFIX = {"city": "退役军人服务中心", "county": "退役军人服务中心", "township": "退役军人服务站",
           "village": "退役军人服务站"}


def station_rows(layout: Layout) -> list[dict]:
    """The city's service stations as rows (ids from 1); none for a synthetic set.

    Example
    -------
    >>> import numpy as np
    >>> from registry.demo.layout import lay_out
    >>> rows = station_rows(lay_out(np.random.default_rng(2022), None, 2022, False))
    >>> len(rows), sum(r["demonstration"] == "national_model" for r in rows)
    (2086, 92)
    """
    if layout.scale is not None:
        return []
    rng = layout.rng("service_stations", 0)
    ground = layout.ground
    city_code, city_name, city_lon, city_lat = SANMING_CITY if layout.second else LONGYAN_CITY
    seat = ground.counties[0]
    rows = [_row("city", city_code, city_name, seat.code, None, None, city_lon, city_lat)]
    for ci, county in enumerate(ground.counties):
        rows.append(_row("county", county.code, county.name, county.code, None, None, *ground.seats[ci]))
    ci = np.array([c for c, county in enumerate(ground.counties) for _t in county.townships], np.int32)
    ti = np.array([t for county in ground.counties for t in range(len(county.townships))], np.int32)
    lon, lat = ground.place(rng, ci, ti, 300.0, 800.0)
    for k in range(len(ci)):
        county = ground.counties[ci[k]]
        township = county.townships[ti[k]]
        rows.append(_row("township", county.code, f"{county.name}{township}", county.code, township, None,
                         lon[k], lat[k]))
    if not layout.second:
        rows.extend(_villages(layout, rng, DEFAULT_STATIONS - len(rows)))
    _mark_demonstration(rows, rng, 0 if layout.second else NATIONAL_MODEL_STATIONS,
                        0 if layout.second else PROVINCIAL_ADVANCED_STATIONS)
    _codes_and_checklists(rows, rng)
    return rows


def _row(level, place_code, place_name, county_code, township, village_name, lon, lat) -> dict:
    return {"level": level, "name": f"{place_name}{village_name or ''}{_SUFFIX[level]}{DEMO_MARK}",
            "county_code": county_code, "township": township, "village": village_name,
            "address": f"{place_name}{village_name or ''}（示例地址）", "demonstration": "none",
            "opening_hours": _HOURS[level], "position_approximate": True, "status": "active", "is_demo": True,
            "geom": Point(round(float(lon), 6), round(float(lat), 6)), "_place": place_code}


def _villages(layout: Layout, rng, n: int) -> list[dict]:
    """``n`` village stations spread over the townships, each with a fictional village name unique in its township."""
    ground = layout.ground
    pairs = [(c, t) for c, county in enumerate(ground.counties) for t in range(len(county.townships))]
    pick = rng.integers(len(pairs), size=n)
    ci = np.array([pairs[p][0] for p in pick], np.int32)
    ti = np.array([pairs[p][1] for p in pick], np.int32)
    lon, lat = ground.place(rng, ci, ti, 2500.0, 6000.0)
    used: set[tuple] = set()
    rows = []
    for k in range(n):
        county = ground.counties[ci[k]]
        township = county.townships[ti[k]]
        name = village(rng)
        while (county.code, township, name) in used:
            name = name[:-1] + "一二三四五六七八九"[int(rng.integers(9))] + "村"
        used.add((county.code, township, name))
        rows.append(_row("village", county.code, f"{county.name}{township}", county.code, township, name,
                         lon[k], lat[k]))
    return rows


def _mark_demonstration(rows: list[dict], rng, national: int, provincial: int) -> None:
    """National model stations and provincial advanced units among the county, township and village stations."""
    candidates = [k for k, row in enumerate(rows) if row["level"] != "city"]
    chosen = rng.choice(candidates, size=national + provincial, replace=False)
    for k in chosen[:national]:
        rows[int(k)]["demonstration"] = "national_model"
    for k in chosen[national:]:
        rows[int(k)]["demonstration"] = "provincial_advanced"


def _codes_and_checklists(rows: list[dict], rng) -> None:
    """Codes in the demo's scheme (``<county>-S0001``, the city's centre ``<city>-S0001``), the 五有 and a phone."""
    seq: dict[str, int] = {}
    for k, row in enumerate(rows, start=1):
        place = row.pop("_place")
        prefix = place if row["level"] == "city" else row["county_code"]
        seq[prefix] = seq.get(prefix, 0) + 1
        row["id"] = k
        row["code"] = f"{prefix}-S{seq[prefix]:04d}"
        complete = row["level"] in ("city", "county") or row["demonstration"] != "none"
        shares = _HAVE_SHARE.get(row["level"], (1.0,) * 5)
        draws = rng.random(len(FIVE_HAVES))
        for name, share, draw in zip(FIVE_HAVES, shares, draws, strict=True):
            row[name] = bool(complete or draw < share)
        row["phone"] = f"0597-0{int(rng.integers(0, 1_000_000)):06d}"
