"""The n-gram index of martyrs' names: the roll's search by characters finds exactly what a LIKE scan finds."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select, text, update

from registry.db import Store
from registry.migrate import upgrade
from registry.models import Martyr, martyr_name_grams
from registry.models.name_grams import grams_of, indexed_text
from registry.services.name_grams import rebuild_name_grams, refresh_name_grams
from registry.services.public_roll import RollQuery, name_condition, search_martyrs
from tests.registry.public_factories import add_martyr

# Names chosen to trip an index: repeats, traditional and mixed scripts, one-character names, unknown
# martyrs with and without a name, LIKE's own metacharacters, ASCII letters in both cases, spaces.
NAMES = [
    "张明华", "张明", "王华", "陳華明", "陈华明", "李明明明", "欧阳明华", "华", "明", "张明华明华",
    "张%明", "李_华", "王\\明", "ABC明", "abc明", "Abc华", "张 明", "刘德華", "劉德华", "邱明华",
    "赖金根", "钟秀英", "明明", "华明", "无名", "烈士陵", "张三（示例）", "李四(示例)",
]
UNKNOWN = ["无名烈士", "某部战士", "无名烈士（张）"]
QUERIES = [
    # one character
    "明", "华", "華", "陳", "陈", "劉", "%", "_", "\\", "（", "名", "烈", "士", "无", "阳", "不",
    # two characters
    "张明", "明华", "明明", "陳華", "陈华", "德華", "张%", "%明", "李_", "_华", "无名", "烈士", "名烈", "张 ",
    " 明", "c明", "C明", "bc", "B", "示例", "不在",
    # three and more
    "张明华", "明华明", "明明明", "李明明明", "欧阳明华", "陳華明", "陈华明", "劉德華", "无名烈士", "名烈士",
    "张%明", "李_华", "王\\明", "ABC明", "abc明", "张 明", "（示例）", "明华明华", "张明华明华张",
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


def _like_page(store, query: RollQuery, per_page: int) -> list[int]:
    """What the roll's search answered before the index: the LIKE conditions over every row."""
    conditions = [Martyr.status != "retired", name_condition(query.q)]
    if query.native_place:
        conditions.append(Martyr.native_place.like(f"%{query.native_place}%"))
    if query.death_year is not None:
        conditions.append(Martyr.death_year == query.death_year)
    with store.session() as session:
        return list(session.scalars(select(Martyr.id).where(*conditions).order_by(Martyr.name_pinyin, Martyr.id)
                                    .offset((query.page - 1) * per_page).limit(per_page + 1)))


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
    assert matched["明"] > 10 and matched["華"] > matched["华"] > 5  # traditional input finds both scripts
    assert matched["无名"] == 4  # the three unknown martyrs (one of them named otherwise) and 无名
    assert matched["%"] == 1 and matched["_"] == 1 and matched["\\"] == 1
    assert matched["陳華"] == 2 and matched["陈华"] == 1  # 陳華明 and 陈华明; simplified finds only 陈华明


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


def test_bulk_sql_indexes_what_the_orm_hooks_index(any_store):
    _seed(any_store)
    by_hooks = _grams(any_store)
    with any_store.write_session() as session:
        rebuild_name_grams(session)
        session.commit()

    assert _grams(any_store) == by_hooks
    with any_store.session() as session:
        expected = {(g, m.id, m.name_pinyin) for m in session.scalars(select(Martyr))
                    for g in grams_of(indexed_text(m.name, m.is_unknown))}
    assert by_hooks == expected


def test_core_writers_refresh_the_index(any_store):
    """A bulk writer (Core insert or UPDATE, as a ledger import might) calls refresh_name_grams."""
    _seed(any_store)
    with any_store.write_session() as session:
        new = session.scalars(insert(Martyr).returning(Martyr.id), [
            {"name": "温永福", "name_pinyin": "wenyongfu", "name_initials": "wyf", "version": 1},
            {"name": "蓝桂兰", "name_pinyin": "languilan", "name_initials": "lgl", "version": 1},
        ]).all()
        renamed = session.scalar(select(Martyr.id).where(Martyr.name == "邱明华"))
        session.execute(update(Martyr.__table__).where(Martyr.id == renamed)
                        .values(name="邱明德", name_pinyin="qiuminde"))
        refresh_name_grams(session, [*new, renamed])
        session.commit()

    assert [m["name"] for m in search_martyrs(any_store, RollQuery(q="永福"))["items"]] == ["温永福"]
    assert [m["name"] for m in search_martyrs(any_store, RollQuery(q="明德"))["items"]] == ["邱明德"]
    assert "邱明华" not in [m["name"] for m in search_martyrs(any_store, RollQuery(q="邱"))["items"]]
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
