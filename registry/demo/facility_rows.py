"""Rows of the demo's small tables, built from its layout: facilities with their names of record and
protection zones, and heritage sites."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
from shapely.geometry import Point

from geodata.placing import control_zone, multi, rect_zone
from registry.demo.figures import (
    APPROXIMATE_NOTE,
    AREA_M2,
    CATEGORY_CODES,
    CATEGORY_LABELS,
    CEM,
    CHECK_STATES,
    CITY,
    DEMO_MARK,
    FORMER_LABELS,
    HERITAGE_KINDS,
    LEVEL_CODES,
    MATERIALS,
    MON,
    NAT,
    PAV,
    PROV,
    RANGE_SIZE,
    SCAT,
    STD_FIELDS,
    TODAY,
    UNGR,
    dates,
    days,
)
from registry.demo.layout import Layout
from registry.demo.names import GIVEN, SURNAMES, UNKNOWN_NAME, core_name, fictional_name, village
from registry.demo.places import LEVEL_BODIES, REAL_SITES, County

__all__ = ["FacilityRows", "facility_rows", "heritage_rows"]


@dataclass
class FacilityRows:
    """The rows of the facility tables, and each facility's name (the tasks' descriptions quote it)."""

    facilities: list[dict]
    names: list[dict]
    zones: list[dict]
    facility_names: list[str]


def facility_rows(layout: Layout, rng, used: set) -> FacilityRows:
    """Every facility's row, its names of record and (graded ones) its zones; ``used`` holds the facility
    names taken so far, so no two facilities of the demo share one."""
    out = FacilityRows([], [], [], [])
    seq_in_county: dict[int, int] = {}
    for i in range(layout.facilities.n):
        ci = int(layout.facilities.county[i])
        seq_in_county[ci] = seq_in_county.get(ci, 0) + 1
        code = f"{layout.ground.counties[ci].code}-F{seq_in_county[ci]:04d}"
        name = _facility_name(layout, i, used, rng)
        row = _facility_row(layout, i, code, name, rng)
        out.facilities.append(row)
        out.facility_names.append(name)
        real = REAL_SITES[layout.facilities.real[i]] if layout.facilities.real[i] >= 0 else None
        out.names.extend(_names_of_record(layout, i, row, real, rng))
        if row["level"] != LEVEL_CODES[UNGR]:
            out.zones.extend(_zones_for(layout, i, rng, real, row["level_approved_on"], row["level_approved_by"]))
    for k, row in enumerate(out.names, start=1):
        row["id"] = k
    for k, row in enumerate(out.zones, start=1):
        row["id"] = k
    return out


def _facility_name(layout: Layout, i: int, used: set, rng) -> str:
    plan = layout.facilities
    county = layout.ground.counties[plan.county[i]]
    township = county.townships[plan.township[i]]
    cat = int(plan.cat[i])
    if plan.real[i] >= 0:
        return REAL_SITES[plan.real[i]]["name"]
    if cat == SCAT:
        t = layout.tombs.first_of_facility[i]
        if t >= 0:
            m = layout.martyrs.of_tomb[t]
            person = UNKNOWN_NAME if layout.martyrs.unknown[m] else core_name(layout.martyrs.surname[m],
                                                                             layout.martyrs.given[m])
        else:
            person = core_name(int(rng.integers(len(SURNAMES))), int(rng.integers(len(GIVEN))))
        rest = f"{person}烈士墓"
    elif cat == CEM and f"{county.name}烈士陵园{DEMO_MARK}" not in used:
        used.add(f"{county.name}烈士陵园{DEMO_MARK}")
        return f"{county.name}烈士陵园{DEMO_MARK}"
    else:
        rest = CATEGORY_LABELS[cat]
    # A second facility of a kind in one township is told apart by its village, as locals would.
    candidates = [f"{township}{rest}{DEMO_MARK}"] + [f"{township}{village(rng)}{rest}{DEMO_MARK}"
                                                     for _ in range(3)]
    name = next((c for c in candidates if c not in used), f"{township}{rest}{i + 1}号{DEMO_MARK}")
    used.add(name)
    return name


def _approval(rng, county: County, level: int) -> tuple[date | None, str | None]:
    """When and by whom a graded facility's level was approved (nothing for an ungraded one)."""
    if level == UNGR:
        return None, None
    approved_on = dates([int(rng.integers(days(date(1986, 1, 1)), days(date(2021, 6, 30))))])[0]
    approved_by = LEVEL_BODIES[level] or f"{county.name}人民政府"
    if not county.longyan and level == CITY:
        approved_by = f"{county.city}人民政府"
    return approved_on, approved_by


def _facility_row(layout: Layout, i: int, code: str, name: str, rng) -> dict:
    plan = layout.facilities
    county = layout.ground.counties[int(plan.county[i])]
    cat, level = int(plan.cat[i]), int(plan.level[i])
    real = REAL_SITES[plan.real[i]] if plan.real[i] >= 0 else None
    township = county.townships[plan.township[i]]
    place = None if real else village(rng)
    graded = level != UNGR
    approved_on, approved_by = _approval(rng, county, level)
    label = CATEGORY_LABELS[cat]
    if real:
        description = f"{real['name']}（{label}）。{APPROXIMATE_NOTE}。"
        address = real["address"]
    else:
        description = f"示例数据：{county.name}{township}的{label}，虚构设施，仅供演示。"
        address = f"福建省{county.city}{county.name}{township}{place}"
    lo, hi = AREA_M2[cat]
    entrusted = cat == SCAT and not graded
    std = layout.upkeep.std[i]
    checked = not layout.upkeep.never[i]
    return {
        "id": i + 1, "code": code, "name": name, "category": CATEGORY_CODES[cat], "level": LEVEL_CODES[level],
        "level_approved_by": approved_by, "level_approved_on": approved_on,
        "protection_unit": f"{county.name}退役军人事务局" if graded else None,
        "managing_unit": (f"{place}村民委员会" if entrusted and place else
                          f"{county.name}{township}人民政府" if entrusted else
                          f"{county.name}退役军人事务局"),
        "caretaker": fictional_name(int(rng.integers(len(SURNAMES))), int(rng.integers(len(GIVEN)))),
        # A local number cannot begin with 0, so these can never reach anyone.
        "caretaker_phone": f"0597-0{int(rng.integers(0, 1_000_000)):06d}",
        "address": address, "county_code": county.code, "township": township, "village": place,
        "description": description,
        "visiting_info": "开放时间 8:30—17:30（示例）" if graded and cat != SCAT else None,
        "area_m2": float(round(rng.uniform(lo, hi), 1)),
        "material": str(rng.choice(MATERIALS)),
        "dimensions": f"高 {rng.uniform(3, 30):.1f} 米（示例）" if cat in (MON, PAV) else None,
        "sign_present": bool(rng.random() < (0.92 if graded else 0.55)) or real is not None,
        "land_title_registered": bool(rng.random() < (0.75 if graded else 0.35)) or real is not None,
        **{f: (CHECK_STATES[std[k]] if checked else None) for k, f in enumerate(STD_FIELDS)},
        "position_approximate": real is not None, "retired_reason": None, "status": "active", "is_demo": True,
        "geom": Point(float(plan.lon[i]), float(plan.lat[i])),
    }


def _names_of_record(layout: Layout, i: int, row: dict, real, rng) -> list[dict]:
    """The name of record, and for a few facilities the name they bore before an approved renaming."""
    cat = int(layout.facilities.cat[i])
    county = layout.ground.counties[int(layout.facilities.county[i])]
    name, township, approved_on = row["name"], row["township"], row["level_approved_on"]
    valid_from = approved_on or dates([int(rng.integers(days(date(2005, 1, 1)), days(date(2020, 1, 1))))])[0]
    if real is None and cat != SCAT and rng.random() < 0.06:
        former_from = dates([days(valid_from) - int(rng.integers(2000, 8000))])[0]
        approval = f"{county.abbr}政〔{valid_from.year}〕{int(rng.integers(5, 90))}号"
        return [{"facility_id": i + 1, "name": f"{township}{FORMER_LABELS[cat]}{DEMO_MARK}",
                 "valid_from": former_from, "valid_to": dates([days(valid_from) - 1])[0],
                 "approval_number": None, "approved_by": None, "note": "示例数据：原名"},
                {"facility_id": i + 1, "name": name, "valid_from": valid_from, "valid_to": None,
                 "approval_number": approval, "approved_by": f"{county.name}人民政府",
                 "note": "示例数据：经批准更名"}]
    return [{"facility_id": i + 1, "name": name, "valid_from": valid_from, "valid_to": None,
             "approval_number": None, "approved_by": None, "note": "示例数据"}]


def _zones_for(layout: Layout, i: int, rng, real, approved_on, approved_by) -> list[dict]:
    """A graded facility's protection range (a rotated rectangle) and, for some, the control zone around it."""
    cat, level = int(layout.facilities.cat[i]), int(layout.facilities.level[i])
    lon, lat = float(layout.facilities.lon[i]), float(layout.facilities.lat[i])
    if real:
        width, height = real["range_m"]
        angle, control = 0.0, real["control_m"]
        note = (f"示例数据：保护范围约 {width:.0f} 米 × {height:.0f} 米，控制地带外扩 {control:.0f} 米；"
                f"{APPROXIMATE_NOTE}。")
    else:
        factor = rng.uniform(0.8, 1.3)
        width, height = RANGE_SIZE[cat][0] * factor, RANGE_SIZE[cat][1] * factor
        angle = float(rng.uniform(-30, 30))
        wants_control = level in (NAT, PROV) or rng.random() < 0.3
        control = float(rng.choice((100.0, 150.0, 200.0))) if wants_control else None
        note = "示例数据：范围为示意，非批准的保护范围。"
    poly, area = rect_zone(lon, lat, width, height, angle)
    reported = None
    if approved_on is not None and rng.random() < 0.9:
        reported = min(TODAY, dates([days(approved_on) + int(rng.integers(30, 400))])[0])
    base = {"facility_id": i + 1, "reported_on": reported, "approved_by": approved_by, "source": "demo",
            "status": "active", "is_demo": True}
    out = [{**base, "kind": "protection_range", "area_m2": round(area, 1), "note": note, "geom": multi(poly)}]
    if control is not None:
        grown, grown_area = control_zone(poly, control)
        out.append({**base, "kind": "control_zone", "area_m2": round(grown_area, 1),
                    "note": f"示例数据：保护范围外扩 {control:.0f} 米。", "geom": multi(grown)})
    return out


def heritage_rows(layout: Layout, rng) -> list[dict]:
    """The real sites of the city's counties, then a few fictional revolutionary sites per county."""
    seq: dict[str, int] = {}

    def code_for(county_code: str) -> str:
        seq[county_code] = seq.get(county_code, 0) + 1
        return f"{county_code}-H{seq[county_code]:03d}"

    rows = _real_heritage(layout, code_for)
    counties = layout.ground.counties
    n_per_county = 1 if layout.second else 3
    ci = np.repeat(np.arange(len(counties)), n_per_county).astype(np.int32)
    ti = np.array([rng.integers(len(counties[c].townships)) for c in ci], np.int32)
    lon, lat = layout.ground.place(rng, ci, ti, 2500.0, 6000.0)
    for k in range(len(ci)):
        county = counties[ci[k]]
        township = county.townships[ti[k]]
        label, kind = HERITAGE_KINDS[int(rng.integers(len(HERITAGE_KINDS)))]
        name = f"{township}{label}{DEMO_MARK}"
        rows.append({
            "code": code_for(county.code), "name": name, "kind": kind, "period": "土地革命战争时期",
            "heritage_level": None, "education_base": bool(rng.random() < 0.3), "education_base_level": None,
            "county_code": county.code, "township": township,
            "address": f"福建省{county.city}{county.name}{township}{village(rng)}",
            "description": "示例数据：虚构的革命旧址，仅供演示。", "facility_id": None,
            "position_approximate": False, "status": "active", "is_demo": True,
            "geom": Point(float(lon[k]), float(lat[k])),
        })
    for k, row in enumerate(rows, start=1):
        row["id"] = k
    return rows


def _real_heritage(layout: Layout, code_for) -> list[dict]:
    plan = layout.facilities
    fac_of_real = {int(plan.real[i]): i for i in np.flatnonzero(plan.real >= 0)}
    codes = {c.code for c in layout.ground.counties}
    rows = []
    for ri, site in enumerate(REAL_SITES):
        if site["county"] not in codes:
            continue
        fi = fac_of_real.get(ri)
        rows.append({
            "code": code_for(site["county"]), "name": site["name"], "kind": site["kind"],
            "period": site["period"], "heritage_level": site["heritage_level"],
            "education_base": site["education_base"], "education_base_level": site["education_base_level"],
            "county_code": site["county"], "township": site["township"], "address": site["address"],
            "description": f"{site['name']}。{APPROXIMATE_NOTE}。",
            "facility_id": None if fi is None else int(fi) + 1, "position_approximate": True,
            "status": "active", "is_demo": True, "geom": Point(site["lon"], site["lat"]),
        })
    return rows
