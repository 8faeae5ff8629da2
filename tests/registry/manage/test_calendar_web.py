"""The calendar's pages and feeds: iCalendar read back with the icalendar package, rights, the public pages."""

from __future__ import annotations

import base64
import html
from datetime import date, timedelta

import icalendar
import pytest
from sqlalchemy import func, select, text

from registry.models import FacilityDay
from registry.services.gis.tokens import create_token
from registry.services.manage import calendar as cal
from registry.solar_terms import qingming
from tests.factories import CHANGTING, SHANGHANG, SYSTEM, add_martyr, add_tomb, as_user, facility, people

AWKWARD = '陈,一;二\\三\n"四"'  # commas, a semicolon, a backslash, a newline and quotes


def buried(store, facility_obj, name, died):
    with store.write_session() as s:
        martyr = add_martyr(s, name, is_demo=False, death_date=died, death_year=died.year if died else None)
        add_tomb(s, martyr, facility_obj, 116.8, 25.2, plot=("A", "1", str(martyr.id)), is_demo=False)
        s.commit()
        return martyr.id


def parse(response) -> icalendar.Calendar:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    body = response.get_data()
    lines = body.split(b"\r\n")
    assert lines[-1] == b"" and b"\n" not in body.replace(b"\r\n", b""), "every line ends with CRLF, and only there"
    assert max(len(line) for line in lines) <= 75, "lines are folded at 75 octets"
    return icalendar.Calendar.from_ical(body)


def events(feed: icalendar.Calendar) -> list:
    return list(feed.walk("VEVENT"))


@pytest.fixture
def world(any_app):
    store = any_app.extensions["registry_store"]
    actors = people(store)
    a, b = facility(store, SHANGHANG), facility(store, CHANGTING)
    return any_app, store, actors, a, b


def test_a_martyrs_feed_round_trips_an_awkward_name(app):
    store = app.extensions["registry_store"]
    a = facility(store, SHANGHANG)
    martyr_id = buried(store, a, AWKWARD, date(1934, 5, 2))
    client = app.test_client()
    first = client.get(f"/martyrs/{martyr_id}/calendar.ics")
    feed = parse(first)
    assert "NAME" in feed and "X-WR-CALNAME" in feed
    today = cal.today_in_beijing()
    found = events(feed)
    anniversaries = [e for e in found if "周年" in str(e["SUMMARY"])]
    qingmings = [e for e in found if str(e["SUMMARY"]).startswith("清明")]
    assert len(anniversaries) == len(qingmings) == 10
    for event in anniversaries:
        day = event["DTSTART"].dt
        assert (day.month, day.day) == (5, 2) and day >= today
        assert str(event["SUMMARY"]) == f"{AWKWARD} 牺牲 {day.year - 1934} 周年"
        assert str(event["DESCRIPTION"]) == f"{AWKWARD} 于 1934-05-02 牺牲。"
        assert event["DTEND"].dt == day + timedelta(days=1)
        assert event.walk("VALARM"), "a reminder comes with each day"
    assert sorted(e["DTSTART"].dt for e in qingmings) == [q for q in (qingming(y) for y in range(
        today.year, today.year + 11)) if q >= today][:10]
    assert all("DTSTAMP" in e for e in found)
    uids = [str(e["UID"]) for e in found]
    assert len(set(uids)) == len(uids)
    assert uids == [str(e["UID"]) for e in events(parse(client.get(f"/martyrs/{martyr_id}/calendar.ics")))]
    assert client.get("/martyrs/999999/calendar.ics").status_code == 404


def test_a_martyr_without_a_usable_date_gets_qingming_only(app):
    store = app.extensions["registry_store"]
    martyr_id = buried(store, facility(store, SHANGHANG), "无日期", None)
    other = buried(store, facility(store, SHANGHANG), "错日期", None)
    with store.write_session() as s:
        s.execute(text("UPDATE martyrs SET death_date = '1934-13-01' WHERE id = :i"), {"i": other})
        s.commit()
    client = app.test_client()
    for ident in (martyr_id, other):
        summaries = [str(e["SUMMARY"]) for e in events(parse(client.get(f"/martyrs/{ident}/calendar.ics")))]
        assert len(summaries) == 10 and all(s.startswith("清明") for s in summaries)


def test_the_martyr_page_shows_the_coming_anniversary_and_the_reminder_link(app):
    store = app.extensions["registry_store"]
    martyr_id = buried(store, facility(store, SHANGHANG), "李四", date(1934, 5, 2))
    page = app.test_client().get(f"/martyrs/{martyr_id}").get_data(as_text=True)
    today = cal.today_in_beijing()
    coming = date(today.year, 5, 2) if date(today.year, 5, 2) >= today else date(today.year + 1, 5, 2)
    assert f'<time datetime="{coming.isoformat()}">' in page
    assert f"牺牲 {coming.year - 1934} 周年" in page
    assert f'href="/martyrs/{martyr_id}/calendar.ics"' in page and "订阅提醒" in page


def test_the_home_page_shows_the_coming_days_of_the_chosen_county(app):
    app.config["CALENDAR_HOME_REFRESH_SECONDS"] = 0
    store = app.extensions["registry_store"]
    actors = people(store)
    a, b = facility(store, SHANGHANG), facility(store, CHANGTING)
    soon = cal.today_in_beijing() + timedelta(days=5)
    cal.add_day(store, actors["mgr"], {"facility_code": a.code, "name": "古田会议纪念日", "month": str(soon.month),
                                       "day": str(soon.day)})
    cal.add_day(store, actors["other"], {"facility_code": b.code, "name": "长汀纪念日", "month": str(soon.month),
                                         "day": str(soon.day)})
    client = app.test_client()
    home = client.get("/")
    assert "近期纪念日" in home.get_data(as_text=True) and "古田会议纪念日" not in home.get_data(as_text=True)
    chosen = client.get(f"/?county={SHANGHANG}")
    page = chosen.get_data(as_text=True)
    assert "古田会议纪念日" in page and "长汀纪念日" not in page and "还有 5 天" in page
    assert f'<option value="{SHANGHANG}" selected>' in page
    # Validators: the same page answers 304; another county, or a change to the registry, is another page.
    etag = chosen.headers["ETag"]
    assert client.get(f"/?county={SHANGHANG}", headers={"If-None-Match": etag}).status_code == 304
    other = client.get(f"/?county={CHANGTING}", headers={"If-None-Match": etag})
    assert other.status_code == 200 and "长汀纪念日" in other.get_data(as_text=True)
    cal.add_day(store, actors["mgr"], {"facility_code": a.code, "name": "新增纪念日", "month": str(soon.month),
                                       "day": str(soon.day)})
    changed = client.get(f"/?county={SHANGHANG}", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and "新增纪念日" in changed.get_data(as_text=True)


def test_the_coming_days_are_read_again_at_most_every_refresh_period(app):
    store = app.extensions["registry_store"]
    actors = people(store)
    a = facility(store, SHANGHANG)
    soon = cal.today_in_beijing() + timedelta(days=5)
    values = {"facility_code": a.code, "month": str(soon.month), "day": str(soon.day)}
    cal.add_day(store, actors["mgr"], {**values, "name": "第一个纪念日"})
    client = app.test_client()
    first = client.get(f"/?county={SHANGHANG}")
    cal.add_day(store, actors["mgr"], {**values, "name": "第二个纪念日"})
    # A flower's worth of change: a new validator, so the page is made again, from the days kept a moment ago.
    again = client.get(f"/?county={SHANGHANG}", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 200 and "第一个纪念日" in again.get_data(as_text=True)
    assert "第二个纪念日" not in again.get_data(as_text=True)
    app.config["CALENDAR_HOME_REFRESH_SECONDS"] = 0
    assert "第二个纪念日" in client.get(f"/?county={SHANGHANG}").get_data(as_text=True)


def test_an_unknown_county_on_the_home_page_is_said_and_nothing_else_changes(app):
    page = app.test_client().get("/?county=999999")
    text_ = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'role="alert">县区代码 999999 不在本系统的县区中' in text_
    assert 'aria-invalid="true"' in text_


def test_the_county_feed_for_staff_by_session_or_token(world):
    app, store, actors, a, b = world
    cal.prepare(store, SYSTEM, today=date(2027, 3, 20))
    url = f"/manage/calendar/{SHANGHANG}.ics"
    feed = parse(as_user(app, "mgr").get(url))
    summaries = [str(e["SUMMARY"]) for e in events(feed)]
    assert f"清明前清扫与准备：{a.name}" in summaries
    assert f"巡查到期：{a.name}" in summaries
    assert not any(b.name in s for s in summaries)
    order = next(e for e in events(feed) if str(e["SUMMARY"]).startswith("清明前"))
    assert order["DTSTART"].dt == date(2027, 4, 5) and "/manage/tasks/" in str(order["URL"])
    assert any(str(e["SUMMARY"]) == "烈士纪念日" for e in events(feed))

    assert as_user(app, "other").get(url).status_code == 403
    assert as_user(app, "admin1").get("/manage/calendar/999999.ics").status_code == 404
    anonymous = app.test_client().get(url)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]

    _info, secret = create_token(store, SYSTEM, "mgr", "manager")
    client = app.test_client()
    assert parse(client.get(url, headers={"Authorization": f"Bearer {secret}"}))
    basic = base64.b64encode(f"calendar:{secret}".encode()).decode()
    assert parse(client.get(url, headers={"Authorization": f"Basic {basic}"}))
    refused = client.get(url, headers={"Authorization": "Bearer rgt_not-a-token"})
    assert refused.status_code == 401 and "Basic" in refused.headers["WWW-Authenticate"]
    _info, theirs = create_token(store, SYSTEM, "other", "manager")
    assert client.get(url, headers={"Authorization": f"Bearer {theirs}"}).status_code == 403


def test_managers_add_list_and_retire_facility_days(app):
    store = app.extensions["registry_store"]
    people(store)
    a, b = facility(store, SHANGHANG), facility(store, CHANGTING)
    client = as_user(app, "mgr")
    added = client.post("/manage/calendar/days", data={"facility_code": a.code, "name": "开馆纪念日",
                                                       "kind": "opening", "month": "6", "day": "18",
                                                       "since_year": "1985"})
    assert added.status_code == 303
    page = client.get("/manage/calendar").get_data(as_text=True)
    assert 'data-day="' in page and "开馆纪念日</td>" in page and "6月18日" in page and "1985" in page
    bad = client.post("/manage/calendar/days", data={"facility_code": a.code, "name": "错", "month": "13", "day": "1"})
    assert bad.status_code == 400
    shown = html.unescape(bad.get_data(as_text=True))
    assert 'role="alert">未保存：month — month \'13\' must be a whole number from 1 to 12' in shown
    elsewhere = client.post("/manage/calendar/days", data={"facility_code": b.code, "name": "越权", "month": "6",
                                                           "day": "1"})
    assert elsewhere.status_code == 403
    with store.session() as s:
        day = s.scalar(select(FacilityDay))
        assert s.scalar(select(func.count(FacilityDay.id))) == 1
    assert as_user(app, "other").post(f"/manage/calendar/days/{day.id}/retire",
                                    data={"version": day.version}).status_code == 403
    assert client.post(f"/manage/calendar/days/{day.id}/retire", data={"version": day.version}).status_code == 303
    assert f'data-day="{day.id}"' not in client.get("/manage/calendar").get_data(as_text=True)


def test_the_archivist_sees_the_skipped_dates_of_death(app):
    store = app.extensions["registry_store"]
    people(store)
    martyr_id = buried(store, facility(store, SHANGHANG), "孙八", None)
    with store.write_session() as s:
        s.execute(text("UPDATE martyrs SET death_date = '1934-02-30' WHERE id = :i"), {"i": martyr_id})
        s.commit()
    page = as_user(app, "mgr").get("/manage/calendar/dates").get_data(as_text=True)
    assert f'data-martyr="{martyr_id}"' in page and "1934-02-30" in page and "不存在的日期" in page
    other = as_user(app, "other").get("/manage/calendar/dates").get_data(as_text=True)
    assert f'data-martyr="{martyr_id}"' not in other


@pytest.mark.parametrize("stored", ["1934年5月", "1934-02-30", "1934-W05-1", "19340502"])
def test_a_martyr_whose_stored_date_is_no_date_still_has_pages(app, stored):
    store = app.extensions["registry_store"]
    martyr_id = buried(store, facility(store, SHANGHANG), "周九", None)
    with store.write_session() as s:
        s.execute(text("UPDATE martyrs SET death_date = :d, death_year = 1934 WHERE id = :i"),
                  {"d": stored, "i": martyr_id})
        s.commit()
    client = app.test_client()
    page = client.get(f"/martyrs/{martyr_id}")
    assert page.status_code == 200
    shown = page.get_data(as_text=True)
    assert "周九" in shown and "牺牲纪念日" not in shown and "订阅提醒" in shown
    assert 'href="/martyrs/' in client.get("/martyrs?q=周九").get_data(as_text=True)
    with store.session() as s:  # the stored text is left as it was, for the archivist to correct
        # (SQLite's DATE affinity keeps 19340502 as a number)
        assert str(s.scalar(text("SELECT death_date FROM martyrs WHERE id = :i"), {"i": martyr_id})) == stored
