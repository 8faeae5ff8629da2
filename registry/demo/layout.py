"""The demo's layout: which facility, relocation, tomb and martyr goes where, and how each facility has been
looked after, as named records of numpy arrays (one entry per record), laid out once from the seed.

The row builders (``facility_rows``, ``burial_rows``, ``upkeep_rows``) turn them into rows afterwards. The
order of the random draws here is the demo's identity: the same seed gives the same registry, row for row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np

from registry.demo.figures import (
    CEM,
    CITY,
    CNTY,
    COLL,
    DEFAULT_MARTYRS,
    DEFAULT_RELOCATIONS,
    DEFAULT_TOMBS,
    HALL,
    INSPECTIONS_FROM,
    MON,
    NAT,
    PAV,
    PROV,
    SCAT,
    SECOND_CITY_MARTYRS,
    SECOND_CITY_RELOCATIONS,
    SECOND_CITY_TOMBS,
    SQ,
    TABLES,
    TODAY,
    UNGR,
    WALL,
    dates,
    days,
)
from registry.demo.ground import Ground, lay_ground
from registry.demo.names import GIVEN, SURNAMES
from registry.demo.places import LONGYAN_RELOCATION_WEIGHTS, REAL_SITES

__all__ = ["FacilityPlan", "Layout", "MartyrPlan", "RelocationPlan", "TombPlan", "UpkeepPlan", "lay_out"]


@dataclass
class FacilityPlan:
    """Per facility: county index, category and level index, index of its real site (-1: none), township
    index and position."""

    county: np.ndarray
    cat: np.ndarray
    level: np.ndarray
    real: np.ndarray
    township: np.ndarray
    lon: np.ndarray
    lat: np.ndarray

    @property
    def n(self) -> int:
        return len(self.county)

    def destinations(self) -> np.ndarray:
        """Which facilities take reburials: the generated cemeteries and collective burial grounds."""
        return np.isin(self.cat, (CEM, COLL)) & (self.real < 0)


@dataclass
class RelocationPlan:
    """Per relocation: county, destination facility, batch and number in its county, and the two gaps
    reconciliation finds (no recorded consent, reburial not accepted); per batch: label, day and approval."""

    county: np.ndarray
    dest: np.ndarray
    batch: np.ndarray
    seq: np.ndarray
    no_consent: np.ndarray
    not_accepted: np.ndarray
    batch_label: list[str]
    batch_day: np.ndarray
    batch_number: list[str]

    @property
    def n(self) -> int:
        return len(self.county)


@dataclass
class TombPlan:
    """Per tomb: facility, kind (0 always there, 1 reburied, 2 scattered), plot number in its facility and
    whether it awaits its move; the tomb of each relocation and the first tomb of each facility (-1: none)."""

    facility: np.ndarray
    kind: np.ndarray
    plot: np.ndarray
    awaiting: np.ndarray
    of_relocation: np.ndarray
    first_of_facility: np.ndarray

    @property
    def n(self) -> int:
        return len(self.facility)


@dataclass
class MartyrPlan:
    """Per martyr: tomb (-1: none known), unknown name, name indices and county; the martyr of each tomb."""

    tomb: np.ndarray
    unknown: np.ndarray
    surname: np.ndarray
    given: np.ndarray
    county: np.ndarray
    of_tomb: np.ndarray

    @property
    def n(self) -> int:
        return len(self.tomb)


@dataclass
class UpkeepPlan:
    """Per facility: the six standards' states and condition as of the demo's today, never inspected or
    overdue, the last visit's day, the cadence, the number of visits and tasks and where they start."""

    std: np.ndarray
    condition: np.ndarray
    never: np.ndarray
    overdue: np.ndarray
    last: np.ndarray
    step: np.ndarray
    count: np.ndarray
    offset: np.ndarray
    task_count: np.ndarray
    task_offset: np.ndarray


@dataclass
class Layout:
    """One city's whole layout, and the random stream of each chunk of its big tables."""

    seed: int
    scale: int | None
    second: bool
    ground: Ground
    facilities: FacilityPlan
    relocations: RelocationPlan
    tombs: TombPlan
    martyrs: MartyrPlan
    upkeep: UpkeepPlan

    def rng(self, table: str, chunk: int):
        if self.second:
            return np.random.default_rng([self.seed, TABLES.index(table), chunk, 1])
        return np.random.default_rng([self.seed, TABLES.index(table), chunk])


def lay_out(rng, scale: int | None, seed: int, second: bool) -> Layout:
    """Lay out one city from ``rng``, in the order the demo has always drawn in."""
    ground = lay_ground(rng, scale, second)
    facilities = plan_facilities(rng, ground, scale, second)
    relocations = plan_relocations(rng, ground, facilities, scale, second)
    tombs = plan_tombs(rng, facilities, relocations, scale, second)
    martyrs = plan_martyrs(rng, ground, facilities, tombs, scale, second)
    upkeep = plan_upkeep(rng, facilities, len(ground.counties), scale, second)
    return Layout(seed, scale, second, ground, facilities, relocations, tombs, martyrs, upkeep)


# -- facilities -------------------------------------------------------------------------------------------

def plan_facilities(rng, ground: Ground, scale: int | None, second: bool) -> FacilityPlan:
    """Every county's facilities: its real sites first, then its template's; each placed near a township."""
    county, cat, level, real = [], [], [], []
    real_by_county = {}
    for ri, site in enumerate(REAL_SITES):
        if site["facility"] is not None:
            real_by_county.setdefault(site["county"], []).append(ri)
    n_counties = len(ground.counties)
    if scale is not None:
        n_total = max(scale // 50, 2 * n_counties)
        per_county = np.full(n_counties, n_total // n_counties)
        per_county[: n_total % n_counties] += 1
    for ci, c in enumerate(ground.counties):
        for ri in real_by_county.get(c.code, []):
            county.append(ci)
            cat.append(REAL_SITES[ri]["facility"][0])
            level.append(REAL_SITES[ri]["facility"][1])
            real.append(ri)
        if second:
            pairs = _second_city_template(rng)
        elif scale is None:
            pairs = _first_city_template(rng)
        else:
            pairs = _synthetic_template(rng, int(per_county[ci]))
        for k, v in pairs:
            county.append(ci)
            cat.append(k)
            level.append(v)
            real.append(-1)
    county, real = np.array(county, np.int32), np.array(real, np.int16)
    townships = np.array([rng.integers(len(ground.counties[c].townships)) for c in county.tolist()], np.int32)
    lon, lat = ground.place(rng, county, townships, 2500.0, 6000.0)
    for i in np.flatnonzero(real >= 0):
        site = REAL_SITES[real[i]]
        lon[i], lat[i] = site["lon"], site["lat"]
        townships[i] = ground.counties[county[i]].townships.index(site["township"])
    return FacilityPlan(county, np.array(cat, np.int8), np.array(level, np.int8), real, townships, lon, lat)


def _first_city_template(rng) -> list[tuple[int, int]]:
    """One county's generated facilities: every category, every level, 40-60 in all.

    The first of some categories gets a fixed level so that each level occurs in every county.
    """
    pick = lambda *levels: int(rng.choice(levels))  # noqa: E731 - a one-line helper reads best here
    pairs = [(CEM, CNTY), (CEM, PROV)]
    pairs += [(COLL, pick(UNGR, UNGR, CNTY)) for _ in range(5)]
    pairs += [(HALL, CITY), (HALL, pick(CNTY, PROV))]
    pairs += [(MON, NAT), (MON, pick(UNGR, CNTY, CITY)), (MON, pick(UNGR, CNTY)), (MON, UNGR)]
    pairs += [(PAV, pick(UNGR, CNTY)) for _ in range(3)]
    pairs += [(WALL, pick(CNTY, UNGR)) for _ in range(2)]
    pairs += [(SQ, pick(CNTY, UNGR, CITY)) for _ in range(2)]
    pairs += [(SCAT, CNTY if rng.random() < 0.1 else UNGR) for _ in range(int(rng.integers(20, 33)))]
    return pairs


def _second_city_template(rng) -> list[tuple[int, int]]:
    """One county of the second demo city: a county cemetery, a collective burial ground, a memorial
    hall or monument and a few scattered graves (a handful of facilities at demo scale)."""
    pairs = [(CEM, CNTY), (COLL, UNGR), (int(rng.choice((HALL, MON))), int(rng.choice((CNTY, CITY))))]
    pairs += [(SCAT, UNGR) for _ in range(int(rng.integers(3, 6)))]
    return pairs


def _synthetic_template(rng, n: int) -> list[tuple[int, int]]:
    """A synthetic county's facilities: a cemetery and a collective burial ground, the rest drawn."""
    cats = rng.choice(8, size=max(n - 2, 0), p=[0.06, 0.05, 0.12, 0.08, 0.06, 0.06, 0.12, 0.45])
    graded = rng.choice(5, size=len(cats), p=[0.01, 0.04, 0.10, 0.30, 0.55])
    scattered = rng.random(len(cats)) < 0.1
    levels = np.where(cats == SCAT, np.where(scattered, CNTY, UNGR), graded)
    pairs = [(CEM, CNTY), (COLL, UNGR)] + list(zip(cats.tolist(), levels.tolist(), strict=True))
    return pairs[:n]


# -- relocations ----------------------------------------------------------------------------------------

def plan_relocations(rng, ground: Ground, facilities: FacilityPlan, scale: int | None,
                     second: bool) -> RelocationPlan:
    """The relocations per county, each to a cemetery or collective burial ground of its county, in batches
    of about sixty approved together; a few left without consent or acceptance for reconciliation to find."""
    n_counties = len(ground.counties)
    if second:
        n_relocations = SECOND_CITY_RELOCATIONS
        weights = np.ones(n_counties)
    elif scale is None:
        n_relocations = DEFAULT_RELOCATIONS
        weights = np.array(LONGYAN_RELOCATION_WEIGHTS)
    else:
        n_relocations = scale * DEFAULT_RELOCATIONS // DEFAULT_TOMBS
        weights = np.bincount(facilities.county, minlength=n_counties).astype(float)
    per_county = rng.multinomial(n_relocations, weights / weights.sum())
    dest_ok = facilities.destinations()
    county_of, dest_of, batch_of, seq_of = [], [], [], []
    batches = _Batches([], [], [])
    for ci in range(n_counties):
        n = int(per_county[ci])
        if n == 0:
            continue
        dests = np.flatnonzero(dest_ok & (facilities.county == ci))
        w = np.where(facilities.cat[dests] == COLL, 3.0, 1.0)
        county_of.append(np.full(n, ci, np.int32))
        dest_of.append(rng.choice(dests, size=n, p=w / w.sum()).astype(np.int32))
        seq_of.append(np.arange(1, n + 1, dtype=np.int32))
        batch_of.extend(batches.add_county(rng, n, ground.counties[ci].name, ground.counties[ci].abbr))
    joined = [np.concatenate(parts) if parts else np.zeros(0, np.int32)
              for parts in (county_of, dest_of, batch_of, seq_of)]
    no_consent, not_accepted = _gaps(rng, n_relocations, scale is None and not second)
    return RelocationPlan(*joined, no_consent, not_accepted, batches.label, np.array(batches.day, np.int64),
                          batches.number)


@dataclass
class _Batches:
    """The batches of relocations as they are drawn: label, day and approval document number."""

    label: list[str]
    day: list[int]
    number: list[str]

    def add_county(self, rng, n: int, name: str, abbr: str) -> list[np.ndarray]:
        """Split a county's ``n`` relocations into batches of about sixty; returns each one's batch ids."""
        first_day, last_day = days(date(2019, 2, 1)), days(date(2022, 6, 15))
        n_batches = max(1, math.ceil(n / 60))
        batch_days = np.sort(rng.integers(first_day, last_day, n_batches))
        sizes = [len(part) for part in np.array_split(np.arange(n), n_batches)]
        per_year, doc_number, out = {}, {}, []
        for day, size in zip(batch_days.tolist(), sizes, strict=True):
            year = dates([day])[0].year
            per_year[year] = per_year.get(year, 0) + 1
            doc_number[year] = doc_number.get(year, int(rng.integers(2, 15))) + int(rng.integers(1, 12))
            batch_id = len(self.label)
            self.label.append(f"{year}-{name}-第{per_year[year]}批")
            self.day.append(day)
            self.number.append(f"{abbr}民〔{year}〕{doc_number[year]}号")
            out.append(np.full(size, batch_id, np.int32))
        return out


def _gaps(rng, n: int, demo_registry: bool) -> tuple[np.ndarray, np.ndarray]:
    """A few gaps for reconciliation to find: relocations without recorded family consent, and
    reburials not yet accepted."""
    n_no_consent = 9 if demo_registry else max(1, n // 500)
    n_open = 23 if demo_registry else max(1, n // 200)
    picks = rng.choice(n, size=min(n, n_no_consent + n_open), replace=False)
    no_consent, not_accepted = np.zeros(n, bool), np.zeros(n, bool)
    no_consent[picks[:n_no_consent]] = True
    not_accepted[picks[n_no_consent:]] = True
    return no_consent, not_accepted


# -- tombs and martyrs ----------------------------------------------------------------------------------------

def plan_tombs(rng, facilities: FacilityPlan, relocations: RelocationPlan, scale: int | None,
               second: bool) -> TombPlan:
    """The tombs: graves always in a cemetery, the reburials and the scattered graves still in place."""
    n_tombs = SECOND_CITY_TOMBS if second else DEFAULT_TOMBS if scale is None else scale
    scattered = np.flatnonzero(facilities.cat == SCAT)
    scattered = scattered[: max(0, n_tombs - relocations.n)]
    n_orig = n_tombs - relocations.n - len(scattered)
    dests = np.flatnonzero(facilities.destinations())
    # Graves that were always in a cemetery lie mostly in the old county cemeteries.
    w = np.where(facilities.cat[dests] == CEM, 3.0, 1.0)
    orig = rng.choice(dests, size=n_orig, p=w / w.sum()).astype(np.int32)
    fac = np.concatenate([orig, relocations.dest, scattered.astype(np.int32)])
    kind = np.concatenate([np.zeros(n_orig, np.int8), np.ones(relocations.n, np.int8),
                           np.full(len(scattered), 2, np.int8)])
    rel = np.concatenate([np.full(n_orig, -1), np.arange(relocations.n), np.full(len(scattered), -1)])
    # Tombs are listed facility by facility, as a ledger would (一墓一表); within a facility the old
    # graves come first, then the reburials in the order they happened.
    order = np.argsort(fac, kind="stable")
    tomb_fac, tomb_kind, tomb_rel = fac[order], kind[order], rel[order]
    of_relocation = np.empty(relocations.n, np.int64)
    moved = np.flatnonzero(tomb_rel >= 0)
    of_relocation[tomb_rel[moved]] = moved
    starts = np.r_[0, np.flatnonzero(np.diff(tomb_fac)) + 1]
    group = np.cumsum(np.r_[0, (np.diff(tomb_fac) != 0).astype(np.int64)])
    plot = np.arange(n_tombs) - starts[group]
    first_of_facility = np.full(facilities.n, -1, np.int64)
    first_of_facility[tomb_fac[starts]] = starts
    # Some scattered graves still wait for their move.
    awaiting = (tomb_kind == 2) & (rng.random(n_tombs) < 0.3)
    return TombPlan(tomb_fac, tomb_kind, plot, awaiting, of_relocation, first_of_facility)


def plan_martyrs(rng, ground: Ground, facilities: FacilityPlan, tombs: TombPlan, scale: int | None,
                 second: bool) -> MartyrPlan:
    """The roll: a martyr for every tomb and more without a known grave; most from their tomb's county."""
    n_martyrs = SECOND_CITY_MARTYRS if second else DEFAULT_MARTYRS if scale is None else scale
    perm = rng.permutation(n_martyrs)
    of_tomb = perm[: tombs.n]
    tomb = np.full(n_martyrs, -1, np.int64)
    tomb[of_tomb] = np.arange(tombs.n)
    unknown = np.zeros(n_martyrs, bool)
    n_unknown = round(0.03 * n_martyrs)
    unknown[rng.choice(of_tomb, size=min(n_unknown, tombs.n), replace=False)] = True
    surname = rng.integers(len(SURNAMES), size=n_martyrs).astype(np.int16)
    given = rng.integers(len(GIVEN), size=n_martyrs).astype(np.int16)
    random_county = rng.integers(len(ground.counties), size=n_martyrs)
    tomb_county = np.where(tomb >= 0, facilities.county[tombs.facility[np.maximum(tomb, 0)]], random_county)
    county = np.where(rng.random(n_martyrs) < 0.8, tomb_county, random_county).astype(np.int32)
    return MartyrPlan(tomb, unknown, surname, given, county, of_tomb)


# -- inspections and tasks --------------------------------------------------------------------------------

def plan_upkeep(rng, facilities: FacilityPlan, n_counties: int, scale: int | None, second: bool) -> UpkeepPlan:
    """Two years of inspections per facility (a few never inspected, some overdue), the six standards'
    states and the condition they leave, and the tasks the troubled ones have."""
    n = facilities.n
    real = facilities.real >= 0
    never = (rng.random(n) < 0.03) & ~real
    if scale is None and never.sum() < 2:
        never[rng.choice(np.flatnonzero(facilities.cat == SCAT), 2, replace=False)] = True
    overdue = (rng.random(n) < 0.10) & ~never & ~real
    today = days(TODAY)
    last = today - np.where(overdue, rng.integers(190, 420, n), rng.integers(3, 85, n))
    step = rng.integers(75, 100, n)
    graded = facilities.level != UNGR
    p_present = np.where(graded, 0.82, 0.62)
    p_deficient = np.where(graded, 0.13, 0.24)
    u = rng.random((n, 6))
    std = np.where(u < p_present[:, None], 0, np.where(u < (p_present + p_deficient)[:, None], 1, 2))
    std[real] = 0
    score = (std == 1).sum(axis=1) + 2 * (std == 2).sum(axis=1) + rng.integers(0, 2, n)
    condition = np.select([score <= 1, score <= 3, score <= 6], [0, 1, 2], 3).astype(np.int8)
    condition[real] = 0
    troubled = (condition >= 2) | (std == 2).any(axis=1)
    task_count = np.where(never, 0, np.where(troubled, rng.integers(1, 3, n),
                                             (rng.random(n) < 0.08).astype(int))).astype(np.int64)
    if second:
        _one_overdue_per_county(facilities, n_counties, never, overdue, last, task_count, today)
    count = np.where(never, 0, (last - days(INSPECTIONS_FROM)) // step + 1).astype(np.int64)
    return UpkeepPlan(std.astype(np.int8), condition, never, overdue, last, step, count,
                      np.r_[0, np.cumsum(count)[:-1]], task_count, np.r_[0, np.cumsum(task_count)[:-1]])


def _one_overdue_per_county(facilities: FacilityPlan, n_counties: int, never, overdue, last, task_count,
                            today: int) -> None:
    """At demo scale chance may leave a county with nothing merely overdue (no work order open, so its
    due list shows it as overdue rather than as a problem): make one such facility per county."""
    real = facilities.real >= 0
    for ci in range(n_counties):
        calm = np.flatnonzero((facilities.county == ci) & ~never & ~real & (task_count == 0))
        if calm.size and not overdue[calm].any():
            f = calm[-1]
            overdue[f] = True
            last[f] = today - 200
