"""Rows of the demo's big burial tables (martyrs, tombs, relocations), built chunk by chunk from the layout,
each chunk from its own random stream, so a million-tomb set never sits in memory as dicts."""

from __future__ import annotations

import numpy as np
import shapely

from geodata.origins import public_origins
from geodata.placing import offset
from registry.demo.figures import (
    CAUSES,
    DEATH_YEAR_WEIGHTS,
    DEMO_MARK,
    EFFECTS,
    FICTION_NOTE,
    ORIGIN_SPOTS,
    RANKS,
    RELATIONS,
    UNITS,
    dates,
)
from registry.demo.layout import Layout
from registry.demo.names import GIVEN, SURNAMES, UNKNOWN_NAME, fictional_name, name_table, unknown_pinyin, village

__all__ = ["martyr_chunk", "relocation_chunk", "tomb_chunk"]

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _area_letter(area: int) -> str:
    """A plot area's letter (A, B, …), and Z with its number past the alphabet."""
    return _LETTERS[area] if area < 26 else f"Z{area}"


# -- martyrs ---------------------------------------------------------------------------------------------

def _martyr_draws(rng, n: int) -> dict[str, np.ndarray]:
    """A chunk's random facts about its martyrs, drawn in the demo's order."""
    d = {}
    modern = rng.random(n) < 0.05
    d["death_year"] = death_year = np.where(
        modern, rng.integers(1950, 1959, n),
        1927 + rng.choice(len(DEATH_YEAR_WEIGHTS), n, p=DEATH_YEAR_WEIGHTS / DEATH_YEAR_WEIGHTS.sum()))
    age = np.rint(rng.triangular(16, 22, 48, n)).astype(np.int64)
    d["birth_year"] = birth_year = death_year - age
    d["has_death_date"] = rng.random(n) < 0.6
    year_start = (death_year - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)
    year_len = np.where(((death_year % 4 == 0) & (death_year % 100 != 0)) | (death_year % 400 == 0), 366, 365)
    d["death_dates"] = dates(year_start + (rng.random(n) * year_len).astype(np.int64))
    d["has_birth_date"] = rng.random(n) < 0.1
    birth_start = (birth_year - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)
    d["birth_dates"] = dates(birth_start + rng.integers(0, 365, n))
    enlist_from = np.maximum(birth_year + 14, np.where(modern, 1945, 1927))
    enlisted = enlist_from + (rng.random(n) * (death_year - enlist_from + 1)).astype(np.int64)
    d["enlisted"] = np.minimum(enlisted, death_year)
    d["has_enlisted"] = rng.random(n) < 0.8
    d["female"] = rng.random(n) < 0.08
    d["township"] = rng.integers(0, 1_000_000, n)
    d["death_township"] = rng.integers(0, 1_000_000, n)
    d["rank"] = rng.integers(len(RANKS), size=n)
    d["cause"] = rng.integers(len(CAUSES), size=n)
    d["unit"] = rng.integers(0, 1_000, n)
    return d


def martyr_chunk(layout: Layout, chunk: int, a: int, b: int) -> list[dict]:
    """The martyrs ``a`` to ``b`` (0-based), the ``chunk``-th chunk of the roll."""
    d = _martyr_draws(layout.rng("martyrs", chunk), b - a)
    names, pinyin, initials = name_table()
    plan = layout.martyrs
    combo = plan.surname[a:b].astype(np.int64) * len(GIVEN) + plan.given[a:b]
    rows = []
    for k in range(b - a):
        c = layout.ground.counties[plan.county[a + k]]
        died_in = c.townships[d["death_township"][k] % len(c.townships)]
        dy = int(d["death_year"][k])
        units = next(u for limit, u in UNITS if dy <= limit)
        base = {"id": a + k + 1, "unit": units[d["unit"][k] % len(units)], "place_of_death": f"{c.name}{died_in}",
                "cause_of_death": CAUSES[d["cause"][k]], "death_year": dy}
        if plan.unknown[a + k]:
            rows.append(_unknown_martyr(base, bool(d["has_death_date"][k]), bool(d["has_enlisted"][k])))
            continue
        en = int(d["enlisted"][k]) if d["has_enlisted"][k] else None
        place, cause_text = base["place_of_death"], base["cause_of_death"]
        rows.append({
            "id": base["id"], "name": names[combo[k]], "name_pinyin": pinyin[combo[k]],
            "name_initials": initials[combo[k]], "is_unknown": False, "sex": "女" if d["female"][k] else "男",
            "native_place": f"福建省{c.city}{c.name}{c.townships[d['township'][k] % len(c.townships)]}",
            "native_county_code": c.code, "birth_year": int(d["birth_year"][k]),
            "birth_date": d["birth_dates"][k] if d["has_birth_date"][k] else None,
            "death_year": dy, "death_date": d["death_dates"][k] if d["has_death_date"][k] else None,
            "enlisted_year": en, "unit": base["unit"], "rank": RANKS[d["rank"][k]], "place_of_death": place,
            "cause_of_death": cause_text,
            "deeds": (f"{FICTION_NOTE}{en}年参加革命，" if en else FICTION_NOTE) + f"{dy}年于{place}{cause_text}。",
            "status": "active", "is_demo": True,
        })
    return rows


def _unknown_martyr(base: dict, has_death_date: bool, has_enlisted: bool) -> dict:
    """An unknown martyr (无名烈士): only when and where they fell, and perhaps their unit."""
    unknown_py, unknown_ini = unknown_pinyin()
    dy, place, cause_text = base["death_year"], base["place_of_death"], base["cause_of_death"]
    return {
        "id": base["id"], "name": UNKNOWN_NAME, "name_pinyin": unknown_py, "name_initials": unknown_ini,
        "is_unknown": True, "sex": None, "native_place": None, "native_county_code": None,
        "birth_year": None, "birth_date": None, "death_year": dy if has_death_date else None,
        "death_date": None, "enlisted_year": None, "unit": base["unit"] if has_enlisted else None,
        "rank": None, "place_of_death": place, "cause_of_death": cause_text,
        "deeds": f"{FICTION_NOTE}无名烈士，姓名、籍贯不详，{dy}年前后于{place}{cause_text}。",
        "status": "active", "is_demo": True,
    }


# -- tombs -----------------------------------------------------------------------------------------------

def tomb_chunk(layout: Layout, chunk: int, a: int, b: int) -> list[dict]:
    """The tombs ``a`` to ``b`` (0-based): in a grid of plots around their facility, or a scattered grave."""
    rng = layout.rng("tombs", chunk)
    plan, facilities = layout.tombs, layout.facilities
    fac, plot, kind = plan.facility[a:b], plan.plot[a:b], plan.kind[a:b]
    # Plots lie in a grid: areas of 300 graves (A, B, …) around the facility, 15 rows of 20.
    area = plot // 300
    row = (plot % 300) // 20
    number = plot % 20
    dx = (number - 9.5) * 2.5 + ((area % 3) - 1) * 60.0 + rng.normal(0, 0.3, b - a)
    dy = (row - 7.0) * 3.5 + (((area // 3) % 3) - 1) * 70.0 + (area // 9) * 70.0 + rng.normal(0, 0.3, b - a)
    scattered = kind == 2
    dx, dy = np.where(scattered, 0.0, dx), np.where(scattered, 0.0, dy)
    lon, lat = offset(facilities.lon[fac], facilities.lat[fac], dx, dy)
    points = shapely.points(lon, lat)
    state = np.where(kind == 1, "relocated", np.where(plan.awaiting[a:b], "awaiting_relocation", "in_place"))
    return [{
        "id": a + k + 1, "martyr_id": int(layout.martyrs.of_tomb[a + k]) + 1, "facility_id": int(fac[k]) + 1,
        # Stored bare, as geodata.plots keeps them; pages show them as signed (A区 4排 20号).
        "plot_area": None if scattered[k] else _area_letter(int(area[k])),
        "plot_row": None if scattered[k] else f"{int(row[k]) + 1}",
        "plot_number": None if scattered[k] else f"{int(number[k]) + 1}",
        "state": str(state[k]), "status": "active", "is_demo": True, "geom": points[k],
    } for k in range(b - a)]


# -- relocations --------------------------------------------------------------------------------------------

def _relocation_draws(layout: Layout, rng, a: int, b: int) -> dict:
    """A chunk's random facts about its relocations (dates, origins, funding, kin), drawn in the demo's order."""
    n = b - a
    plan = layout.relocations
    county, base = plan.county[a:b], plan.batch_day[plan.batch[a:b]]
    d = {}
    surveyed = base + rng.integers(0, 21, n)
    consent = np.minimum(surveyed + rng.integers(3, 41, n), base + 60)
    approved = base + 65  # one approval per batch, after every consent in it
    exhumed = approved + rng.integers(5, 41, n)
    reburied = exhumed + rng.integers(0, 4, n)
    accepted = reburied + rng.integers(10, 61, n)
    for key, days_of in (("surveyed", surveyed), ("consent", consent), ("approved", approved),
                         ("exhumed", exhumed), ("reburied", reburied), ("accepted", accepted)):
        d[key] = dates(days_of)
    townships = rng.integers(0, 1_000_000, n)
    d["township"] = ti = np.array([townships[k] % len(layout.ground.counties[county[k]].townships)
                                   for k in range(n)], np.int32)
    d["lon"], d["lat"] = olon, olat = layout.ground.place(rng, county, ti, 3000.0, 7000.0)
    d["method"] = rng.choice(("gps", "map", "ledger", "estimate"), size=n, p=(0.6, 0.2, 0.15, 0.05))
    d["source"] = rng.choice(("provincial", "county", "city"), size=n, p=(0.85, 0.1, 0.05))
    d["amount"] = 2000.0 + 100.0 * rng.integers(0, 16, n)
    d["has_effects"] = rng.random(n) < 0.12
    d["spot"] = rng.integers(len(ORIGIN_SPOTS), size=n)
    d["relation"] = rng.integers(len(RELATIONS), size=n)
    d["kin_s"], d["kin_g"] = rng.integers(len(SURNAMES), size=n), rng.integers(len(GIVEN), size=n)
    dest = plan.dest[a:b]
    # The journey line starts at the origin as the public may see it (geodata.origins); the exact point
    # stays in origin_lon/origin_lat.
    plon, plat = public_origins(olon, olat)
    ends = np.column_stack([layout.facilities.lon[dest], layout.facilities.lat[dest]])
    d["lines"] = shapely.linestrings(np.stack([np.column_stack([plon, plat]), ends], axis=1))
    return d


def _effects(rng, has_effects: bool) -> list[str] | None:
    """The personal effects found at the exhumation, for the few graves that held any."""
    if not has_effects:
        return None
    picked = rng.choice(len(EFFECTS), size=int(rng.integers(1, 4)), replace=False)
    return [EFFECTS[e] + DEMO_MARK for e in sorted(picked.tolist())]


def relocation_chunk(layout: Layout, chunk: int, a: int, b: int) -> list[dict]:
    """The relocations ``a`` to ``b`` (0-based): from an origin in their county to a plot of their facility."""
    rng = layout.rng("relocations", chunk)
    plan = layout.relocations
    d = _relocation_draws(layout, rng, a, b)
    rows = []
    for k in range(b - a):
        i = a + k
        t, batch = int(layout.tombs.of_relocation[i]), plan.batch[i]
        c = layout.ground.counties[plan.county[i]]
        township = c.townships[d["township"][k]]
        place = village(rng)
        plot = int(layout.tombs.plot[t])
        consented, is_accepted = not plan.no_consent[i], not plan.not_accepted[i]
        effects = _effects(rng, d["has_effects"][k])
        rows.append({
            "id": i + 1, "code": f"{c.code}-R{int(plan.seq[i]):05d}", "tomb_id": t + 1,
            "martyr_id": int(layout.martyrs.of_tomb[t]) + 1,
            "origin_place": f"{c.name}{township}{place}{ORIGIN_SPOTS[d['spot'][k]]}",
            "origin_county_code": c.code, "origin_township": township, "origin_village": place,
            "origin_lon": round(float(d["lon"][k]), 7), "origin_lat": round(float(d["lat"][k]), 7),
            "origin_point_method": str(d["method"][k]), "dest_facility_id": int(plan.dest[i]) + 1,
            "dest_plot_area": _area_letter(plot // 300),
            "dest_plot_row": f"{(plot % 300) // 20 + 1}", "dest_plot_number": f"{plot % 20 + 1}",
            "family_consent": consented,
            "consent_by": fictional_name(int(d["kin_s"][k]), int(d["kin_g"][k])) if consented else None,
            "consent_relation": RELATIONS[d["relation"][k]] if consented else None,
            "approval_number": plan.batch_number[batch], "approval_body": f"{c.name}人民政府",
            "surveyed_on": d["surveyed"][k], "consent_on": d["consent"][k] if consented else None,
            "approved_on": d["approved"][k], "exhumed_on": d["exhumed"][k], "reburied_on": d["reburied"][k],
            "accepted_on": d["accepted"][k] if is_accepted else None,
            "batch": plan.batch_label[batch], "project": f"{c.name}零散烈士墓集中迁移项目{DEMO_MARK}",
            "funding_source": str(d["source"][k]), "funding_amount": float(d["amount"][k]), "effects": effects,
            "stage": "accepted" if is_accepted else "in_progress", "note": "示例数据",
            "status": "active", "is_demo": True, "geom": d["lines"][k],
        })
    return rows
