"""The page shell as a visitor meets it: the map page, navigation, language switch, footer and assets."""

from __future__ import annotations

import re

import pytest

from tests.conftest import make_app
from tests.factories import installed_vendor

NAV_ZH = ["地图", "英名录", "数据服务", "登录"]
# A visitor's menu: the public areas only (staff areas appear after signing in, by role).
NAV_EN = ["Map", "Roll of martyrs", "Data services", "Sign in"]


@pytest.fixture
def build(gpkg_url):
    """Make an application over a fresh registry with extra settings; disposed after the test."""
    made = []

    def _build(**extra):
        app = make_app(gpkg_url, **extra)
        made.append(app)
        return app

    yield _build
    for app in made:
        app.extensions["registry_store"].dispose()


def nav_links(html: str) -> dict[str, str]:
    nav = html.split('class="site-nav"', 1)[1].split("</nav>", 1)[0]
    return {label: href for href, label in re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', nav)}


def test_home_page_shows_the_map_and_navigation(client):
    response = client.get("/")
    html = response.get_data(as_text=True)

    assert response.status_code == 200
    assert '<html lang="zh-CN">' in html
    assert "烈士纪念设施管理信息系统" in html
    assert nav_links(html) == {"地图": "/", "英名录": "/martyrs", "数据服务": "/ogc", "登录": "/login"}
    assert 'class="menu-toggle" aria-expanded="false" aria-controls="site-menu"' in html
    assert 'class="folium-map"' in html and "L.map(" in html
    assert 'href="#content"' in html and 'id="content"' in html


def test_switching_to_english_changes_the_labels_and_comes_back(client):
    response = client.get("/lang/en?next=/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"

    html = client.get("/").get_data(as_text=True)

    assert '<html lang="en">' in html
    assert "Memorial Facility Registry" in html
    assert list(nav_links(html)) == NAV_EN
    assert "设施管理" not in html

    client.get("/lang/zh_CN")
    assert list(nav_links(client.get("/").get_data(as_text=True))) == NAV_ZH


@pytest.mark.parametrize(
    ("query", "headers", "location"),
    [
        ("?next=/history?page=2", {}, "/history?page=2"),
        # An off-site next is refused with 400 naming it (tests/registry/test_auth_security.py has every variant).
        ("?next=//evil.example/", {}, None),
        ("?next=https://evil.example/", {}, None),
        ("", {"Referer": "http://localhost/plan?x=1"}, "/plan?x=1"),
        ("", {"Referer": "https://evil.example/page"}, "/"),
        ("", {}, "/"),
    ],
)
def test_language_switch_returns_only_to_this_site(client, query, headers, location):
    response = client.get(f"/lang/en{query}", headers=headers)

    if location is None:
        assert response.status_code == 400 and "Location" not in response.headers
        assert "<code>next</code>" in response.get_data(as_text=True)
        return
    assert response.status_code == 302
    assert response.headers["Location"] == location


def test_unknown_language_is_refused(client):
    response = client.get("/lang/fr")

    assert response.status_code == 400
    assert "fr" in response.get_data(as_text=True)
    with client.session_transaction() as session:
        assert "locale" not in session


def test_footer_shows_the_map_approval_number_when_set(build, client):
    assert "审图号" not in client.get("/").get_data(as_text=True)

    app = build(MAP_APPROVAL_NUMBER="闽S(2024)123号")
    html = app.test_client().get("/").get_data(as_text=True)

    footer = html.split('<footer class="site-footer">', 1)[1]
    assert "审图号：闽S(2024)123号" in footer


def test_demo_notice_shows_only_when_the_registry_holds_demo_records(build):
    from registry.services import Actor
    from registry.services.facilities import create_facility

    app = build()
    store = app.extensions["registry_store"]
    # The map script carries the word for its popups, so look for the page's notice itself.
    assert "notice--demo" not in app.test_client().get("/").get_data(as_text=True)
    facility = create_facility(store, Actor.system("test"), {
        "code": "D-1", "name": "示例纪念亭（示例）", "category": "pavilion", "county_code": "350802",
        "lon": 117.02, "lat": 25.08})
    with store.write_session() as session:
        from registry.models import Facility

        session.get(Facility, facility.id).is_demo = True
        session.commit()
    html = app.test_client().get("/").get_data(as_text=True)
    assert "notice--demo" in html and "示例数据" in html.split("notice--demo", 1)[1]


def test_page_with_no_base_map_names_no_other_host(build):
    html = build(BASEMAP="none").test_client().get("/").get_data(as_text=True)

    assert re.findall(r"https?://[^\s\"'<>]+", html) == []
    assert 'data-basemap="none"' in html


def test_a_wrong_base_map_setting_keeps_the_page_up(build):
    html = build(BASEMAP="tianditu", TIANDITU_KEY="").test_client().get("/").get_data(as_text=True)

    assert "底图暂不可用" in html
    assert "REGISTRY_TIANDITU_KEY" not in html
    assert 'data-basemap="none"' in html


def test_every_asset_the_page_loads_is_served(app, client):
    installed_vendor()
    html = client.get("/").get_data(as_text=True)
    urls = set(re.findall(r'(?:src|href)="(/static/[^"]+)"', html))

    assert any(url.startswith("/static/vendor/") for url in urls)
    for url in sorted(urls):
        response = client.get(url)
        assert response.status_code == 200, url
        response.close()
    cached = client.get("/static/vendor/leaflet/leaflet.js")
    assert cached.cache_control.max_age >= 86400 and cached.cache_control.public
    cached.close()


def test_assets_not_installed_is_a_clear_404(build, tmp_path):
    client = build(ASSETS_DIR=str(tmp_path / "missing")).test_client()

    response = client.get("/static/vendor/leaflet/leaflet.js")

    assert response.status_code == 404
    assert "scripts/install_assets.py" in response.get_data(as_text=True)


@pytest.mark.parametrize("status", [403, 404, 500, 503])
def test_error_pages_extend_the_shell_and_show_the_message(app, status):
    with app.test_request_context("/"):
        from flask import render_template

        html = render_template(f"errors/{status}.html", message="具体原因", status=status)

    assert "烈士纪念设施管理信息系统" in html and 'class="site-nav"' in html
    assert "具体原因" in html
