"""The n-gram index of martyrs' names: the roll's search by characters finds exactly what a scan finds.

The scan reads every martyr and tests the query (as typed and in simplified characters) against the name as
stored and converted to simplified characters, so a name stored in traditional characters is found by a
simplified query and the other way round.
"""

from __future__ import annotations

import re

import pytest
from alembic import command
from sqlalchemy import insert, select, text, update

from registry.db import Store
from registry.migrate import alembic_config, upgrade
from registry.models import Martyr, martyr_name_grams
from registry.models.name_grams import (
    UNKNOWN_NAME,
    fold,
    grams_of,
    indexed_grams,
    indexed_text,
    martyr_simplified_names,
    simplified_form,
)
from registry.services.public.name_grams import rebuild_name_grams, refresh_name_grams
from registry.services.public.roll import RollQuery, name_condition, search_martyrs, to_simplified
from tests.conftest import throwaway_database
from tests.factories import add_martyr

# Names chosen to trip an index: repeats, traditional and mixed scripts, one-character names, unknown
# martyrs with and without a name, LIKE's own metacharacters, ASCII letters in both cases, spaces.
NAMES = [
    "张明华", "张明", "王华", "陳華明", "陈华明", "李明明明", "欧阳明华", "华", "明", "张明华明华",
    "张%明", "李_华", "王\\明", "ABC明", "abc明", "Abc华", "张 明", "刘德華", "劉德华", "邱明华",
    "赖金根", "钟秀英", "明明", "华明", "无名", "烈士陵", "张三（示例）", "李四(示例)",
    # stored in traditional characters, wholly or in part; one whose simplified form another name has
    "鄧穎超", "陳明华", "張國華", "乾隆明", "于乾坤", "ABC陳", "顏華", "颜华",
]
UNKNOWN = ["无名烈士", "某部战士", "无名烈士（张）", "無名烈士（陳）"]
QUERIES = [
    # one character
    "明", "华", "華", "陳", "陈", "劉", "%", "_", "\\", "（", "名", "烈", "士", "无", "阳", "不",
    # two characters
    "张明", "明华", "明明", "陳華", "陈华", "德華", "张%", "%明", "李_", "_华", "无名", "烈士", "名烈", "张 ",
    " 明", "c明", "C明", "bc", "B", "示例", "不在",
    # three and more
    "张明华", "明华明", "明明明", "李明明明", "欧阳明华", "陳華明", "陈华明", "劉德華", "无名烈士", "名烈士",
    "张%明", "李_华", "王\\明", "ABC明", "abc明", "张 明", "（示例）", "明华明华", "张明华明华张",
    # simplified queries for traditional names, traditional ones for simplified names, and mixed
    "邓", "鄧", "邓颖", "邓颖超", "鄧穎超", "颖超", "陈明", "陳明", "陈明华", "陳明華", "张国华", "張國華", "国华",
    "颜华", "顏華", "乾", "干", "乾隆", "隆明", "坤", "c陈", "C陳", "BC陳", "陈）", "无名烈士（陈）", "無名烈士",
]


def _seed(store) -> dict[str, int]:
    ids = {}
    with store.write_session() as session:
        for i, name in enumerate(NAMES):
            place = "龙岩县" if i % 2 else "长汀县"
            ids[name] = add_martyr(session, name, death_year=1930 + i % 5, native_place=place).id
        for name in UNKNOWN:
            ids["?" + name] = add_martyr(session, name, unknown=True, death_year=1934).id
        ids["retired"] = add_martyr(session, "张明华", status="retired").id
        # No pinyin at all: the roll's order puts it where each store sorts NULL.
        nameless_pinyin = Martyr(name="明华")
        session.add(nameless_pinyin)
        session.flush()
        ids["no pinyin"] = nameless_pinyin.id
        session.commit()
    return ids


def _holds(store, text: str, v: str) -> bool:
    # LIKE '%v%': SQLite's folds ASCII letters, PostgreSQL's folds nothing.
    return fold(v) in fold(text) if store.kind == "geopackage" else v in text


def _matches(store, q: str, name: str | None, unknown: bool) -> bool:
    """The query, as typed or simplified, is part of the name as stored or simplified (or of 无名烈士)."""
    variants = {q, to_simplified(q)}
    texts = {name or "", to_simplified(name or "")}
    return (any(_holds(store, t, v) for t in texts for v in variants)
            or (unknown and any(v in UNKNOWN_NAME for v in variants)))


def _like_page(store, query: RollQuery, per_page: int) -> list[int]:
    """A plain scan: every martyr on the roll in its order, each name tested in Python as stored and simplified."""
    conditions = [Martyr.status != "retired"]
    if query.native_place:
        conditions.append(Martyr.native_place.like(f"%{query.native_place}%"))
    if query.death_year is not None:
        conditions.append(Martyr.death_year == query.death_year)
    with store.session() as session:
        rows = session.execute(select(Martyr.id, Martyr.name, Martyr.is_unknown).where(*conditions)
                               .order_by(Martyr.name_pinyin, Martyr.id)).all()
        # The SQL condition the search checks its candidates with finds the same over the whole roll.
        by_sql = list(session.scalars(select(Martyr.id).where(*conditions, name_condition(query.q))
                                      .order_by(Martyr.name_pinyin, Martyr.id)))
    if re.fullmatch(r"[a-z' ]*[a-z][a-z' ]*", query.q.lower()):
        found = by_sql  # pinyin: the prefix of name_pinyin or name_initials, no name index involved
    else:
        found = [r.id for r in rows if _matches(store, query.q, r.name, r.is_unknown)]
        assert by_sql == found, query.q
    start = (query.page - 1) * per_page
    return found[start:start + per_page + 1]


def _search_ids(store, query: RollQuery, per_page: int) -> list[int]:
    answer = search_martyrs(store, query, per_page=per_page)
    return [item["id"] for item in answer["items"]], answer["has_next"]


def _assert_same_as_like(store, query: RollQuery, per_page: int = 3) -> int:
    """Walk every page of ``query`` and compare each with the LIKE scan's page; the number of matches."""
    found = 0
    while True:
        expected = _like_page(store, query, per_page)
        ids, has_next = _search_ids(store, query, per_page)
        assert ids == expected[:per_page], (query.q, query.page)
        assert has_next == (len(expected) > per_page), (query.q, query.page)
        found += len(ids)
        if not has_next:
            return found
        query = RollQuery(q=query.q, native_place=query.native_place, death_year=query.death_year,
                          page=query.page + 1)


def test_search_by_characters_finds_what_like_finds(any_store):
    _seed(any_store)
    matched = {q: _assert_same_as_like(any_store, RollQuery(q=q)) for q in QUERIES}

    # The fixture does exercise the hard cases, not only empty answers.
    assert matched["明"] > 10 and matched["華"] == matched["华"] > 5  # either script finds both scripts
    assert matched["无名"] == 5  # the four unknown martyrs (one of them named otherwise) and 无名
    assert matched["%"] == 1 and matched["_"] == 1 and matched["\\"] == 1
    assert matched["陳華"] == matched["陈华"] == 2  # 陳華明 and 陈华明
    assert matched["邓颖超"] == matched["鄧穎超"] == 1 and matched["颜华"] == matched["顏華"] == 2
    assert matched["陈明华"] == matched["陳明華"] == 1  # 陳明华, stored in both scripts at once
    assert matched["无名烈士（陈）"] == 1
    # 乾 stays 乾 in 乾隆 and 乾坤 (OpenCC converts phrases): the query as typed still finds them, and 干
    # (the simplified form of 乾 alone) finds neither.
    assert matched["乾"] == 2 and matched["干"] == 0


@pytest.mark.parametrize("q", ["明", "华明", "張明華", "无名烈士"])
def test_search_by_characters_with_other_filters(any_store, q):
    _seed(any_store)
    for query in (RollQuery(q=q, native_place="龙岩"), RollQuery(q=q, death_year=1934),
                  RollQuery(q=q, native_place="长汀", death_year=1932)):
        _assert_same_as_like(any_store, query, per_page=2)


def test_retired_martyrs_stay_out_as_before(any_store):
    ids = _seed(any_store)
    answer = search_martyrs(any_store, RollQuery(q="张明华"))
    assert ids["retired"] not in [item["id"] for item in answer["items"]]
    assert [item["name"] for item in answer["items"]] == ["张明华", "张明华明华"]


def test_renaming_a_martyr_drops_the_old_name(any_store):
    ids = _seed(any_store)
    with any_store.write_session() as session:
        martyr = session.get(Martyr, ids["赖金根"])
        martyr.name, martyr.name_pinyin = "赖银根", "laiyingen"
        session.commit()

    assert search_martyrs(any_store, RollQuery(q="金根"))["items"] == []
    assert [m["name"] for m in search_martyrs(any_store, RollQuery(q="银根"))["items"]] == ["赖银根"]
    _assert_same_as_like(any_store, RollQuery(q="根"))


def test_marking_a_martyr_unknown_makes_them_found_as_unknown(any_store):
    ids = _seed(any_store)
    with any_store.write_session() as session:
        session.get(Martyr, ids["钟秀英"]).is_unknown = True
        session.commit()

    found = [m["id"] for m in search_martyrs(any_store, RollQuery(q="无名烈士"), per_page=50)["items"]]
    assert ids["钟秀英"] in found
    _assert_same_as_like(any_store, RollQuery(q="名烈"))


def _grams(store) -> set[tuple]:
    with store.session() as session:
        return {tuple(row) for row in session.execute(select(martyr_name_grams))}


def _simplified_names(store) -> set[tuple]:
    with store.session() as session:
        return {tuple(row) for row in session.execute(select(martyr_simplified_names))}


def _expected_index(store) -> tuple[set, set]:
    """The index the roll should have: each name's grams as stored and simplified, and its simplified form."""
    with store.session() as session:
        martyrs = session.execute(select(Martyr.id, Martyr.name, Martyr.name_pinyin, Martyr.is_unknown)).all()
    grams = {(g, m.id, m.name_pinyin) for m in martyrs
             for g in {*grams_of(indexed_text(m.name, m.is_unknown)),
                       *grams_of(indexed_text(to_simplified(m.name or ""), m.is_unknown))}}
    names = {(m.id, to_simplified(m.name)) for m in martyrs if m.name and to_simplified(m.name) != m.name}
    return grams, names


def test_bulk_sql_indexes_what_the_orm_hooks_index(any_store):
    ids = _seed(any_store)
    by_hooks = _grams(any_store), _simplified_names(any_store)
    assert by_hooks == _expected_index(any_store)
    assert (ids["陳華明"], "陈华明") in by_hooks[1] and ("邓", ids["鄧穎超"], "dengyingchao") in by_hooks[0]

    with any_store.write_session() as session:
        rebuild_name_grams(session)
        session.commit()
    assert (_grams(any_store), _simplified_names(any_store)) == by_hooks

    with any_store.write_session() as session:  # as a bulk writer finds it: nothing indexed yet
        session.execute(martyr_name_grams.delete())
        session.execute(martyr_simplified_names.delete())
        refresh_name_grams(session, list(ids.values()))
        session.commit()
    assert (_grams(any_store), _simplified_names(any_store)) == by_hooks
    with any_store.session() as session:
        assert {g for m in session.scalars(select(Martyr)) for g in indexed_grams(m.name, m.is_unknown)} == {
            g for g, _id, _pinyin in by_hooks[0]}


def test_names_left_unconverted_are_those_the_converter_leaves_alone():
    """Bulk indexing converts only names holding a character the converter changes; the rest are the same."""
    texts = [chr(code) for code in range(0x3400, 0xA000)] + NAMES + UNKNOWN + ["乾隆", "乾坤", "於菟", "于乾"]
    changed = 0
    for t in texts:
        simple = to_simplified(t)
        assert simplified_form(t) == (simple if simple != t else None), t
        changed += simple != t
    assert changed > 2000


def _names(store, q: str, per_page: int = 20) -> list[str]:
    return [m["name"] for m in search_martyrs(store, RollQuery(q=q), per_page=per_page)["items"]]


def test_a_simplified_query_finds_names_stored_in_traditional_characters(any_store):
    ids = _seed(any_store)
    assert _names(any_store, "邓颖超") == _names(any_store, "颖") == ["鄧穎超"]
    assert _names(any_store, "陈华明") == ["陳華明", "陈华明"]  # the roll's order: same pinyin, then id
    chen = [m["id"] for m in search_martyrs(any_store, RollQuery(q="陈"), per_page=50)["items"]]
    assert sorted(chen) == sorted(ids[n] for n in ("陈华明", "陳華明", "陳明华", "ABC陳", "?無名烈士（陳）"))
    assert _names(any_store, "张国华") == ["張國華"]


def test_a_traditional_query_finds_names_stored_in_simplified_characters(any_store):
    _seed(any_store)
    assert _names(any_store, "顏華") == _names(any_store, "颜华") == ["顏華", "颜华"]
    assert _names(any_store, "陳華明") == ["陳華明", "陈华明"]
    assert _names(any_store, "劉德華") == ["刘德華", "劉德华"]


def test_names_in_both_scripts_at_once_are_found_by_either(any_store):
    _seed(any_store)
    for q in ("陈明华", "陳明華", "陳明华", "陈明華", "明华"):
        assert "陳明华" in _names(any_store, q, per_page=50), q


def test_pinyin_search_is_unchanged_by_the_simplified_index(any_store):
    ids = _seed(any_store)
    assert _names(any_store, "dengyingchao") == _names(any_store, "dyc") == ["鄧穎超"]
    for q in ("chen", "chm", "yanhua", "zgh"):
        _assert_same_as_like(any_store, RollQuery(q=q))
    assert [m["id"] for m in search_martyrs(any_store, RollQuery(q="yanhua"))["items"]] == [
        ids["顏華"], ids["颜华"]]


def test_renaming_a_traditional_name_reindexes_its_simplified_form(any_store):
    ids = _seed(any_store)
    martyr_id = ids["陳華明"]
    with any_store.write_session() as session:
        martyr = session.get(Martyr, martyr_id)
        martyr.name, martyr.name_pinyin = "陳國明", "chenguoming"
        session.commit()

    assert _names(any_store, "陈华明") == ["陈华明"]
    assert _names(any_store, "陈国") == _names(any_store, "陳國明") == ["陳國明"]
    assert (martyr_id, "陈国明") in _simplified_names(any_store)
    assert (_grams(any_store), _simplified_names(any_store)) == _expected_index(any_store)

    # Renamed into simplified characters: no simplified row is left, and a traditional query still finds it.
    with any_store.write_session() as session:
        session.get(Martyr, martyr_id).name = "陈国明"
        session.commit()
    assert martyr_id not in {m for m, _name in _simplified_names(any_store)}
    assert _names(any_store, "陳國明") == ["陈国明"]
    assert (_grams(any_store), _simplified_names(any_store)) == _expected_index(any_store)
    _assert_same_as_like(any_store, RollQuery(q="國"))


def test_core_writers_refresh_the_index(any_store):
    """A bulk writer (Core insert or UPDATE, as a ledger import might) calls refresh_name_grams."""
    _seed(any_store)
    with any_store.write_session() as session:
        new = session.scalars(insert(Martyr).returning(Martyr.id), [
            {"name": "温永福", "name_pinyin": "wenyongfu", "name_initials": "wyf", "version": 1},
            {"name": "蓝桂兰", "name_pinyin": "languilan", "name_initials": "lgl", "version": 1},
            {"name": "羅榮桓", "name_pinyin": "luoronghuan", "name_initials": "lrh", "version": 1},
        ]).all()
        renamed = session.scalar(select(Martyr.id).where(Martyr.name == "邱明华"))
        session.execute(update(Martyr.__table__).where(Martyr.id == renamed)
                        .values(name="邱明德", name_pinyin="qiuminde"))
        retraditional = session.scalar(select(Martyr.id).where(Martyr.name == "鄧穎超"))
        session.execute(update(Martyr.__table__).where(Martyr.id == retraditional)
                        .values(name="鄧穎", name_pinyin="dengying"))
        refresh_name_grams(session, [*new, renamed, retraditional])
        session.commit()

    assert [m["name"] for m in search_martyrs(any_store, RollQuery(q="永福"))["items"]] == ["温永福"]
    assert [m["name"] for m in search_martyrs(any_store, RollQuery(q="明德"))["items"]] == ["邱明德"]
    assert "邱明华" not in [m["name"] for m in search_martyrs(any_store, RollQuery(q="邱"))["items"]]
    assert _names(any_store, "罗荣桓") == _names(any_store, "荣") == ["羅榮桓"]
    assert _names(any_store, "邓颖") == ["鄧穎"] and _names(any_store, "颖超") == []
    assert (_grams(any_store), _simplified_names(any_store)) == _expected_index(any_store)
    _assert_same_as_like(any_store, RollQuery(q="明华"))


def test_the_migration_indexes_the_martyrs_already_on_the_roll(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'registry.gpkg'}")
    try:
        upgrade(store, "0008")
        with store.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO martyrs (name, name_pinyin, is_unknown, status, is_demo, created_at, updated_at, "
                "version) VALUES ('张明华', 'zhangminghua', 0, 'active', 0, '2026-01-01T00:00:00.000Z', "
                "'2026-01-01T00:00:00.000Z', 1), ('无名烈士', 'wumingliehsi', 1, 'active', 0, "
                "'2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 1)"))
        upgrade(store)
        assert [m["name"] for m in search_martyrs(store, RollQuery(q="明华"))["items"]] == ["张明华"]
        assert [m["name"] for m in search_martyrs(store, RollQuery(q="烈士"))["items"]] == ["无名烈士"]
    finally:
        store.dispose()


@pytest.fixture
def store_at_0008(store_kind, tmp_path, request):
    """A new registry of each kind migrated only to revision 0008."""
    if store_kind == "geopackage":
        url = f"sqlite:///{tmp_path / 'registry.gpkg'}"
    else:
        request.getfixturevalue("postgis_template")  # skipped (or failed in CI) without PostGIS
        url = throwaway_database(request, prefix="registry_m_")
    store = Store(url)
    upgrade(store, "0008")
    yield store
    store.dispose()


def test_migration_0010_indexes_the_simplified_forms_of_a_0009_roll(store_at_0008):
    store = store_at_0008
    rows = [("陳華明", "chenhuaming", False), ("陈华明", "chenhuaming", False), ("鄧穎超", "dengyingchao", False),
            ("顏華", "yanhua", False), ("颜华", "yanhua", False), ("張明华", "zhangminghua", False),
            ("無名烈士（陳）", "wumingliehsi", True), ("王华", "wanghua", False)]
    with store.engine.begin() as conn:  # past the ORM's hooks: the index tables do not exist yet
        ids = dict(zip([r[0] for r in rows], conn.execute(insert(Martyr).returning(Martyr.id), [
            {"name": n, "name_pinyin": p, "name_initials": "x", "is_unknown": u, "version": 1}
            for n, p, u in rows]).scalars(), strict=True))
    upgrade(store, "0009")
    as_stored = _grams(store)
    # 0009 indexed exactly the names as stored (its own frozen copy of the indexing).
    assert as_stored == {(g, ids[n], p) for n, p, u in rows for g in grams_of(indexed_text(n, u))}
    assert ("陈", ids["陳華明"], "chenhuaming") not in as_stored

    upgrade(store)
    assert (_grams(store), _simplified_names(store)) == _expected_index(store)
    assert _names(store, "陈华明") == _names(store, "陳華明") == ["陳華明", "陈华明"]
    assert _names(store, "邓颖超") == _names(store, "颖") == ["鄧穎超"]
    assert _names(store, "颜华") == ["顏華", "颜华"]
    assert _names(store, "张明华") == ["張明华"]
    assert _names(store, "无名烈士（陈）") == ["无名烈士"]  # an unknown martyr is shown as 无名烈士
    with store.engine.begin() as conn:  # and back: the names indexed as stored again
        command.downgrade(alembic_config(conn), "0009")
    assert _grams(store) == as_stored
