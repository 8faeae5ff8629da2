"""A ledger's rows matched against the registry: destinations, martyrs on the roll, tombs at their plots.

Read only: what the import would write is planned here (each new row's relocation values and a
:class:`Planned`), and the dry run shows it; ``ledger_write`` writes it.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select, text

from geodata.origins import public_origin
from geodata.plots import format_plot
from registry.files import ledger as ledgers
from registry.models import Facility, Martyr, Tomb
from registry.models.name_grams import UNKNOWN_NAME
from registry.models.vocab import RELOCATION_STEPS as STEPS
from registry.services.relocations import DESTINATION_CATEGORIES, ledger_stores, origin_graves_of_martyrs

Progress = Callable[[str, int, int], None]
RELOCATION_FIELDS = (
    "code", "martyr_id", "origin_place", "origin_county_code", "origin_township", "origin_village",
    "origin_lon", "origin_lat", "origin_point_method", "dest_facility_id", "dest_plot_area", "dest_plot_row",
    "dest_plot_number", "family_consent", "consent_by", "consent_relation", "approval_number", "approval_body",
    "surveyed_on", "consent_on", "approved_on", "exhumed_on", "reburied_on", "accepted_on", "batch", "project",
    "funding_source", "funding_amount", "effects", "note",
)


def norm_name(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "")
    return re.sub(r"[\s（）()]|示例", "", text)


# How ledgers write that a martyr's name is not known: such a row gets an unknown martyr (无名烈士) of its own,
# never one matched by that "name" on the roll.
UNKNOWN_WORDS = frozenset({UNKNOWN_NAME, "无名", "无名氏", "佚名", "不详", "姓名不详", "未知"})


def in_list(session, query: str, values: list[str]) -> list[tuple]:
    """Rows where ``query``'s last column is one of ``values``: one array parameter per query, not many binds."""
    found: list[tuple] = []
    backend = ledger_stores.for_session(session)
    for start in range(0, len(values), 50000):
        part = values[start:start + 50000]
        rows = session.execute(text(backend.in_values(query)), {"values": json.dumps(part, ensure_ascii=False)})
        found.extend(tuple(r) for r in rows)
    return found


def plot_label(area, row, number) -> str:
    return format_plot(area, row, number)


def resolve(session, ledger: ledgers.Ledger, progress: Progress | None) -> tuple[list, int]:
    """Match destinations, plots and martyrs against the registry; name what cannot be matched.

    Each new row's values say what the import will write besides the relocation: the tomb at the
    destination (an existing one found at the same facility and plot, else a new one at the ledger's
    destination point or the facility's) and the martyr (one on the roll matched by name, else a new
    one named by the ledger, or an unknown martyr, 无名烈士, where the ledger names none).
    """
    by_text, names_of = _destinations(session)
    martyrs = _martyrs_named(session, ledger)
    existing_codes = {code for (code,) in in_list(session, "SELECT code FROM relocations WHERE code",
                                                  [r.key for r in ledger.rows])}
    dest_header = sheet_header(ledger, "dest_facility")
    name_header = sheet_header(ledger, "martyr_name")
    new, existing, given, reference = [], 0, [], []
    total = len(ledger.rows)
    dest_cache: dict[str, tuple | None] = {}
    for n, row in enumerate(ledger.rows, start=1):
        if progress is not None and n % 2000 == 0:
            progress("check", n, total)
        v = row.values
        dest_text = v.get("dest_facility") or ""
        dest = dest_cache.get(dest_text, False)
        if dest is False:
            dest = dest_cache[dest_text] = by_text.get(dest_text) or by_text.get(norm_name(dest_text))
        if dest is None:
            ledger.error("unknown destination facility: no cemetery or collective burial ground of that name or "
                         "code is in the registry", row=row.number, column=dest_header, value=v.get("dest_facility"),
                         kind="destination")
            continue
        if v.get("dest_raw"):
            given.append(v["dest_raw"])
            reference.append((dest[1], dest[2]))
        if row.key in existing_codes:
            existing += 1
            continue
        new.append(_planned(row, dest, _martyr_of(ledger, row, martyrs, name_header)))
    _match_plots(session, ledger, new, names_of, sheet_header(ledger, "dest_plot_number"))
    _check_crs(ledger, given, reference)
    if ledger.errors:
        # Rows refused by a plot conflict are not written; the import refuses the whole file anyway.
        bad = {i.row for i in ledger.errors if i.row}
        new = [item for item in new if item[0].number not in bad]
    return new, existing


def _destinations(session) -> tuple[dict[str, tuple], dict[int, str]]:
    """The active destinations by code and by normalised name -> (id, lon, lat), and their names by id."""
    facilities = session.execute(select(Facility.id, Facility.code, Facility.name, Facility.geom).where(
        Facility.category.in_(DESTINATION_CATEGORIES), Facility.status == "active")).all()
    by_text: dict[str, tuple] = {}
    names_of: dict[int, str] = {}
    for fid, code, name, geom in facilities:
        by_text[code] = (fid, geom.x, geom.y)
        by_text[norm_name(name)] = (fid, geom.x, geom.y)
        names_of[fid] = name
    return by_text, names_of


def _martyrs_named(session, ledger: ledgers.Ledger) -> dict[str, list]:
    """The active martyrs on the roll whose name a row gives: name -> [(id, native county)]."""
    names = {r.values["martyr_name"] for r in ledger.rows if r.values.get("martyr_name")} - UNKNOWN_WORDS
    martyrs: dict[str, list] = {}
    for mid, name, county in in_list(session, "SELECT id, name, native_county_code FROM martyrs WHERE status = "
                                     "'active' AND name", sorted(names)):
        martyrs.setdefault(name, []).append((mid, county))
    return martyrs


def _martyr_of(ledger: ledgers.Ledger, row, martyrs: dict, name_header: str) -> tuple:
    """(martyr id on the roll, (name, is_unknown) of a martyr to add, whether several share the name)."""
    v = row.values
    name = v.get("martyr_name")
    if not name or name in UNKNOWN_WORDS:
        return None, (UNKNOWN_NAME, True), False
    found = martyrs.get(name, ())
    same_county = [m for m in found if m[1] == v.get("county_code")] if len(found) > 1 else ()
    if len(found) == 1:
        return found[0][0], None, False
    if len(same_county) == 1:
        return same_county[0][0], None, False
    if found:
        ledger.warn(f"{len(found)} martyrs on the roll share this name; none linked (link it on the "
                    "relocation's page)", row=row.number, column=name_header, value=name, kind="martyr")
        return None, None, True
    ledger.warn("no martyr of this name on the roll: the import adds them to the roll under this name",
                row=row.number, column=name_header, value=name, kind="martyr")
    return None, (name, False), False


def _planned(row, dest: tuple, martyr: tuple) -> tuple:
    """(row, the relocation's values, Planned) of a new row going to ``dest`` (id, lon, lat)."""
    martyr_id, new_martyr, ambiguous = martyr
    v = row.values
    name = v.get("martyr_name")
    # Every row carries every column: executemany needs the same keys in each.
    values = dict(zip(RELOCATION_FIELDS, map(v.get, RELOCATION_FIELDS), strict=True))
    values["code"] = row.key
    values["origin_county_code"] = v.get("county_code")
    values["martyr_id"] = martyr_id
    values["dest_facility_id"] = dest[0]
    values["family_consent"] = bool(v.get("family_consent"))
    if values["origin_point_method"] is None and v.get("origin_lon") is not None:
        values["origin_point_method"] = "ledger"
    if ambiguous:
        # Keep the ledger's name on the record, so the martyr can be linked later by hand.
        values["note"] = "；".join(p for p in (v.get("note"), f"台账烈士姓名：{name}") if p)
    # The line starts at the origin as the public may see it; origin_lon/origin_lat keep the exact point.
    tomb_point = (v["dest_lon"], v["dest_lat"]) if v.get("dest_lon") is not None else (dest[1], dest[2])
    # The line ends where the martyr lies: the tomb's point (the ledger's plot point, else the facility's).
    values["geom"] = ((public_origin(v["origin_lon"], v["origin_lat"]), tomb_point)
                      if v.get("origin_lon") is not None else None)
    values["stage"] = ("accepted" if values["accepted_on"] else
                       "in_progress" if any(map(values.get, STEPS)) else "planned")
    return row, values, Planned(new_martyr, name if ambiguous else None, tomb_point, values["reburied_on"] is not None)


def _check_crs(ledger: ledgers.Ledger, given: list, reference: list) -> None:
    """Warn when the destinations' points fit the registry's positions better read in another CRS."""
    better = ledgers.crs_check(ledger.crs, given, reference)
    if better is not None:
        crs, declared_m, better_m = better
        ledger.warn(f"the destination coordinates lie a median {declared_m:,.0f} m from the registry's positions "
                    f"read as {ledger.crs}, but {better_m:,.0f} m read as {crs}: were the points given in {crs}? "
                    "Choose the right coordinate system and run the check again", column="crs", value=ledger.crs,
                    kind="crs")


@dataclass
class Planned:
    """What a new row writes besides its relocation: its martyr and its tomb at the destination."""

    new_martyr: tuple | None  # (name, is_unknown) to add to the roll, or None
    ledger_name: str | None  # a name that matched several martyrs: kept to match the plot's martyr
    tomb_point: tuple  # (lon, lat) of the tomb, WGS 84
    reburied: bool
    tomb_id: int | None = None  # a tomb already at the plot, found instead of made
    tomb_martyr: int | None = None  # that tomb's martyr
    link_tomb: bool = False  # the found tomb has no martyr yet: the import links it


def plot_key(values: dict) -> tuple:
    # A plot as the store's one-tomb-per-plot index reads it: a blank area or row is no area or row.
    return (values["dest_facility_id"], values["dest_plot_area"] or None, values["dest_plot_row"] or None,
            values["dest_plot_number"])


def plot_tombs(session, facility_ids: list) -> dict[tuple, tuple]:
    """The active tombs at plots of these facilities: (facility, area, row, number) -> (tomb, martyr, name)."""
    tombs: dict[tuple, tuple] = {}
    for start in range(0, len(facility_ids), 900):
        for tid, fid, area, row_, number, mid, mname in session.execute(
                select(Tomb.id, Tomb.facility_id, Tomb.plot_area, Tomb.plot_row, Tomb.plot_number, Tomb.martyr_id,
                       Martyr.name).outerjoin(Martyr, Martyr.id == Tomb.martyr_id)
                .where(Tomb.facility_id.in_(facility_ids[start:start + 900]), Tomb.status == "active",
                       Tomb.plot_number.is_not(None))):
            tombs.setdefault((fid, area or None, row_ or None, number), (tid, mid, mname))
    return tombs


def _match_plots(session, ledger: ledgers.Ledger, new: list, names_of: dict, plot_header: str) -> None:
    """Find the tombs already at the rows' plots (a re-import finds what it made); refuse a plot taken twice."""
    wanted = [(item, plot_key(item[1])) for item in new if item[1]["dest_plot_number"]]
    if not wanted:
        return
    tombs = plot_tombs(session, sorted({key[0] for _item, key in wanted}))
    taken: dict[tuple, int] = {}
    for (row, values, plan), key in wanted:
        label = f"{names_of.get(key[0], '')} {plot_label(*key[1:])}"
        if key in taken:
            ledger.error(f"plot {label} is given to row {taken[key]} too: one plot holds one tomb", row=row.number,
                         column=plot_header, value=values["dest_plot_number"], kind="plot")
            continue
        taken[key] = row.number
        found = tombs.get(key)
        if found is None:
            continue
        tid, mid, mname = found
        if mid is None:
            plan.link_tomb = True
        elif plan.new_martyr is not None and plan.new_martyr[1]:
            # The ledger names no one: whoever the registry has at that plot is who lies there.
            plan.new_martyr = None
            values["martyr_id"] = mid
        elif plan.ledger_name is not None and plan.ledger_name == mname:
            values["martyr_id"] = mid  # the plot tells which of the namesakes it is
        elif values["martyr_id"] != mid:
            ledger.error(f"plot {label} already holds the tomb of {mname or 'another martyr'} (tomb {tid}): check "
                         "the plot or the name", row=row.number, column=plot_header,
                         value=values["dest_plot_number"], kind="plot")
            continue
        plan.tomb_id, plan.tomb_martyr = tid, mid


def sheet_header(ledger: ledgers.Ledger, field_name: str) -> str:
    for header, target in ledger.mapping.items():
        if target == field_name and any(ledgers.header_key(h) == header for h in ledger.headers):
            return next(h for h in ledger.headers if ledgers.header_key(h) == header)
    return ledgers.FIELDS[field_name][0]


@dataclass(frozen=True)
class OriginGrave:
    """An original grave the import would retire: its martyr was reburied by a ledger row."""

    tomb_id: int
    martyr_name: str
    place: str  # the grave's facility, else the row's origin place
    row: int  # the ledger row that reburies the martyr (the first, where several do)


def origin_graves_to_retire(session, new: list) -> list[OriginGrave]:
    """The active original graves committing these rows would retire; read only, before anything is written.

    The rule of ``relocations.origin_graves`` (which the commit applies to the relocations it has written),
    keyed by martyr: only rows with a reburial date and a martyr on the roll count, as a martyr the import
    adds has no grave yet. The import's own relocations end at tombs in cemeteries and collective burial
    grounds, which are never original graves, so the relocations it would add change nothing here.
    """
    first: dict[int, tuple] = {}  # martyr -> (row, values) of their first reburial (then the first row)
    for row, values, _plan in new:
        mid = values["martyr_id"]
        if values["reburied_on"] is None or mid is None:
            continue
        if mid not in first or values["reburied_on"] < first[mid][1]["reburied_on"]:
            first[mid] = (row, values)
    if not first:
        return []
    out = []
    for tid, mid, name, facility in origin_graves_of_martyrs(session, list(first)):
        row, values = first[mid]
        out.append(OriginGrave(tid, name or "", facility or values.get("origin_place") or "", row.number))
    return out
