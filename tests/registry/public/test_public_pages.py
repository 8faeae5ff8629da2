"""Facility pages, the roll of martyrs and the find-the-grave page, as a visitor reads them."""

from __future__ import annotations

import html as htmllib
import re

import pytest

from tests.factories import XSS_NAME, add_facility, add_martyr, add_tomb


def text_of(html: str) -> str:
    return htmllib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def test_facility_page_shows_the_public_record(seeded):
    app, _store, ids = seeded
    response = app.test_client().get(f"/facilities/{ids['national']}")
    html = response.get_data(as_text=True)
    text = text_of(html)

    assert response.status_code == 200
    assert "示例烈士陵园（示例）" in text and "烈士陵园" in text and "国家级" in text and "国务院" in text
    assert "虎岭山" in text and "陵园简介" in text and "每日 8:00-17:00 开放" in text
    assert "一个醒目标示：已达标" in text and "一条通行道路：待完善" in text and "一份管理制度：尚未核查" in text
    assert "安葬于此的烈士（4 位）" in text and "张甲（示例）" in text and "无名烈士" in text
    assert "A区 1排 1号" in text
    assert "notice--demo" in html and "RegistryPublicMap.pin(" in html
    css = app.test_client().get("/static/public/public.css")
    assert "@media print" in css.get_data(as_text=True)
    css.close()


def test_facility_page_in_english(seeded):
    app, _store, ids = seeded
    client = app.test_client()
    client.get("/lang/en")
    text = text_of(client.get(f"/facilities/{ids['national']}").get_data(as_text=True))

    assert "Martyrs' cemetery" in text and "National" in text and "Visiting information" in text


def test_martyrs_on_a_facility_page_are_paged(any_app):
    store = any_app.extensions["registry_store"]
    with store.write_session() as session:
        facility = add_facility(session, "F-9", "示例陵园", 117.0, 25.0, category="cemetery")
        for i in range(55):
            add_tomb(session, add_martyr(session, f"陈{i:02d}"), facility, 117.0, 25.0, plot=("A", "1", f"{i:02d}"))
        session.commit()
        facility_id = facility.id
    client = any_app.test_client()

    first = text_of(client.get(f"/facilities/{facility_id}").get_data(as_text=True))
    second = text_of(client.get(f"/facilities/{facility_id}?page=2").get_data(as_text=True))

    assert "陈00" in first and "陈49" in first and "陈50" not in first and "下一页" in first
    assert "陈50" in second and "陈54" in second and "上一页" in second and "下一页" not in second


def test_names_with_markup_show_as_text_on_pages(seeded):
    app, _store, ids = seeded
    html = app.test_client().get(f"/facilities/{ids['monument']}").get_data(as_text=True)

    assert "<script>window.__pwned" not in html and "<img src=x" not in html
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    # in the map's script the name is JSON with < escaped, so it cannot close the script element
    script = html.split("RegistryPublicMap.pin(", 1)[1].split(");", 1)[0]
    assert "\\u003cscript\\u003e" in script


@pytest.mark.parametrize("path", ["/facilities/999999", "/martyrs/999999"])
def test_unknown_ids_are_a_404_page_in_the_visitors_language(app, path):
    client = app.test_client()
    response = client.get(path)
    assert response.status_code == 404 and "找不到页面" in response.get_data(as_text=True)

    client.get("/lang/en")
    response = client.get(path)
    assert response.status_code == 404 and "Page not found" in response.get_data(as_text=True)


def test_retired_facility_is_not_shown(seeded):
    app, _store, ids = seeded
    assert app.test_client().get(f"/facilities/{ids['retired']}").status_code == 404


def search(app, **params):
    response = app.test_client().get("/martyrs", query_string=params)
    return response, text_of(response.get_data(as_text=True))


@pytest.mark.parametrize(
    ("params", "found", "not_found"),
    [
        ({"q": "张甲"}, ["张甲（示例）"], ["王乙"]),
        ({"q": "甲"}, ["张甲（示例）"], ["王乙"]),                 # part of the name
        ({"q": "張"}, ["张甲（示例）"], ["王乙"]),                 # traditional characters
        ({"q": "zhangjia"}, ["张甲（示例）"], ["王乙"]),           # full pinyin
        ({"q": "ZhangJia"}, ["张甲（示例）"], ["王乙"]),
        ({"q": "zj"}, ["张甲（示例）"], ["王乙"]),                 # initials
        ({"q": "wy"}, ["王乙（示例）"], ["张甲"]),
        ({"q": "无名"}, ["无名烈士"], ["张甲"]),                    # unknown martyrs are listed
        ({"death_year": "1931"}, ["王乙（示例）"], ["张甲"]),
        ({"native_place": "龍岩"}, ["张甲（示例）", "王乙（示例）"], []),
        ({"unit": "红十二军"}, ["李丙（示例）"], []),
        ({"q": "%"}, [], ["张甲"]),
    ],
)
def test_roll_search(seeded, params, found, not_found):
    app, _store, _ids = seeded
    response, text = search(app, **params)

    assert response.status_code == 200
    for name in found:
        assert name in text
    for name in not_found:
        assert name not in text.split("查找结果", 1)[-1]


def test_search_results_say_where_the_martyr_lies(seeded):
    app, _store, _ids = seeded
    _response, text = search(app, q="zj")

    assert "示例烈士陵园（示例）" in text.split("查找结果", 1)[1]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"death_year": "abc"}, "death_year"),
        ({"death_year": "1700"}, "death_year"),
        ({"q": "张" * 31}, "q"),
        ({"native_place": "x" * 51}, "native_place"),
        ({"q": "张", "page": "0"}, "page"),
        ({"q": "张", "page": "x"}, "page"),
    ],
)
def test_bad_searches_are_refused_with_a_message(app, params, field):
    response, text = search(app, **params)

    assert response.status_code == 400
    assert "查询条件有误" in text and field in text


def test_find_the_grave_page(seeded):
    app, _store, ids = seeded
    html = app.test_client().get(f"/martyrs/{ids['martyrs'][0]}").get_data(as_text=True)
    text = text_of(html)

    assert "张甲（示例）" in text and "示例烈士陵园（示例）" in text and "A区 1排 1号" in text
    assert "RegistryPublicMap.pin(" in html and "献花" in text


def test_unknown_martyr_page_says_so(seeded):
    app, _store, ids = seeded
    text = text_of(app.test_client().get(f"/martyrs/{ids['unknown']}").get_data(as_text=True))

    assert "无名烈士" in text and "姓名已无从查考" in text


def test_xss_in_martyr_name_is_text(any_app):
    store = any_app.extensions["registry_store"]
    with store.write_session() as session:
        martyr = add_martyr(session, XSS_NAME)
        session.commit()
        martyr_id = martyr.id
    html = any_app.test_client().get(f"/martyrs/{martyr_id}").get_data(as_text=True)

    assert "<script>window.__pwned" not in html


def test_only_published_photos_are_served_and_only_their_display_copy(seeded, tmp_path):
    from registry.models import Attachment
    from registry.services import NotFound
    from registry.services.public.roll import public_photo

    app, _store, ids = seeded
    store = app.extensions["registry_store"]
    (tmp_path / "attachments").mkdir()
    (tmp_path / "attachments" / "abc-display.jpg").write_bytes(b"\xff\xd8\xff display")
    with store.write_session() as session:
        shown = Attachment(entity_type="facilities", entity_id=ids["national"], kind="object_photo",
                           filename="a.jpg", content_type="image/jpeg", size=1, sha256="abc",
                           storage_path="attachments/abc.jpg", caption="陵园正门<b>", public=True)
        private = Attachment(entity_type="facilities", entity_id=ids["national"], kind="object_photo",
                             filename="b.jpg", content_type="image/jpeg", size=1, sha256="abc",
                             storage_path="attachments/abc.jpg", public=False)
        session.add_all([shown, private])
        session.commit()
        shown_id, private_id = shown.id, private.id

    path, content_type = public_photo(store, tmp_path, ids["national"], shown_id)
    assert path.name == "abc-display.jpg" and content_type == "image/jpeg"
    for facility_id, attachment_id in ((ids["national"], private_id), (ids["pavilion"], shown_id)):
        with pytest.raises(NotFound):
            public_photo(store, tmp_path, facility_id, attachment_id)
    html = app.test_client().get(f"/facilities/{ids['national']}").get_data(as_text=True)
    assert f'/facilities/{ids["national"]}/photos/{shown_id}' in html and "陵园正门&lt;b&gt;" in html
    assert f"/photos/{private_id}" not in html


def test_unknown_martyrs_are_named_in_the_visitors_language(seeded):
    app, _store, ids = seeded
    client = app.test_client()
    client.get("/lang/en")

    grave_text = text_of(client.get(f"/martyrs/{ids['unknown']}").get_data(as_text=True))
    facility_text = text_of(client.get(f"/facilities/{ids['national']}").get_data(as_text=True))

    assert "Unknown martyr" in grave_text and "could not be traced" in grave_text
    assert "Unknown martyr" in facility_text and "A clearly visible marker: met" in facility_text
