"""Fast public reads on both stores: map shells built once, ETags and 304s following the data, fingerprinted assets."""

from __future__ import annotations

import re

import pytest

from registry.services.public.tribute import lay_flower

YEAR = "max-age=31536000"


def map_id(html: str) -> str:
    return re.search(r'id="(map_[0-9a-f]+)"', html).group(1)


def test_the_map_shell_is_built_once_and_each_grave_gets_its_own_pin(seeded):
    app, _store, ids = seeded
    client = app.test_client()
    first, second = (client.get("/").get_data(as_text=True) for _ in range(2))
    assert map_id(first) == map_id(second)  # the same rendered shell, not a new folium map

    one = client.get(f"/martyrs/{ids['martyrs'][0]}").get_data(as_text=True)
    two = client.get(f"/martyrs/{ids['martyrs'][1]}").get_data(as_text=True)
    assert map_id(one) == map_id(two)
    pins = [re.search(r"RegistryPublicMap\.pin\(map_[0-9a-f]+, (\{.*?\})\);", page).group(1) for page in (one, two)]
    centres = [re.search(r"center: (\[[^\]]+\])", page).group(1) for page in (one, two)]
    assert pins[0] != pins[1] and centres[0] != centres[1]
    assert "-48.123456" not in one  # the shell's placeholder centre never reaches a page


def test_each_language_has_its_own_shell(seeded):
    app, _store, _ids = seeded
    client = app.test_client()
    chinese = client.get("/").get_data(as_text=True)
    client.get("/lang/en")
    english = client.get("/").get_data(as_text=True)
    assert '<html lang="en">' in english and "纪念设施" in chinese
    assert map_id(chinese) != map_id(english)  # the layer names inside the shell are in the page's language


@pytest.mark.parametrize("page", ["/", "grave", "facility", "/martyrs?q=张"])
def test_public_pages_answer_304_until_the_data_changes(seeded, page):
    app, store, ids = seeded
    path = {"grave": f"/martyrs/{ids['martyrs'][0]}", "facility": f"/facilities/{ids['national']}"}.get(page, page)
    client = app.test_client()
    client.get(path)  # the first visit starts the session (its form token)
    first = client.get(path)
    etag = first.headers["ETag"]
    assert first.status_code == 200 and "no-cache" in first.headers["Cache-Control"]

    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["ETag"] == etag and again.data == b""
    # The kept page's scripts carry its first answer's nonce: a 304 must not bring a new policy.
    assert "Content-Security-Policy" not in again.headers and "nonce-" in first.headers["Content-Security-Policy"]

    lay_flower(store, "martyr", ids["martyrs"][0], client="elsewhere", idempotency_key="etag-flower-1")
    changed = client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def test_a_flower_laid_from_the_page_shows_a_fresh_page_with_a_new_form_key(seeded):
    app, _store, ids = seeded
    client = app.test_client()
    path = f"/martyrs/{ids['martyrs'][0]}"
    client.get(path)
    page = client.get(path)
    key = re.search(r'name="key" value="([^"]+)"', page.get_data(as_text=True)).group(1)

    laid = client.post(f"/tribute/martyr/{ids['martyrs'][0]}", data={"kind": "flower", "key": key})
    assert laid.status_code == 303
    after = client.get(path, headers={"If-None-Match": page.headers["ETag"]})
    html = after.get_data(as_text=True)
    assert after.status_code == 200 and "献花成功" in html  # the one-time thanks, never a 304
    assert re.search(r'name="key" value="([^"]+)"', html).group(1) != key


def test_another_visitor_never_matches_my_etag(seeded):
    app, _store, ids = seeded
    path = f"/martyrs/{ids['martyrs'][0]}"
    mine = app.test_client()
    mine.get(path)
    etag = mine.get(path).headers["ETag"]
    theirs = app.test_client()
    theirs.get(path)
    assert theirs.get(path, headers={"If-None-Match": etag}).status_code == 200


def test_vendor_assets_are_fingerprinted_and_kept_a_year(seeded):
    app, _store, _ids = seeded
    client = app.test_client()
    html = client.get("/").get_data(as_text=True)
    urls = re.findall(r'(?:src|href)="(/static/vendor/[^"]+)"', html)
    assert urls and all(re.search(r"\?v=[0-9a-f]{16}$", url) for url in urls)

    with client.get(urls[0]) as kept:
        assert kept.status_code == 200 and YEAR in kept.headers["Cache-Control"]
        assert "immutable" in kept.headers["Cache-Control"] and "public" in kept.headers["Cache-Control"]

    for url in (urls[0].split("?")[0], urls[0].split("?")[0] + "?v=0000000000000000"):
        with client.get(url) as response:  # not the bytes the fingerprint names: kept a week, never forever
            assert response.status_code == 200 and "immutable" not in response.headers["Cache-Control"]
            assert "max-age=604800" in response.headers["Cache-Control"]


def test_letters_that_are_initials_or_pinyin_find_both_in_pinyin_order_page_by_page(any_store):
    from registry.services.public.roll import RollQuery, search_martyrs
    from tests.factories import add_martyr

    with any_store.write_session() as session:
        for name in ("蓝明", "林安宁", "刘安", "兰花", "陈兰", "李安南"):
            add_martyr(session, name)
        session.commit()

    pages, page = [], 1
    while True:
        answer = search_martyrs(any_store, RollQuery(q="lan", page=page), per_page=2)
        pages.append([m["name"] for m in answer["items"]])
        if not answer["has_next"]:
            break
        page += 1
    # pinyin lan… (兰花 lanhua, 蓝明 lanming) and initials lan… (李安南 lan, 林安宁 lan), by pinyin
    assert pages == [["兰花", "蓝明"], ["李安南", "林安宁"]]
