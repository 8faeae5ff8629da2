"""The public's reading of the archive: the roll of martyrs and its search, a facility's page, a grave's page."""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import and_, exists, func, or_, select, union
from sqlalchemy.orm import Session

from registry.db import Store
from registry.models import Attachment, Facility, Martyr, Tomb
from registry.models.name_grams import (
    SEPARATOR,
    UNKNOWN_NAME,
    fold,
    grams_of,
    martyr_name_grams,
    martyr_simplified_names,
    to_simplified,
)
from registry.models.vocab import SIX_ONES
from registry.services.base import InvalidInput, NotFound
from registry.services.public import stores

UNKNOWN_MARTYR = UNKNOWN_NAME
PER_PAGE = 20
MAX_PAGE = 5000
QUERY_MAX = 30
_LETTERS = re.compile(r"^[a-z]+$")
_ASCII_LETTER = re.compile(r"[A-Za-z]")
# Counting a posting list stops here: beyond it, which of a query's pairs is rarest matters little.
_COUNT_CAP = 5000


@dataclass
class RollQuery:
    """A checked search of the roll."""

    q: str = ""
    native_place: str = ""
    unit: str = ""
    death_year: int | None = None
    page: int = 1
    errors: dict = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.q or self.native_place or self.unit or self.death_year is not None)


def _text(value, name: str, limit: int) -> str:
    value = (value or "").strip()
    if len(value) > limit:
        raise InvalidInput(f"{name} is {len(value)} characters; at most {limit}", field=name)
    return value


def parse_roll_query(args) -> RollQuery:
    """A RollQuery from request arguments (q, native_place, unit, death_year, page), or InvalidInput on a bad field."""
    query = RollQuery(
        q=_text(args.get("q"), "q", QUERY_MAX),
        native_place=_text(args.get("native_place"), "native_place", 50),
        unit=_text(args.get("unit"), "unit", 50),
    )
    year = (args.get("death_year") or "").strip()
    if year:
        if not year.isdigit():
            raise InvalidInput(f"death_year {year!r} is not a year (four digits, e.g. 1934)", field="death_year")
        query.death_year = int(year)
        if not 1800 <= query.death_year <= 2100:
            raise InvalidInput(f"death_year {year} is outside 1800..2100", field="death_year")
    page = (args.get("page") or "1").strip()
    if not page.isdigit() or not 1 <= int(page) <= MAX_PAGE:
        raise InvalidInput(f"page {page!r} is not a page number (1..{MAX_PAGE})", field="page")
    query.page = int(page)
    return query


def _like(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _prefix(column, value: str):
    # A range on the B-tree index instead of LIKE 'x%', which SQLite and PostgreSQL (non-C collation)
    # would not answer from the index: 'zj' <= value < 'zk'.
    return and_(column >= value, column < value[:-1] + chr(ord(value[-1]) + 1))


def _is_pinyin(q: str) -> str | None:
    letters = q.lower().replace(" ", "").replace("'", "")
    return letters if _LETTERS.match(letters) else None


def _variants(q: str) -> list[str]:
    # The query as typed and in simplified characters, so traditional input finds simplified names.
    return sorted({q, to_simplified(q)})


def _holds(column, v: str, like: bool):
    # Whether the text in ``column`` holds ``v``: LIKE '%v%', or strpos (see _candidate_check).
    return column.like(_like(v), escape="\\") if like else func.strpos(column, v) > 0


def _characters_condition(q: str, simplified_holds, like: bool = True):
    """A name holds a variant of ``q`` as stored or in its simplified form (``simplified_holds(v)`` tests
    that form), or 无名烈士 holds it and the martyr is unknown."""
    variants = _variants(q)
    conditions = []
    for v in variants:
        conditions += [_holds(Martyr.name, v, like), simplified_holds(v)]
    if any(v in UNKNOWN_MARTYR for v in variants):
        conditions.append(Martyr.is_unknown.is_(True))
    return or_(*conditions)


def name_condition(q: str):
    """The SQL condition for a name query: pinyin initials or full pinyin (prefix), or characters (part of the name).

    For characters it is the exact test (``LIKE '%q%'`` for each variant, on the name and on its simplified
    form in ``martyr_simplified_names``, and 无名烈士 finding unknown martyrs); ``search_martyrs`` applies it
    only to the candidates the n-gram index gives.
    """
    letters = _is_pinyin(q)
    if letters:
        # One index range where the letters can only be one thing: no vowel means initials ("zmh"), more
        # than four letters with a vowel means pinyin ("zhangming"); short ones with a vowel may be either.
        if not set(letters) & set("aeiouv"):
            return _prefix(Martyr.name_initials, letters)
        if len(letters) > 4:
            return _prefix(Martyr.name_pinyin, letters)
        return or_(_prefix(Martyr.name_initials, letters), _prefix(Martyr.name_pinyin, letters))
    s = martyr_simplified_names.c
    return _characters_condition(q, lambda v: exists().where(s.martyr_id == Martyr.id, _holds(s.name, v, True)))


def _rarest_gram(session: Session, text: str) -> str:
    """The gram of ``text`` (its character, or its rarest adjacent pair) whose posting list is shortest."""
    text = fold(text)
    if len(text) == 1:
        return text
    pairs = [g for g in grams_of(text) if len(g) == 2]
    if len(pairs) == 1:
        return pairs[0]
    g = martyr_name_grams.c

    def postings(gram: str) -> int:
        capped = select(g.martyr_id).where(g.gram == gram).limit(_COUNT_CAP).subquery()
        return session.scalar(select(func.count()).select_from(capped))

    return min(pairs, key=postings)


def _posting_is_the_answer(v: str) -> bool:
    # The posting list of a one- or two-character query is exactly the martyrs whose name holds it (or
    # who are unknown, where it is part of 无名烈士), unless letters were folded for it (PostgreSQL's LIKE
    # does not fold) or it holds the separator of the unknown martyrs' indexed text.
    return len(v) <= 2 and not _ASCII_LETTER.search(v) and SEPARATOR not in v


def _candidate_check(session: Session, q: str, simplified_name):
    """``name_condition(q)`` for characters, over a walk outer-joined to the simplified names
    (``simplified_name``), in the form each store's planner estimates best.

    On PostgreSQL ``strpos(name, v) > 0`` tests the same as ``name LIKE '%v%'`` (both are case-sensitive
    substring tests), but the planner estimates LIKE from the column's statistics as if it were
    independent of the gram: expecting almost no match among the candidates, it may read the whole roll
    in a hash join instead of walking the posting list (seen at 2M martyrs, page 200 of a checked 张:
    2.5-3.9 s against 0.6 s). It has no statistics for strpos, so it keeps the walk.
    """
    like = stores.for_session(session).substring_by_like
    return _characters_condition(q, lambda v: _holds(simplified_name, v, like), like)


def _name_page_ids(session: Session, q: str, conditions: list, offset: int, limit: int):
    """A subquery of the ids of one page of martyrs whose name holds ``q`` in characters, in the roll's order.

    Every martyr whose name, or its simplified form, holds a variant of the query holds each of its grams
    (both forms are indexed), so the posting list of the variant's rarest gram holds every match; the exact
    condition then checks only those candidates against the name and its simplified form (for one or two
    characters the posting list is the answer). The index rows carry ``name_pinyin``, so the posting list
    is walked in page order and the walk stops at the page's last row instead of sorting every candidate.
    """
    g = martyr_name_grams.c
    s = martyr_simplified_names.c
    check = _candidate_check(session, q, s.name)
    walks = []
    for v in _variants(q):
        walk = select(g.martyr_id, g.name_pinyin).join(Martyr, Martyr.id == g.martyr_id)
        where = [g.gram == _rarest_gram(session, v), *conditions]
        if not _posting_is_the_answer(v):
            # Most names have no simplified row: the outer join finds none and the name alone decides.
            walk = walk.outerjoin(martyr_simplified_names, s.martyr_id == g.martyr_id)
            where.append(check)
        walks.append(walk.where(*where).order_by(g.name_pinyin, g.martyr_id))
    if len(walks) == 1:
        return select(walks[0].offset(offset).limit(limit).subquery().c.martyr_id)
    # A traditional query walks its own postings and its simplified form's; the union keeps the order.
    pages = union(*(select(w.limit(offset + limit).subquery()) for w in walks)).subquery()
    return select(pages.c.martyr_id).order_by(pages.c.name_pinyin, pages.c.martyr_id).offset(offset).limit(limit)


def display_name(martyr_name: str | None, unknown: bool) -> str:
    return UNKNOWN_MARTYR if unknown or not martyr_name else martyr_name


def _graves(session: Session, martyr_ids: list[int]) -> dict[int, list[dict]]:
    """Where each martyr lies: live tombs with their facility and plot."""
    found: dict[int, list[dict]] = {}
    if not martyr_ids:
        return found
    rows = session.execute(
        select(Tomb.martyr_id, Tomb.id, Tomb.plot_area, Tomb.plot_row, Tomb.plot_number, Tomb.geom,
               Facility.id.label("facility_id"), Facility.name.label("facility_name"), Facility.address,
               Facility.visiting_info, Facility.is_demo.label("facility_demo"))
        .outerjoin(Facility, Facility.id == Tomb.facility_id)
        .where(Tomb.martyr_id.in_(martyr_ids), Tomb.status != "retired")
        .order_by(Tomb.martyr_id, Tomb.id)
    )
    for row in rows:
        found.setdefault(row.martyr_id, []).append({
            "tomb_id": row.id, "facility_id": row.facility_id, "facility_name": row.facility_name,
            "address": row.address, "visiting_info": row.visiting_info,
            "plot": {"area": row.plot_area, "row": row.plot_row, "number": row.plot_number},
            "lon": row.geom.x, "lat": row.geom.y,
        })
    return found


def _martyr_dict(m: Martyr) -> dict:
    return {
        "id": m.id, "name": display_name(m.name, m.is_unknown), "unknown": m.is_unknown, "sex": m.sex,
        "native_place": m.native_place, "birth_year": m.birth_year, "death_year": m.death_year,
        "death_date": m.death_date, "enlisted_year": m.enlisted_year, "unit": m.unit, "rank": m.rank,
        "place_of_death": m.place_of_death, "cause_of_death": m.cause_of_death, "deeds": m.deeds,
        "is_demo": m.is_demo,
    }


def search_martyrs(store: Store, query: RollQuery, per_page: int = PER_PAGE) -> dict:
    """One page of the roll matching ``query``, unknown martyrs included, each with where they lie.

    The answer holds ``items``, ``page`` and ``has_next`` (one row more is read than shown, so no
    count of a large table is needed to page).
    """
    conditions = [Martyr.status != "retired"]
    by_characters = bool(query.q) and not _is_pinyin(query.q)
    branches = []
    if query.q and not by_characters:
        name = name_condition(query.q)
        branches = list(name.clauses) if name.operator is operator.or_ else []
        if not branches:
            conditions.append(name)
    if query.native_place:
        conditions.append(Martyr.native_place.like(_like(to_simplified(query.native_place)), escape="\\"))
    if query.unit:
        conditions.append(Martyr.unit.like(_like(to_simplified(query.unit)), escape="\\"))
    if query.death_year is not None:
        conditions.append(Martyr.death_year == query.death_year)
    offset = (query.page - 1) * per_page
    with store.session() as session:
        if by_characters:
            # Part of a name in characters: the n-gram index, not a LIKE over the whole roll.
            conditions = [Martyr.id.in_(_name_page_ids(session, query.q, conditions, offset, per_page + 1))]
            offset = 0
        elif branches:
            # Letters that may be initials or pinyin: each index range read in pinyin order up to the page's
            # end, then merged. One OR of both ranges, ordered by pinyin, walks the pinyin index from 'a'
            # to the later range (tens of seconds for "liu" among 2,000,000 names).
            ends = [select(Martyr.id).where(*conditions, branch).order_by(Martyr.name_pinyin, Martyr.id)
                    .limit(offset + per_page + 1).subquery() for branch in branches]
            conditions = [*conditions, Martyr.id.in_(union(*(select(end.c.id) for end in ends)))]
        rows = session.scalars(
            # Ordered as the pinyin index is, so a pinyin search reads the index in order and stops at a page.
            select(Martyr).where(*conditions).order_by(Martyr.name_pinyin, Martyr.id)
            .offset(offset).limit(per_page + 1)
        ).all()
        has_next = len(rows) > per_page
        rows = rows[:per_page]
        graves = _graves(session, [m.id for m in rows])
        items = []
        for m in rows:
            item = _martyr_dict(m)
            item["graves"] = graves.get(m.id, [])
            items.append(item)
    return {"items": items, "page": query.page, "has_next": has_next}


def martyr_grave(store: Store, martyr_id: int) -> dict:
    """A martyr's record and every place they lie (facility, plot, position): the find-the-grave page."""
    with store.session() as session:
        martyr = session.get(Martyr, martyr_id)
        if martyr is None or martyr.status == "retired":
            raise NotFound(f"no martyr {martyr_id}")
        item = _martyr_dict(martyr)
        item["graves"] = _graves(session, [martyr.id]).get(martyr.id, [])
    return item


def _six_ones(facility: Facility) -> list[dict]:
    return [{"key": key, "state": getattr(facility, f"std_{key}")} for key in SIX_ONES]


def public_facility(store: Store, facility_id: int, page: int = 1, per_page: int = 50) -> dict:
    """A facility as the public sees it: the name of record, level, place, 六个一, photos, martyrs there (paged).

    Internal fields (caretaker's phone, land title) stay out. A retired facility is not shown.
    """
    if page < 1 or page > MAX_PAGE:
        raise InvalidInput(f"page {page} is not a page number (1..{MAX_PAGE})", field="page")
    with store.session() as session:
        facility = session.get(Facility, facility_id)
        if facility is None or facility.status == "retired":
            raise NotFound(f"no facility {facility_id}")
        rows = session.execute(
            select(Tomb.id, Tomb.plot_area, Tomb.plot_row, Tomb.plot_number, Martyr.id.label("martyr_id"),
                   Martyr.name, Martyr.is_unknown, Martyr.death_year, Martyr.native_place)
            .outerjoin(Martyr, Martyr.id == Tomb.martyr_id)
            .where(Tomb.facility_id == facility_id, Tomb.status != "retired")
            .order_by(Tomb.plot_area, Tomb.plot_row, Tomb.plot_number, Tomb.id)
            .offset((page - 1) * per_page).limit(per_page + 1)
        ).all()
        total = session.scalar(select(func.count()).select_from(Tomb)
                               .where(Tomb.facility_id == facility_id, Tomb.status != "retired"))
        photos = session.scalars(
            select(Attachment).where(Attachment.entity_type == "facilities", Attachment.entity_id == facility_id,
                                     Attachment.public.is_(True), Attachment.status != "retired")
            .order_by(Attachment.id)).all()
        return {
            "id": facility.id, "name": facility.name, "category": facility.category, "level": facility.level,
            "level_approved_by": facility.level_approved_by, "level_approved_on": facility.level_approved_on,
            "protection_unit": facility.protection_unit, "managing_unit": facility.managing_unit,
            "address": facility.address, "county_code": facility.county_code, "township": facility.township,
            "description": facility.description, "visiting_info": facility.visiting_info,
            "area_m2": facility.area_m2, "sign_present": facility.sign_present,
            "six_ones": _six_ones(facility), "is_demo": facility.is_demo,
            "position_approximate": facility.position_approximate, "lon": facility.geom.x, "lat": facility.geom.y,
            "photos": [{"id": p.id, "caption": p.caption, "kind": p.kind} for p in photos],
            "martyrs": [{"tomb_id": r.id, "martyr_id": r.martyr_id,
                         "name": display_name(r.name, r.is_unknown or r.martyr_id is None),
                         "unknown": bool(r.is_unknown or r.martyr_id is None), "death_year": r.death_year,
                         "native_place": r.native_place,
                         "plot": {"area": r.plot_area, "row": r.plot_row, "number": r.plot_number}}
                        for r in rows[:per_page]],
            "martyrs_total": total, "page": page, "has_next": len(rows) > per_page, "per_page": per_page,
        }


def public_photo(store: Store, instance_path, facility_id: int, attachment_id: int) -> tuple[Path, str]:
    """The display copy (no EXIF, so no position or device data) of a photo published on a facility's page."""
    with store.session() as session:
        photo = session.get(Attachment, attachment_id)
        facility = session.get(Facility, facility_id)
    if (photo is None or facility is None or facility.status == "retired" or photo.entity_type != "facilities"
            or photo.entity_id != facility_id or not photo.public or photo.status == "retired"):
        raise NotFound(f"no public photo {attachment_id} of facility {facility_id}")
    # The photo service writes <sha256>-display.jpg beside the original; originals keep EXIF and stay private.
    display = (Path(instance_path) / photo.storage_path).with_name(f"{photo.sha256}-display.jpg")
    if not display.is_file():
        raise NotFound(f"photo {attachment_id} has no display copy")
    return display, "image/jpeg"
